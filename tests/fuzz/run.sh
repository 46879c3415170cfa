#!/usr/bin/env bash
# Build the fuzzers with clang (libFuzzer + ASan + UBSan) through CMake
# (-DLKB_FUZZ=ON) and run them for a bounded total time, each seeded with
# a corpus:
#   fuzz_config  the YAML configuration loader (tests/data/yaml)
#   fuzz_layer   OCI layer tars applied to the root tree and written out
#   fuzz_label   image config JSON and its org.mobyproject.config label
#   fuzz_sbom    SBOM attestations (in-toto statements; tests/data/sbom)
#   tests/fuzz/run.sh [SECONDS]   (total, split between the targets; default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=${LKB_FUZZ_DIR:-$root/build/fuzz}
targets=(fuzz_config fuzz_layer fuzz_label fuzz_sbom)
each=$(( secs / ${#targets[@]} ))
[ "$each" -ge 1 ] || each=1
mkdir -p "$out"
for t in "${targets[@]}"; do mkdir -p "$out/corpus-$t"; done
cp "$root"/tests/data/yaml/valid/*.yml "$root"/tests/data/yaml/invalid/*.yml "$out/corpus-fuzz_config/"
cp "$root"/tests/data/sbom/*.intoto.json "$out/corpus-fuzz_sbom/"
python3 "$root/tests/fuzz/seeds.py" "$out/corpus-fuzz_layer" "$out/corpus-fuzz_label"
# CMake's own build of lkbcore (every source and library the main build
# has), instrumented for coverage with -DLKB_FUZZ=ON; only the targets are
# built (tests/fuzz/CMakeLists.txt), not the CLI, plugins or unit tests.
bld=$out/cmake
{ cmake -S "$root" -B "$bld" -DCMAKE_C_COMPILER=clang -DLKB_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DLKB_TOOLKIT=OFF \
    -DLKB_PLUGIN_RPI3=OFF -DLKB_PLUGIN_ISO=OFF -DLKB_PLUGIN_RAW=OFF &&
  cmake --build "$bld" -j2 --target "${targets[@]}"; } >"$out/build.log" 2>&1 || {
  tail -n 60 "$out/build.log" >&2
  echo "fuzz: building the targets FAILED (log: $out/build.log)" >&2
  exit 1
}
for t in "${targets[@]}"; do
  # Scratch files of spilled layer data stay inside the fuzz directory.
  mkdir -p "$out/tmp"
  TMPDIR="$out/tmp" "$bld/tests/fuzz/$t" -max_total_time="$each" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/$t-" "$out/corpus-$t" \
    2>"$out/$t.log" || {
    tail -60 "$out/$t.log" >&2
    echo "fuzz: $t FAILED (input saved in $out)" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units' "$out/$t.log" | tail -1 | sed "s/^/$t: /" >&2
done
echo "fuzz: no crash in ${secs}s (${each}s per target)"
