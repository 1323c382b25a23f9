#!/usr/bin/env bash
# Served quality: what a shop gets from the default daemon. For each seed: `vasgd import` of a
# ../shared-style split (train.tsv, and image_feat.npy when present), `vasgd serve` with
# config/vasgd.toml as shipped (only train.seed, the data directory and the port changed), wait
# for the first model, ask every test user over HTTP for k = 20 (bench/served_quality.py), and
# beside it `vasgd eval --methods Hybrid` with the same settings and seed (what the daemon trains,
# scored in process on the same test split, with its cold∩cold AUC, which needs every cold product's
# score where an HTTP answer gives only the top k). Prints a table and the medians over seeds.
#
#   bench/served_quality.sh DATA_DIR
#     env: BUILD (build) SEEDS ("42 43 44") PORT (18190) WORK (temp dir) EVAL (1) COLD_SHARE (as shipped)
#          KEEP (0: the work directory is removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:?usage: bench/served_quality.sh DATA_DIR}"
BUILD="${BUILD:-build}"
SEEDS="${SEEDS:-42 43 44}"
PORT="${PORT:-18190}"
EVAL="${EVAL:-1}"
WORK="${WORK:-$(mktemp -d /tmp/vasgd-served-quality-XXXXXX)}"
mkdir -p "$WORK"
VASGD="$BUILD/daemon/vasgd"
[ -x "$VASGD" ] || { echo "missing $VASGD: build first (scripts/build.sh)" >&2; exit 2; }
for f in train.tsv test.tsv; do [ -f "$DATA/$f" ] || { echo "missing $DATA/$f" >&2; exit 2; }; done
export VASGD_ADMIN_TOKEN="served-quality-$$"
DAEMON=""
cleanup() {
  [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

FEATURES=()
[ -f "$DATA/image_feat.npy" ] && FEATURES=(--features "$DATA/image_feat.npy")
echo "# $(date -u +%FT%TZ) $(uname -n) load: $(cut -d' ' -f1-3 /proc/loadavg) data: $DATA features: ${FEATURES[*]:-none}" >&2
printf '| seed | served Recall@20 | served NDCG@20 | warm R@20 | cold R@20 | eval Recall@20 | eval NDCG@20 | eval AUC cold∩cold | first model s | load |\n'
printf '|---|---|---|---|---|---|---|---|---|---|\n'
RESULTS="$WORK/results.tsv"
: > "$RESULTS"
for seed in $SEEDS; do
  dir="$WORK/seed-$seed"
  mkdir -p "$dir"
  # The shipped config; only the seed (and cold_share when asked) differ.
  sed -e "/^\[train\]/,/^\[/ s/^seed = [0-9]*/seed = $seed/" config/vasgd.toml > "$dir/vasgd.toml"
  if [ -n "${COLD_SHARE:-}" ]; then
    sed -i -e "/^\[hybrid\]/,/^\[/ s/^cold_share = [0-9]*/cold_share = $COLD_SHARE/" "$dir/vasgd.toml"
  fi
  "$VASGD" import --config "$dir/vasgd.toml" --data-dir "$dir/data" --interactions "$DATA/train.tsv" \
      "${FEATURES[@]}" > "$dir/import.log" 2>&1
  started=$(date +%s)
  "$VASGD" serve --config "$dir/vasgd.toml" --data-dir "$dir/data" --listen "127.0.0.1:$PORT" \
      > "$dir/serve.log" 2>&1 &
  DAEMON=$!
  until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do
    kill -0 "$DAEMON" 2>/dev/null || { echo "vasgd serve exited; see $dir/serve.log" >&2; tail -5 "$dir/serve.log" >&2; exit 1; }
    [ $(( $(date +%s) - started )) -lt 3600 ] || { echo "no model after an hour" >&2; exit 1; }
    sleep 2
  done
  ready=$(( $(date +%s) - started ))
  served=$(/usr/bin/python3 bench/served_quality.py --url "http://127.0.0.1:$PORT" --data "$DATA")
  echo "$served" > "$dir/served.json"
  kill "$DAEMON"; wait "$DAEMON" || true; DAEMON=""
  eval_recall="-"; eval_ndcg="-"; eval_cold="-"
  if [ "$EVAL" = 1 ]; then
    "$VASGD" eval --data "$DATA" --config "$dir/vasgd.toml" --methods Hybrid --seeds 1 --first-seed "$seed" \
        --analogy-queries 0 --cosine-pairs 0 --out "$dir/eval.json" > "$dir/eval.md" 2> "$dir/eval.log"
    read -r eval_recall eval_ndcg eval_cold < <(/usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['methods']['Hybrid']; g=lambda k: '-' if not isinstance(m.get(k), dict) or m[k].get('mean') is None else '%.4f' % m[k]['mean']; print(g('recall@20'), g('ndcg@20'), g('auc_cold_among_cold'))" "$dir/eval.json")
  fi
  read -r r n w c < <(/usr/bin/python3 -c "import json,sys; d=json.loads(sys.argv[1]); f=lambda x: '-' if x is None else '%.4f' % x; print(f(d['recall@20']), f(d['ndcg@20']), f(d['recall@20_warm']), f(d['recall@20_cold']))" "$served")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$seed" "$r" "$n" "$w" "$c" "$eval_recall" "$eval_ndcg" "$eval_cold" "$ready" "$(cut -d' ' -f1 /proc/loadavg)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$n" "$c" "$eval_recall" "$eval_ndcg" "$eval_cold" >> "$RESULTS"
done
/usr/bin/python3 - "$RESULTS" <<'PY'
import statistics, sys
rows = [l.split('\t') for l in open(sys.argv[1]).read().split('\n') if l]
def med(i):
    v = [float(r[i]) for r in rows if r[i].strip() not in ('-', '')]
    return '%.4f' % statistics.median(v) if v else '-'
print(f'median over {len(rows)} seeds: served Recall@20 {med(0)} NDCG@20 {med(1)} cold Recall@20 {med(2)}; '
      f'eval Recall@20 {med(3)} NDCG@20 {med(4)} AUC cold∩cold {med(5)}')
PY
