#!/usr/bin/env bash
# Download the Debian packages the test images are built from, for amd64 and
# arm64, into $LKB_TEST_CACHE/debs/<arch>/ (default ~/.cache/lkb-tests) and
# write $LKB_TEST_CACHE/debs/<arch>/selected: "PACKAGE FILE.deb" per line,
# the exact files mkimages.py uses (the cache may hold older kernels).
#
# arm64 uses private apt lists (-oAPT::Architecture=arm64
# -oDir::State::Lists=...), refreshed at most once a day, so the host's dpkg
# architectures are never changed. A package whose candidate .deb is already
# cached is not downloaded again; with no network the previous selection is
# reused.
set -euo pipefail
cache=${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}
host_arch=$(dpkg --print-architecture)
# Besides these, each arch gets the kernel the linux-image-<arch>
# metapackage depends on (Debian 12: linux-image-6.1.0-N-<arch>).
PKGS=(busybox-static)

die() { echo "fetch-debs: $*" >&2; exit 1; }

lists_id() { # lists_id LISTSDIR: changes whenever apt-get update changed the lists
  find "$1" -maxdepth 1 -name '*Packages*' -printf '%f %s %T@\n' 2>/dev/null | sort | sha256sum | cut -c1-16
}

selection_fresh() { # selection_fresh DEBDIR LISTSDIR
  local f
  [ -s "$1/selected" ] || return 1
  [ "$(cat "$1/selected.lists" 2>/dev/null)" = "$(lists_id "$2")" ] || return 1
  while read -r _ f; do
    [ -s "$1/$f" ] || return 1
  done <"$1/selected"
}

fetch_arch() { # fetch_arch ARCH
  local arch=$1 dir="$cache/debs/$1"
  mkdir -p "$dir"
  # The downloads land in a cache dir the _apt sandbox user cannot write.
  local -a opts=(-oAPT::Sandbox::User=root)
  local lists=/var/lib/apt/lists
  if [ "$arch" != "$host_arch" ]; then
    local apt="$cache/apt-$arch"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    opts+=(-oAPT::Architecture="$arch" -oAPT::Architectures="$arch"
           -oDir::State::Lists="$apt/lists" -oDir::Cache="$apt/cache"
           -oDir::State::Status=/dev/null)
    # apt gives list files the server's mtime, hence our own stamp.
    if [ -z "$(find "$apt/updated" -mmin -1440 2>/dev/null)" ]; then
      if apt-get "${opts[@]}" -qq update >"$apt/update.log" 2>&1; then
        touch "$apt/updated"
      else
        echo "fetch-debs: apt-get update for $arch failed, using older lists (see $apt/update.log)" >&2
      fi
    fi
    lists="$apt/lists"
  fi
  # Resolving costs seconds of apt-cache: skip it while the lists are
  # unchanged since the last selection and its files are all there.
  if selection_fresh "$dir" "$lists"; then
    return 0
  fi

  local sel="$dir/selected.new" kpkg p ver file
  : >"$sel"
  kpkg=$(apt-cache "${opts[@]}" depends "linux-image-$arch" 2>/dev/null |
         sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -1)
  for p in "${PKGS[@]}" ${kpkg:+"$kpkg"}; do
    ver=$(apt-cache "${opts[@]}" show --no-all-versions "$p:$arch" 2>/dev/null | sed -n 's/^Version: //p' | head -1)
    [ -n "$ver" ] || { rm -f "$sel"; break; }
    file="${p}_${ver//:/%3a}_${arch}.deb"
    if [ ! -s "$dir/$file" ]; then
      (cd "$dir" && apt-get "${opts[@]}" -qq download "$p:$arch" >/dev/null 2>"$dir/download.log") ||
        { rm -f "$sel"; break; }
    fi
    [ -s "$dir/$file" ] || die "apt-get download $p:$arch did not produce $file"
    echo "$p $file" >>"$sel"
  done
  if [ -f "$sel" ] && [ -n "$kpkg" ]; then
    echo "linux-image $(sed -n "s/^$kpkg //p" "$sel")" >>"$sel"
    mv "$sel" "$dir/selected"
    lists_id "$lists" >"$dir/selected.lists"
  elif [ -s "$dir/selected" ]; then
    rm -f "$sel"
    echo "fetch-debs: cannot resolve or download the $arch packages; reusing $dir/selected" >&2
  else
    die "cannot resolve or download busybox-static and linux-image-$arch for $arch (apt lists missing? network?)"
  fi
}

# Fresh machines may lack the host lists; refresh them once if we can.
if ! apt-cache show linux-image-amd64 >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get -qq update >/dev/null
fi
fetch_arch amd64
fetch_arch arm64
