#!/usr/bin/env bash
# Backs up the local stack's data: a Postgres dump, then a copy of the S3 bucket's
# objects, in one timestamped directory with a manifest. The procedure, what it
# guarantees and its production equivalent: docs/operating/backup.md.
#
#   local/backup.sh [--out DIR] [--database-url URL] [--objects-dir DIR]
#
#   --out DIR            where the backup goes (must not exist yet). Default
#                        $LIGHTSPEED_BACKUP_DIR, else .local/backups/<UTC timestamp>.
#   --database-url URL   the database to dump. Default $LIGHTSPEED_POSTGRES_URL, else
#                        the local stack's (postgres://lightspeed:...@127.0.0.1:15432/lightspeed).
#   --objects-dir DIR    the bucket's directory under s3s-fs. Default
#                        $LIGHTSPEED_S3_DATA_DIR/$LIGHTSPEED_OBJECT_STORE_BUCKET, else
#                        .local/data/s3/lightspeed-dev.
#
# Postgres is dumped FIRST, objects copied after: a blob is uploaded before the
# catalog row that names it, so every object a row in the dump names is already in
# the bucket when the copy starts. The other order could miss objects.
set -euo pipefail
# shellcheck source=local/lib.sh
. "$(dirname "$0")/lib.sh"

out="${LIGHTSPEED_BACKUP_DIR:-$ls_local/backups/$(date -u +%Y%m%dT%H%M%SZ)}"
database_url="${LIGHTSPEED_POSTGRES_URL:-$(ls_pg_default_url)}"
objects_dir="$(ls_objects_dir_default)"
while [ "$#" -gt 0 ]; do
  case "$1" in
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --database-url) database_url="${2:?--database-url needs a URL}"; shift 2 ;;
    --objects-dir) objects_dir="${2:?--objects-dir needs a directory}"; shift 2 ;;
    -h | --help) ls_usage 0 ;;
    *) printf 'local/backup.sh: unknown argument %s\n' "$1" >&2; ls_usage 2 ;;
  esac
done

pg_bin="$(ls_pg_client_dir)"
[ -d "$objects_dir" ] || die "no objects directory $objects_dir (is the bucket's directory right?)"
[ ! -e "$out" ] || die "$out already exists; choose another --out"
mkdir -p "$out"
created_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

say "[1/3] checking the database $(ls_redact_url "$database_url")"
schema_version="$(ls_schema_version "$pg_bin" "$database_url")"
say "      schema version $schema_version (the newest migration applied)"

say "[2/3] dumping Postgres to $out/postgres.dump"
"$pg_bin/pg_dump" --format=custom --no-owner --no-privileges \
  --file="$out/postgres.dump" "$database_url"
dump_bytes="$(stat -c %s "$out/postgres.dump")"
say "      $(ls_human_bytes "$dump_bytes")"

say "[3/3] copying objects from $objects_dir"
mkdir -p "$out/objects"
cp -a "$objects_dir/." "$out/objects/"
object_count="$(find "$out/objects" -type f | wc -l)"
object_bytes="$(du -sb "$out/objects" | cut -f1)"
say "      $object_count objects, $(ls_human_bytes "$object_bytes")"

cat >"$out/manifest.json" <<EOF
{
  "format": 1,
  "created_at": "$created_at",
  "database": "$(ls_redact_url "$database_url")",
  "schema_version": $schema_version,
  "postgres_dump": "postgres.dump",
  "postgres_dump_bytes": $dump_bytes,
  "objects": "objects",
  "object_count": $object_count,
  "object_bytes": $object_bytes
}
EOF
say "backup written to $out (restore it with local/restore.sh --from $out)"
