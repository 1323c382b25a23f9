#!/usr/bin/env bash
# Quick regression check (issue 12): about 1.5 minutes here (90-95 s, docs/BENCHMARKS.md "Quick
# check") that tell whether a change slowed ingestion or serving, or (QUALITY=1) hurt what users
# get, before anything lands. Short runs of the real benchmarks:
#   1. ingest:  bench/ingest_bench, 300,000 purchases over 16 partitions, median of 3 runs
#               (vasgd durable events/s and its ratio to the bare librdkafka consumer);
#   2. serve:   bench/serve_bench.sh on a small catalogue (20,000 products, 5,000 users), one 10-s
#               wrk round per endpoint while 1,000 events/s are ingested (requests/s and p99 of
#               user recommendations and similar items);
#   3. quality: bench/served_quality.sh, one seed, no in-process evaluation (served Recall@20 on
#               the TikTok test split), only with QUALITY=1: its training (the shipped config, D 100,
#               on the TikTok train split) alone takes longer than this script's 3 minutes.
# Each figure is printed beside the one recorded in docs/BENCHMARKS.md ("Quick check" table),
# with the noise measured there (run-to-run spread on a quiet machine). A figure worse than its
# record by more than that noise is flagged DROP and the script exits 1. The load average is
# printed beside each stage (at its start and end): a stage that starts at load >= 1.5 is not
# comparable (flagged BUSY). The end load is printed, not judged: each stage saturates the 2 cores
# itself (the serve stage ends at 1.6-2.0 on a quiet machine), so judging it flagged every run.
#
#   bench/quick.sh [BUILD_DIR]
#     env: QUALITY (0; 1 runs stage 3, minutes more), TIKTOK (the split, ../shared/data/tiktok),
#          SKIP (space-separated stages to skip: ingest serve quality)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
REF=docs/BENCHMARKS.md
TIKTOK="${TIKTOK:-../shared/data/tiktok}"
QUALITY="${QUALITY:-0}"
SKIP="${SKIP:-}"
for tool in "$BUILD/bench/ingest_bench" "$BUILD/bench/serve_bench" "$BUILD/daemon/vasgd"; do
  [ -x "$tool" ] || { echo "missing $tool: cmake --build $BUILD --target ingest_bench serve_bench vasgd" >&2; exit 2; }
done
WORK=$(mktemp -d /tmp/vasgd-quick-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)
FAILED=0

load1() { cut -d' ' -f1 /proc/loadavg; }

# The recorded value and noise (%) of a figure: the row "| name | value | noise % | ..." of the
# Quick check table in docs/BENCHMARKS.md.
reference() {
  awk -F'|' -v name="$1" '{ n = $2; gsub(/[ `]/, "", n) } n == name { v = $3; e = $4; gsub(/[ ,*]/, "", v); gsub(/[ %±]/, "", e); print v, e; exit }' "$REF"
}

# compare NAME VALUE higher|lower LOAD_BEFORE LOAD_AFTER: prints the figure beside its record.
compare() {
  local name=$1 value=$2 better=$3 l0=$4 l1=$5 recorded noise verdict
  if [ -z "$value" ]; then
    printf '| %s | (none: the stage failed, see above) | | | FAILED | load %s-%s |\n' "$name" "$l0" "$l1"
    FAILED=1
    return
  fi
  recorded="" noise=""
  read -r recorded noise < <(reference "$name") || true  # no row: read fails, and set -e must not end the script
  if ! [[ "${recorded:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then  # no row, or a row without a figure yet
    printf '| %s | %s | (no record) | | | load %s-%s |\n' "$name" "$value" "$l0" "$l1"
    return
  fi
  verdict=$(awk -v v="$value" -v r="$recorded" -v e="$noise" -v b="$better" 'BEGIN {
    change = (v - r) / r * 100; worse = (b == "higher") ? -change : change
    printf "%+.1f%% %s", change, (worse > e ? "DROP" : "ok") }')
  if awk -v a="$l0" 'BEGIN { exit !(a >= 1.5) }'; then  # the end load is the stage's own
    verdict="$verdict BUSY"
  elif [[ "$verdict" == *DROP* ]]; then
    FAILED=1
  fi
  printf '| %s | %s | %s | ±%s%% | %s | load %s-%s |\n' "$name" "$value" "$recorded" "$noise" "$verdict" "$l0" "$l1"
}

echo "# bench/quick.sh $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?') $(nproc) cores"
printf '| figure | now | recorded | noise | change | load |\n|---|---|---|---|---|---|\n'

if [[ " $SKIP " != *" ingest "* ]]; then
  l0=$(load1)
  "$BUILD/bench/ingest_bench" --events 300000 --partitions 16 --runs 3 --prefetch-held 0 --tiktok /nonexistent \
      > "$WORK/ingest.txt" 2>&1 || { echo "ingest_bench failed:"; tail -5 "$WORK/ingest.txt"; }
  l1=$(load1)
  line=$(grep '^KAFKA INGEST' "$WORK/ingest.txt" || true)
  rate=$(echo "$line" | sed -E 's/.*vasgd ([0-9]+) events\/s.*/\1/')
  ratio=$(echo "$line" | sed -E 's/.*ratio ([0-9.]+).*/\1/')
  compare ingest_events_per_s "$rate" higher "$l0" "$l1"
  compare ingest_ratio_to_bare "$ratio" higher "$l0" "$l1"
fi

if [[ " $SKIP " != *" serve "* ]]; then
  l0=$(load1)
  PRODUCTS=20000 USERS=5000 DURATION=10 RUNS=1 RATE=1000 MEASURE_EF="" PORT=18181 WORK="$WORK/serve" \
      bench/serve_bench.sh "$BUILD" > "$WORK/serve.txt" 2> "$WORK/serve.err" || { echo "serve_bench.sh failed:"; tail -5 "$WORK/serve.err"; }
  l1=$(load1)
  field() {  # endpoint key -> value from the run's JSON line
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    if l.startswith("{\"endpoint\":\"" + sys.argv[2] + "\""):
        print(json.loads(l)["wrk"][sys.argv[3]]); break' "$WORK/serve.txt" "$1" "$2"
  }
  compare serve_recommendations_rps "$(field recommendations requests_per_second)" higher "$l0" "$l1"
  compare serve_recommendations_p99_ms "$(field recommendations p99_ms)" lower "$l0" "$l1"
  compare serve_similar_rps "$(field similar requests_per_second)" higher "$l0" "$l1"
  compare serve_similar_p99_ms "$(field similar p99_ms)" lower "$l0" "$l1"
fi

if [[ " $SKIP " != *" quality "* ]]; then
  if [ "$QUALITY" = 1 ] && [ -x bench/served_quality.sh ] && [ -f "$TIKTOK/test.tsv" ]; then
    l0=$(load1)
    BUILD="$BUILD" SEEDS=42 EVAL=0 PORT=18182 bench/served_quality.sh "$TIKTOK" > "$WORK/quality.txt" 2> "$WORK/quality.err" \
        || { echo "served_quality.sh failed:"; tail -5 "$WORK/quality.err"; }
    l1=$(load1)
    recall=$(awk -F'|' '$2 ~ /^ *42 *$/ { gsub(/ /, "", $3); print $3 }' "$WORK/quality.txt")
    compare served_recall_at_20 "$recall" higher "$l0" "$l1"
  else
    echo "| served_recall_at_20 | skipped (QUALITY=$QUALITY; needs QUALITY=1, $TIKTOK/test.tsv and bench/served_quality.sh) | | | | |"
  fi
fi

echo "# $(( $(date +%s) - START )) s; DROP = worse than recorded by more than the noise; BUSY = load >= 1.5 at the stage's start, not compared"
exit "$FAILED"
