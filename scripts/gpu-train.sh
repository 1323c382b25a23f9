#!/usr/bin/env bash
# Trains VASG on TikTok on a CUDA GPU machine where nothing can be installed: builds the
# model-only `vasgd` against PyTorch's bundled LibTorch, then runs `vasgd train --device cuda`
# and, beside it, the same configuration on the machine's CPU; prints device, wall time, pairs/s
# and final losses for docs/BENCHMARKS.md ("Training").
#
#   scripts/gpu-train.sh --prepare   # HERE: put the data and the header-only libraries into the
#                                    # git-ignored .device-data/ (carried to the GPU machine)
#   scripts/gpu-train.sh             # THERE, from the repository root (carry .device-data)
#
# Nothing is fetched on the GPU machine and nothing outside the repository is read there: the
# TikTok split comes from .device-data/tiktok, nlohmann-json and toml++ (header-only) from
# .device-data/prefix. Needs python3 with torch (CUDA build), cmake, a C++17 compiler and the CUDA
# toolkit that torch's CMake package looks for. Results go to stdout and, if set, to $OUT.
# BUILD_DIR (default build-gpu), BUILD_TYPE (default Release) and PYTHON (default python3) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=.device-data

if [ "${1:-}" = "--prepare" ]; then
  SRC="${TIKTOK_DIR:-../shared/data/tiktok}"
  mkdir -p "$DEV/tiktok" "$DEV/prefix/include" "$DEV/prefix/lib/cmake/nlohmann_json" "$DEV/prefix/lib/cmake/tomlplusplus"
  cp "$SRC/train.tsv" "$SRC/val.tsv" "$SRC/test.tsv" "$SRC/image_feat.npy" "$DEV/tiktok/"
  cp -r /usr/include/nlohmann /usr/include/toml++ "$DEV/prefix/include/"
  # Minimal package files: both libraries are used header-only there.
  cat > "$DEV/prefix/lib/cmake/nlohmann_json/nlohmann_jsonConfig.cmake" <<'CMAKE'
if(NOT TARGET nlohmann_json::nlohmann_json)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/../../../include")
endif()
set(nlohmann_json_FOUND TRUE)
CMAKE
  cat > "$DEV/prefix/lib/cmake/tomlplusplus/tomlplusplusConfig.cmake" <<'CMAKE'
if(NOT TARGET tomlplusplus::tomlplusplus)
  add_library(tomlplusplus::tomlplusplus INTERFACE IMPORTED)
  set_target_properties(tomlplusplus::tomlplusplus PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_LIST_DIR}/../../../include"
    INTERFACE_COMPILE_DEFINITIONS "TOML_HEADER_ONLY=1")
endif()
set(tomlplusplus_FOUND TRUE)
CMAKE
  du -sh "$DEV"
  echo "prepared $DEV; run the script on the GPU machine with carry [\"$DEV\"]"
  exit 0
fi

[ -f "$DEV/tiktok/train.tsv" ] || { echo "gpu-train: $DEV/tiktok missing: run '$0 --prepare' first" >&2; exit 2; }
PY="${PYTHON:-python3}"
TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
ABI=$("$PY" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
command -v nvidia-smi > /dev/null && nvidia-smi -L || true
GEN=()
command -v ninja > /dev/null && GEN=(-G Ninja)
BUILD="${BUILD_DIR:-build-gpu}"
t0=$(date +%s)
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DVASGD_MODEL_ONLY=ON -DVASGD_BUILD_TESTS=OFF \
  -DVASGD_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PWD/$DEV/prefix" \
  -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$ABI" > "$BUILD.configure.log" 2>&1 || { tail -40 "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" --target vasgd -j "$(nproc)" > "$BUILD.build.log" 2>&1 || { tail -40 "$BUILD.build.log"; exit 1; }
echo "built $BUILD/daemon/vasgd in $(( $(date +%s) - t0 )) s"

RESULTS="${OUT:-$(mktemp -d)}"
mkdir -p "$RESULTS"
# One configuration for both devices: the project defaults (config/vasgd.toml), only the device
# differs; then the peer's skip-gram configuration (bench/train_vs_gensim.sh) on CUDA, with the
# default batch and with 65,536 centres per batch, for the rate against gensim's.
run() {  # name device extra-toml
  local name=$1 device=$2 extra=$3
  printf '[log]\nlevel = "info"\njson = true\n[train]\ndevice = "%s"\n%b' "$device" "$extra" > "$RESULTS/$name.toml"
  rm -rf "$RESULTS/model_$name"
  local s=$(date +%s%N)
  "$BUILD/daemon/vasgd" train --config "$RESULTS/$name.toml" --interactions "$DEV/tiktok/train.tsv" \
    --features "$DEV/tiktok/image_feat.npy" --out "$RESULTS/model_$name" > "$RESULTS/$name.json" 2> "$RESULTS/$name.log"
  echo "$(( ($(date +%s%N) - s) / 1000000 ))" > "$RESULTS/$name.wall_ms"
}
run vasg_cuda cuda ''
run vasg_cpu cpu ''
SKIPGRAM='dim = 64\nwalks_per_node = 10\nwalk_length = 40\nwindow = 7\nshrink_window = true\nnegatives = 5\nepochs = 5\nuse_decoder = false\nencoder_anchor_weight = 0.0\n'
run skipgram_cuda cuda "$SKIPGRAM"
run skipgram_cuda_b65536 cuda "${SKIPGRAM}batch_size = 65536\n"

"$PY" - "$RESULTS" <<'PYEOF'
import json, sys
d = sys.argv[1]
print('| run | device | wall s | stage 1 s | s/epoch | pairs/s | skip-gram loss | reconstruction | encoder |')
print('|---|---|---|---|---|---|---|---|---|')
for name in ['vasg_cuda', 'vasg_cpu', 'skipgram_cuda', 'skipgram_cuda_b65536']:
    try:
        j = json.load(open(f'{d}/{name}.json'))
    except Exception as e:
        print(f'| {name} | failed: see {d}/{name}.log | | | | | | | |')
        continue
    t, l = j['training'], j['losses']
    s1 = l['stage1'][-1]
    s2 = (l.get('stage2') or [{}])[-1]
    wall = float(open(f'{d}/{name}.wall_ms').read()) / 1000
    print(f"| {name} | {t['device']} | {wall:.1f} | {t['stage1_seconds']:.1f} | {t['seconds_per_epoch']:.2f} | "
          f"{t['pairs_per_second']:,.0f} | {s1['skipgram']:.4f} | {s1.get('reconstruction', float('nan')):.4f} | "
          f"{s2.get('reconstruction', float('nan')):.4f} |")
PYEOF
echo "results in $RESULTS"
