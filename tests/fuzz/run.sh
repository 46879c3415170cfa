#!/usr/bin/env bash
# Build the configuration-loader fuzzer with clang (libFuzzer + ASan +
# UBSan) and run it for a bounded time, seeded with the YAML corpus.
#   tests/fuzz/run.sh [SECONDS]   (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=${LKB_FUZZ_DIR:-$root/build/fuzz}
mkdir -p "$out/corpus"
cp "$root"/tests/data/yaml/valid/*.yml "$root"/tests/data/yaml/invalid/*.yml "$out/corpus/"
srcs=$(ls "$root"/core/*/*.c | grep -v '/core/cli/main.c')
mkdir -p "$out/gen"
sed -e 's/@PROJECT_VERSION@/fuzz/' -e 's|@[A-Z0-9_]*@|/nonexistent|' \
  "$root/core/util/buildinfo.h.in" >"$out/gen/buildinfo.h"
# shellcheck disable=SC2086
clang -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/core" -I"$root/sdk/include" -I"$out/gen" \
  "$root/tests/fuzz/fuzz_config.c" $srcs -o "$out/fuzz_config" \
  $(pkg-config --libs yaml-0.1 libarchive libcurl jansson libcrypto zlib liblz4) -lpthread -ldl
"$out/fuzz_config" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" 2>"$out/fuzz.log" || {
  tail -60 "$out/fuzz.log" >&2
  echo "fuzz: FAILED (input saved in $out)" >&2
  exit 1
}
grep -E 'stat::number_of_executed_units|Done' "$out/fuzz.log" | tail -2 >&2
echo "fuzz: no crash in ${secs}s"
