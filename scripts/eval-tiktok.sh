#!/usr/bin/env bash
# Reproduces docs/EVALUATION.md: the TikTok table (5 seeds, test split), the ablations (validation
# split, 1 seed each) and the plots. Usage: scripts/eval-tiktok.sh [BUILD_DIR] [DATA_DIR]
#   BUILD_DIR  a build with the `vasgd` binary (default build; the model-only build works too)
#   DATA_DIR   default ../shared/data/tiktok
# Outputs: docs/eval/*.json and *.md (tables), docs/*.png (plots). On 2 shared CPU cores the
# main table takes about an hour and the ablations about as long again.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
DATA="${2:-../shared/data/tiktok}"
VASGD="$BUILD_DIR/daemon/vasgd"
# The VASG settings the evaluation chose on the validation split (docs/EVALUATION.md).
BEST="train.window=3;train.negatives=5;train.negative_power=0;train.epochs=2;train.embedding_learning_rate=0.005;train.dim=100;train.score=cosine;train.encoder_rank_weight=0.3;train.cold_profile_weight=0.5"
mkdir -p docs/eval

if [ "${ONLY_ABLATIONS:-0}" != 1 ]; then
  "$VASGD" eval --data "$DATA" --seeds 5 --set "$BEST" \
    --out docs/eval/tiktok.json --markdown docs/eval/tiktok.md --plots docs --plot-prefix tiktok
fi

ablation() {
  local name=$1; shift
  "$VASGD" eval --data "$DATA" --split val --seeds 1 --set "$BEST" --methods VASG \
    --out "docs/eval/ablation_$name.json" --markdown "docs/eval/ablation_$name.md" \
    --plots docs --plot-prefix "tiktok_$name" "$@"
}
if [ "${SKIP_ABLATIONS:-0}" != 1 ]; then
  ablation dim --sweep train.dim=16,32,64,100,200          # -> docs/tiktok_dim_sweep.png (AUC vs D)
  ablation window --sweep train.window=3,5,7
  ablation negatives --sweep train.negatives=0,5,10
  ablation decoder --sweep train.use_decoder=true,false
  ablation noise --sweep train.encoder_noise_std=0,0.1
  ablation cold_profile --sweep train.cold_profile_weight=0,0.25,0.5,1   # cold start: the visual profile term
  ablation encoder_rank --sweep train.encoder_rank_weight=0,0.3,1       # cold start: stage 2's ranking term
fi
