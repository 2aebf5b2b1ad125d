#!/usr/bin/env bash
# Stops the local stack and wipes its data (.local/: sessions, blobs, API keys,
# Temporal history, logs). Asks nothing: it is local dev data. The binary cache
# ($LIGHTSPEED_CACHE_DIR, default ~/.cache/lightspeed) is kept.
set -euo pipefail
# shellcheck source=local/lib.sh
. "$(dirname "$0")/lib.sh"

"$ls_root/local/down.sh"
rm -rf "$ls_local"
say "removed $ls_local"
