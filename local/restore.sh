#!/usr/bin/env bash
# Restores a backup written by local/backup.sh into a database and a bucket
# directory. Stop the servers using them first. Refuses a target that already holds
# data unless --force. The procedure: docs/operating/backup.md.
#
#   local/restore.sh [--from DIR] [--database-url URL] [--objects-dir DIR] [--force]
#
#   --from DIR           the backup. Default: the newest under .local/backups.
#   --database-url URL   the database to restore into; it must exist (createdb).
#                        Default $LIGHTSPEED_POSTGRES_URL, else the local stack's.
#   --objects-dir DIR    the bucket's directory under s3s-fs (created if missing).
#                        Default $LIGHTSPEED_S3_DATA_DIR/$LIGHTSPEED_OBJECT_STORE_BUCKET,
#                        else .local/data/s3/lightspeed-dev.
#   --force              replace what the targets hold: the directory's files are
#                        deleted, and the dump's tables dropped and recreated
#                        (pg_restore --clean). Default off.
#
# Objects are restored before the database, so no row is ever visible without its
# object.
set -euo pipefail
# shellcheck source=local/lib.sh
. "$(dirname "$0")/lib.sh"

from=""
database_url="${LIGHTSPEED_POSTGRES_URL:-$(ls_pg_default_url)}"
objects_dir="$(ls_objects_dir_default)"
force=false
while [ "$#" -gt 0 ]; do
  case "$1" in
    --from) from="${2:?--from needs a directory}"; shift 2 ;;
    --database-url) database_url="${2:?--database-url needs a URL}"; shift 2 ;;
    --objects-dir) objects_dir="${2:?--objects-dir needs a directory}"; shift 2 ;;
    --force) force=true; shift ;;
    -h | --help) ls_usage 0 ;;
    *) printf 'local/restore.sh: unknown argument %s\n' "$1" >&2; ls_usage 2 ;;
  esac
done
if [ -z "$from" ]; then
  # Backup directories are named by UTC timestamp, so the last in order is the newest.
  from="$(find "$ls_local/backups" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort | tail -n 1)"
  [ -n "$from" ] || die "no backups under $ls_local/backups; pass --from DIR"
fi
for part in manifest.json postgres.dump objects; do
  [ -e "$from/$part" ] || die "$from is not a backup (no $part)"
done

pg_bin="$(ls_pg_client_dir)"
target="$(ls_redact_url "$database_url")"
say "restoring $from"
sed -n 's/^  "\(created_at\|schema_version\|object_count\)": \(.*\),$/      \1 \2/p' "$from/manifest.json"

say "[1/3] checking the targets"
tables="$(ls_psql_value "$pg_bin" "$database_url" \
  "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")" ||
  die "cannot reach $target; create it first (createdb) or fix --database-url"
objects_present="$(find "$objects_dir" -mindepth 1 -print -quit 2>/dev/null || true)"
if [ "$force" != true ]; then
  [ "$tables" -eq 0 ] || die "$target is not empty ($tables tables); pass --force to replace it"
  [ -z "$objects_present" ] || die "$objects_dir is not empty; pass --force to replace it"
fi

say "[2/3] restoring objects into $objects_dir ($(du -sh "$from/objects" | cut -f1))"
if [ -n "$objects_present" ]; then
  say "      --force: deleting what $objects_dir holds"
  find "$objects_dir" -mindepth 1 -delete
fi
mkdir -p "$objects_dir"
cp -a "$from/objects/." "$objects_dir/"
say "      $(find "$objects_dir" -type f | wc -l) objects"

say "[3/3] restoring Postgres into $target ($(ls_human_bytes "$(stat -c %s "$from/postgres.dump")"))"
clean=()
if [ "$tables" -ne 0 ]; then
  say "      --force: the dump's tables are dropped and recreated ($tables tables there now)"
  clean=(--clean --if-exists)
fi
"$pg_bin/pg_restore" --no-owner --no-privileges --exit-on-error "${clean[@]}" \
  --dbname="$database_url" "$from/postgres.dump"
say "      schema version $(ls_schema_version "$pg_bin" "$database_url")"
say "restored; start the servers on it with a Temporal namespace that has no workflows of these sessions (docs/operating/backup.md)"
