#!/usr/bin/env bash
# Runs a command against a live `server dev` (embedded Temporal, filesystem store)
# whose provider is the fake provider, then stops both. Used by the TypeScript and
# Python client tests and the messaging bridge tests:
#
#   interop/scripts/with-live-server.sh -- npm test
#
# The command sees:
#   LIGHTSPEED_API_URL    http://127.0.0.1:PORT (the gateway; JSON-RPC at /rpc)
#   LIGHTSPEED_API_KEY    the key the server accepts
#   LIGHTSPEED_OPERATOR_KEY  an operator key (the `operator/` methods)
#   LIGHTSPEED_FAKE_PROVIDER_URL  http://127.0.0.1:PORT of the fake provider
#   LIGHTSPEED_TEST_MODEL a model route (JSON) that the fake provider answers
#
# The fake provider echoes (`echo: <last user text>`) unless FAKE_PROVIDER_SCRIPT
# names a script file (docs/fake-provider.md). Binaries come from
# $CARGO_TARGET_DIR/debug (built here when missing or when LIGHTSPEED_BUILD=1);
# LIGHTSPEED_SERVER_BIN and LIGHTSPEED_FAKE_PROVIDER_BIN override them. Logs go to
# $LIGHTSPEED_LIVE_LOG_DIR (default: a temporary directory, printed on failure).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
[ "${1:-}" = "--" ] && shift
[ "$#" -gt 0 ] || { echo "usage: $0 -- COMMAND [ARGS...]" >&2; exit 2; }

target="${CARGO_TARGET_DIR:-$root/target}"
server_bin="${LIGHTSPEED_SERVER_BIN:-$target/debug/server}"
fake_bin="${LIGHTSPEED_FAKE_PROVIDER_BIN:-$target/debug/fake-provider}"
if [ "${LIGHTSPEED_BUILD:-0}" = 1 ] || [ ! -x "$server_bin" ] || [ ! -x "$fake_bin" ]; then
  (cd "$root" && cargo build -q -p temporal-server --bin server -p test-support --bin fake-provider)
fi

work="$(mktemp -d)"
logs="${LIGHTSPEED_LIVE_LOG_DIR:-$work/log}"
mkdir -p "$logs"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$status" -ne 0 ]; then
    echo "with-live-server: exit $status; server log tail ($logs/server.log):" >&2
    tail -n 40 "$logs/server.log" >&2 2>/dev/null || true
  fi
  [ -n "${LIGHTSPEED_LIVE_LOG_DIR:-}" ] || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

fake_args=(--port 0)
[ -n "${FAKE_PROVIDER_SCRIPT:-}" ] && fake_args+=(--script "$FAKE_PROVIDER_SCRIPT")
mkfifo "$work/fake.addr"
"$fake_bin" "${fake_args[@]}" >"$work/fake.addr" 2>"$logs/fake-provider.log" &
pids+=($!)
read -r fake_addr <"$work/fake.addr"
[ -n "$fake_addr" ] || { echo "with-live-server: fake provider did not start" >&2; exit 1; }

port="$(free_port)"
temporal_port="$(free_port)"
key="lsk_live_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
operator_key="lsk_operator_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LIGHTSPEED_API_KEY="$key" LIGHTSPEED_OPERATOR_KEY="$operator_key" OPENAI_BASE_URL="http://$fake_addr/v1" \
  ANTHROPIC_BASE_URL="http://$fake_addr" OPENAI_API_KEY= ANTHROPIC_API_KEY= \
  RUST_LOG="${RUST_LOG:-warn}" \
  "$server_bin" dev --bind "127.0.0.1:$port" --temporal-port "$temporal_port" \
  --data-dir "$work/data" >"$logs/server.log" 2>&1 &
server_pid=$!
pids+=("$server_pid")

deadline=$(($(date +%s) + 180))
until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
  kill -0 "$server_pid" 2>/dev/null || { echo "with-live-server: server dev exited" >&2; exit 1; }
  [ "$(date +%s)" -lt "$deadline" ] || { echo "with-live-server: server dev did not answer in 180 s" >&2; exit 1; }
  sleep 0.2
done

export LIGHTSPEED_API_URL="http://127.0.0.1:$port"
export LIGHTSPEED_API_KEY="$key"
export LIGHTSPEED_OPERATOR_KEY="$operator_key"
export LIGHTSPEED_FAKE_PROVIDER_URL="http://$fake_addr"
export LIGHTSPEED_TEST_MODEL='{"providerId":"openai","apiKind":"openai:responses","model":"fake-model"}'
"$@"
