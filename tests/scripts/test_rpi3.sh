#!/usr/bin/env bash
# rpi3 format on an x86-64 host: tar contents, uImage headers checked by our
# own parser and by u-boot's dumpimage, boot.scr carrying the YAML cmdline,
# assets from directories or from an OCI image, clear errors for missing
# assets; then a real boot: the tar copied onto a FAT32 SD image, QEMU's
# raspi3b running u-boot.bin -> boot.scr -> kernel -> our /init.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
. "$LKB_TEST_STATE/images.env"
R=$LKB_TEST_REGISTRY
for d in "$LKB_TEST_DEBS"/arm64/raspi-firmware_*.deb "$LKB_TEST_DEBS"/arm64/u-boot-rpi_*.deb; do
  dpkg-deb -x "$d" "$TMP/assets"
done
FW="$TMP/assets/usr/lib/raspi-firmware" UB="$TMP/assets/usr/lib/u-boot/rpi_3"
CMDLINE='console=ttyS0,115200 console=ttyAMA0,115200 panic=-1 lkb.test="a$b"'
cat >"$TMP/pi.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: '$CMDLINE'
init:
  - $R/lkb-test/init:1
YML
cat >"$TMP/quote.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: "it's"
init:
  - $R/lkb-test/init:1
YML
C="$TMP/cache"

# amd64 is refused before anything is fetched.
expect_rc 2 "$LKB_BIN" build -q -cache "$C" -format rpi3 -arch amd64 "$TMP/pi.yml"
expect_in "$TMP/err" "format rpi3 does not support architecture amd64"
# Missing assets: every file and every place looked.
mkdir -p "$TMP/o"
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -format rpi3 -arch arm64 -dir "$TMP/o" \
  -format-opt firmware-dir="$TMP/nowhere" -format-opt uboot-dir="$UB" "$TMP/pi.yml"
expect_in "$TMP/err" "bootcode.bin (looked at $TMP/nowhere/bootcode.bin)"
expect_in "$TMP/err" "fixup.dat (looked at $TMP/nowhere/fixup.dat)"
[ -z "$(ls -A "$TMP/o")" ] || fail "failed rpi3 build left files"

# From directories.
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format rpi3 -arch arm64 -dir "$TMP/o" -name pi \
  -format-opt firmware-dir="$FW" -format-opt uboot-dir="$UB" "$TMP/pi.yml"
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -format rpi3 -arch arm64 -dir "$TMP/o" -name q \
  -format-opt firmware-dir="$FW" -format-opt uboot-dir="$UB" "$TMP/quote.yml"
expect_in "$TMP/err" "cannot contain a single quote"
# From the assets image: the same bytes.
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format rpi3 -arch arm64 -dir "$TMP/o" -name pi2 \
  -format-opt assets-image="$LKB_TEST_RPI3_ASSETS" "$TMP/pi.yml"
cmp -s "$TMP/o/pi.tar" "$TMP/o/pi2.tar" || fail "assets image and directories give different tars"

mkdir -p "$TMP/x"
tar xf "$TMP/o/pi.tar" -C "$TMP/x"
for f in bootcode.bin start.elf fixup.dat config.txt u-boot.bin boot.scr kernel.uimg initrd.uimg \
         dtb/broadcom/bcm2837-rpi-3-b.dtb dtb/broadcom/bcm2837-rpi-3-b-plus.dtb; do
  [ -s "$TMP/x/$f" ] || fail "$f missing from the tar"
done
cmp -s "$TMP/x/u-boot.bin" "$UB/u-boot.bin" || fail "u-boot.bin differs"
expect_in "$TMP/x/config.txt" "arm_64bit=1"
expect_in "$TMP/x/config.txt" "enable_uart=1"
expect_in "$TMP/x/config.txt" "kernel=u-boot.bin"
for f in kernel.uimg initrd.uimg boot.scr; do
  dumpimage -l "$TMP/x/$f" >"$TMP/dump-$f" 2>&1 || { cat "$TMP/dump-$f"; fail "dumpimage rejects $f"; }
done
expect_in "$TMP/dump-kernel.uimg" "AArch64 Linux Kernel Image (uncompressed)"
expect_in "$TMP/dump-kernel.uimg" "Load Address: 00200000"
expect_in "$TMP/dump-initrd.uimg" "AArch64 Linux RAMDisk Image (uncompressed)"
expect_in "$TMP/dump-boot.scr" "AArch64 Linux Script"
python3 - "$TMP/x" "$CMDLINE" <<'PY' || fail "uImage check"
import struct, sys, zlib
d, cmdline = sys.argv[1], sys.argv[2]
for name, typ in (("kernel.uimg", 2), ("initrd.uimg", 3), ("boot.scr", 6)):
    b = open(f"{d}/{name}", "rb").read()
    magic, hcrc, t, size, load, ep, dcrc, os_, arch, ty, comp = struct.unpack(">7I4B", b[:32])
    assert magic == 0x27051956, name
    assert zlib.crc32(b[:4] + b"\0\0\0\0" + b[8:64]) == hcrc, f"{name} header crc"
    assert len(b) - 64 == size and zlib.crc32(b[64:]) == dcrc, f"{name} data crc"
    assert (os_, arch, ty) == (5, 22, typ), (name, os_, arch, ty)
k = open(f"{d}/kernel.uimg", "rb").read()[64:]
assert k[56:60] == b"ARM\x64", "kernel payload is not a raw arm64 Image"
scr = open(f"{d}/boot.scr", "rb").read()[72:].decode()
assert f"setenv bootargs '{cmdline}'" in scr, scr
assert "booti 0x00200000" in scr, scr
PY

# rpi3-img: our own MBR + FAT32 (checked by the real tools) + an ext4 data
# partition; built twice to prove it is reproducible.
for n in img1 img2; do
  expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format rpi3-img -arch arm64 -dir "$TMP/o" -name "$n" \
    -format-opt firmware-dir="$FW" -format-opt uboot-dir="$UB" -format-opt data-size=64M "$TMP/pi.yml"
done
sd="$TMP/o/img1.img"
cmp -s "$sd" "$TMP/o/img2.img" || fail "rpi3-img is not reproducible"
size=$(stat -c %s "$sd")
[ $((size & (size - 1))) -eq 0 ] || fail "SD image size $size is not a power of two"
sfdisk -J "$sd" >"$TMP/parts.json"
python3 - "$TMP/parts.json" <<'PY' || fail "partition table"
import json, sys
p = json.load(open(sys.argv[1]))["partitiontable"]["partitions"]
assert p[0]["start"] == 2048 and p[0]["type"] == "c" and p[0].get("bootable"), p
assert p[1]["type"] == "83" and p[1]["size"] == 64 * 2048 and p[1]["start"] == p[0]["start"] + p[0]["size"], p
PY
start1=$(python3 -c "import json;p=json.load(open('$TMP/parts.json'))['partitiontable']['partitions'];print(p[0]['start'],p[0]['size'],p[1]['start'],p[1]['size'])")
set -- $start1
dd if="$sd" of="$TMP/p1.img" bs=512 skip="$1" count="$2" status=none
dd if="$sd" of="$TMP/p2.img" bs=512 skip="$3" count="$4" status=none
fsck.fat -n "$TMP/p1.img" >"$TMP/fsck" 2>&1 || { cat "$TMP/fsck"; fail "fsck.fat rejects the boot partition"; }
e2fsck -fn "$TMP/p2.img" >"$TMP/e2fsck" 2>&1 || { cat "$TMP/e2fsck"; fail "e2fsck rejects the data partition"; }
blkid "$TMP/p2.img" >"$TMP/blkid"
expect_in "$TMP/blkid" 'LABEL="lkb-data"'
mdir -i "$TMP/p1.img" -/ -b ::/ >"$TMP/mdir"
for f in bootcode.bin start.elf fixup.dat config.txt u-boot.bin boot.scr kernel.uimg initrd.uimg \
         dtb/broadcom/bcm2837-rpi-3-b.dtb dtb/broadcom/bcm2837-rpi-3-b-plus.dtb; do
  grep -qx "::/$f" "$TMP/mdir" || { cat "$TMP/mdir"; fail "$f not on the FAT partition"; }
  mcopy -n -i "$TMP/p1.img" "::/$f" "$TMP/fromfat"
  cmp -s "$TMP/fromfat" "$TMP/x/$f" || fail "$f on the FAT partition differs from the tar"
done
# -size sets the whole image; too small is a clear error.
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -format rpi3-img -arch arm64 -dir "$TMP/o" -name small \
  -size 32M -format-opt firmware-dir="$FW" -format-opt uboot-dir="$UB" "$TMP/pi.yml"
expect_in "$TMP/err" "but -size gives 32 MiB"
[ ! -e "$TMP/o/small.img" ] || fail "a failed rpi3-img left its output"

# A real boot of that image: QEMU's raspi3b runs u-boot.bin, which finds
# boot.scr on the FAT partition and boots our kernel and initrd.
qemu-system-aarch64 -M raspi3b -m 1G -kernel "$TMP/x/u-boot.bin" \
  -dtb "$TMP/x/dtb/broadcom/bcm2837-rpi-3-b.dtb" -drive if=sd,format=raw,file="$sd" \
  -display none -monitor none -no-reboot \
  -serial file:"$TMP/pl011.txt" -serial file:"$TMP/miniuart.txt" </dev/null >"$TMP/qemu.log" 2>&1 &
qpid=$!
ok=0
for _ in $(seq 1 300); do
  if grep -aq "LKB-INIT-MARKER done" "$TMP/pl011.txt" 2>/dev/null; then ok=1; break; fi
  kill -0 "$qpid" 2>/dev/null || break
  sleep 1
done
kill "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
if [ "$ok" != 1 ]; then
  tail -20 "$TMP/miniuart.txt" "$TMP/pl011.txt" "$TMP/qemu.log" >&2
  fail "raspi3b did not reach the init marker"
fi
expect_in "$TMP/miniuart.txt" "Found U-Boot script /boot.scr"
expect_in "$TMP/pl011.txt" "LKB-INIT-MARKER arch=aarch64"
expect_in "$TMP/pl011.txt" "Kernel command line: $CMDLINE"
echo "rpi3: ok"
