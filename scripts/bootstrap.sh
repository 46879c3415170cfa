#!/usr/bin/env bash
# README command 1: install Debian packages, build lkb, start a loopback
# registry seeded with example images built from Debian packages, and run
# the main job on the bundled example: build examples/minimal.yml into
# kernel + initrd + cmdline (output in build/example/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
bash scripts/build.sh build
echo "built: build/lkb"
export LKB_TEST_STATE=${LKB_TEST_STATE:-$root/build/test-state}
state=$(bash scripts/test-env.sh)
# shellcheck disable=SC1091
. "$state/registry.env"
mkdir -p build/example
sed "s|\${LKB_REGISTRY}|$LKB_TEST_REGISTRY|g" examples/minimal.yml >build/example/minimal.yml
build/lkb build -cache build/example/cache -dir build/example -name minimal build/example/minimal.yml
ls -l build/example/minimal-*
echo
echo "Boot it:  qemu-system-x86_64 -m 512 -nographic -kernel build/example/minimal-kernel \\"
echo "            -initrd build/example/minimal-initrd.img -append \"\$(cat build/example/minimal-cmdline)\""
echo "The registry keeps running at $LKB_TEST_REGISTRY; stop it with:"
echo "  bash tests/scripts/registry.sh stop $state"
