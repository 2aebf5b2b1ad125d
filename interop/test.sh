#!/usr/bin/env bash
# The interop tests: the TypeScript client, the web console (in headless Chromium),
# the Python client and the messaging bridge, each against a live `server dev` with
# the fake provider (interop/scripts/with-live-server.sh), dependencies from their
# lock files (`npm ci`, pip --require-hashes). local/test.sh runs this after
# `cargo test`, whose build left the `server` and `fake-provider` binaries in
# $CARGO_TARGET_DIR/debug.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
live="$root/interop/scripts/with-live-server.sh"
step() { printf '\n==> interop: %s\n' "$*"; }

step "ts-client (npm ci, generated code, node --test)"
(cd interop/ts-client && npm ci --no-audit --no-fund --loglevel=error)
# Scripted turns, so run/approve, run/deny and session/wake-ups/cancel succeed.
FAKE_PROVIDER_SCRIPT="$root/interop/ts-client/test/fake-provider-script.json" \
  "$live" -- bash -c 'cd interop/ts-client && npm test'

step "console (npm ci, committed build fresh, headless Chromium)"
(cd interop/console && npm ci --no-audit --no-fund --loglevel=error && npm run check:dist)
# A slow answer and a slower one to cancel while it streams; screenshots go to
# ${LIGHTSPEED_ARTIFACTS_DIR:-.artifacts}/console for CI to keep.
FAKE_PROVIDER_SCRIPT="$root/interop/console/test/fake-provider-script.json" \
  "$live" -- bash -c 'cd interop/console && npm test'

step "py-client (locked venv, generated code, pytest)"
FAKE_PROVIDER_SCRIPT="$root/interop/py-client/tests/py-client-script.json" \
  "$live" -- interop/py-client/test.sh

step "metrics: /metrics on the gateway and the worker, read with prometheus_client"
metrics_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
venv="${LIGHTSPEED_CACHE_DIR:-$HOME/.cache/lightspeed}/py-client-venv"   # py-client/test.sh made it
LIGHTSPEED_WORKER_METRICS_BIND="127.0.0.1:$metrics_port" \
  LIGHTSPEED_WORKER_METRICS_URL="http://127.0.0.1:$metrics_port/metrics" \
  "$live" -- "$venv/bin/python" -m pytest -q -p no:cacheprovider interop/metrics

step "messaging bridge (npm ci, Telegram and WhatsApp stand-ins, node --test)"
(cd interop/messaging && npm ci --no-audit --no-fund --loglevel=error)
"$live" -- bash -c 'cd interop/messaging && npm test'
