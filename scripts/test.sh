#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test suite (unit, media, plugins,
# integration). Prints "N passed, N failed" at the end; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests || exit 1
builddir=${ROOMCAST_BUILD_DIR:-build}

# Integration tests start roomcastd and speakers in parallel; two cores are enough for them
# one at a time, unit tests run in parallel.
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" | tee "$builddir/test-summary.txt"
status=${PIPESTATUS[0]}

# The unit and protocol tests again under AddressSanitizer and UndefinedBehaviorSanitizer
# (only their targets are built in that tree).
asandir=${builddir}-asan
if [ ! -f "$asandir/build.ninja" ]; then
  meson setup "$asandir" -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug >/dev/null
fi
unit_targets="$(cd tests/unit && ls test_*.cpp | sed 's|\.cpp$||; s|^|tests/unit/|') \
  $(cd tests/fuzz && ls fuzz_*.cpp | sed 's|^fuzz_|tests/fuzz/replay_|; s|\.cpp$||')"
if ninja -C "$asandir" $unit_targets >/dev/null; then
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
    meson test -C "$asandir" --no-rebuild --suite unit --print-errorlogs | tee "$builddir/test-summary-asan.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  echo "sanitizer build failed"; status=1
fi
# The recording stop's late-EOS test too (the use-after-free it guards against shows only
# here). GStreamer loads the instrumented plugin in-process; full stacks let lsan.supp match.
if ninja -C "$asandir" tests/media/test_record_stop plugins/roomcast/libgstroomcast.so >/dev/null; then
  GST_REGISTRY_FORK=no GST_REGISTRY="$PWD/$asandir/gst-registry.bin" UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 LSAN_OPTIONS=suppressions="$PWD/tests/media/lsan.supp" \
    meson test -C "$asandir" --no-rebuild --print-errorlogs media-record-stop | tee -a "$builddir/test-summary-asan.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  echo "sanitizer build of media-record-stop failed"; status=1
fi

# The fuzz targets, a few seconds each (scripts/fuzz.sh SECONDS runs them longer).
echo "fuzzing (5 s per target):"
if ! bash scripts/fuzz.sh 5 | tee "$builddir/test-summary-fuzz.txt"; then
  echo "fuzzing found a crash (inputs in tests/fuzz/crashes/)"
  status=1
fi

count() { cat "$builddir/test-summary.txt" "$builddir/test-summary-asan.txt" 2>/dev/null | grep -E "^$1:" |
          awk -F: '{gsub(/ /, "", $2); n += $2} END {print n + 0}'; }
ok=$(count Ok); fail=$(count Fail); timeout=$(count Timeout); xpass=$(count "Unexpected Pass"); skipped=$(count Skipped)
failed=$(( ${fail:-0} + ${timeout:-0} + ${xpass:-0} ))
echo "${ok:-0} passed, ${failed} failed, ${skipped:-0} skipped"
exit "$status"
