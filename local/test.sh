#!/usr/bin/env bash
# The project's one test command (CI runs exactly this): brings the local stack up
# (Postgres, Temporal, S3; see local/up.sh), then checks formatting, runs clippy with
# warnings as errors and runs every test in the workspace against those services,
# then interop/test.sh (the TypeScript and Python clients and the messaging bridge,
# each against a live `server dev`).
# On exit it stops the services this run started and leaves running the ones it
# found running.
#
# Tests that need a service read its variables from local/env.sh. Outside CI they skip
# with a note when a variable is unset; with CI=true they fail instead.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }
seconds() { date +%s; }
began_s="$(seconds)"

started_file="$(mktemp)"
stop_started() {
  local status=$? services
  services="$(tr '\n' ' ' <"$started_file")"
  rm -f "$started_file"
  if [ -n "${services// /}" ]; then
    step "stopping what this run started: $services"
    # shellcheck disable=SC2086
    "$root/local/down.sh" $services || true
  fi
  printf '\n==> finished with status %s after %ss\n' "$status" "$(($(seconds) - began_s))"
  exit "$status"
}
trap stop_started EXIT
trap 'exit 130' INT TERM

step "local/up.sh"
LIGHTSPEED_UP_STARTED_FILE="$started_file" "$root/local/up.sh"
# shellcheck source=local/env.sh
. "$root/local/env.sh"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
cargo test --workspace --locked

step "interop/test.sh (TypeScript and Python clients, messaging bridge)"
"$root/interop/test.sh"
