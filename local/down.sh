#!/usr/bin/env bash
# Stops what local/up.sh started. Nothing runs in the background yet: the services
# (Temporal, Postgres, S3) arrive with the Temporal runtime.
set -euo pipefail
echo "==> nothing to stop"
