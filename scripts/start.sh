#!/usr/bin/env bash
# Quick start: install what is missing, build, and run roomcastd with its embedded defaults
# (http://127.0.0.1:8080, data in ~/.local/state/roomcast). Extra arguments go to roomcastd.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh  # what building and running needs, not the test toolchain
builddir=${ROOMCAST_BUILD_DIR:-build}
exec "$builddir/src/app/roomcastd" "$@"
