#!/usr/bin/env bash
# The fault drills of issue 6 at full size (docs/RELIABILITY.md), through the same test binaries
# the suite runs in short versions (tests/reliability/):
#   kill -9 of `vasgd serve` KILLS times (default 20) each during ingestion, retraining, swaps;
#   the Kafka broker down OUTAGE seconds (default 30) plus injected request errors;
#   RocksDB on a full tmpfs (needs root); damaged model versions and failing retrainings (OOM,
#   NaN); hostile HTTP clients and tokens.
#   scripts/drills.sh [BUILD_DIR]        (env: KILLS OUTAGE OUT DRILLS="kill broker ...")
# Prints one line per drill (PASSED/FAILED, seconds) and the figures each drill printed; full
# logs and gtest XML (with recorded properties: seeds, counts) in $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
OUT="${OUT:-$BUILD/drills}"
DRILLS="${DRILLS:-kill broker disk_full model_fault http_abuse}"
export VASGD_DRILL_KILLS="${KILLS:-20}"
export VASGD_DRILL_OUTAGE_S="${OUTAGE:-30}"
mkdir -p "$OUT"
cmake --build "$BUILD" --target vasgd kill_drill_test broker_drill_test disk_full_drill_test model_fault_test \
  http_abuse_test -j "${JOBS:-2}" >/dev/null || { echo "build failed" >&2; exit 2; }
echo "# drills: kills $VASGD_DRILL_KILLS per kind, broker outage $VASGD_DRILL_OUTAGE_S s; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
status=0
for d in $DRILLS; do
  bin="$BUILD/tests/reliability/${d}_drill_test"
  [ -x "$bin" ] || bin="$BUILD/tests/reliability/${d}_test"
  start=$(date +%s)
  "$bin" --gtest_output="xml:$OUT/$d.xml" >"$OUT/$d.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  result=$([ $rc -eq 0 ] && echo PASSED || echo FAILED)
  [ $rc -eq 0 ] || status=1
  skipped=$(grep -c '^\[  SKIPPED \]' "$OUT/$d.log" || true)
  echo "$d: $result in ${secs}s ($(grep -c '^\[       OK \]' "$OUT/$d.log") tests ok, $skipped skipped)"
  grep -E '^(drill seed|a swap takes|kills during|[0-9]+ of [0-9]+ kills|outage|tmpfs full|while full|[0-9]+ damaged|address space of)' \
    "$OUT/$d.log" | sed 's/^/    /'
  grep -E '^\[  FAILED  \]|^\[  SKIPPED \]' "$OUT/$d.log" | sort -u | sed 's/^/    /'
done
exit $status
