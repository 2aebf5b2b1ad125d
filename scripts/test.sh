#!/usr/bin/env bash
# The project's one test command: formatting, lints, then every test in the workspace.
# Later stages (Temporal, Postgres, S3) bring their services up through local/ here.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
cargo test --workspace --locked
