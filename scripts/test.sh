#!/usr/bin/env bash
# Run every test: install packages if missing, build (warnings are errors),
# start the loopback registry with the test images, run the Criterion and
# shell tests, then the same suite again built with ASan+UBSan, then a
# bounded fuzzing run (configuration, layers, image labels).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh
export LKB_TEST_STATE=${LKB_TEST_STATE:-$root/build/test-state}
bash scripts/build.sh build

state=$(bash scripts/test-env.sh)
trap 'bash tests/scripts/registry.sh stop "$state" >/dev/null 2>&1 || true' EXIT

echo "== tests (RelWithDebInfo, -Werror)"
(cd build && ctest --output-on-failure -j2)

echo "== tests (ASan+UBSan)"
bash scripts/build.sh build-asan -DLKB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j2)

if [ -x tests/fuzz/run.sh ]; then
  echo "== fuzz (bounded)"
  bash tests/fuzz/run.sh "${LKB_FUZZ_SECONDS:-60}"
fi
echo "all test suites passed"
