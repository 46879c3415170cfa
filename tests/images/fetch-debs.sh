#!/usr/bin/env bash
# Download the Debian packages the test images are built from, for amd64 and
# arm64, into $LKB_TEST_CACHE/debs/<arch>/ (default ~/.cache/lkb-tests).
# arm64 uses private apt lists, so the host's dpkg architectures are never
# changed. Already-downloaded packages are reused.
set -euo pipefail
cache=${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}
# Packages per arch; the kernel package is resolved from the metapackage.
PKGS=(busybox-static)

fetch_arch() {
  local arch=$1 dir="$cache/debs/$1"
  mkdir -p "$dir"
  local -a opts=(-oAPT::Sandbox::User=root)
  if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    local apt="$cache/apt-$arch"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    opts=(-oAPT::Sandbox::User=root -oAPT::Architecture="$arch" -oAPT::Architectures="$arch"
          -oDir::State::Lists="$apt/lists" -oDir::Cache="$apt/cache"
          -oDir::State::Status=/dev/null)
    # Refresh the private lists at most once a day.
    if [ -z "$(find "$apt/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
      apt-get "${opts[@]}" -qq update >/dev/null
    fi
  fi
  local kpkg
  kpkg=$(apt-cache "${opts[@]}" depends "linux-image-$arch" 2>/dev/null |
         sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
  [ -n "$kpkg" ] || { echo "cannot resolve linux-image-$arch" >&2; exit 1; }
  local p
  for p in "${PKGS[@]}" "$kpkg"; do
    if ! ls "$dir/${p}_"*.deb >/dev/null 2>&1; then
      (cd "$dir" && apt-get "${opts[@]}" -qq download "$p:$arch" >/dev/null)
    fi
  done
  echo "$kpkg" >"$dir/kernel-package"
  [ "$arch" = arm64 ] && fetch_rpi_assets "$dir"
  return 0
}

# Raspberry Pi firmware (non-free-firmware component) and u-boot for the
# rpi3 tests: a private list of the host's own mirror with that component.
fetch_rpi_assets() {
  local dir=$1 apt="$cache/apt-rpi"
  ls "$dir"/raspi-firmware_*.deb "$dir"/u-boot-rpi_*.deb >/dev/null 2>&1 && return 0
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  local mirror suite
  mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "deb $mirror $suite main non-free-firmware" >"$apt/sources.list"
  local -a o=(-oAPT::Sandbox::User=root -oAPT::Architecture=arm64 -oAPT::Architectures=arm64
              -oDir::State::Lists="$apt/lists" -oDir::Cache="$apt/cache"
              -oDir::Etc::SourceList="$apt/sources.list" -oDir::Etc::SourceParts=/nonexistent
              -oDir::State::Status=/dev/null)
  apt-get "${o[@]}" -qq update >/dev/null
  (cd "$dir" && apt-get "${o[@]}" -qq download raspi-firmware u-boot-rpi >/dev/null)
}

if [ "$(id -u)" -eq 0 ] || [ -w /var/lib/apt/lists ]; then
  # The host lists must know the packages (fresh machines have them after deps.sh).
  apt-cache show busybox-static >/dev/null 2>&1 || apt-get -qq update
fi
fetch_arch amd64
fetch_arch arm64
