# Shared set-up of the benchmarks (source it): a built lkb
# ($LKB_BENCH_BIN or build/lkb), the loopback registry with the test
# images and the big bench image pushed (issue 13's 88 MB service:
# $LKB_BENCH_BIG_MB of kernel modules, as $R/lkb-bench/big:$big_mb),
# $work (removed on exit) and $work/big.yml using it as an init image.
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
big_mb=${LKB_BENCH_BIG_MB:-88}
if [ ! -d "$cache/bench/big$big_mb" ]; then
  python3 bench/mkbig.py "$cache/debs" "$cache/bench" "$big_mb" >/dev/null
fi
skopeo copy -q --all --preserve-digests --dest-tls-verify=false "oci:$cache/bench/big$big_mb:1" \
  "docker://$R/lkb-bench/big:$big_mb"
cat >"$work/big.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: console=ttyS0
init:
  - $R/lkb-test/init:1
  - $R/lkb-bench/big:$big_mb
YML
