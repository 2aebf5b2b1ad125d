#!/usr/bin/env bash
# Regenerates requirements.lock and requirements-dev.lock (with hashes) from the .in
# files, using pip-tools in a scratch venv. Run with the Python CI uses (3.11).
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
"$scratch/venv/bin/pip" install -q "pip-tools>=7.4,<8"
compile() { "$scratch/venv/bin/pip-compile" -q --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --resolver=backtracking "$@"; }
compile -o requirements.lock requirements.in
compile -o requirements-dev.lock requirements-dev.in
