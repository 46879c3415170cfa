#!/usr/bin/env bash
# raw plugin: every format built from the loopback registry, checked with
# the real tools (sfdisk -J, sgdisk -v, fsck.fat -n, e2fsck -fn, blkid,
# qemu-img check/info, tar), built twice to prove it is reproducible, and
# sparse; the errors (arm64 BIOS, -size too small with the minimum, a
# missing loader with every place looked, nothing left behind); then every
# format booted in QEMU (TCG) to the init marker, two at a time: BIOS
# formats with SeaBIOS, EFI ones with OVMF (amd64) and AAVMF (arm64), each
# container as its own -drive format; gcp unpacked. The data partition is
# found by its label, mounted and written by the booted system.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
. "$LKB_TEST_STATE/images.env"
R=$LKB_TEST_REGISTRY
C="$TMP/cache" O="$TMP/o" O2="$TMP/o2"
mkdir -p "$O" "$O2"
# arm64's systemd-boot comes from the arm64 .deb (tests/images/fetch-debs.sh).
deb=$(awk '$1 == "systemd-boot-efi" {print $2}' "$LKB_TEST_DEBS/arm64/selected-efi")
dpkg-deb -x "$LKB_TEST_DEBS/arm64/$deb" "$TMP/efi-arm64"
EFIA="$TMP/efi-arm64/usr/lib/systemd/boot/efi"

# The data-partition systems: an init that loads the disk and ext4
# modules (the test kernel image carries neither), finds the partition by
# its label, mounts it and writes to it. Modules come from the kernel .deb
# the test kernel image is made of, in dependency order.
data_yml() { # data_yml ARCH CONSOLE MODULE...
  local arch=$1 console=$2; shift 2
  local kdeb kdir="$TMP/k-$arch"
  kdeb=$(awk '$1 == "linux-image" {print $2}' "$LKB_TEST_DEBS/$arch/selected-main")
  dpkg-deb -x "$LKB_TEST_DEBS/$arch/$kdeb" "$kdir"
  python3 - "$kdir" "$@" >"$TMP/mods-$arch" <<'PY'
import os, re, sys
root = sys.argv[1]
mroot = os.path.join(root, "lib/modules", os.listdir(os.path.join(root, "lib/modules"))[0])
by = {}
for d, _, fs in os.walk(mroot):
    for f in fs:
        if f.endswith(".ko"):
            by[f[:-3].replace("-", "_")] = os.path.join(d, f)
order = []
def visit(n):
    n = n.replace("-", "_")
    if n not in by or by[n] in order:
        return
    m = re.search(rb"\0depends=([^\0]*)\0", open(by[n], "rb").read())
    for d in (m.group(1).decode().split(",") if m else []):
        if d:
            visit(d)
    order.append(by[n])
for n in sys.argv[2:]:
    visit(n)
print("\n".join(order))
PY
  {
    printf 'kernel:\n  image: %s/lkb-test/kernel:6.1\n  cmdline: "console=%s panic=-1 no_timer_check"\n' "$R" "$console"
    printf 'init:\n  - %s/lkb-test/init:1\nfiles:\n' "$R"
    local m order=""
    while read -r m; do
      printf '  - path: lib/modules/raw-test/%s\n    source: %s\n' "$(basename "$m")" "$m"
      order="$order $(basename "$m")"
    done <"$TMP/mods-$arch"
    cat <<YML
  - path: init
    mode: "0755"
    contents: |
      #!/bin/busybox sh
      b=/bin/busybox
      \$b mkdir -p /proc /sys /dev /data
      \$b mount -t proc proc /proc
      \$b mount -t sysfs sysfs /sys
      \$b mount -t devtmpfs devtmpfs /dev
      echo "LKB-INIT-MARKER arch=\$(\$b uname -m)"
      for m in$order; do \$b insmod /lib/modules/raw-test/\$m 2>/dev/null; done
      for i in \$(\$b seq 1 100); do dev=\$(\$b findfs LABEL=lkb-data 2>/dev/null) && break; \$b sleep 0.2; done
      if [ -n "\$dev" ] && \$b mount -t ext4 "\$dev" /data; then
        echo "lkb-data: mounted \$dev"
        echo written >/data/probe && [ "\$(\$b cat /data/probe)" = written ] && echo "lkb-data: written"
        \$b df -m /data | \$b tail -1 | \$b awk '{print "lkb-data: " \$2 " MiB"}'
        \$b umount /data
      fi
      echo "LKB-INIT-MARKER done"
      \$b poweroff -f
YML
  }
}
data_yml amd64 ttyS0 virtio_blk virtio_pci crc32c_generic ext4 >"$TMP/data-amd64.yml"
data_yml arm64 ttyAMA0 virtio_scsi virtio_pci sd_mod crc32c_generic ext4 >"$TMP/data-arm64.yml"
for a in amd64:ttyS0 arm64:ttyAMA0; do
  printf 'kernel:\n  image: %s/lkb-test/kernel:6.1\n  cmdline: "console=%s panic=-1 no_timer_check"\ninit:\n  - %s/lkb-test/init:1\n' \
    "$R" "${a#*:}" "$R" >"$TMP/${a%%:*}.yml"
done

build() { # build DIR ARCH YML ARGS...: expect success
  local dir=$1 arch=$2 yml=$3; shift 3
  expect_rc 0 "$LKB_BIN" build -q -cache "$C" -arch "$arch" -dir "$dir" "$@" "$yml"
}
empty_dir() { [ -z "$(ls -A "$1")" ] || { ls -la "$1" >&2; fail "a failed build left files in $1"; }; }

# --- the syslinux installer's sync() ----------------------------------------
# Skipped through libeatmydata (docs/raw.md): no sync(2) from the build or
# any tool it runs (the image is checked and booted below, built the same
# way).
echo "[$SECONDS s] no machine-wide sync"
mkdir -p "$TMP/s"
# LeakSanitizer cannot run under ptrace: the sanitizer pass checks leaks in
# the other builds of this script.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -e trace=sync,syncfs -o "$TMP/sync.log" \
  "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/s" -format raw-bios "$TMP/amd64.yml" ||
  fail "raw-bios under strace"
! grep -E "sync(fs)?\(" "$TMP/sync.log" || fail "the raw-bios build called sync"
cmp -s -n 440 "$TMP/s/amd64-bios.img" /usr/lib/SYSLINUX/mbr.bin || fail "no syslinux MBR code"

# --- errors ---------------------------------------------------------------
echo "[$SECONDS s] errors"
mkdir -p "$TMP/e"
for f in raw-bios vhd gcp; do
  expect_rc 2 "$LKB_BIN" build -q -cache "$C" -arch arm64 -dir "$TMP/e" -format $f "$TMP/arm64.yml"
  expect_in "$TMP/err" "$f: the BIOS layout (syslinux) boots amd64 only, not arm64"
done
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/e" -format raw-efi -size 8M "$TMP/amd64.yml"
expect_in "$TMP/err" "the disk needs at least"
expect_in "$TMP/err" "but -size gives 8 MiB"
need=$(sed -n 's/.*needs at least \([0-9]*\) MiB.*/\1/p' "$TMP/err")
empty_dir "$TMP/e"
# The minimum it names is enough, one MiB less is not.
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/e" -format qcow2-efi -size $((need - 1))M "$TMP/amd64.yml"
empty_dir "$TMP/e"
build "$TMP/e" amd64 "$TMP/amd64.yml" -format raw-efi -name min -size "${need}M"
[ "$(stat -c %s "$TMP/e/min-efi.img")" -eq $((need << 20)) ] || fail "-size ${need}M"
rm -f "$TMP/e"/*
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -arch arm64 -dir "$TMP/e" -format raw-efi -format-opt efi-dir="$TMP/nowhere" "$TMP/arm64.yml"
expect_in "$TMP/err" "systemd-bootaa64.efi (looked at $TMP/nowhere/systemd-bootaa64.efi)"
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/e" -format vmdk -format-opt syslinux-dir="$TMP/nowhere" "$TMP/amd64.yml"
expect_in "$TMP/err" "mbr.bin (looked at $TMP/nowhere/mbr.bin)"
# A wrong-arch loader is named, not booted.
mkdir -p "$TMP/wrong" && cp "$EFIA/systemd-bootaa64.efi" "$TMP/wrong/systemd-bootx64.efi"
expect_rc 6 "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/e" -format raw-efi -format-opt efi-dir="$TMP/wrong" "$TMP/amd64.yml"
expect_in "$TMP/err" "machine 0xaa64, not amd64"
expect_rc 2 "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/e" -format raw-bios -format-opt data-label=a-label-longer-than-16 "$TMP/amd64.yml"
expect_in "$TMP/err" "longer than 16 bytes"
empty_dir "$TMP/e"
# vhd and dynamic-vhd both write NAME.vhd: one build refuses the pair
# rather than keep only the last one written.
expect_rc 2 "$LKB_BIN" build -q -cache "$C" -arch amd64 -dir "$TMP/e" -format vhd -format dynamic-vhd -size 64M "$TMP/amd64.yml"
expect_in "$TMP/err" "output amd64.vhd is also written by format vhd of this build"
empty_dir "$TMP/e"

# --- every format, twice: the same bytes ----------------------------------
echo "[$SECONDS s] every format, twice: the same bytes"
for d in "$O" "$O2"; do
  build "$d" amd64 "$TMP/data-amd64.yml" -format raw-bios -name data -format-opt data=true
  # The rest at 256 MiB: the same code, a quarter of the bytes to convert.
  build "$d" amd64 "$TMP/amd64.yml" -size 256M -format raw-efi -format qcow2-bios -format qcow2-efi -format vmdk -format aws -format gcp -name s
  build "$d" amd64 "$TMP/amd64.yml" -size 256M -format vhd -name fixed
  build "$d" amd64 "$TMP/amd64.yml" -size 256M -format dynamic-vhd -name dynamic
  build "$d" amd64 "$TMP/amd64.yml" -size 256M -format vhd -format-opt efi=true -name gen2
  build "$d" arm64 "$TMP/data-arm64.yml" -size 256M -format raw-efi -name arm -format-opt efi-dir="$EFIA" -format-opt data=true
  build "$d" arm64 "$TMP/arm64.yml" -size 256M -format qcow2-efi -name arm -format-opt efi-dir="$EFIA"
done
OUTS="data-bios.img s-efi.img s.qcow2 s-efi.qcow2 s.vmdk s.raw s.img.tar.gz fixed.vhd dynamic.vhd gen2.vhd arm-efi.img arm-efi.qcow2"
for f in $OUTS; do
  [ -s "$O/$f" ] || fail "$f missing"
  cmp -s "$O/$f" "$O2/$f" || fail "$f is not reproducible"
done
[ "$(ls "$O" | wc -l)" -eq 12 ] || { ls "$O"; fail "unexpected outputs"; }

# --- layouts --------------------------------------------------------------
echo "[$SECONDS s] layouts"
parts() { sfdisk -J "$1" | python3 -c 'import json,sys
t = json.load(sys.stdin)["partitiontable"]
for p in t["partitions"]: print(t["label"], p["start"], p["size"], p["type"], p.get("bootable", False), p.get("name", "-"))'; }
fat_ok() { # fat_ok IMG START SIZE FILE...: fsck.fat and the files
  dd if="$1" of="$TMP/p.img" bs=1M iflag=skip_bytes,count_bytes skip=$(($2 * 512)) count=$(($3 * 512)) status=none conv=sparse
  fsck.fat -n "$TMP/p.img" >"$TMP/fsck" 2>&1 || { cat "$TMP/fsck"; fail "fsck.fat rejects $1"; }
  local img=$1 f; shift 3
  mdir -i "$TMP/p.img" -/ -a -b ::/ >"$TMP/mdir"
  for f; do grep -qx "::/$f" "$TMP/mdir" || { cat "$TMP/mdir"; fail "$f not on the boot partition of $img"; }; done
}
sparse_ok() { # the image takes well under its size on disk
  local used size
  used=$(( $(stat -c %b "$1") * 512 )) size=$(stat -c %s "$1")
  [ "$used" -lt $((size / 10)) ] || fail "$1: $used bytes used of $size: not sparse"
}
# BIOS + data: MBR, bootable FAT with syslinux, ext4 labelled, filling the disk.
img="$O/data-bios.img"
[ "$(stat -c %s "$img")" -eq $((1024 << 20)) ] || fail "default size is not 1024M"
sparse_ok "$img"
parts "$img" >"$TMP/parts"
read -r l s1 n1 t1 b1 _ < <(sed -n 1p "$TMP/parts")
read -r _ s2 n2 t2 _ _ < <(sed -n 2p "$TMP/parts")
[ "$l $s1 $t1 $b1" = "dos 2048 c True" ] || fail "bios partition 1: $(cat "$TMP/parts")"
[ "$t2" = 83 ] && [ "$s2" -eq $((s1 + n1)) ] && [ $(( (s2 + n2) * 512 )) -eq $((1024 << 20)) ] || fail "bios data partition: $(cat "$TMP/parts")"
cmp -s -n 440 "$img" /usr/lib/SYSLINUX/mbr.bin || fail "no syslinux MBR code"
fat_ok "$img" "$s1" "$n1" kernel initrd.img syslinux.cfg ldlinux.sys ldlinux.c32
mtype -i "$TMP/p.img" ::/syslinux.cfg >"$TMP/cfg"
expect_in "$TMP/cfg" "APPEND console=ttyS0 panic=-1"
expect_in "$TMP/cfg" "LINUX /kernel"
dd if="$img" of="$TMP/d.img" bs=1M iflag=skip_bytes,count_bytes skip=$((s2 * 512)) count=$((n2 * 512)) status=none conv=sparse
e2fsck -fn "$TMP/d.img" >"$TMP/e2" 2>&1 || { cat "$TMP/e2"; fail "e2fsck rejects the data partition"; }
blkid "$TMP/d.img" >"$TMP/blkid"
expect_in "$TMP/blkid" 'LABEL="lkb-data"'
expect_in "$TMP/blkid" 'TYPE="ext4"'
# EFI: GPT, an ESP filling the disk with systemd-boot and the BLS entry.
img="$O/s-efi.img"
sparse_ok "$img"
sgdisk -v "$img" >"$TMP/sgdisk" 2>&1 || { cat "$TMP/sgdisk"; fail "sgdisk -v"; }
expect_in "$TMP/sgdisk" "No problems found"
parts "$img" >"$TMP/parts"
read -r l s1 n1 t1 _ name < "$TMP/parts"
[ "$l $t1 $name" = "gpt C12A7328-F81F-11D2-BA4B-00A0C93EC93B EFI System" ] || fail "ESP: $(cat "$TMP/parts")"
fat_ok "$img" "$s1" "$n1" EFI/BOOT/BOOTX64.EFI loader/loader.conf loader/entries/lkb.conf kernel initrd.img
cmp -s <(mtype -i "$TMP/p.img" ::/EFI/BOOT/BOOTX64.EFI) /usr/lib/systemd/boot/efi/systemd-bootx64.efi || fail "BOOTX64.EFI is not systemd-boot"
mtype -i "$TMP/p.img" ::/loader/entries/lkb.conf >"$TMP/entry"
expect_in "$TMP/entry" "options console=ttyS0 panic=-1"
# arm64: BOOTAA64.EFI, the kernel decompressed (an arm64 Image), data partition.
img="$O/arm-efi.img"
sgdisk -v "$img" >"$TMP/sgdisk" 2>&1 || { cat "$TMP/sgdisk"; fail "sgdisk -v arm64"; }
parts "$img" >"$TMP/parts"
read -r _ s1 n1 _ _ _ < <(sed -n 1p "$TMP/parts")
read -r _ s2 n2 t2 _ name2 < <(sed -n 2p "$TMP/parts")
[ "$t2 $name2" = "0FC63DAF-8483-4772-8E79-3D69D8477DE4 lkb-data" ] || fail "arm64 data partition: $(cat "$TMP/parts")"
fat_ok "$img" "$s1" "$n1" EFI/BOOT/BOOTAA64.EFI kernel initrd.img
mcopy -n -i "$TMP/p.img" ::/kernel "$TMP/arm-kernel"
[ "$(dd if="$TMP/arm-kernel" bs=1 skip=56 count=4 status=none)" = $'ARM\x64' ] || fail "arm64 kernel on the ESP is not an uncompressed Image"
dd if="$img" of="$TMP/d.img" bs=1M iflag=skip_bytes,count_bytes skip=$((s2 * 512)) count=$((n2 * 512)) status=none conv=sparse
e2fsck -fn "$TMP/d.img" >"$TMP/e2" 2>&1 || { cat "$TMP/e2"; fail "e2fsck rejects the arm64 data partition"; }
# Containers: qemu-img reads each as its format, the same 256 MiB disk.
for f in s.qcow2:qcow2 s-efi.qcow2:qcow2 arm-efi.qcow2:qcow2 s.vmdk:vmdk fixed.vhd:vpc dynamic.vhd:vpc gen2.vhd:vpc; do
  file=${f%%:*} fmt=${f#*:}
  qemu-img info -f "$fmt" --output=json "$O/$file" >"$TMP/info"
  expect_in "$TMP/info" '"virtual-size": 268435456'
  case $fmt in qcow2|vmdk) qemu-img check -q -f "$fmt" "$O/$file" || fail "qemu-img check $file" ;; esac
done
expect_in <(qemu-img info --output=json "$O/s.vmdk") '"create-type": "streamOptimized"'
# The CID lkb puts in place of qemu's random one: 8 digits, own line.
dd if="$O/s.vmdk" bs=512 skip=1 count=20 status=none | tr -d '\0' | grep -a -x -q 'CID=[0-9a-f]\{8\}' || fail "VMDK CID line"
# Inside each container: the BIOS disk (gen2: the EFI one). Each format
# has its own seed, so ids differ between formats; the layout does not.
for f in s.qcow2:qcow2:dos s.vmdk:vmdk:dos fixed.vhd:vpc:dos dynamic.vhd:vpc:dos gen2.vhd:vpc:gpt; do
  IFS=: read -r file fmt label <<<"$f"
  qemu-img convert -f "$fmt" -O raw "$O/$file" "$TMP/c.raw"
  read -r l s1 n1 _ < <(parts "$TMP/c.raw")
  [ "$l" = "$label" ] || fail "$file holds a $l disk, want $label"
  fat_ok "$TMP/c.raw" "$s1" "$n1" kernel initrd.img
done
python3 - "$O/fixed.vhd" "$O/dynamic.vhd" <<'PY' || fail "VHD footers"
import struct, sys
for path in sys.argv[1:]:
    b = open(path, "rb").read()
    feet = [b[-512:]] + ([b[:512]] if "dynamic" in path else [])
    for f in feet:
        assert f[:8] == b"conectix", path
        s = sum(f[:64]) + sum(f[68:])
        assert (~s) & 0xffffffff == struct.unpack(">I", f[64:68])[0], f"{path}: checksum"
        assert f[28:32] == b"qem2", path
    assert len(set(feet)) == 1, f"{path}: footer copies differ"
PY
tar tvzf "$O/s.img.tar.gz" >"$TMP/tar"
[ "$(awk '{print $6}' "$TMP/tar")" = disk.raw ] || { cat "$TMP/tar"; fail "gcp tar must hold only disk.raw"; }
mkdir -p "$TMP/gcp" && tar xzf "$O/s.img.tar.gz" -C "$TMP/gcp" --sparse
[ "$(stat -c %s "$TMP/gcp/disk.raw")" -eq $((256 << 20)) ] || fail "gcp disk.raw size"
read -r l s1 n1 _ < <(parts "$TMP/gcp/disk.raw")
fat_ok "$TMP/gcp/disk.raw" "$s1" "$n1" kernel initrd.img syslinux.cfg ldlinux.sys

# --- boots ----------------------------------------------------------------
# The sanitizer pass of scripts/test.sh builds the same images with the
# instrumented lkb (checked above); booting them again would only re-test
# QEMU, so the boots run in the main pass only.
if lkb_sanitized; then
  echo "raw: ok (boots skipped: sanitizer build)"
  exit 0
fi
echo "[$SECONDS s] boots"
boot() { # boot NAME KIND FILE FORMAT: lkb run picks the firmware (KIND
  # bios|ovmf|aavmf) and the drive's FORMAT; both checked below.
  local name=$1 file=$3 t0=$SECONDS
  lkb_boot "$name" "$TMP/$name.txt" "$TMP/$name.qemu" -mem 512 "$file" || true
  echo "$name $((SECONDS - t0))" >"$TMP/$name.time"
}
BOOTS="data-bios:bios:data-bios.img:raw s-efi:ovmf:s-efi.img:raw qcow2-bios:bios:s.qcow2:qcow2
qcow2-efi:ovmf:s-efi.qcow2:qcow2 vmdk:bios:s.vmdk:vmdk aws:bios:s.raw:raw gcp:bios:$TMP/gcp/disk.raw:raw
vhd:bios:fixed.vhd:vpc dynamic-vhd:bios:dynamic.vhd:vpc gen2:ovmf:gen2.vhd:vpc
arm-efi:aavmf:arm-efi.img:raw arm-qcow2:aavmf:arm-efi.qcow2:qcow2"
running=0
for b in $BOOTS; do
  IFS=: read -r name kind file fmt <<<"$b"
  case $file in /*) ;; *) file="$O/$file" ;; esac
  boot "$name" "$kind" "$file" "$fmt" &
  running=$((running + 1))
  if [ "$running" -ge 2 ]; then wait -n; running=$((running - 1)); fi
done
wait
for b in $BOOTS; do
  IFS=: read -r name kind file fmt <<<"$b"
  case $file in /*) ;; *) file="$O/$file" ;; esac
  log="$TMP/$name.txt"
  "$LKB_BIN" run -dry-run "$file" >"$TMP/$name.dry" || fail "$name: lkb run -dry-run"
  grep -Eq "file=$file,if=(virtio|none,id=boot),format=$fmt " "$TMP/$name.dry" || { cat "$TMP/$name.dry"; fail "$name: not driven as $fmt"; }
  case $kind in
    bios) expect_in "$TMP/$name.dry" "qemu-system-x86_64 -M pc " ;;
    ovmf) expect_in "$TMP/$name.dry" "file=/usr/share/OVMF/OVMF_CODE_4M.fd,if=pflash" ;;
    aavmf) expect_in "$TMP/$name.dry" "file=/usr/share/AAVMF/AAVMF_CODE.fd,if=pflash" ;;
  esac
  grep -aq "LKB-INIT-MARKER done" "$log" 2>/dev/null || { tail -n 30 "$log" "$TMP/$name.qemu" >&2 || true; fail "boot $name ($kind) did not reach the init marker"; }
  arch=x86_64; [ "$kind" = aavmf ] && arch=aarch64
  expect_in "$log" "LKB-INIT-MARKER arch=$arch"
  echo "boot $name ($kind): $(cut -d' ' -f2 "$TMP/$name.time") s"
done
for n in data-bios arm-efi; do
  expect_in "$TMP/$n.txt" "lkb-data: mounted /dev/"
  expect_in "$TMP/$n.txt" "lkb-data: written"
done
echo "raw: ok"
