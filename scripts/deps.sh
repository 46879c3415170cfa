#!/usr/bin/env bash
# Install every Debian package lkb needs to build and test. Idempotent and
# fast when everything is present (no apt-get update then).
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config
  libyaml-dev libarchive-dev libcurl4-openssl-dev libjansson-dev libssl-dev zlib1g-dev liblz4-dev libdeflate-dev
  libfdisk-dev
  # manual pages (docs/man, also compiled in for `lkb help`)
  scdoc groff-base
  # tests
  libcriterion-dev clang python3 curl openssl apache2-utils cpio file zstd lz4 xz-utils
  # clang's libFuzzer and sanitizer runtimes (tests/fuzz): only a Recommends of clang
  libclang-rt-14-dev
  docker-registry skopeo
  # boot tests and disk-image checks
  qemu-system-x86 qemu-system-arm qemu-utils u-boot-tools dosfstools mtools fdisk gdisk xorriso e2fsprogs
  # rpi3: the test overlay (dtc) and firmware device trees (fdtput, fdtoverlay)
  device-tree-compiler
  # EFI System Partitions (toolkit efi, raw/iso plugins) and their boot tests
  systemd-boot-efi ovmf qemu-efi-aarch64 syslinux syslinux-common
  # raw-bios: the syslinux installer's machine-wide sync() skipped (and
  # strace, with which test_raw checks that)
  libeatmydata1 strace
  # iso: libisofs and the ISOLINUX boot assets
  libisofs-dev isolinux
  # Debian packages (debian/, tests/scripts/test_debian_pkg.sh) and the
  # shell completion test
  debhelper dpkg-dev lintian bash-completion zsh
  # kernel+squashfs, kernel+erofs: the image tools, run under fakeroot
  squashfs-tools erofs-utils fakeroot
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
