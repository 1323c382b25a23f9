#!/usr/bin/env bash
# README command 2 (and .ci/run): installs every dependency, builds, runs the whole test suite.
# It prints how many tests ctest skipped (a test skips when this machine cannot run it: no
# ../shared datasets, no root for the tmpfs and cgroup drills, port 8080 taken, no curl). Under
# CI (CI set to anything but "", 0 or false) such a test fails instead, saying what is missing,
# and this script fails if any test was skipped at all.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
log="$(mktemp "${TMPDIR:-/tmp}/vasgd-ctest-XXXXXX.log")"
trap 'rm -f "$log"' EXIT
start=$SECONDS
set +e
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "${JOBS:-$(nproc)}" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
skipped="$(grep -cE '^[[:space:]]*[0-9]+ - .* \(Skipped\)$' "$log" || true)"
echo "test.sh: ctest exit status $status, $skipped skipped, wall time $((SECONDS - start)) s"
case "${CI:-}" in
  "" | 0 | false) ;;
  *)
    if [ "$skipped" -gt 0 ]; then
      echo "test.sh: CI=${CI}: $skipped test(s) skipped, which CI does not accept:" >&2
      grep -E '^[[:space:]]*[0-9]+ - .* \(Skipped\)$' "$log" >&2
      exit 1
    fi
    ;;
esac
exit "$status"
