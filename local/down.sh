#!/usr/bin/env bash
# Stops what local/up.sh started: by recorded pid (.local/run/*.pid) for the server,
# Temporal and S3, with `pg_ctl stop` for Postgres. Data stays (local/reset.sh wipes it).
#
#   local/down.sh                  stop everything
#   local/down.sh server           stop only the named services (server, postgres,
#                                  temporal, s3)
set -euo pipefail
# shellcheck source=local/lib.sh
. "$(dirname "$0")/lib.sh"

postgres_down() {
  local pg_bin
  pg_bin="$(ls_pg_bin_dir)"
  if [ -z "$pg_bin" ] || [ ! -s "$ls_pg_data/PG_VERSION" ]; then
    say "Postgres is not set up"
    return 0
  fi
  if ls_as_pg_user "$pg_bin/pg_ctl" status -D "$ls_pg_data" >/dev/null 2>&1; then
    say "stopping Postgres"
    ls_as_pg_user "$pg_bin/pg_ctl" stop -D "$ls_pg_data" -m fast -w -t 60 >/dev/null ||
      die "pg_ctl stop failed; see $ls_logs/postgres.log"
  else
    say "Postgres is not running"
  fi
  rm -f "$ls_run/postgres.pid"
}

services=("$@")
# The server first: it needs the others to shut down cleanly.
[ "${#services[@]}" -gt 0 ] || services=(server temporal s3 postgres)
for service in "${services[@]}"; do
  case "$service" in
    postgres) postgres_down ;;
    server) ls_stop_pid server "/debug/server" ;;
    temporal) ls_stop_pid temporal "server start-dev" ;;
    s3) ls_stop_pid s3 s3s-fs ;;
    *) die "unknown service '$service' (server, postgres, temporal, s3)" ;;
  esac
done
