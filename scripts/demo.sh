#!/usr/bin/env bash
# README command 1: installs every dependency, builds, and runs the daemon on the embedded
# default: a deterministic synthetic shop (features and cold products), its first model trained,
# no Kafka (HTTP ingestion), listening on 127.0.0.1:8080. Prints curl calls that work.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec "./${BUILD_DIR:-build}/daemon/vasgd" serve --config config/vasgd.toml --demo "$@"
