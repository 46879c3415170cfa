#!/usr/bin/env bash
# Build the test images from Debian packages and push them to the test
# registry started by tests/scripts/registry.sh.
#   build-images.sh STATE_DIR   -> STATE_DIR/images.env
# OCI layouts are cached in $LKB_TEST_CACHE/oci-<inputs hash> (default
# ~/.cache/lkb-tests) and rebuilt only when the packages, the builders or
# SOURCE_DATE_EPOCH change; an image the registry already holds with the
# same digest is not pushed again. When the htpasswd instance
# (registry.sh start-auth) is running, init and layers are pushed there too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=${1:?usage: build-images.sh STATE_DIR}
cache=${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}
die() { echo "build-images: $*" >&2; exit 1; }
[ -f "$state/registry.env" ] || die "$state/registry.env missing: run tests/scripts/registry.sh start $state first"
# shellcheck disable=SC1091
. "$state/registry.env"
[ -n "${LKB_TEST_REGISTRY:-}" ] || die "$state/registry.env names no LKB_TEST_REGISTRY"
command -v skopeo >/dev/null || die "skopeo is not installed (apt-get install skopeo)"

bash "$here/fetch-debs.sh"

# --- build (once per set of inputs; concurrent runs wait for each other) ---
stamp=$( { cat "$here/mkoci.py" "$here/mkimages.py" "$here"/init/* "$cache"/debs/{amd64,arm64}/selected-{main,runc} \
             "$cache"/debs/arm64/selected-rpi
           echo "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}"
           zstd --version 2>/dev/null || true; } | sha256sum | cut -c1-16)
oci="$cache/oci-$stamp"
mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
if [ ! -f "$oci/digests.env" ]; then
  rm -rf "$oci.tmp"
  python3 "$here/mkimages.py" "$cache/debs" "$oci.tmp" ||
    { rm -rf "$oci.tmp"; die "mkimages.py failed"; }
  mv "$oci.tmp" "$oci"
  # Keep the two newest older builds, and any built in the last two days,
  # for runs still using them (several worktrees share the cache). The
  # names are our own 16-hex-digit stamps, so ls output is safe to read.
  # shellcheck disable=SC2012
  ls -1dt "$cache"/oci-???????????????? | tail -n +4 | while read -r old; do
    [ -z "$(find "$old" -maxdepth 0 -mmin +2880)" ] || rm -rf "$old"
  done
fi
exec 9>&-

# --- push -------------------------------------------------------------------
# shellcheck disable=SC1091
. "$oci/digests.env"
ACCEPT="application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json"

remote_digest() { # remote_digest URL [curl args]: Docker-Content-Digest of a manifest
  local url=$1; shift
  curl -s -I --max-time 10 -H "Accept: $ACCEPT" "$@" "$url" |
    tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p'
}

push() { # push LAYOUT TAG REPO DIGEST REGISTRY SCHEME [skopeo args] [-- curl args]
  local layout=$1 tag=$2 repo=$3 want=$4 reg=$5 scheme=$6; shift 6
  local -a sk=() cu=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do sk+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; cu=("$@"); }
  local url="$scheme://$reg/v2/$repo/manifests/$tag"
  [ "$(remote_digest "$url" ${cu[@]+"${cu[@]}"})" = "$want" ] && return 0
  skopeo copy -q --all --preserve-digests --dest-tls-verify=false ${sk[@]+"${sk[@]}"} \
    "oci:$oci/$layout:$tag" "docker://$reg/$repo:$tag" >"$state/skopeo.log" 2>&1 ||
    { cat "$state/skopeo.log" >&2; die "skopeo could not push $repo:$tag to $reg"; }
  local got
  got=$(remote_digest "$url" ${cu[@]+"${cu[@]}"})
  [ "$got" = "$want" ] || die "$reg/$repo:$tag has digest '$got' after the push, built $want"
}

reg=$LKB_TEST_REGISTRY
push kernel 6.1 lkb-test/kernel "$LKB_TEST_KERNEL_DIGEST" "$reg" http
push init 1 lkb-test/init "$LKB_TEST_INIT_DIGEST" "$reg" http
push onboot 1 lkb-test/onboot "$LKB_TEST_ONBOOT_DIGEST" "$reg" http
push service 1 lkb-test/service "$LKB_TEST_SERVICE_DIGEST" "$reg" http
push layers 1 lkb-test/layers "$LKB_TEST_LAYERS_DIGEST" "$reg" http
push amd64only 1 lkb-test/amd64only "$LKB_TEST_AMD64ONLY_DIGEST" "$reg" http
push rpi3-assets 1 lkb-test/rpi3-assets "$LKB_TEST_RPI3_ASSETS_DIGEST" "$reg" http
push sysinit 1 lkb-test/sysinit "$LKB_TEST_SYSINIT_DIGEST" "$reg" http
push runc 1 lkb-test/runc "$LKB_TEST_RUNC_DIGEST" "$reg" http
push containerd 1 lkb-test/containerd "$LKB_TEST_CONTAINERD_DIGEST" "$reg" http
push kernel-noefi 6.1 lkb-test/kernel-noefi "$LKB_TEST_KERNEL_NOEFI_DIGEST" "$reg" http

auth_lines=()
if [ -n "${LKB_TEST_REGISTRY_AUTH:-}" ] &&
   bash "$here/../scripts/registry.sh" env "$state" | grep -q "^export LKB_TEST_REGISTRY_AUTH="; then
  areg=$LKB_TEST_REGISTRY_AUTH
  creds="$LKB_TEST_REGISTRY_AUTH_USER:$LKB_TEST_REGISTRY_AUTH_PASS"
  curl_auth=(-u "$creds")
  [ -n "${LKB_TEST_REGISTRY_AUTH_CA:-}" ] && curl_auth+=(--cacert "$LKB_TEST_REGISTRY_AUTH_CA")
  for img in init layers; do
    var="LKB_TEST_${img^^}_DIGEST"
    push "$img" 1 "lkb-test/$img" "${!var}" "$areg" "$LKB_TEST_REGISTRY_AUTH_SCHEME" \
      --dest-creds "$creds" -- "${curl_auth[@]}"
    auth_lines+=("LKB_TEST_AUTH_${img^^}=$areg/lkb-test/$img:1")
  done
fi

{
  echo "LKB_TEST_KERNEL=$reg/lkb-test/kernel:6.1"
  echo "LKB_TEST_INIT=$reg/lkb-test/init:1"
  echo "LKB_TEST_ONBOOT=$reg/lkb-test/onboot:1"
  echo "LKB_TEST_SERVICE=$reg/lkb-test/service:1"
  echo "LKB_TEST_LAYERS=$reg/lkb-test/layers:1"
  echo "LKB_TEST_AMD64ONLY=$reg/lkb-test/amd64only:1"
  echo "LKB_TEST_RPI3_ASSETS=$reg/lkb-test/rpi3-assets:1"
  echo "LKB_TEST_SYSINIT=$reg/lkb-test/sysinit:1"
  echo "LKB_TEST_RUNC=$reg/lkb-test/runc:1"
  echo "LKB_TEST_CONTAINERD=$reg/lkb-test/containerd:1"
  echo "LKB_TEST_KERNEL_NOEFI=$reg/lkb-test/kernel-noefi:6.1"
  echo "LKB_TEST_DEBS=$cache/debs"
  echo "LKB_TEST_OCI_DIR=$oci"
  cat "$oci/digests.env"
  [ ${#auth_lines[@]} -eq 0 ] || printf '%s\n' "${auth_lines[@]}"
} >"$state/images.env.tmp"
mv "$state/images.env.tmp" "$state/images.env"
