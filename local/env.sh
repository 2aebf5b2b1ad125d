# Source me: `source local/env.sh`. Exports what the CLI, clients and server read.
_lightspeed_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export LIGHTSPEED_API_URL="${LIGHTSPEED_API_URL:-http://127.0.0.1:18080}"
export LIGHTSPEED_KEYS_FILE="${LIGHTSPEED_KEYS_FILE:-$_lightspeed_root/.local/data/api-keys.json}"
export LIGHTSPEED_PG_UNIVERSE_ID="${LIGHTSPEED_PG_UNIVERSE_ID:-00000000-0000-0000-0000-000000000001}"
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
