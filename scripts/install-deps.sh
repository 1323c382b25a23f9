#!/usr/bin/env bash
# Installs every Debian package vasgd needs, for building, running, testing and benchmarking.
# This list is the only place package names live; every other script calls this one.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # libraries the daemon links
  libtorch-dev libopenblas0-pthread          # LibTorch (CPU) + a fast BLAS behind it
  librdkafka-dev librocksdb-dev libhnswlib-dev libboost-dev
  nlohmann-json3-dev libtomlplusplus-dev
  libsimdjson-dev                            # event parsing on the ingest hot path (stream/)
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat wrk hyperfine curl procps time
  python3 python3-numpy python3-gensim       # peer baseline (../shared/peers)
  gnuplot-nox                                # plots in docs/
  clang libclang-rt-14-dev                   # fuzzers and sanitizers
  chromium chromium-driver                   # the dashboard's browser test (headless Chromium over WebDriver)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
