#!/usr/bin/env bash
# iso benchmark: build time of the hybrid `iso` format (BIOS + UEFI) for the
# ~100 MB image of bench/build.sh, warm cache, and the ISO's size against
# the initrd's (the hybrid carries kernel and initrd twice: once in ISO 9660
# for ISOLINUX, once in the ESP's FAT image for systemd-boot).
#   bash bench/iso.sh            (needs a built build/lkb)
. "$(dirname "$0")/setup.sh"
b=("$lkb" build -q -arch amd64 -cache "$work/cache" -name b)
mkdir -p "$work/warmup"
"${b[@]}" -dir "$work/warmup" "$work/big.yml" # fills the cache: kernel+initrd
echo "lkb iso benchmark ($(nproc) cores, warm cache)"
for f in kernel+initrd iso-bios iso-efi iso; do
  mkdir -p "$work/$f"
  t0=$EPOCHREALTIME
  "${b[@]}" -dir "$work/$f" -format "$f" "$work/big.yml"
  t1=$EPOCHREALTIME
  out=$(ls -S "$work/$f" | head -1)
  awk -v f="$f" -v t0="$t0" -v t1="$t1" -v o="$out" -v s="$(stat -c %s "$work/$f/$out")" \
    'BEGIN {printf "%-14s wall %6.2f s   %-16s %7.1f MB\n", f, t1 - t0, o, s / 1e6}'
done
initrd=$(stat -c %s "$work/kernel+initrd/b-initrd.img")
kernel=$(stat -c %s "$work/kernel+initrd/b-kernel")
iso=$(stat -c %s "$work/iso/b.iso")
awk -v i="$iso" -v r="$initrd" -v k="$kernel" \
  'BEGIN {printf "iso / initrd = %.2f   iso / (kernel + initrd) = %.2f\n", i / r, i / (k + r)}'
