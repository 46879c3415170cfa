#!/usr/bin/env bash
# ISO formats (docs/iso.md): iso-bios checked with xorriso (El Torito BIOS
# entry with a boot info table, isohybrid MBR, Rock Ridge names and modes,
# isolinux.cfg carrying the YAML cmdline as is), reproducible for the same
# SOURCE_DATE_EPOCH, assets from a directory, clear errors (missing
# assets, -size, arch, a line break in the cmdline); the UEFI formats
# (iso-efi, iso-efi-initrd, the hybrid iso) for amd64 and arm64: El Torito
# UEFI entry, the ESP image checked with fsck.fat and mtools, GPT for the
# hybrid; kernel+iso's data ISO read back without mounting; then every
# bootable format booted in QEMU (TCG), two at a time, one image per
# format: SeaBIOS from a CD-ROM and a raw disk, OVMF (amd64) and AAVMF
# (arm64, -M virt) from a CD-ROM, and the hybrid iso from a disk too.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
. "$LKB_TEST_STATE/images.env"
R=$LKB_TEST_REGISTRY
# no_timer_check: on a loaded host TCG can fail the kernel's IO-APIC timer
# check ("IO-APIC + timer doesn't work") and panic; cloud images set it too.
CMDLINE='console=ttyS0 panic=-1 no_timer_check lkb.iso="a b" x=$y'
cat >"$TMP/sys.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: '$CMDLINE'
init:
  - $R/lkb-test/init:1
onboot:
  - name: hello
    image: $R/lkb-test/onboot:1
files:
  - path: etc/lkb-test-file
    contents: "written by lkb"
    mode: "0640"
YML
printf 'kernel:\n  image: %s/lkb-test/kernel:6.1\n  cmdline: "a\\nb"\ninit:\n  - %s/lkb-test/init:1\n' \
  "$R" "$R" >"$TMP/newline.yml"
sed 's/console=ttyS0/console=ttyAMA0/' "$TMP/sys.yml" >"$TMP/sysa.yml"
C="$TMP/cache"
export SOURCE_DATE_EPOCH=1700000000
B=("$LKB_BIN" build -q -cache "$C" -dir "$TMP/o")
mkdir -p "$TMP/o"
empty_dir() { [ -z "$(ls -A "$TMP/o")" ] || { ls -la "$TMP/o" >&2; fail "a failed build left files: $*"; }; }
xo() { xorriso -indev "$1" "${@:2}" 2>&1; }
# The volume space size in 2048-byte blocks, from the primary volume
# descriptor (sector 16, both-endian field at byte 80).
vol_blocks() { od -An -tu4 -j $((16 * 2048 + 80)) -N4 "$1" | tr -d ' '; }

# --- errors, before anything is built --------------------------------------
expect_rc 2 "${B[@]}" -format iso-bios -size 1G "$TMP/sys.yml"
expect_in "$TMP/err" "-size does not apply to iso-bios: an ISO image is as large as its contents"
expect_rc 2 "${B[@]}" -format kernel+iso -size 1G "$TMP/sys.yml"
expect_in "$TMP/err" "-size does not apply to kernel+iso"
expect_rc 2 "${B[@]}" -format iso-bios -arch arm64 "$TMP/sys.yml"
expect_in "$TMP/err" "format iso-bios does not support architecture arm64"
expect_rc 2 "${B[@]}" -format iso-efi -size 1G "$TMP/sys.yml"
expect_in "$TMP/err" "-size does not apply to iso-efi"
expect_rc 2 "${B[@]}" -format iso-bios -format-opt volume-id=no-dash "$TMP/sys.yml"
expect_in "$TMP/err" 'volume-id "no-dash": want 1 to 32 of A-Z, a-z, 0-9 and _'
expect_rc 2 "${B[@]}" -format iso-bios -format-opt bios-dir= "$TMP/sys.yml"
expect_in "$TMP/err" "-format-opt bios-dir= is empty"
expect_rc 2 "${B[@]}" -format iso-bios "$TMP/newline.yml"
expect_in "$TMP/err" "the kernel cmdline cannot contain a line break"
expect_rc 2 "${B[@]}" -format iso "$TMP/newline.yml"
expect_in "$TMP/err" "the kernel cmdline cannot contain a line break"
# Missing assets: each file and each place looked; nothing left behind.
mkdir -p "$TMP/part"
cp /usr/lib/ISOLINUX/isolinux.bin "$TMP/part/"
expect_rc 6 "${B[@]}" -format iso-bios -format-opt bios-dir="$TMP/part" "$TMP/sys.yml"
expect_in "$TMP/err" "missing ISOLINUX boot assets:"
expect_in "$TMP/err" "isohdpfx.bin (looked at $TMP/part/isohdpfx.bin)"
expect_in "$TMP/err" "ldlinux.c32 (looked at $TMP/part/ldlinux.c32)"
expect_in "$TMP/err" "-format-opt bios-dir=DIR"
! grep -q "isolinux.bin (looked" "$TMP/err" || fail "a present asset reported missing"
empty_dir "missing assets"
expect_rc 6 "${B[@]}" -format iso -format-opt efi-dir="$TMP/part" "$TMP/sys.yml"
expect_in "$TMP/err" "missing UEFI boot assets:"
expect_in "$TMP/err" "systemd-bootx64.efi (looked at $TMP/part/systemd-bootx64.efi)"
empty_dir "missing UEFI assets"
# arm64 on this amd64 host: the host's systemd-boot-efi has no arm64 loader.
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  expect_rc 6 "${B[@]}" -format iso-efi -arch arm64 "$TMP/sysa.yml"
  expect_in "$TMP/err" "systemd-bootaa64.efi (looked at /usr/lib/systemd/boot/efi/systemd-bootaa64.efi)"
  expect_in "$TMP/err" "apt-get download -oAPT::Architecture=arm64 systemd-boot-efi"
  empty_dir "missing arm64 assets"
fi

# --- iso-bios --------------------------------------------------------------
expect_rc 0 "$LKB_BIN" build -cache "$C" -dir "$TMP/o" -format iso-bios -format kernel+initrd -name s "$TMP/sys.yml"
cat "$TMP/out" "$TMP/err" >"$TMP/log"
expect_in "$TMP/log" "iso: iso-bios: $TMP/o/s.iso"
iso="$TMP/o/s.iso"
# Same inputs and SOURCE_DATE_EPOCH: the same bytes, also with the assets
# from a directory; another SOURCE_DATE_EPOCH changes the volume dates.
mkdir -p "$TMP/bios" "$TMP/o2" "$TMP/o3"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/ISOLINUX/isohdpfx.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$TMP/bios/"
sleep 1
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/o2" -format iso-bios -name s -format-opt bios-dir="$TMP/bios" "$TMP/sys.yml"
cmp "$iso" "$TMP/o2/s.iso" || fail "iso-bios is not reproducible"
SOURCE_DATE_EPOCH=1700000001 expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/o3" -format iso-bios -name s "$TMP/sys.yml"
! cmp -s "$iso" "$TMP/o3/s.iso" || fail "SOURCE_DATE_EPOCH does not reach the ISO"

xo "$iso" -report_el_torito plain >"$TMP/eltorito"
expect_in "$TMP/eltorito" "Boot record  : El Torito , MBR isohybrid"
expect_in "$TMP/eltorito" "Volume id    : 'LINUXKIT'"
expect_in "$TMP/eltorito" "El Torito cat path : /isolinux/boot.cat"
grep -Eq 'El Torito boot img : +1 +BIOS +y +none +0x0000 +0x00 +4 ' "$TMP/eltorito" || { cat "$TMP/eltorito"; fail "BIOS El Torito entry"; }
expect_in "$TMP/eltorito" "El Torito img path :   1  /isolinux/isolinux.bin"
expect_in "$TMP/eltorito" "El Torito img opts :   1  boot-info-table isohybrid-suitable"
[ "$(grep -c 'El Torito boot img' "$TMP/eltorito")" = 1 ] || fail "more than one El Torito entry"
xo "$iso" -find / -exec lsdl -- >"$TMP/find"
for f in "/isolinux/isolinux.bin" "/isolinux/ldlinux.c32" "/isolinux/isolinux.cfg" "/kernel" "/initrd.img" "/cmdline"; do
  grep -q -- "-r--r--r-- .* 0 \+0 .*'$f'\$" "$TMP/find" || { cat "$TMP/find"; fail "$f missing or not 0444 root"; }
done
# Volume dates are SOURCE_DATE_EPOCH (2023-11-14 22:13:20 UTC).
xo "$iso" -pvd_info >"$TMP/pvd"
expect_in "$TMP/pvd" "Creation Time: 2023111422132000"
for f in kernel initrd.img isolinux/isolinux.cfg; do
  xorriso -osirrox on -indev "$iso" -extract "/$f" "$TMP/x-${f##*/}" 2>/dev/null
done
cmp "$TMP/x-kernel" "$TMP/o/s-kernel" || fail "the ISO's kernel is not the kernel"
cmp "$TMP/x-initrd.img" "$TMP/o/s-initrd.img" || fail "the ISO's initrd is not the initrd"
expect_in "$TMP/x-isolinux.cfg" "  APPEND $CMDLINE"
expect_in "$TMP/x-isolinux.cfg" "  INITRD /initrd.img"
# The isohybrid MBR: isolinux's boot code and one active partition from 0.
sfdisk -d "$iso" >"$TMP/sfdisk"
grep -Eq 'start= +0, size= +[0-9]+, type=17, bootable' "$TMP/sfdisk" || { cat "$TMP/sfdisk"; fail "isohybrid partition"; }
cmp -n 256 "$iso" /usr/lib/ISOLINUX/isohdpfx.bin || fail "the MBR is not isolinux's isohdpfx.bin"
[ $(( $(stat -c %s "$iso") % (1 << 20) )) = 0 ] || fail "an isohybrid image ends on a MiB boundary"
# -format-opt volume-id
expect_rc 0 "${B[@]}" -format iso-bios -name v -format-opt volume-id=MY_DISC "$TMP/sys.yml"
xo "$TMP/o/v.iso" -pvd_info >"$TMP/pvd-v"
expect_in "$TMP/pvd-v" "Volume Id    : MY_DISC"

# --- UEFI: iso-efi, iso-efi-initrd and the hybrid iso, amd64 and arm64 ----
AA64="$TMP/aa64"
deb=$(ls "$LKB_TEST_DEBS"/arm64/systemd-boot-efi_*_arm64.deb 2>/dev/null | tail -1)
[ -n "$deb" ] || fail "no arm64 systemd-boot-efi .deb in $LKB_TEST_DEBS/arm64 (tests/images/fetch-debs.sh)"
dpkg-deb -x "$deb" "$AA64"
mkdir -p "$TMP/e" "$TMP/e2" "$TMP/a"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/e" -format iso -format iso-efi -format iso-efi-initrd -name s "$TMP/sys.yml"
[ "$(ls "$TMP/e")" = "$(printf 's-efi-initrd.iso\ns-efi.iso\ns.iso')" ] || fail "EFI outputs: $(ls "$TMP/e")"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/e2" -format iso -name s "$TMP/sys.yml"
cmp "$TMP/e/s.iso" "$TMP/e2/s.iso" || fail "iso is not reproducible"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/a" -arch arm64 -format iso -format iso-efi -format iso-efi-initrd -name s \
  -format-opt efi-dir="$AA64/usr/lib/systemd/boot/efi" "$TMP/sysa.yml"
esp_check() { # esp_check ISO BOOTFILE CMDLINE: the UEFI image holds the ESP
  local iso=$1 esp="$TMP/esp.img" f
  rm -f "$esp"
  xorriso -osirrox on -indev "$iso" -extract /efi/esp.img "$esp" 2>/dev/null
  fsck.fat -n "$esp" >"$TMP/fsck" 2>&1 || { cat "$TMP/fsck"; fail "$iso: fsck.fat rejects the ESP"; }
  mdir -i "$esp" -/ -b ::/ >"$TMP/mdir"
  for f in "EFI/BOOT/$2" loader/loader.conf loader/entries/lkb.conf kernel initrd.img; do
    grep -qx "::/$f" "$TMP/mdir" || { cat "$TMP/mdir"; fail "$iso: $f not on the ESP"; }
  done
  mcopy -n -i "$esp" ::/loader/entries/lkb.conf "$TMP/entry"
  expect_in "$TMP/entry" "options $3"
}
for f in s.iso s-efi.iso s-efi-initrd.iso; do
  esp_check "$TMP/e/$f" BOOTX64.EFI "$CMDLINE"
  esp_check "$TMP/a/$f" BOOTAA64.EFI "${CMDLINE/ttyS0/ttyAMA0}"
  xo "$TMP/a/$f" -report_el_torito plain >"$TMP/a-eltorito"
  grep -Eq 'El Torito boot img : +1 +UEFI +y +none' "$TMP/a-eltorito" || { cat "$TMP/a-eltorito"; fail "arm64 $f: UEFI entry"; }
  ! grep -q "BIOS" "$TMP/a-eltorito" || fail "arm64 $f has a BIOS entry"
done
mcopy -n -i "$TMP/esp.img" ::/EFI/BOOT/BOOTAA64.EFI "$TMP/bootaa64"
cmp "$TMP/bootaa64" "$AA64/usr/lib/systemd/boot/efi/systemd-bootaa64.efi" || fail "BOOTAA64.EFI is not systemd-bootaa64.efi"
# The hybrid: BIOS entry first (isolinux), then UEFI; isohybrid MBR with
# the FAT image as partition 2 (type ef) and a GPT.
xo "$TMP/e/s.iso" -report_el_torito plain >"$TMP/h-eltorito"
expect_in "$TMP/h-eltorito" "Boot record  : El Torito , MBR isohybrid cyl-align-on GPT"
grep -Eq 'El Torito boot img : +1 +BIOS +y +none +0x0000 +0x00 +4 ' "$TMP/h-eltorito" || { cat "$TMP/h-eltorito"; fail "hybrid BIOS entry"; }
grep -Eq 'El Torito boot img : +2 +UEFI +y +none ' "$TMP/h-eltorito" || { cat "$TMP/h-eltorito"; fail "hybrid UEFI entry"; }
expect_in "$TMP/h-eltorito" "El Torito img path :   2  /efi/esp.img"
sfdisk -d "$TMP/e/s.iso" >"$TMP/h-sfdisk"
grep -Eq 's.iso2 : start= +[0-9]+, size= +[0-9]+, type=ef' "$TMP/h-sfdisk" || { cat "$TMP/h-sfdisk"; fail "hybrid MBR: no EFI partition"; }
# EFI-only images: one UEFI entry and no BIOS.
xo "$TMP/e/s-efi.iso" -report_el_torito plain >"$TMP/e-eltorito"
grep -Eq 'El Torito boot img : +1 +UEFI +y +none ' "$TMP/e-eltorito" || { cat "$TMP/e-eltorito"; fail "iso-efi: UEFI entry"; }
[ "$(grep -c 'El Torito boot img' "$TMP/e-eltorito")" = 1 ] || fail "iso-efi has more than one entry"

# Every image is whole: as many bytes as its volume descriptor says.
for f in "$iso" "$TMP"/e/*.iso "$TMP"/a/*.iso; do
  blocks=$(vol_blocks "$f")
  [ -n "$blocks" ] && [ "$(stat -c %s "$f")" -ge $((blocks * 2048)) ] || fail "$f: shorter than its $blocks blocks"
done

# --- kernel+iso: LinuxKit's kernel, cmdline and data ISO ------------------
rm -rf "$TMP/k" "$TMP/k2"
mkdir -p "$TMP/k" "$TMP/k2"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/k" -format kernel+iso -name s "$TMP/sys.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/k2" -format kernel+iso -name s "$TMP/sys.yml"
[ "$(ls "$TMP/k")" = "$(printf 's-cmdline\ns-kernel\ns.iso')" ] || fail "kernel+iso outputs: $(ls "$TMP/k")"
cmp "$TMP/k/s.iso" "$TMP/k2/s.iso" || fail "kernel+iso is not reproducible"
blocks=$(vol_blocks "$TMP/k/s.iso")
[ "$(stat -c %s "$TMP/k/s.iso")" -eq $((blocks * 2048)) ] || fail "the data ISO is not its $blocks blocks"
cmp "$TMP/k/s-kernel" "$TMP/o/s-kernel" || fail "kernel+iso kernel"
printf '%s' "$CMDLINE" | cmp - "$TMP/k/s-cmdline" || fail "kernel+iso cmdline"
xo "$TMP/k/s.iso" -report_el_torito plain >"$TMP/k-eltorito"
! grep -q "El Torito boot img" "$TMP/k-eltorito" || fail "the data ISO is bootable"
xo "$TMP/k/s.iso" -lsl / /etc /boot >"$TMP/lsl"
grep -q "^-rwxr-xr-x .* 0 \+0 .* 'init'\$" "$TMP/lsl" || { cat "$TMP/lsl"; fail "/init"; }
grep -q "^-rw-r----- .* 0 \+0 .* 14 .* 'lkb-test-file'\$" "$TMP/lsl" || { cat "$TMP/lsl"; fail "/etc/lkb-test-file mode"; }
grep -q "^lrwxrwxrwx .* 'sh' -> 'busybox'\$" <(xo "$TMP/k/s.iso" -lsl /bin) || fail "/bin/sh symlink"
grep -q "'containers'" "$TMP/lsl" || fail "no /containers"
! grep -Eq "'(kernel|cmdline)'" "$TMP/lsl" || { cat "$TMP/lsl"; fail "boot/kernel or boot/cmdline on the data ISO"; }
xo "$TMP/k/s.iso" -find / >"$TMP/k-find"
[ "$(grep -c . "$TMP/k-find")" -gt 30 ] || fail "too few files on the data ISO"
xorriso -osirrox on -indev "$TMP/k/s.iso" -extract /etc/lkb-test-file "$TMP/x-file" 2>/dev/null
[ "$(cat "$TMP/x-file")" = "written by lkb" ] || fail "file contents on the data ISO"
# Empty cmdline: the file is still written, empty (as LinuxKit).
sed "s|cmdline: '.*'|cmdline: ''|" "$TMP/sys.yml" >"$TMP/empty.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/k" -format kernel+iso -name e "$TMP/empty.yml"
[ -f "$TMP/k/e-cmdline" ] && [ ! -s "$TMP/k/e-cmdline" ] || fail "empty kernel+iso cmdline"

# --- boots: one image per format, two QEMUs at a time ---------------------
if lkb_sanitized; then
  echo "iso: ok (boots skipped: sanitizer build, the first pass boots)"
  exit 0
fi
cp "$iso" "$TMP/bios-disk.img"
# Each disk boot its own copy: firmware and boot loaders may write.
cp "$TMP/e/s.iso" "$TMP/hybrid-bios.img"
cp "$TMP/e/s.iso" "$TMP/hybrid-uefi.img"
boot() { # boot NAME ARCH FIRMWARE RUN-ARGS...: lkb run picks machine,
  # firmware and drive from the image; wait for the init marker. The
  # console goes to a file: the serial port has no input side at all, so
  # nothing can look like a key press to the boot loaders' menus.
  local name=$1 arch=$2 t0=$SECONDS mem=512; shift 3
  [ "$arch" = arm64 ] && mem=1024
  set +e
  lkb_boot "$name" "$TMP/console-$name" "$TMP/qemu-$name.log" -mem "$mem" "$@"
  echo "$? $((SECONDS - t0))" >"$TMP/$name.result"
}
# Each line: NAME ARCH FIRMWARE (what lkb run must choose) and its arguments.
BOOTS=(
  "bios-cdrom amd64 seabios $iso"
  "bios-disk amd64 seabios $TMP/bios-disk.img"
  "iso-cdrom-bios amd64 seabios $TMP/e/s.iso"
  "iso-disk-bios amd64 seabios $TMP/hybrid-bios.img"
  "iso-cdrom-uefi amd64 ovmf -uefi $TMP/e/s.iso"
  "iso-disk-uefi amd64 ovmf -uefi $TMP/hybrid-uefi.img"
  "efi-cdrom amd64 ovmf $TMP/e/s-efi.iso"
  "efi-initrd-cdrom amd64 ovmf $TMP/e/s-efi-initrd.iso"
  "a64-iso-cdrom arm64 aavmf $TMP/a/s.iso"
  "a64-efi-cdrom arm64 aavmf $TMP/a/s-efi.iso"
  "a64-efi-initrd-cdrom arm64 aavmf $TMP/a/s-efi-initrd.iso"
)
for b in "${BOOTS[@]}"; do
  # shellcheck disable=SC2086 # words of the boot line
  boot $b &
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n || true; done
done
wait
for b in "${BOOTS[@]}"; do
  read -r n arch fw args <<<"$b"
  read -r rc secs <"$TMP/$n.result"
  echo "boot $n ($arch, $fw): $secs s"
  # shellcheck disable=SC2086 # the boot line's words
  "$LKB_BIN" run -dry-run $args >"$TMP/dry-$n" || fail "$n: lkb run -dry-run"
  case $fw in
    seabios) expect_in "$TMP/dry-$n" "qemu-system-x86_64 -M pc " ;;
    ovmf) expect_in "$TMP/dry-$n" "file=/usr/share/OVMF/OVMF_CODE_4M.fd,if=pflash" ;;
    aavmf) expect_in "$TMP/dry-$n" "file=/usr/share/AAVMF/AAVMF_CODE.fd,if=pflash" ;;
  esac
  grep -aq "LKB-INIT-MARKER done" "$TMP/console-$n" || { tail -n 30 "$TMP/console-$n" "$TMP/qemu-$n.log" >&2; fail "$n: no init marker (qemu rc $rc)"; }
  case $arch/$fw in
    # ISOLINUX adds BOOT_IMAGE= before and initrd= after the cmdline.
    */seabios) expect_in "$TMP/console-$n" "Kernel command line: BOOT_IMAGE=/kernel $CMDLINE initrd=/initrd.img" ;;
    # systemd-boot adds initrd= before it.
    amd64/*) expect_in "$TMP/console-$n" "Kernel command line: initrd=\\initrd.img $CMDLINE" ;;
    arm64/*) expect_in "$TMP/console-$n" "Kernel command line: initrd=\\initrd.img ${CMDLINE/ttyS0/ttyAMA0}" ;;
  esac
  expect_in "$TMP/console-$n" "LKB-INIT-MARKER arch=$([ "$arch" = amd64 ] && echo x86_64 || echo aarch64)"
done
echo "iso: ok"
