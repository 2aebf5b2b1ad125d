# Source me: `source local/env.sh`. Exports what the CLI, clients, server and the
# service-backed tests read, pointing at the stack local/up.sh runs. Values already
# set in the environment win; a .env file at the root is applied last.
_lightspeed_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"

export LIGHTSPEED_API_URL="${LIGHTSPEED_API_URL:-http://127.0.0.1:18080}"
export LIGHTSPEED_KEYS_FILE="${LIGHTSPEED_KEYS_FILE:-$_lightspeed_root/.local/data/api-keys.json}"

# Postgres (session log, CAS catalog, keys) and the universe the local server serves.
export LIGHTSPEED_POSTGRES_URL="${LIGHTSPEED_POSTGRES_URL:-postgres://lightspeed:lightspeed@127.0.0.1:15432/lightspeed}"
export LIGHTSPEED_PG_UNIVERSE_ID="${LIGHTSPEED_PG_UNIVERSE_ID:-00000000-0000-0000-0000-000000000001}"
export LIGHTSPEED_TASK_QUEUE="${LIGHTSPEED_TASK_QUEUE:-lightspeed-universe-$LIGHTSPEED_PG_UNIVERSE_ID}"

# S3-compatible object store for large blobs (s3s-fs; fixed development credentials).
export LIGHTSPEED_OBJECT_STORE_ENDPOINT="${LIGHTSPEED_OBJECT_STORE_ENDPOINT:-http://127.0.0.1:29000}"
export LIGHTSPEED_OBJECT_STORE_BUCKET="${LIGHTSPEED_OBJECT_STORE_BUCKET:-lightspeed-dev}"
export LIGHTSPEED_OBJECT_STORE_ACCESS_KEY="${LIGHTSPEED_OBJECT_STORE_ACCESS_KEY:-lightspeed-dev}"
export LIGHTSPEED_OBJECT_STORE_SECRET_KEY="${LIGHTSPEED_OBJECT_STORE_SECRET_KEY:-lightspeed-dev-secret}"
export LIGHTSPEED_OBJECT_STORE_REGION="${LIGHTSPEED_OBJECT_STORE_REGION:-us-east-1}"
# The directory s3s-fs serves (each bucket is a directory in it): local/backup.sh and
# local/restore.sh copy a bucket's objects there.
export LIGHTSPEED_S3_DATA_DIR="${LIGHTSPEED_S3_DATA_DIR:-$_lightspeed_root/.local/data/s3}"

# The npm MCP and OAuth servers the integration tests start (local/up.sh installs them).
export LIGHTSPEED_TEST_SERVERS_DIR="${LIGHTSPEED_TEST_SERVERS_DIR:-$_lightspeed_root/interop/test-servers}"

# Temporal dev server.
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
export TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"

if [ -s "$_lightspeed_root/.local/dev-api-key" ]; then
  LIGHTSPEED_API_KEY="$(cat "$_lightspeed_root/.local/dev-api-key")"
  export LIGHTSPEED_API_KEY
else
  echo "local/env.sh: no development key yet; run local/up.sh first" >&2
fi
if [ -f "$_lightspeed_root/.env" ]; then
  set -a
  # shellcheck disable=SC1091
  . "$_lightspeed_root/.env"
  set +a
fi
unset _lightspeed_root
