#!/usr/bin/env bash
# Installs the locked dependencies into a cached venv (rebuilt when a lock file,
# pyproject.toml or this checkout's path changes), checks that the generated code
# matches interop/contract, then runs pytest. Extra arguments go to pytest.
#
#   interop/scripts/with-live-server.sh -- interop/py-client/test.sh
#
# Without LIGHTSPEED_API_URL the live tests skip (and fail when CI=true).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"
venv="${LIGHTSPEED_CACHE_DIR:-$HOME/.cache/lightspeed}/py-client-venv"

stamp="$({ "$python" -c 'import sys; print(sys.version)'; echo "$here"
  cat "$here/requirements.lock" "$here/requirements-dev.lock" "$here/pyproject.toml"; } \
  | sha256sum | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.lightspeed-stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "py-client: installing locked dependencies into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  (cd "$root" \
    && "$venv/bin/pip" install -q --require-hashes -r interop/py-client/requirements.lock \
         -r interop/py-client/requirements-dev.lock)
  echo "$stamp" >"$venv/.lightspeed-stamp"
fi

# The package is imported from this directory (`python -m pytest` puts it on the
# path), so nothing is installed beyond the hashed lock files.
cd "$here"
"$venv/bin/python" scripts/generate.py --check
exec "$venv/bin/python" -m pytest -q "$@"
