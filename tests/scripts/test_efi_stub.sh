#!/usr/bin/env bash
# A kernel without an EFI stub (issue 11): lkb-test/kernel-noefi is the test
# kernel with the "MZ" of its PE header zeroed (amd64 bzImage; arm64 Image
# before gzip, so the plugins' decompress-and-check path runs too). Every
# EFI format refuses it with the plugin's clear error (exit 6) and leaves
# nothing in -dir (iso-efi and raw-efi: the iso and raw plugins; their other
# EFI formats share the check); the same YAML with the real kernel builds.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
. "$LKB_TEST_STATE/images.env"
# arm64 UEFI loader: the arm64 .deb (this host's systemd-boot-efi is amd64).
deb=$(ls "$LKB_TEST_DEBS"/arm64/systemd-boot-efi_*_arm64.deb 2>/dev/null | tail -1)
[ -n "$deb" ] || fail "no arm64 systemd-boot-efi .deb in $LKB_TEST_DEBS/arm64 (tests/images/fetch-debs.sh)"
dpkg-deb -x "$deb" "$TMP/aa64"
for arch in amd64 arm64; do
  opts=()
  [ "$arch" = arm64 ] && opts=(-format-opt efi-dir="$TMP/aa64/usr/lib/systemd/boot/efi")
  for k in kernel kernel-noefi; do
    printf 'kernel:\n  image: %s\n  cmdline: "console=ttyS0"\ninit:\n  - %s\n' \
      "$LKB_TEST_REGISTRY/lkb-test/$k:6.1" "$LKB_TEST_INIT" >"$TMP/$k.yml"
  done
  for fmt in iso-efi raw-efi; do
    o="$TMP/o-$arch-$fmt"
    mkdir -p "$o"
    expect_rc 6 "$LKB_BIN" build -q -cache "$TMP/cache" -arch "$arch" -dir "$o" -format "$fmt" \
      ${opts[@]+"${opts[@]}"} "$TMP/kernel-noefi.yml"
    expect_in "$TMP/err" "is not an EFI application (no PE header)"
    grep -q "kernel" "$TMP/err" || { cat "$TMP/err" >&2; fail "$arch $fmt: the error does not name the kernel"; }
    [ "$arch" = amd64 ] || expect_in "$TMP/err" "(decompressed)"
    [ -z "$(ls -A "$o")" ] || { ls -la "$o" >&2; fail "$arch $fmt: a failed build left files"; }
  done
  # The control: the real kernel passes the same check.
  mkdir -p "$TMP/ok-$arch"
  expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/cache" -arch "$arch" -dir "$TMP/ok-$arch" -format raw-efi \
    ${opts[@]+"${opts[@]}"} "$TMP/kernel.yml"
  [ -s "$TMP/ok-$arch/kernel-efi.img" ] || { ls -la "$TMP/ok-$arch" >&2; fail "$arch raw-efi with the real kernel: no image"; }
done
echo "efi stub: ok"
