#!/usr/bin/env bash
# README command 1: install Debian packages, build lkb, start a loopback
# registry seeded with example images built from Debian packages, and run
# the main job on the bundled example.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
bash scripts/build.sh build
echo "built: build/lkb"
build/lkb version | head -2
build/lkb formats
