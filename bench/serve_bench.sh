#!/usr/bin/env bash
# Serving benchmark (issue 5): `vasgd serve` on loopback with 100,000 synthetic clustered products
# (D = 100), measured with wrk while 1,000 events/s are ingested over HTTP:
#   - requests/s and p50/p99 latency of user recommendations (k = 20) and of similar items;
#   - its peers in the same run: the same server's /healthz (HTTP alone, no search) and, in
#     process, exact search beside HNSW (per-query time), with HNSW recall@20 against exact;
#   - user recommendations at a fixed OPEN_RATE requests/s (default 5,000, the target), open loop
#     (`serve_bench load`, bench/open_loop.h): latency from when each request was due. wrk is a
#     closed loop, so its p99 is the latency at the rate the 2 shared cores saturate at, with
#     CONNECTIONS requests queued; the open loop answers "p99 at this much traffic".
# Targets: >= 5,000 requests/s, p99 < 5 ms, recall@20 >= 0.95.
#
#   bench/serve_bench.sh [BUILD_DIR]
#     env: PRODUCTS USERS DURATION CONNECTIONS RATE OPEN_RATE EF FP16 MEASURE_EF RUNS TASKSET WORK DATA PORT KEEP
# EF: the served index.ef_search (default: the project default, config/vasgd.toml); MEASURE_EF:
# further beam widths whose recall is measured in process; FP16: index.walk_fp16 (true|false, default:
# the project default); RUNS: wrk rounds (each: users,
# similar, /healthz), medians reported. The load average is recorded beside every wrk run.
# TASKSET="taskset -c 0,1" pins the daemon, wrk and the ingester to two cores on a larger machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
PRODUCTS="${PRODUCTS:-100000}"
USERS="${USERS:-20000}"
SECONDS_RUN="${DURATION:-20}"  # not SECONDS: bash owns that name
CONNECTIONS="${CONNECTIONS:-16}"
RATE="${RATE:-1000}"
OPEN_RATE="${OPEN_RATE:-5000}"  # 0: no open-loop runs
RUNS="${RUNS:-3}"
EF="${EF:-$(awk '/^\[index\]/ {i = 1} i && $1 == "ef_search" {print $3; exit}' config/vasgd.toml)}"
FP16="${FP16:-$(awk '/^\[index\]/ {i = 1} i && $1 == "walk_fp16" {print $3; exit}' config/vasgd.toml)}"
MEASURE_EF="${MEASURE_EF:-16,32,64,128}"
EF_LIST=$(echo "$EF,$MEASURE_EF" | tr ',' '\n' | awk 'NF && !seen[$0]++' | paste -sd, -)  # the served one first
TASKSET="${TASKSET:-}"
WORK="${WORK:-$(mktemp -d /tmp/vasgd-serve-bench-XXXXXX)}"
mkdir -p "$WORK"
# DATA=dir of an earlier setup (run with KEEP=1) skips the 1.5-minute setup. It is copied into WORK
# first: the ingester's events land in the copy, so every run starts from the same store and the
# setup is never changed.
SETUP_DIR="${DATA:-}"
DATA="$WORK/data"
if [ -n "$SETUP_DIR" ]; then
  [ -d "$SETUP_DIR/models" ] || { echo "DATA=$SETUP_DIR holds no serve_bench setup (no models/)" >&2; exit 2; }
  rm -rf "$DATA"
  cp -a "$SETUP_DIR" "$DATA"
  sync  # else the copy's writeback (~150 MB) lands in the middle of a measured run
fi
PORT="${PORT:-18080}"
VASGD="$BUILD/daemon/vasgd"
SETUP="$BUILD/bench/serve_bench"
for tool in "$VASGD" "$SETUP"; do [ -x "$tool" ] || { echo "missing $tool: build first" >&2; exit 2; }; done
command -v wrk >/dev/null || { echo "wrk is missing: scripts/install-deps.sh" >&2; exit 2; }

cat > "$WORK/bench.toml" <<EOF
[store]
data_dir = "$DATA"
sync_writes = true
[index]
ef_search = $EF
walk_fp16 = $FP16
[http]
listen = "127.0.0.1:$PORT"
threads = 2
[retrain]
interval_s = 0
after_events = 0
[log]
level = "warn"
EOF

echo "# $(uptime)" >&2
if [ -d "$DATA/models" ]; then
  echo "# reusing $DATA" >&2
  SETUP_OUT=$($TASKSET "$SETUP" measure --data-dir "$DATA" --config "$WORK/bench.toml" --ef "$EF_LIST")
else
  echo "# setup: $PRODUCTS products, $USERS users, D = 100 (store, model version, HNSW index)" >&2
  SETUP_OUT=$($TASKSET "$SETUP" setup --data-dir "$DATA" --products "$PRODUCTS" --users "$USERS" \
      --config "$WORK/bench.toml" --ef "$EF_LIST")
fi
echo "$SETUP_OUT"
MEASURED=$(echo "$SETUP_OUT" | grep '"ef_search"')  # one line per beam width, the served one first
HYBRID=$(echo "$SETUP_OUT" | grep '"hybrid":true' || true)  # the hybrid in process, per serve_candidates

cleanup() { [ -n "${SERVE_PID:-}" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
VASGD_ADMIN_TOKEN=bench $TASKSET "$VASGD" serve --config "$WORK/bench.toml" >"$WORK/serve.out" 2>"$WORK/serve.log" &
SERVE_PID=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "daemon not ready" >&2; cat "$WORK/serve.log" >&2; exit 1; }

cat > "$WORK/users.lua" <<EOF
math.randomseed(7)
request = function()
  return wrk.format("GET", "/v1/users/u" .. math.random(0, $USERS - 1) .. "/recommendations?k=20")
end
EOF
cat > "$WORK/similar.lua" <<EOF
math.randomseed(8)
request = function()
  return wrk.format("GET", "/v1/products/p" .. math.random(0, $PRODUCTS - 1) .. "/similar?k=20")
end
EOF

# wrk's summary -> requests/s, p50 and p99 in ms.
parse() { awk -v format=json -f scripts/lib/wrk_summary.awk; }

cpu_seconds() {  # user + system CPU of a process, s
  awk -v tck="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / tck}' "/proc/$1/stat"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

start_ingest() {  # name ingest-run: the ingester in the background, its pid in INGEST_PID ("" when RATE is 0)
  # ingest-run numbers the ingester's new products (new-<run>-<n>), so that every run adds its own.
  INGEST_PID=""
  if [ "$RATE" -gt 0 ]; then
    $TASKSET "$SETUP" ingest --port "$PORT" --rate "$RATE" --seconds $((SECONDS_RUN + 2)) --users "$USERS" \
        --products "$PRODUCTS" --run "$2" >"$WORK/ingest-$1.json" &
    INGEST_PID=$!
    sleep 1
  else
    echo '{"events_per_second":0}' >"$WORK/ingest-$1.json"
  fi
}

run() {  # name lua-script|"" path ingest-run -> one JSON line, while ingesting
  local name=$1 script=$2 path=$3 ingest_run=$4
  start_ingest "$name" "$ingest_run"
  local ingest=$INGEST_PID
  local args=(-t2 -c"$CONNECTIONS" -d"${SECONDS_RUN}s" --latency)
  [ -n "$script" ] && args+=(-s "$WORK/$script")
  local out cpu0 cpu1 load0
  load0=$(load1)
  cpu0=$(cpu_seconds "$SERVE_PID")
  out=$($TASKSET wrk "${args[@]}" "http://127.0.0.1:$PORT$path" | parse)
  cpu1=$(cpu_seconds "$SERVE_PID")
  [ -z "$ingest" ] || wait "$ingest" || true
  # The daemon's CPU time during the wrk run (queries and the ingestion beside them).
  echo "{\"endpoint\":\"$name\",\"wrk\":$out,\"daemon_cpu_seconds\":$(awk -v a="$cpu0" -v b="$cpu1" "BEGIN {printf \"%.2f\", b - a}"),\"load1\":[$load0,$(load1)],\"ingest\":$(cat "$WORK/ingest-$name.json")}"
}

run_open() {  # ingest-run -> one JSON line: user recommendations at OPEN_RATE/s, open loop, while ingesting
  local out load0
  start_ingest open "$1"
  local ingest=$INGEST_PID
  load0=$(load1)
  out=$($TASKSET "$SETUP" load --port "$PORT" --rate "$OPEN_RATE" --seconds "$SECONDS_RUN" --users "$USERS" \
      --products "$PRODUCTS" --endpoint users 2>"$WORK/open-per-second.txt" || true)
  [ -z "$ingest" ] || wait "$ingest" || true
  echo "{\"endpoint\":\"recommendations-open\",\"open\":${out:-null},\"p99_ms_per_second\":\"$(sed 's/.*: //' "$WORK/open-per-second.txt")\",\"load1\":[$load0,$(load1)],\"ingest\":$(cat "$WORK/ingest-open.json")}"
}

echo "# index.ef_search $EF, index.walk_fp16 $FP16; $RUNS rounds of wrk -t2 -c$CONNECTIONS -d${SECONDS_RUN}s per endpoint, ingesting $RATE events/s over HTTP meanwhile" >&2
RESULTS="$WORK/runs.jsonl"
INGEST_RUN=0
: >"$RESULTS"
for round in $(seq 1 "$RUNS"); do
  for spec in "recommendations users.lua /" "similar similar.lua /" "healthz - /healthz"; do
    read -r name script path <<<"$spec"
    [ "$script" = "-" ] && script=""
    INGEST_RUN=$((INGEST_RUN + 1))  # here, not in run(): $(run ...) is a subshell
    line=$(run "$name" "$script" "$path" "$INGEST_RUN")
    echo "$line" | tee -a "$RESULTS"
  done
  if [ "$OPEN_RATE" -gt 0 ]; then
    INGEST_RUN=$((INGEST_RUN + 1))
    run_open "$INGEST_RUN" | tee -a "$RESULTS"
  fi
done

# A product event's way to the index: POST it, then poll until `similar` answers for it.
LAT=$(for i in $(seq 1 20); do
  feats=$(awk -v s="$i" 'BEGIN{srand(s); printf "["; for (j = 0; j < 32; j++) printf "%s%.3f", (j ? "," : ""), rand() - 0.5; printf "]"}')
  t0=$(date +%s%N)
  curl -sf -H 'Content-Type: application/json' -d "[{\"type\":\"product\",\"product\":\"lat-$i\",\"features\":$feats}]" \
      "http://127.0.0.1:$PORT/v1/events" >/dev/null
  until curl -sf "http://127.0.0.1:$PORT/v1/products/lat-$i/similar?k=5" >/dev/null; do :; done
  echo $(( ($(date +%s%N) - t0) / 1000000 ))
done | sort -n | awk '{a[NR] = $1} END {printf "{\"new_product_visible_ms\":{\"median\":%d,\"max\":%d,\"samples\":%d}}", a[int((NR + 1) / 2)], a[NR], NR}')
echo "$LAT"
METRICS=$(curl -s "http://127.0.0.1:$PORT/metrics")
RSS=$(echo "$METRICS" | awk '/^vasgd_process_resident_memory_bytes/ {printf "%.0f", $2 / 1048576}')
metric() { echo "$METRICS" | awk -v m="$1" 'index($0, m) == 1 {printf "%.0f", $NF; found = 1} END {if (!found) printf "0"}'; }
# Where the user queries' nearest by VASG came from (rank/user_candidates.h), and their refreshes.
V_FOUND=$(metric 'vasgd_hybrid_v_candidates_total{source="found-at-load"}')
V_WALK=$(metric 'vasgd_hybrid_v_candidates_total{source="graph-walk"}')
REFRESHES=$(metric 'vasgd_user_nearest_refreshes_total')
echo "{\"daemon_resident_mib\":$RSS,\"cores\":$(nproc),\"taskset\":\"$TASKSET\",\"v_candidates_found_at_load\":$V_FOUND,\"v_candidates_graph_walk\":$V_WALK,\"nearest_refreshes\":$REFRESHES}"
echo "# $(uptime)" >&2

python3 - "$RESULTS" "$MEASURED" "$HYBRID" <<'EOF' || true
import json, statistics, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
runs = [r for r in lines if "wrk" in r]
open_runs = [r for r in lines if r["endpoint"] == "recommendations-open" and r["open"]]
measured = [json.loads(line) for line in sys.argv[2].splitlines()]
med = statistics.median
def per_request_us(r):
    return r["daemon_cpu_seconds"] / max(1, r["wrk"]["requests"]) * 1e6
peer_rps = med(r["wrk"]["requests_per_second"] for r in runs if r["endpoint"] == "healthz")
print(f"\nMedians of {len(runs) // 3} rounds (each value: median [min-max]):")
print("\n| endpoint | requests/s | p50 ms | p99 ms | ÷ /healthz (HTTP alone) | daemon CPU µs/request | events/s ingested | load average (1 min) |")
print("|---|---|---|---|---|---|---|---|")
def cell(values, fmt):
    return f"{format(med(values), fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"
for name in ("recommendations", "similar", "healthz"):
    rs = [r for r in runs if r["endpoint"] == name]
    rps = [r["wrk"]["requests_per_second"] for r in rs]
    bad = sum(r["wrk"]["non_2xx"] for r in rs)
    print(f"| {name} | {cell(rps, '.0f')} | {cell([r['wrk']['p50_ms'] for r in rs], '.2f')} | "
          f"{cell([r['wrk']['p99_ms'] for r in rs], '.2f')} | {med(rps) / peer_rps:.2f} | "
          f"{cell([per_request_us(r) for r in rs], '.0f')} | {cell([r['ingest']['events_per_second'] for r in rs], '.0f')} | "
          f"{min(min(r['load1']) for r in rs):.1f}-{max(max(r['load1']) for r in rs):.1f} |" + (f" ({bad} non-2xx)" if bad else ""))
if open_runs:
    o = [r["open"] for r in open_runs]
    print(f"\nUser recommendations at {o[0]['rate']:.0f} requests/s, open loop ({o[0]['connections']} connections; latency from "
          f"when each request was due), while ingesting; medians of {len(o)} rounds [min-max]:\n")
    print("| answered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | failed or non-2xx | events/s ingested | load average (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {cell([x['answered_per_second'] for x in o], '.0f')} | {cell([x['p50_ms'] for x in o], '.2f')} | "
          f"{cell([x['p90_ms'] for x in o], '.2f')} | {cell([x['p99_ms'] for x in o], '.2f')} | "
          f"{cell([x['p999_ms'] for x in o], '.2f')} | {cell([x['max_ms'] for x in o], '.1f')} | "
          f"{sum(x['failed'] + x['non_2xx'] for x in o)} | {cell([r['ingest']['events_per_second'] for r in open_runs], '.0f')} | "
          f"{min(min(r['load1']) for r in open_runs):.1f}-{max(max(r['load1']) for r in open_runs):.1f} |")
    for r in open_runs:
        print(f"  p99 ms per second of one round: {r['p99_ms_per_second']}")
print("\nIn process, HNSW beside exact search (recall@20 against brute force, CPU µs per query):\n")
print("| ef_search | recall@20 users | recall@20 similar | exact fallbacks users | exact fallbacks similar | HNSW µs users | HNSW µs similar | exact µs users |")
print("|---|---|---|---|---|---|---|---|")
by_ef = {}
for m in measured:
    by_ef.setdefault(m["ef_search"], m)
for ef in sorted(by_ef):
    m = by_ef[ef]
    served = " (served)" if ef == measured[0]["ef_search"] else ""
    print(f"| {m['ef_search']}{served} | {m['user_recall_at_20']:.4f} | {m['similar_recall_at_20']:.4f} | "
          f"{m['user_exact_fallbacks']} of {m['queries']} | {m['similar_exact_fallbacks']} of {m['similar_queries']} | "
          f"{m['hnsw_user_query_cpu_us']:.0f} | {m['hnsw_similar_query_cpu_us']:.0f} | {m['exact_user_query_cpu_us']:.0f} |")
hybrid = [json.loads(line) for line in sys.argv[3].splitlines() if line.strip()]
if hybrid:
    print("\nIn process, the hybrid (CPU µs per user query; agreement: served top 20 in the exhaustive top 20):\n")
    print("| serve_candidates | served µs | scored | agreement | graph walked per query: µs | scored | agreement | nearest found at load: µs per user, MiB | served µs, 2,000 products indexed since | exhaustive µs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for h in hybrid:
        at_load = f"{h['nearest_at_load_cpu_us_per_user']:.0f}, {h['nearest_at_load_mib']:.1f}" if h["nearest_at_load"] else "off"
        print(f"| {h['serve_candidates']} | {h['served_query_cpu_us']:.0f} | {h['served_scored_per_query']:.0f} | "
              f"{h['served_top20_in_exhaustive_top20']:.4f} | {h['walk_query_cpu_us']:.0f} | {h['walk_scored_per_query']:.0f} | "
              f"{h['walk_top20_in_exhaustive_top20']:.4f} | {at_load} | {h['served_query_cpu_us_2000_added']:.0f} | "
              f"{h['exhaustive_query_cpu_us']:.0f} |")
EOF
