#!/usr/bin/env bash
# Sets up the local environment. Idempotent: run it as often as you like.
#
# Today it builds the `server` binary and mints a development API key (once). The
# Temporal, Postgres and S3 services join this script with the Temporal runtime.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$root/.local/data"
mkdir -p "$data"

say() { printf '==> %s\n' "$*"; }

say "building the server binary"
cargo build --quiet --manifest-path "$root/Cargo.toml" -p temporal-server --bin server

key_file="$root/.local/dev-api-key"
if [ -s "$key_file" ]; then
  say "development API key already minted ($key_file)"
else
  say "minting a development API key"
  umask 077
  LIGHTSPEED_KEYS_FILE="$data/api-keys.json" "$root/target/debug/server" api-keys create > "$key_file.tmp"
  mv "$key_file.tmp" "$key_file"
  say "key stored in $key_file (hashed in $data/api-keys.json)"
fi
say "done: run 'source local/env.sh' in each shell"
