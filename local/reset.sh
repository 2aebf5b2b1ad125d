#!/usr/bin/env bash
# Wipes local data (sessions, blobs, API keys). Asks nothing: it is local dev data.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$root/.local"
echo "==> removed $root/.local"
