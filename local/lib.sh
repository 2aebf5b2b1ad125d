# Shared by local/*.sh (sourced, not run): paths, ports, fixed dev credentials, and
# small helpers for processes recorded under .local/run/.
#
# Ports and credentials are fixed development values; local/env.sh exports the same
# ones for clients. Binaries are cached outside the clone in $LIGHTSPEED_CACHE_DIR.

ls_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ls_local="$ls_root/.local"
ls_data="$ls_local/data"
ls_run="$ls_local/run"
ls_logs="$ls_local/log"
ls_cache="${LIGHTSPEED_CACHE_DIR:-$HOME/.cache/lightspeed}"

ls_pg_port=15432
ls_pg_user=lightspeed
ls_pg_password=lightspeed
ls_pg_db=lightspeed
ls_pg_data="$ls_data/pg"
# Postgres refuses to run as root; root runs it as this system user instead.
ls_pg_os_user=lightspeed-pg

ls_temporal_version=v1.5.1
ls_temporal_port=7233
ls_temporal_ui_port=8233

ls_gateway_port=18080

ls_s3s_version=0.14.1
ls_s3_port=29000
ls_s3_bucket=lightspeed-dev
ls_s3_access_key=lightspeed-dev
ls_s3_secret_key=lightspeed-dev-secret
ls_s3_region=us-east-1

say() { printf '==> %s\n' "$*"; }
die() {
  printf 'local: error: %s\n' "$*" >&2
  exit 1
}

# Prints the pid recorded for service $1 if that process is alive (not a zombie) and
# still runs a command containing $2 (pids get reused), else nothing.
ls_live_pid() {
  local pid_file="$ls_run/$1.pid" pid state
  [ -s "$pid_file" ] || return 0
  pid="$(cat "$pid_file")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  state="$(sed -E 's/^.*\) ([A-Z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)"
  [ "$state" != Z ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"; then
    echo "$pid"
  fi
}

# Whether something accepts TCP connections on 127.0.0.1:$1.
ls_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Polls `$2...` (a command) until it succeeds or $1 seconds pass.
ls_wait_for() {
  local timeout_s="$1" waited=0
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$waited" -ge "$timeout_s" ]; then
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# Polls `$3...` (a command) until it succeeds; fails fast if service $1 (whose
# command contains $2) exits meanwhile, or after $LIGHTSPEED_STARTUP_TIMEOUT_S.
ls_wait_for_service() {
  local name="$1" command_part="$2" waited=0
  local timeout_s="${LIGHTSPEED_STARTUP_TIMEOUT_S:-90}"
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ -z "$(ls_live_pid "$name" "$command_part")" ]; then
      die "$name exited during startup; see $ls_logs/$name.log"
    fi
    if [ "$waited" -ge "$timeout_s" ]; then
      die "$name does not answer after ${timeout_s}s; see $ls_logs/$name.log"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# The directory holding initdb/pg_ctl: next to pg_ctl on PATH, else the newest
# /usr/lib/postgresql/<version>/bin. Prints nothing when Postgres is not installed.
ls_pg_bin_dir() {
  local pg_ctl dir
  if pg_ctl="$(command -v pg_ctl 2>/dev/null)" && [ -x "$(dirname "$(readlink -f "$pg_ctl")")/initdb" ]; then
    dirname "$(readlink -f "$pg_ctl")"
    return 0
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
      echo "$dir"
      return 0
    fi
  done
}

# Runs a Postgres server command as the cluster's owner (root cannot run Postgres).
ls_as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "$ls_pg_os_user" -- "$@"
  else
    "$@"
  fi
}

# Stops service $1 (whose command contains $2) by its recorded pid: TERM, then KILL
# after 15 s.
ls_stop_pid() {
  local name="$1" pid waited=0
  pid="$(ls_live_pid "$name" "$2")"
  if [ -z "$pid" ]; then
    rm -f "$ls_run/$name.pid"
    say "$name is not running"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge 15 ]; then
      say "$name did not stop within 15 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 1
    waited=$((waited + 1))
  done
  rm -f "$ls_run/$name.pid"
}

# --- Backup and restore (local/backup.sh, local/restore.sh) -------------------------

# Prints the running script's header comment (its usage) and exits with status $1.
ls_usage() {
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
  exit "${1:-0}"
}

# The local stack's database URL (what local/env.sh exports).
ls_pg_default_url() {
  echo "postgres://$ls_pg_user:$ls_pg_password@127.0.0.1:$ls_pg_port/$ls_pg_db"
}

# The directory s3s-fs keeps the configured bucket in: a bucket is a directory under
# its root ($LIGHTSPEED_S3_DATA_DIR, default .local/data/s3).
ls_objects_dir_default() {
  echo "${LIGHTSPEED_S3_DATA_DIR:-$ls_data/s3}/${LIGHTSPEED_OBJECT_STORE_BUCKET:-$ls_s3_bucket}"
}

# The directory holding pg_dump, pg_restore and psql: the Debian server's (so the
# client is as new as the cluster), else the ones on PATH.
ls_pg_client_dir() {
  local dir
  dir="$(ls_pg_bin_dir)"
  if [ -n "$dir" ] && [ -x "$dir/pg_dump" ] && [ -x "$dir/pg_restore" ] && [ -x "$dir/psql" ]; then
    echo "$dir"
  elif command -v pg_dump >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_dump)")"
  else
    die "pg_dump is not installed: run 'sudo apt-get install postgresql-client'"
  fi
}

# $1 (a postgres:// URL) with its password replaced by ***, for logs and manifests.
ls_redact_url() {
  printf '%s\n' "$1" | sed -E 's#^([a-z]+://[^:/@]+):[^@]*@#\1:***@#'
}

# One value from database $2 with the psql of directory $1: the answer to query $3.
ls_psql_value() {
  "$1/psql" --no-psqlrc --quiet --tuples-only --no-align -v ON_ERROR_STOP=1 \
    --dbname="$2" --command="$3"
}

# The newest migration applied to database $2 (psql in $1); fails when the database
# has no Lightspeed schema.
ls_schema_version() {
  ls_psql_value "$1" "$2" "SELECT COALESCE(max(version), 0) FROM _sqlx_migrations WHERE success" ||
    die "cannot read the migrations of $(ls_redact_url "$2"): not a Lightspeed database, or unreachable"
}

# $1 bytes as a short human figure (KiB, MiB, GiB).
ls_human_bytes() {
  numfmt --to=iec-i --suffix=B "$1"
}
