#!/usr/bin/env bash
# Training speed on TikTok, CPU, in ONE run: vasgd's trainer beside gensim (the DeepWalk peer).
#
#   bench/train_vs_gensim.sh [DATA_DIR]        (default ../shared/data/tiktok; BUILD_DIR=build)
#
# 1. the peer as it is (../shared/peers/deepwalk_peer.py): its printed gensim rate, tokens/s;
# 2. gensim with the same walks and Word2Vec call but sample=0 (bench/gensim_rate.py): every
#    token trained, as vasgd does — the like-for-like rate;
# 3. `vasgd train` in the peer's skip-gram configuration: D=64, 10 walks of 40 per node, window 7
#    (3 either side, shrunk per centre as gensim does), 5 negatives, 5 epochs, no decoder;
# 4. `vasgd train` with the project defaults (full VASG: decoder, stage-2 encoder, cold products):
#    the "full TikTok retrain" wall time.
# Rates are compared in corpus tokens per second (same corpus size: walks × length × epochs) and
# in positive pairs per second (gensim: tokens/s × expected pairs per token of its shrunk window;
# vasgd: pairs counted by the trainer). Wall time per epoch: training time / epochs; vasgd's
# includes walk generation, gensim's does not (the peer generates walks beforehand).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${1:-../shared/data/tiktok}"
BUILD_DIR="${BUILD_DIR:-build}"
PEER="${PEER:-../shared/peers/deepwalk_peer.py}"
VASGD="$BUILD_DIR/daemon/vasgd"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
[ -x "$VASGD" ] || { echo "build first: $VASGD missing" >&2; exit 2; }
PY=/usr/bin/python3

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "[1/4] deepwalk_peer.py (gensim, sample=1e-3 as the peer runs it)"
$PY "$PEER" "$DATA" "$DATA/image_feat.npy" > "$OUT/peer.txt" 2>&1
PEER_LINE=$(grep 'gensim train' "$OUT/peer.txt")
echo "  $PEER_LINE"

echo "[2/4] gensim, same corpus, sample=0"
$PY bench/gensim_rate.py "$DATA" --sample 0 > "$OUT/gensim0.json"
cat "$OUT/gensim0.json"

cat > "$OUT/skipgram.toml" <<'TOML'
[train]
dim = 64
walks_per_node = 10
walk_length = 40
window = 7
shrink_window = true
negatives = 5
epochs = 5
use_decoder = false
encoder_anchor_weight = 0.0
device = "cpu"
[log]
level = "warn"
TOML
echo "[3/4] vasgd train, the peer's skip-gram configuration"
"$VASGD" train --config "$OUT/skipgram.toml" --interactions "$DATA/train.tsv" --out "$OUT/m_skipgram" > "$OUT/skipgram.json"
printf '[log]\nlevel = "warn"\n[train]\ndevice = "cpu"\n' > "$OUT/full.toml"
echo "[4/4] vasgd train, project defaults (full VASG with features)"
/usr/bin/time -f '%e' -o "$OUT/full.time" "$VASGD" train --config "$OUT/full.toml" --interactions "$DATA/train.tsv" \
  --features "$DATA/image_feat.npy" --out "$OUT/m_full" > "$OUT/full.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$PY - "$OUT" "$PEER_LINE" <<'PYEOF'
import json, re, sys
out, peer_line = sys.argv[1], sys.argv[2]
m = re.search(r'(\d+) tokens x epochs; walks ([\d.]+)s, gensim train ([\d.]+)s = (\d+) tokens/s', peer_line)
peer_tokens, peer_train, peer_rate = int(m.group(1)), float(m.group(3)), float(m.group(4))
g0 = json.load(open(f'{out}/gensim0.json'))
sg = json.load(open(f'{out}/skipgram.json'))['training']
full = json.load(open(f'{out}/full.json'))
full_wall = float(open(f'{out}/full.time').read().strip())
ppt = g0['pairs_per_token_without_downsampling']
rows = [
    ('gensim (peer, sample=1e-3)', peer_rate, peer_rate * ppt, peer_train / 5, 'pairs/s is an upper bound'),
    ('gensim (sample=0)', g0['tokens_per_second'], g0['pairs_per_second'], g0['seconds_per_epoch'], ''),
    ('vasgd skip-gram (same config)', sg['tokens_per_second'], sg['pairs_per_second'], sg['seconds_per_epoch'],
     'incl. walk generation'),
]
print()
print('| trainer | tokens/s | pairs/s | s/epoch | note |')
print('|---|---|---|---|---|')
for name, tps, pps, spe, note in rows:
    print(f'| {name} | {tps:,.0f} | {pps:,.0f} | {spe:.1f} | {note} |')
print()
print(f"vasgd / gensim-peer tokens/s: {sg['tokens_per_second'] / peer_rate:.2f}x")
print(f"vasgd / gensim(sample=0) tokens/s: {sg['tokens_per_second'] / g0['tokens_per_second']:.2f}x, "
      f"pairs/s: {sg['pairs_per_second'] / g0['pairs_per_second']:.2f}x")
t = full['training']
print(f"full VASG retrain (config/vasgd.toml defaults, {t['epochs_run']} epochs, decoder + encoder, "
      f"{full['data']['cold_embedded']} cold products embedded): wall {full_wall:.1f} s "
      f"(stage 1 {t['stage1_seconds']:.1f} s = {t['seconds_per_epoch']:.1f} s/epoch at {t['pairs_per_second']:,.0f} pairs/s, "
      f"decoder steps {t['decoder_seconds']:.1f} s; stage 2 {t['stage2_seconds']:.1f} s); target < 600 s")
print('final losses:', json.dumps(full['losses']['stage1'][-1]), json.dumps(full['losses'].get('stage2', [{}])[-1]))
PYEOF
