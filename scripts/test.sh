#!/usr/bin/env bash
# Kept for muscle memory and older docs: the test command is local/test.sh.
exec "$(dirname "$0")/../local/test.sh" "$@"
