#!/usr/bin/env bash
# Start the loopback test registry and push the test images built from
# Debian packages. Prints the state directory; sourcing
# $STATE/registry.env and $STATE/images.env gives the references.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${LKB_TEST_STATE:-$root/build/test-state}
mkdir -p "$state"
bash "$root/tests/scripts/registry.sh" start "$state" >&2
bash "$root/tests/images/build-images.sh" "$state" >&2
echo "$state"
