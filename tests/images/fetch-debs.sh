#!/usr/bin/env bash
# Download the Debian packages the test images are built from into
# $LKB_TEST_CACHE/debs/<arch>/ (default ~/.cache/lkb-tests) and record the
# exact files to use in debs/<arch>/selected-<set> ("PACKAGE FILE.deb" per
# line; the kernel also as "linux-image FILE.deb"), since the cache may hold
# older versions:
#   amd64 main  busybox-static, the kernel of the linux-image-amd64 metapackage
#   arm64 main  the same for arm64
#   both  runc  runc, containerd, jq and the libraries they link (libc6,
#               libseccomp2, libjq1, libonig5), for the runc test init
#   arm64 rpi   raspi-firmware (non-free-firmware) and u-boot-rpi, for the
#               rpi3 assets image and tests/scripts/test_rpi3.sh
# Foreign architectures and extra components use private apt lists under
# $LKB_TEST_CACHE/apt-<set> (-oAPT::Architecture=arm64 -oDir::State::Lists=...),
# refreshed at most once a day, so the host's dpkg architectures and lists are
# never changed. Cached .debs are not downloaded again, and while the lists
# are unchanged nothing is resolved again (a rerun takes well under a second).
# Without network the previous selection is reused.
set -euo pipefail
cache=${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}
host_arch=$(dpkg --print-architecture)

die() { echo "fetch-debs: $*" >&2; exit 1; }

lists_id() { # lists_id LISTSDIR: changes whenever apt-get update changed the lists
  find "$1" -maxdepth 1 -name '*Packages*' -printf '%f %s %T@\n' 2>/dev/null | sort | sha256sum | cut -c1-16
}

# shellcheck disable=SC2094 # $1 is only read
selection_fresh() { # selection_fresh SELFILE LISTSDIR
  local f
  [ -s "$1" ] && [ "$(cat "$1.lists" 2>/dev/null)" = "$(lists_id "$2")" ] || return 1
  while read -r _ f; do
    [ -s "$(dirname "$1")/$f" ] || return 1
  done <"$1"
}

# fetch_set SET ARCH APT SOURCES PKG...
#   APT: name of the private apt dir $cache/apt-<APT>, empty for the host's
#   lists; SOURCES: a sources.list line replacing the host's sources (private
#   lists only). The package name KERNEL stands for the kernel the
#   linux-image-<ARCH> metapackage depends on.
fetch_set() {
  local set=$1 arch=$2 aptname=$3 sources=$4; shift 4
  local dir="$cache/debs/$arch" lists=/var/lib/apt/lists
  local sel="$dir/selected-$set"
  mkdir -p "$dir"
  # Downloads land in a directory the _apt sandbox user cannot write.
  local -a opts=(-oAPT::Sandbox::User=root)
  if [ -n "$aptname" ]; then
    local apt="$cache/apt-$aptname"
    lists="$apt/lists"
    mkdir -p "$lists/partial" "$apt/cache/archives/partial"
    opts+=(-oAPT::Architecture="$arch" -oAPT::Architectures="$arch"
           -oDir::State::Lists="$lists" -oDir::Cache="$apt/cache" -oDir::State::Status=/dev/null)
    if [ -n "$sources" ]; then
      echo "$sources" >"$apt/sources.list"
      opts+=(-oDir::Etc::SourceList="$apt/sources.list" -oDir::Etc::SourceParts=/nonexistent)
    fi
    # apt gives list files the server's mtime, hence our own stamp.
    if [ -z "$(find "$apt/updated" -mmin -1440 2>/dev/null)" ]; then
      if apt-get "${opts[@]}" -qq update >"$apt/update.log" 2>&1; then
        touch "$apt/updated"
      else
        echo "fetch-debs: apt-get update for $set failed, using older lists (see $apt/update.log)" >&2
      fi
    fi
  fi
  selection_fresh "$sel" "$lists" && return 0

  local -a pkgs=()
  local p kpkg=""
  for p in "$@"; do
    if [ "$p" = KERNEL ]; then
      kpkg=$(apt-cache "${opts[@]}" depends "linux-image-$arch" 2>/dev/null |
             sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
      p=$kpkg
    fi
    pkgs+=("$p")
  done
  # "PACKAGE FILE" for the candidates (apt-get download names files
  # NAME_VERSION_ARCH.deb with the epoch colon as %3a).
  local want ok=1 file
  want=$(apt-cache "${opts[@]}" show --no-all-versions "${pkgs[@]}" 2>/dev/null |
         awk '/^Package: /{p=$2} /^Version: /{v=$2} /^Architecture: /{a=$2}
              /^$/ && p {gsub(":", "%3a", v); print p, p "_" v "_" a ".deb"; p=""}
              END {if (p) {gsub(":", "%3a", v); print p, p "_" v "_" a ".deb"}}') || true
  for p in "${pkgs[@]}"; do
    file=$(awk -v p="$p" '$1 == p {print $2; exit}' <<<"$want")
    if [ -z "$p" ] || [ -z "$file" ]; then ok=0; break; fi
    if [ ! -s "$dir/$file" ]; then
      (cd "$dir" && apt-get "${opts[@]}" -qq download "$p" >/dev/null 2>"$dir/download.log") || { ok=0; break; }
      [ -s "$dir/$file" ] || die "apt-get download $p ($arch) did not produce $file"
    fi
  done
  if [ "$ok" = 1 ]; then
    { for p in "${pkgs[@]}"; do awk -v p="$p" '$1 == p {print; exit}' <<<"$want"; done
      [ -z "$kpkg" ] || awk -v p="$kpkg" '$1 == p {print "linux-image", $2; exit}' <<<"$want"
    } >"$sel.new"
    mv "$sel.new" "$sel"
    lists_id "$lists" >"$sel.lists"
  elif [ -s "$sel" ]; then
    echo "fetch-debs: cannot resolve or download the $set packages for $arch; reusing $sel" >&2
  else
    die "cannot resolve or download $* for $arch (apt lists missing? no network? see $dir/download.log)"
  fi
}

# The host's first non-security Debian mirror, for the non-free-firmware list.
host_mirror() {
  local m
  m=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

# Fresh machines may lack the host lists; refresh them once if we can.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get -qq update >/dev/null
fi
# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
for arch in amd64 arm64; do
  aptname=""
  [ "$arch" = "$host_arch" ] || aptname=$arch
  fetch_set main "$arch" "$aptname" "" busybox-static KERNEL
  # The runc/containerd test init: the two runtimes, their shared
  # libraries, and jq for runtime.json (tests/images/mkimages.py, sysinit).
  fetch_set runc "$arch" "$aptname" "" runc containerd libc6 libseccomp2 jq libjq1 libonig5
done
fetch_set rpi arm64 rpi "deb $(host_mirror) $suite main non-free-firmware" raspi-firmware u-boot-rpi
# raw/iso EFI boot tests on arm64: systemd-bootaa64.efi (systemd-boot-efi)
# and AAVMF come from the host's qemu-efi-aarch64; the loader from the arm64 .deb.
fetch_set efi arm64 arm64 "" systemd-boot-efi
