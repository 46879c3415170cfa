# Shared set-up of the benchmarks (source it): a built lkb
# ($LKB_BENCH_BIN or build/lkb), the loopback registry with the test
# images and the ~100 MB bench image pushed,
# $work (removed on exit) and $work/big.yml using it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# LKB_BENCH_BIN: another lkb to measure (e.g. main's, for a before/after table).
lkb=${LKB_BENCH_BIN:-$root/build/lkb}
[ -x "$lkb" ] || bash scripts/build.sh build
export LKB_TEST_STATE=${LKB_TEST_STATE:-$root/build/test-state}
state=$(bash scripts/test-env.sh)
. "$state/registry.env"
cache=${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}
R=$LKB_TEST_REGISTRY
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -d "$cache/bench/big" ]; then
  python3 bench/mkbig.py "$cache/debs" "$cache/bench" 100 >/dev/null
fi
skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$cache/bench/big:1" "docker://$R/lkb-bench/big:1"
cat >"$work/big.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: console=ttyS0
init:
  - $R/lkb-test/init:1
  - $R/lkb-bench/big:1
YML
