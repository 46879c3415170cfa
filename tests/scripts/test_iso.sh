#!/usr/bin/env bash
# ISO formats (docs/iso.md): iso-bios checked with xorriso (El Torito BIOS
# entry with a boot info table, isohybrid MBR, Rock Ridge names and modes,
# isolinux.cfg carrying the YAML cmdline as is), reproducible for the same
# SOURCE_DATE_EPOCH, assets from a directory, clear errors (missing
# assets, -size, arch, a line break in the cmdline, the EFI formats not
# there yet); kernel+iso's data ISO read back without mounting; then one
# iso-bios image booted in QEMU (SeaBIOS, TCG) as a CD-ROM and as a raw
# disk, in parallel.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
R=$LKB_TEST_REGISTRY
CMDLINE='console=ttyS0 panic=-1 lkb.iso="a b" x=$y'
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
C="$TMP/cache"
export SOURCE_DATE_EPOCH=1700000000
B=("$LKB_BIN" build -q -cache "$C" -dir "$TMP/o")
mkdir -p "$TMP/o"
empty_dir() { [ -z "$(ls -A "$TMP/o")" ] || { ls -la "$TMP/o" >&2; fail "a failed build left files: $*"; }; }
xo() { xorriso -indev "$1" "${@:2}" 2>&1; }

# --- errors, before anything is built --------------------------------------
expect_rc 2 "${B[@]}" -format iso-bios -size 1G "$TMP/sys.yml"
expect_in "$TMP/err" "-size does not apply to iso-bios: an ISO image is as large as its contents"
expect_rc 2 "${B[@]}" -format kernel+iso -size 1G "$TMP/sys.yml"
expect_in "$TMP/err" "-size does not apply to kernel+iso"
expect_rc 2 "${B[@]}" -format iso-bios -arch arm64 "$TMP/sys.yml"
expect_in "$TMP/err" "format iso-bios does not support architecture arm64"
for f in iso iso-efi iso-efi-initrd; do
  expect_rc 2 "${B[@]}" -format "$f" "$TMP/sys.yml"
  expect_in "$TMP/err" "$f is not implemented yet"
done
expect_rc 2 "${B[@]}" -format iso-bios -format-opt volume-id=no-dash "$TMP/sys.yml"
expect_in "$TMP/err" 'volume-id "no-dash": want 1 to 32 of A-Z, a-z, 0-9 and _'
expect_rc 2 "${B[@]}" -format iso-bios -format-opt bios-dir= "$TMP/sys.yml"
expect_in "$TMP/err" "-format-opt bios-dir= is empty"
expect_rc 2 "${B[@]}" -format iso-bios "$TMP/newline.yml"
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

# --- kernel+iso: LinuxKit's kernel, cmdline and data ISO ------------------
rm -rf "$TMP/k" "$TMP/k2"
mkdir -p "$TMP/k" "$TMP/k2"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/k" -format kernel+iso -name s "$TMP/sys.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/k2" -format kernel+iso -name s "$TMP/sys.yml"
[ "$(ls "$TMP/k")" = "$(printf 's-cmdline\ns-kernel\ns.iso')" ] || fail "kernel+iso outputs: $(ls "$TMP/k")"
cmp "$TMP/k/s.iso" "$TMP/k2/s.iso" || fail "kernel+iso is not reproducible"
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

# --- boots: one image, SeaBIOS from a CD-ROM and from a raw disk ----------
cp "$iso" "$TMP/disk.img"
boot() { # boot NAME QEMU-DRIVE-ARGS...
  local name=$1 t0=$SECONDS; shift
  set +e
  timeout 300 qemu-system-x86_64 -accel tcg -M pc -m 512 -nographic -no-reboot -nodefaults \
    -serial stdio "$@" </dev/null >"$TMP/console-$name" 2>&1
  echo "$? $((SECONDS - t0))" >"$TMP/$name.result"
}
boot cdrom -cdrom "$iso" &
boot disk -drive file="$TMP/disk.img",format=raw,if=ide &
wait
for n in cdrom disk; do
  read -r rc secs <"$TMP/$n.result"
  echo "iso-bios boot from $n: $secs s"
  grep -aq "LKB-INIT-MARKER done" "$TMP/console-$n" || { tail -30 "$TMP/console-$n" >&2; fail "$n: no init marker (qemu rc $rc)"; }
  # ISOLINUX adds BOOT_IMAGE= before and initrd= after the cmdline.
  expect_in "$TMP/console-$n" "Kernel command line: BOOT_IMAGE=/kernel $CMDLINE initrd=/initrd.img"
  expect_in "$TMP/console-$n" "LKB-INIT-MARKER arch=x86_64"
done
echo "iso: ok"
