#!/usr/bin/env bash
# README command 1: install Debian packages, build lkb, start a loopback
# registry seeded with example images built from Debian packages, and build
# examples into build/example/:
#   bash scripts/bootstrap.sh [examples/NAME.yml ...]   (default: examples/minimal.yml)
# Each example's "# lkb-args:" header line holds its lkb build flags;
# ${LKB_REGISTRY} there and in the file becomes the registry's host:port.
# LKB_BIN=PATH uses that lkb and skips installing and building (the tests
# do); LKB_EXAMPLE_DIR moves the output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ -z "${LKB_BIN:-}" ]; then
  bash scripts/deps.sh
  bash scripts/build.sh build
  echo "built: build/lkb"
  LKB_BIN=build/lkb
fi
export LKB_TEST_STATE=${LKB_TEST_STATE:-$root/build/test-state}
state=$(bash scripts/test-env.sh)
# shellcheck disable=SC1091
. "$state/registry.env"
out=${LKB_EXAMPLE_DIR:-build/example}
mkdir -p "$out"
[ $# -gt 0 ] || set -- examples/minimal.yml
for yml in "$@"; do
  [ -f "$yml" ] || { echo "bootstrap: no such example: $yml" >&2; exit 1; }
  name=$(basename "$yml" .yml)
  args=$(sed -n 's/^# lkb-args: *//p' "$yml" | head -1)
  sed "s|\${LKB_REGISTRY}|$LKB_TEST_REGISTRY|g" "$yml" >"$out/$name.yml"
  read -r -a argv <<<"${args//\$\{LKB_REGISTRY\}/$LKB_TEST_REGISTRY}"
  echo "== $yml: lkb build ${argv[*]}"
  "$LKB_BIN" build -cache "$out/cache" -dir "$out" -name "$name" ${argv[@]+"${argv[@]}"} "$out/$name.yml"
  ls -l "$out/$name"[.-]*
done
if [ -f "$out/minimal-kernel" ]; then
  echo
  echo "Boot minimal:  qemu-system-x86_64 -m 512 -nographic -kernel $out/minimal-kernel \\"
  echo "                 -initrd $out/minimal-initrd.img -append \"\$(cat $out/minimal-cmdline)\""
fi
echo "The registry keeps running at $LKB_TEST_REGISTRY; stop it with:"
echo "  bash tests/scripts/registry.sh stop $state"
