#!/usr/bin/env bash
# Runs every libFuzzer harness of fuzz/ for FUZZ_SECONDS each (default 600: the 10-minute runs
# recorded in docs/RELIABILITY.md) under ASan + UBSan, starting from a copy of its committed seed
# corpus, and prints one line per harness: executions, coverage (edges), features, corpus size,
# crashes. Builds the harnesses with clang into $BUILD_DIR (default build-fuzz) first.
#   scripts/fuzz.sh                      # all harnesses, 10 minutes each, one after the other
#   FUZZ_SECONDS=60 HARNESSES="event url" scripts/fuzz.sh
# A crash leaves its input in $OUT/<harness>/ (crash-*, leak-*, timeout-*) and its report in
# $OUT/<harness>/log.txt; rerun it with build-fuzz/fuzz/fuzz_<harness> <that file>.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build-fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-600}"
HARNESSES="${HARNESSES:-event npy tsv url router}"
OUT="${OUT:-$BUILD_DIR/fuzz-runs}"

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 2
fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DVASGD_FUZZ=ON -DVASGD_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for h in $HARNESSES; do targets+=("fuzz_$h"); done
cmake --build "$BUILD_DIR" --target "${targets[@]}" -j "${JOBS:-2}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
printf '%-8s %10s %12s %8s %8s %8s %8s\n' harness seconds executions "exec/s" cov ft crashes
for h in $HARNESSES; do
  dir="$OUT/$h"
  rm -rf "$dir"
  mkdir -p "$dir/corpus"
  cp fuzz/corpus/"$h"/* "$dir/corpus/"
  dict=()
  [ -f "fuzz/$h.dict" ] && dict=(-dict="fuzz/$h.dict")
  start=$(date +%s)
  set +e
  "$BUILD_DIR/fuzz/fuzz_$h" "$dir/corpus" "${dict[@]}" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
    -artifact_prefix="$dir/" -timeout=10 -rss_limit_mb=2048 >"$dir/log.txt" 2>&1
  rc=$?
  set -e
  seconds=$(( $(date +%s) - start ))
  # (tail -1: after a crash libFuzzer prints its final stats twice)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | tail -1 | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '^#[0-9]+' "$dir/log.txt" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
  crashes=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  rate="?"
  if [[ "$execs" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ]; then rate=$(( execs / seconds )); fi
  printf '%-8s %10s %12s %8s %8s %8s %8s\n' "$h" "$seconds" "$execs" "$rate" "$cov" "$ft" "$crashes"
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    echo "fuzz_$h exited $rc; see $dir/log.txt" >&2
  fi
done
