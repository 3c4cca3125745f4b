#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/): each for SECONDS (default 5), from its seed corpus.
# New crash inputs are written to tests/fuzz/crashes/<target>/, where they are committed and
# replayed by the unit suite. Prints executions and crashes per target; exits 1 on a crash.
#   bash scripts/fuzz.sh [SECONDS] [TARGET ...]      targets: message token sdp
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(message token sdp)
builddir=${ROOMCAST_FUZZ_BUILD_DIR:-build-fuzz}

if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$builddir" -Dfuzzing=true --buildtype=debugoptimized >/dev/null || exit 1
fi
ninja -C "$builddir" $(printf 'tests/fuzz/fuzz_%s ' "${targets[@]}") >/dev/null || { echo "fuzz build failed"; exit 1; }

status=0
printf '%-8s %10s %8s %s\n' target executions crashes corpus
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  cp tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null
  log=$(mktemp)
  # Leaks in GLib's one-time initialisation are not bugs of ours.
  ASAN_OPTIONS=detect_leaks=0 "$builddir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="tests/fuzz/crashes/$t/" "$work" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  crashes=$(grep -cE '^==[0-9]+==ERROR|SUMMARY: .*Sanitizer|deadly signal' "$log")
  printf '%-8s %10s %8s %s\n' "$t" "${runs:-0}" "$crashes" "$(ls "$work" | wc -l) inputs"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    tail -30 "$log"
  fi
  rm -rf "$work" "$log"
done
exit $status
