#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite (unit, media, plugins,
# integration). Prints "N passed, N failed" at the end; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
builddir=${ROOMCAST_BUILD_DIR:-build}

# Integration tests start roomcastd and speakers in parallel; two cores are enough for them
# one at a time, unit tests run in parallel.
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" | tee "$builddir/test-summary.txt"
status=${PIPESTATUS[0]}

count() { grep -E "^$1:" "$builddir/test-summary.txt" | awk -F: '{gsub(/ /, "", $2); print $2}' | tail -1; }
ok=$(count Ok); fail=$(count Fail); timeout=$(count Timeout); xpass=$(count "Unexpected Pass"); skipped=$(count Skipped)
failed=$(( ${fail:-0} + ${timeout:-0} + ${xpass:-0} ))
echo "${ok:-0} passed, ${failed} failed, ${skipped:-0} skipped"
exit "$status"
