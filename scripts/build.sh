#!/usr/bin/env bash
# Configure and build lkb into BUILD_DIR (default build/). Extra arguments go
# to cmake, e.g. scripts/build.sh build-asan -DLKB_SANITIZE=ON
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLKB_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
