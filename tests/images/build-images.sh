#!/usr/bin/env bash
# Build the test images from Debian packages and push them to the test
# registry started by tests/scripts/registry.sh.
#   build-images.sh STATE_DIR   -> STATE_DIR/images.env
# OCI layouts are cached in $LKB_TEST_CACHE/oci and rebuilt only when the
# packages or the builder change; pushes of unchanged images are cheap.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${1:?usage: build-images.sh STATE_DIR}
cache=${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}
# shellcheck disable=SC1091
. "$state/registry.env"

bash "$here/fetch-debs.sh"

stamp=$( { sha256sum "$here/mkimages.py"; ls "$cache"/debs/*/*.deb; } | sha256sum | cut -c1-16)
oci="$cache/oci"
if [ "$(cat "$oci/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$oci.new"
  python3 "$here/mkimages.py" "$cache/debs" "$oci.new"
  echo "$stamp" >"$oci.new/.stamp"
  rm -rf "$oci"
  mv "$oci.new" "$oci"
fi

reg=$LKB_TEST_REGISTRY
push() { # push LAYOUT TAG REPO
  skopeo copy -q --all --preserve-digests --dest-tls-verify=false \
    "oci:$oci/$1:$2" "docker://$reg/$3:$2"
}
push kernel 6.1 lkb-test/kernel
push init 1 lkb-test/init
push onboot 1 lkb-test/onboot
push service 1 lkb-test/service
push layers 1 lkb-test/layers
push amd64only 1 lkb-test/amd64only
push rpi3-assets 1 lkb-test/rpi3-assets

{
  echo "LKB_TEST_KERNEL=$reg/lkb-test/kernel:6.1"
  echo "LKB_TEST_INIT=$reg/lkb-test/init:1"
  echo "LKB_TEST_ONBOOT=$reg/lkb-test/onboot:1"
  echo "LKB_TEST_SERVICE=$reg/lkb-test/service:1"
  echo "LKB_TEST_LAYERS=$reg/lkb-test/layers:1"
  echo "LKB_TEST_AMD64ONLY=$reg/lkb-test/amd64only:1"
  echo "LKB_TEST_RPI3_ASSETS=$reg/lkb-test/rpi3-assets:1"
  echo "LKB_TEST_DEBS=$cache/debs"
  echo "LKB_TEST_OCI_DIR=$oci"
  cat "$oci/digests.env"
} >"$state/images.env.tmp"
mv "$state/images.env.tmp" "$state/images.env"
echo "test images pushed to $reg" >&2
