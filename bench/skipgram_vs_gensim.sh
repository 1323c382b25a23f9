#!/usr/bin/env bash
# The skip-gram rate at a shop's whole vocabulary: vasgd's trainer and gensim, one after the other
# in one run, on the same train.tsv with the same corpus size. bench/scale.sh's GENSIM=1 peer
# trains gensim on the uncapped corpus (10 walks per node), ~1 hour at 1M products; this measures
# the rate (pairs/s) both reach with a table of every node, on a shorter corpus.
#
#   bench/skipgram_vs_gensim.sh SHOP_DIR [TOKENS]
#     SHOP_DIR: a ../shared-style split (train.tsv; e.g. bench/make_shop's, kept by scale.sh KEEP=1)
#     TOKENS: walk tokens per epoch for both (default 16000000)
#     env: BUILD (build) VASGD ($BUILD/daemon/vasgd) WORK (temp dir)
#
# 1. `vasgd train` with config/vasgd.toml as shipped except train.max_walk_tokens = TOKENS,
#    use_decoder = false and encoder_epochs = 1: stage 1 (walks + skip-gram) is what gensim does;
#    its rate is train.done's pairs_per_second (stage-1 pairs over stage-1 time, walks included).
# 2. bench/gensim_rate.py with the shipped dim, window, negatives and epochs, sample 0 (every
#    token trained, as vasgd does), 2 workers, TOKENS / walk_length walks, a vocabulary of every
#    node; its rate counts the pairs of its shrunk window (pairs_per_token), walks excluded.
# Prints both JSON lines, then the ratio. The load average is printed before each.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/skipgram_vs_gensim.sh SHOP_DIR [TOKENS]" >&2; exit 2; }
SHOP="$1"
TOKENS="${2:-16000000}"
BUILD="${BUILD:-build}"
VASGD="${VASGD:-$BUILD/daemon/vasgd}"
[ -x "$VASGD" ] || { echo "missing $VASGD: build first" >&2; exit 2; }
[ -f "$SHOP/train.tsv" ] || { echo "no $SHOP/train.tsv" >&2; exit 2; }
WORK="${WORK:-$(mktemp -d /tmp/vasgd-sg-XXXXXX)}"
trap 'rm -rf "$WORK"' EXIT

train_value() { awk -v k="$1" '/^\[train\]/ {t = 1; next} /^\[/ {t = 0} t && $1 == k {print $3; exit}' config/vasgd.toml; }
DIM=$(train_value dim); WINDOW=$(train_value window); NEG=$(train_value negatives)
EPOCHS=$(train_value epochs); LENGTH=$(train_value walk_length)
sed -e "s/^max_walk_tokens = [0-9]*/max_walk_tokens = $TOKENS/" -e 's/^use_decoder = true/use_decoder = false/' \
    -e 's/^encoder_epochs = [0-9]*/encoder_epochs = 1/' config/vasgd.toml > "$WORK/stage1.toml"
load1() { cut -d' ' -f1-3 /proc/loadavg; }

echo "# $(date -u +%FT%TZ) $SHOP: $TOKENS tokens per epoch, D $DIM, window $WINDOW, negatives $NEG, epochs $EPOCHS; $(nproc) cores"
echo "# vasgd train, load $(load1)"
"$VASGD" train --interactions "$SHOP/train.tsv" --config "$WORK/stage1.toml" --out "$WORK/model" >/dev/null 2>"$WORK/train.log"
vasgd=$(grep '"event":"train.done"' "$WORK/train.log")
echo "$vasgd"
echo "# gensim, load $(load1)"
gensim=$(/usr/bin/python3 bench/gensim_rate.py "$SHOP" --sample 0 --dim "$DIM" --window $(( (WINDOW - 1) / 2 )) \
    --negatives "$NEG" --epochs "$EPOCHS" --workers 2 --length "$LENGTH" --max-walks $(( TOKENS / LENGTH )) | tail -1)
echo "$gensim"
/usr/bin/python3 - "$vasgd" "$gensim" <<'PY'
import json, sys
v, g = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"vasgd {v['pairs_per_second']:,.0f} pairs/s, gensim {g['pairs_per_second']:,.0f} pairs/s: x{v['pairs_per_second'] / g['pairs_per_second']:.2f}")
PY
echo "# end, load $(load1)"
