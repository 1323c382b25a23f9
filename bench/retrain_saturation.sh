#!/usr/bin/env bash
# Queries at saturation while a retraining starts, on a shop kept by `KEEP=1 bench/scale.sh`
# (its data directory with a served version, and its users.lua). The daemon starts with
# config/vasgd.toml, the schedule off and retrain.child_nice = NICE; once /readyz answers, wrk
# (-t2 -c8, 10 s windows, user recommendations k = 20) runs twice on the quiet daemon (the first
# window right after the start: the store's caches cold), then POST /v1/admin/retrain and four
# windows while the retraining starts; the daemon is stopped (its child with it) at the end.
# One JSON line per window; the child's start as logged (checkpoint_ms, spawn_ms).
#
#   bench/retrain_saturation.sh SIZE_DIR [NICE]
#     SIZE_DIR: e.g. $WORK/1Mx1Mx10M of a kept scale run; NICE: 0-19 (19, the shipped value)
#     env: BUILD (build) PORT (18291) OUT (temp dir: its config and the daemon's log)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/retrain_saturation.sh SIZE_DIR [NICE]" >&2; exit 2; }
SIZE_DIR=$1
NICE=${2:-19}
BUILD="${BUILD:-build}"
PORT="${PORT:-18291}"
OUT="${OUT:-$(mktemp -d /tmp/vasgd-saturation-XXXXXX)}"
URL="http://127.0.0.1:$PORT"
export VASGD_ADMIN_TOKEN="saturation-$$"
[ -d "$SIZE_DIR/data" ] && [ -f "$SIZE_DIR/users.lua" ] || { echo "$SIZE_DIR: no data/ or users.lua (KEEP=1 bench/scale.sh)" >&2; exit 2; }
mkdir -p "$OUT"
sed -e "s/^child_nice = [0-9]*/child_nice = $NICE/" -e "s/^interval_s = [0-9]*/interval_s = 0/" \
    config/vasgd.toml >"$OUT/vasgd.toml"
grep -q "^child_nice = $NICE" "$OUT/vasgd.toml" || { echo "config: child_nice not set" >&2; exit 1; }
"$BUILD/daemon/vasgd" serve --config "$OUT/vasgd.toml" --data-dir "$SIZE_DIR/data" --listen "127.0.0.1:$PORT" \
    >"$OUT/serve.out" 2>"$OUT/serve.log" &
DAEMON=$!
trap 'kill -TERM $DAEMON 2>/dev/null || true; wait $DAEMON 2>/dev/null || true' EXIT
started=$(date +%s)
until curl -sf "$URL/readyz" >/dev/null; do
  kill -0 "$DAEMON" 2>/dev/null || { echo "vasgd serve exited; see $OUT/serve.log" >&2; exit 1; }
  sleep 1
done
echo "{\"ready_s\": $(( $(date +%s) - started )), \"load1\": $(cut -d' ' -f1 /proc/loadavg), \"child_nice\": $NICE}"
window() {  # name
  echo "{\"window\": \"$1\", \"wrk\": $(wrk -t2 -c8 -d10s --latency -s "$SIZE_DIR/users.lua" "$URL/" |
    awk -v format=json -f scripts/lib/wrk_summary.awk)}"
}
window quiet_first
window quiet
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $VASGD_ADMIN_TOKEN" "$URL/v1/admin/retrain")
[ "$code" = 202 ] || { echo "POST /v1/admin/retrain: HTTP $code" >&2; exit 1; }
for w in retraining_0_10s retraining_10_20s retraining_20_30s retraining_30_40s; do window "$w"; done
grep '"retrain.child_started"' "$OUT/serve.log" | head -1
