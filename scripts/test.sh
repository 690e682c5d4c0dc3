#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds (plain and with
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs ctest in both.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/deps.sh"
jobs=$(nproc)

echo "== build (RelWithDebInfo, -Werror)"
BUILD_DIR=$top/build bash "$top/scripts/build.sh" -DQFS_WERROR=ON
echo "== tests"
(cd "$top/build" && ctest --output-on-failure -j"$jobs" --timeout 600)

echo "== build (ASan + UBSan)"
BUILD_DIR=$top/build-asan bash "$top/scripts/build.sh" -DQFS_WERROR=ON -DQFS_SANITIZE=ON
echo "== tests under sanitizers"
(cd "$top/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest --output-on-failure -j"$jobs" --timeout 900 -LE no-sanitize)
