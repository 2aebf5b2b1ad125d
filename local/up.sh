#!/usr/bin/env bash
# Brings up the local stack as native processes (no Docker), then builds and starts
# `server` and mints a development API key (once). Idempotent: run it as often as you
# like; what already runs is left alone.
#
#   Postgres   127.0.0.1:15432  private cluster in .local/data/pg, user/db lightspeed
#   Temporal   127.0.0.1:7233   `temporal server start-dev`, UI on :8233
#   S3         127.0.0.1:29000  s3s-fs over .local/data/s3, bucket lightspeed-dev
#   server     127.0.0.1:18080  gateway + worker over the three above (LLM providers
#                               from OPENAI_API_KEY / ANTHROPIC_API_KEY / *_BASE_URL)
#
# Pids go to .local/run/, logs to .local/log/. Missing binaries are installed once into
# $LIGHTSPEED_CACHE_DIR (default ~/.cache/lightspeed): temporal with `go install`,
# s3s-fs with `cargo install`; Postgres comes from Debian's `postgresql` package.
#
# If LIGHTSPEED_UP_STARTED_FILE is set, the names of the services this run started
# are appended to it (local/test.sh uses this to stop only what it started).
set -euo pipefail
# shellcheck source=local/lib.sh
. "$(dirname "$0")/lib.sh"

startup_timeout_s="${LIGHTSPEED_STARTUP_TIMEOUT_S:-90}"
mkdir -p "$ls_data" "$ls_run" "$ls_logs" "$ls_cache/bin"

started() {
  if [ -n "${LIGHTSPEED_UP_STARTED_FILE:-}" ]; then
    echo "$1" >>"$LIGHTSPEED_UP_STARTED_FILE"
  fi
}

# Runs "$@" in the background, detached from this shell's session, logging to
# .local/log/$1.log and recording its pid in .local/run/$1.pid.
spawn() {
  local name="$1"
  shift
  printf '\n--- %s local/up.sh: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$ls_logs/$name.log"
  setsid "$@" >>"$ls_logs/$name.log" 2>&1 </dev/null &
  echo "$!" >"$ls_run/$name.pid"
}

# Installs a cached binary once: "$1" names it, the rest is the install command.
# A lock keeps two concurrent up.sh runs from building it twice.
install_once() {
  local name="$1"
  shift
  [ -x "$ls_cache/bin/$name" ] && return 0
  say "installing $name into $ls_cache/bin (once; this takes a few minutes)"
  (
    flock 9
    [ -x "$ls_cache/bin/$name" ] && exit 0
    "$@" >"$ls_logs/install-$name.log" 2>&1 ||
      die "installing $name failed; see $ls_logs/install-$name.log"
  ) 9>"$ls_cache/install-$name.lock"
}

# --- Postgres -----------------------------------------------------------------------

pg_bin=""

postgres_install() {
  pg_bin="$(ls_pg_bin_dir)"
  [ -n "$pg_bin" ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's postgresql package"
    {
      apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
    } >"$ls_logs/install-postgresql.log" 2>&1 ||
      die "apt-get install postgresql failed; see $ls_logs/install-postgresql.log"
    # Debian creates and starts a default cluster on 5432; ours is separate and it
    # does no harm, so it is left as the package set it up.
    pg_bin="$(ls_pg_bin_dir)"
  fi
  [ -n "$pg_bin" ] || die "Postgres (initdb, pg_ctl) is not installed: run 'sudo apt-get install postgresql'"
}

# As root, the cluster belongs to a system user, who must be able to reach the data
# directory: grant search (x, not read) on ancestors that lack it.
postgres_os_user() {
  [ "$(id -u)" -eq 0 ] || return 0
  if ! id -u "$ls_pg_os_user" >/dev/null 2>&1; then
    say "creating system user $ls_pg_os_user to run Postgres (it refuses to run as root)"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ls_pg_os_user"
  fi
  local dir="$ls_data"
  while [ "$dir" != "/" ]; do
    if ! runuser -u "$ls_pg_os_user" -- test -x "$dir"; then
      say "granting $ls_pg_os_user search permission on $dir"
      chmod o+x "$dir"
    fi
    dir="$(dirname "$dir")"
  done
}

postgres_up() {
  postgres_install
  postgres_os_user
  if [ ! -s "$ls_pg_data/PG_VERSION" ]; then
    say "creating the Postgres cluster in $ls_pg_data"
    rm -rf "$ls_pg_data"
    mkdir -p "$ls_pg_data"
    local pwfile="$ls_run/pg-password"
    printf '%s\n' "$ls_pg_password" >"$pwfile"
    if [ "$(id -u)" -eq 0 ]; then
      chown "$ls_pg_os_user" "$ls_pg_data" "$pwfile"
    fi
    chmod 700 "$ls_pg_data"
    ls_as_pg_user "$pg_bin/initdb" -D "$ls_pg_data" -U "$ls_pg_user" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-locale \
      >"$ls_logs/postgres-initdb.log" 2>&1 ||
      die "initdb failed; see $ls_logs/postgres-initdb.log"
    rm -f "$pwfile"
    # TCP on loopback only, no Unix socket (its path could exceed the length limit);
    # `synchronous_commit = off` trades the last commits on a crash for speed, never
    # consistency: this is a development cluster. `max_connections` leaves room for
    # the live tests, several of which run many server processes, each with a pool.
    cat >>"$ls_pg_data/postgresql.conf" <<EOF

# local/up.sh
listen_addresses = '127.0.0.1'
port = $ls_pg_port
unix_socket_directories = ''
synchronous_commit = off
max_connections = 400
EOF
  fi
  if ls_as_pg_user "$pg_bin/pg_ctl" status -D "$ls_pg_data" >/dev/null 2>&1; then
    say "Postgres is already running on 127.0.0.1:$ls_pg_port"
  else
    if ls_port_open "$ls_pg_port"; then
      die "port $ls_pg_port is taken by another process; stop it or run local/down.sh"
    fi
    say "starting Postgres on 127.0.0.1:$ls_pg_port (log: $ls_logs/postgres.log)"
    touch "$ls_logs/postgres.log"
    [ "$(id -u)" -ne 0 ] || chown "$ls_pg_os_user" "$ls_logs/postgres.log"
    ls_as_pg_user "$pg_bin/pg_ctl" start -D "$ls_pg_data" -l "$ls_logs/postgres.log" \
      -w -t "$startup_timeout_s" >/dev/null ||
      die "Postgres did not start; see $ls_logs/postgres.log"
    started postgres
  fi
  head -n 1 "$ls_pg_data/postmaster.pid" >"$ls_run/postgres.pid"
  ls_wait_for "$startup_timeout_s" "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$ls_pg_port" ||
    die "Postgres does not answer on 127.0.0.1:$ls_pg_port; see $ls_logs/postgres.log"
  local exists
  exists="$(PGPASSWORD="$ls_pg_password" "$pg_bin/psql" -h 127.0.0.1 -p "$ls_pg_port" \
    -U "$ls_pg_user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$ls_pg_db'")" ||
    die "cannot query Postgres as $ls_pg_user; see $ls_logs/postgres.log"
  if [ "$exists" != 1 ]; then
    say "creating database $ls_pg_db"
    PGPASSWORD="$ls_pg_password" "$pg_bin/createdb" -h 127.0.0.1 -p "$ls_pg_port" \
      -U "$ls_pg_user" "$ls_pg_db"
  fi
}

# --- Temporal -----------------------------------------------------------------------

temporal_bin=""

temporal_install() {
  command -v go >/dev/null || [ -x /usr/local/go/bin/go ] ||
    die "the temporal CLI is missing and Go is not installed to build it"
  local go_cmd
  go_cmd="$(command -v go || echo /usr/local/go/bin/go)"
  # Built into a scratch GOBIN and moved into place, so an interrupted build never
  # leaves a half-written binary that looks installed.
  install_once temporal bash -c 'set -e
    rm -rf "$1.partial" && mkdir -p "$1.partial"
    GOBIN="$1.partial" "$2" install "github.com/temporalio/cli/cmd/temporal@$3"
    mv "$1.partial/temporal" "$1/temporal" && rmdir "$1.partial"' _ \
    "$ls_cache/bin" "$go_cmd" "$ls_temporal_version"
}

temporal_healthy() {
  "$temporal_bin" operator cluster health --address "127.0.0.1:$ls_temporal_port" 2>/dev/null |
    grep -q SERVING
}

temporal_up() {
  if [ -n "$(ls_live_pid temporal "server start-dev")" ]; then
    say "Temporal is already running on 127.0.0.1:$ls_temporal_port"
  else
    if ls_port_open "$ls_temporal_port"; then
      die "port $ls_temporal_port is taken by another process; stop it or run local/down.sh"
    fi
    say "starting Temporal on 127.0.0.1:$ls_temporal_port (log: $ls_logs/temporal.log)"
    spawn temporal "$temporal_bin" server start-dev \
      --ip 127.0.0.1 --port "$ls_temporal_port" --ui-port "$ls_temporal_ui_port" \
      --db-filename "$ls_data/temporal.db" --namespace default --log-level warn
    started temporal
  fi
  ls_wait_for_service temporal "server start-dev" temporal_healthy
}

# --- S3 (s3s-fs) --------------------------------------------------------------------

s3_bin=""

s3_install() {
  install_once s3s-fs cargo install --locked s3s-fs --version "$ls_s3s_version" \
    --features binary --root "$ls_cache"
}

# Any HTTP status means the server is up. (s3s-fs logs each unsigned probe as an
# AccessDenied ERROR in s3.log; those lines are these probes, not a fault.)
s3_answers() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ls_s3_port/")"
  [ -n "$code" ] && [ "$code" != 000 ]
}

s3_up() {
  # s3s-fs maps each bucket to a directory under its root.
  mkdir -p "$ls_data/s3/$ls_s3_bucket"
  if [ -n "$(ls_live_pid s3 s3s-fs)" ]; then
    say "S3 (s3s-fs) is already running on 127.0.0.1:$ls_s3_port"
  else
    if ls_port_open "$ls_s3_port"; then
      die "port $ls_s3_port is taken by another process; stop it or run local/down.sh"
    fi
    say "starting S3 (s3s-fs) on 127.0.0.1:$ls_s3_port (log: $ls_logs/s3.log)"
    spawn s3 "$s3_bin" --host 127.0.0.1 --port "$ls_s3_port" \
      --access-key "$ls_s3_access_key" --secret-key "$ls_s3_secret_key" "$ls_data/s3"
    started s3
  fi
  ls_wait_for_service s3 s3s-fs s3_answers
}

# --- test servers (npm) ------------------------------------------------------------

# The real MCP and OAuth servers the integration tests start (server-everything,
# the MCP SDK, oauth2-mock-server), installed from interop/test-servers'
# package-lock.json; reinstalled only when the lock file changed.
test_servers_up() {
  local dir="$ls_root/interop/test-servers" stamp
  stamp="$dir/node_modules/.lock-stamp"
  if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
    return 0
  fi
  command -v npm >/dev/null || die "npm is missing (Node.js >= 20 installs it)"
  say "installing the npm test servers (npm ci in interop/test-servers)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$dir/package-lock.json" "$stamp"
}
test_servers_up

# --- server and API key -------------------------------------------------------------

server_bin="${CARGO_TARGET_DIR:-$ls_root/target}/debug/server"
# What identifies the server's process (see ls_live_pid); also in local/down.sh.
server_pattern="/debug/server"

server_healthy() {
  curl -fsS -o /dev/null "http://127.0.0.1:$ls_gateway_port/health"
}

# Builds `server`, registers the development API key in Postgres (minting it once),
# then runs gateway and worker in one process over Postgres, S3 and Temporal.
server_up() {
  say "building the server binary"
  cargo build --quiet --manifest-path "$ls_root/Cargo.toml" -p temporal-server --bin server
  local key_file="$ls_local/dev-api-key"
  # shellcheck source=local/env.sh
  . "$ls_root/local/env.sh" 2>/dev/null
  if [ -s "$key_file" ]; then
    # Idempotent: a reset database gets the key back, a current one is unchanged.
    "$server_bin" api-keys add <"$key_file" 2>/dev/null ||
      die "registering the development API key failed (run: $server_bin api-keys add <$key_file)"
    say "development API key registered ($key_file)"
  else
    say "minting a development API key"
    (
      umask 077
      "$server_bin" api-keys create >"$key_file.tmp"
    ) || die "minting the development API key failed"
    mv "$key_file.tmp" "$key_file"
    say "key stored in $key_file (only its hash is kept by the server)"
  fi
  if [ -n "$(ls_live_pid server "$server_pattern")" ]; then
    say "server is already running on 127.0.0.1:$ls_gateway_port (restart: local/down.sh server && local/up.sh)"
  else
    if ls_port_open "$ls_gateway_port"; then
      die "port $ls_gateway_port is taken by another process; stop it (a 'server dev'?) or run local/down.sh"
    fi
    if [ -z "${OPENAI_API_KEY:-}${OPENAI_BASE_URL:-}${ANTHROPIC_API_KEY:-}${ANTHROPIC_BASE_URL:-}" ]; then
      say "note: no LLM provider configured; export OPENAI_API_KEY (or ANTHROPIC_API_KEY, OPENAI_BASE_URL) and restart the server to chat"
    fi
    say "starting server (gateway + worker) on 127.0.0.1:$ls_gateway_port (log: $ls_logs/server.log)"
    spawn server "$server_bin"
    started server
  fi
  ls_wait_for_service server "$server_pattern" server_healthy
}

# Finds temporal and s3s-fs (PATH, then the cache), building the missing ones once,
# side by side.
binaries_up() {
  local installs=() pid
  temporal_bin="$(command -v temporal 2>/dev/null || echo "$ls_cache/bin/temporal")"
  s3_bin="$(command -v s3s-fs 2>/dev/null || echo "$ls_cache/bin/s3s-fs")"
  if [ ! -x "$temporal_bin" ]; then
    temporal_install &
    installs+=("$!")
  fi
  if [ ! -x "$s3_bin" ]; then
    s3_install &
    installs+=("$!")
  fi
  for pid in "${installs[@]}"; do
    wait "$pid" || exit 1
  done
}

command -v curl >/dev/null || die "curl is required (apt-get install curl)"
command -v setsid >/dev/null || die "setsid is required (util-linux)"
binaries_up
postgres_up
s3_up
temporal_up
server_up
say "local stack is up: run 'source local/env.sh' in each shell; 'local/down.sh' stops it"
