#!/usr/bin/env bash
# Build the fuzzers with clang (libFuzzer + ASan + UBSan) and run them for a
# bounded total time, each seeded with a corpus:
#   fuzz_config  the YAML configuration loader (tests/data/yaml)
#   fuzz_layer   OCI layer tars applied to the root tree and written out
#   fuzz_label   image config JSON and its org.mobyproject.config label
#   tests/fuzz/run.sh [SECONDS]   (total, split between the targets; default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=${LKB_FUZZ_DIR:-$root/build/fuzz}
targets=(fuzz_config fuzz_layer fuzz_label)
each=$(( secs / ${#targets[@]} ))
[ "$each" -ge 1 ] || each=1
mkdir -p "$out/gen" "$out/obj"
for t in "${targets[@]}"; do mkdir -p "$out/corpus-$t"; done
cp "$root"/tests/data/yaml/valid/*.yml "$root"/tests/data/yaml/invalid/*.yml "$out/corpus-fuzz_config/"
python3 "$root/tests/fuzz/seeds.py" "$out/corpus-fuzz_layer" "$out/corpus-fuzz_label"
sed -e 's/@PROJECT_VERSION@/fuzz/' -e 's|@[A-Z0-9_]*@|/nonexistent|' \
  "$root/core/util/buildinfo.h.in" >"$out/gen/buildinfo.h"
cflags=(-std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I"$root/core" -I"$root/sdk/include" -I"$out/gen")
# The core once (instrumented for coverage), then one link per target.
objs=()
for src in $(ls "$root"/core/*/*.c | grep -v '/core/cli/main.c'); do
  o="$out/obj/$(basename "$(dirname "$src")")-$(basename "$src" .c).o"
  if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find "$root/core" -name '*.h' -newer "$o" | head -1)" ]; then
    clang "${cflags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$o"
  fi
  objs+=("$o")
done
# shellcheck disable=SC2046
libs=$(pkg-config --libs yaml-0.1 libarchive libcurl jansson libcrypto zlib liblz4)
for t in "${targets[@]}"; do
  # shellcheck disable=SC2086
  clang "${cflags[@]}" -fsanitize=fuzzer "$root/tests/fuzz/$t.c" "${objs[@]}" -o "$out/$t" \
    $libs -lpthread -ldl
done
for t in "${targets[@]}"; do
  # Scratch files of spilled layer data stay inside the fuzz directory.
  mkdir -p "$out/tmp"
  TMPDIR="$out/tmp" "$out/$t" -max_total_time="$each" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/corpus-$t" \
    2>"$out/$t.log" || {
    tail -60 "$out/$t.log" >&2
    echo "fuzz: $t FAILED (input saved in $out)" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units' "$out/$t.log" | tail -1 | sed "s/^/$t: /" >&2
done
echo "fuzz: no crash in ${secs}s (${each}s per target)"
