#!/usr/bin/env bash
# lkb run (docs/run.md): usage errors, each exiting 2 with a message that
# names the problem and creating nothing; a missing QEMU named with its
# Debian package; -dry-run's command line for kernel+initrd (LinuxKit's
# flags, -append, -disk, -publish, -state); then kernel+initrd booted
# through lkb run for amd64 and arm64, two at a time: the extra cmdline
# reaches the kernel, a -disk is created as qcow2 in the state directory
# and seen by the guest, and the exit code is 0 after the VM powers off.
# The other formats boot through lkb run in test_iso, test_raw, test_rpi3.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
R=$LKB_TEST_REGISTRY
O="$TMP/o"
mkdir -p "$O"
for arch in amd64 arm64; do
  console=ttyS0; [ $arch = arm64 ] && console=ttyAMA0
  cat >"$TMP/$arch.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: 'console=$console panic=-1'
init:
  - $R/lkb-test/init:1
YML
  expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/cache" -arch $arch -dir "$O" -name $arch "$TMP/$arch.yml"
done
run() { "$LKB_BIN" run "$@"; }

# --- usage errors: exit 2, nothing created -------------------------------
expect_rc 2 run
expect_in "$TMP/err" "lkb run needs a PREFIX or FILE to boot"
expect_rc 2 run "$O/nothing"
expect_in "$TMP/err" "nothing to boot at $O/nothing: no such file, and no $O/nothing-kernel"
expect_rc 2 run -mem lots "$O/amd64"
expect_in "$TMP/err" '-mem "lots": want a whole number'
expect_rc 2 run -publish 80 "$O/amd64"
expect_in "$TMP/err" "-publish 80: want HOST:GUEST[/tcp|/udp]"
expect_rc 2 run -disk size=3X "$O/amd64"
expect_in "$TMP/err" "-disk size=3X: want e.g. 512M or 2G"
expect_rc 2 run -arch arm64 "$O/amd64"
expect_in "$TMP/err" "-arch arm64, but $O/amd64 is an amd64 image"
expect_rc 2 run -arch riscv64 "$O/amd64"
expect_in "$TMP/err" "lkb run boots amd64 (x86_64) and arm64 (aarch64)"
expect_rc 2 run -accel hvf "$O/amd64"
expect_in "$TMP/err" "-accel hvf: want kvm or tcg"
expect_rc 2 run -machine raspi3b "$O/amd64"
expect_in "$TMP/err" "-machine applies to an SD card"
expect_rc 2 run -bogus "$O/amd64"
expect_in "$TMP/err" "unknown flag -bogus"
expect_rc 2 run -disk "$TMP/absent.qcow2" -accel tcg "$O/amd64"
expect_in "$TMP/err" "-disk $TMP/absent.qcow2 does not exist: give size= to create it"
# A tar without a Pi's boot files is refused.
tar -C "$O" -cf "$O/pi.tar" amd64-cmdline
expect_rc 2 run "$O/pi.tar"
expect_in "$TMP/err" "$O/pi.tar: a tar without bootcode.bin and u-boot.bin is not an rpi3 SD card"
# One with the boot files and an absolute name: refused before any file is made.
mkdir -p "$TMP/evil" && touch "$TMP/evil/bootcode.bin" "$TMP/evil/u-boot.bin"
tar -C "$TMP/evil" -cf "$O/evil.tar" bootcode.bin u-boot.bin
tar -rPf "$O/evil.tar" "$TMP/evil/u-boot.bin"
expect_rc 2 run -accel tcg "$O/evil.tar"
expect_in "$TMP/err" "$O/evil.tar: unsafe path $TMP/evil/u-boot.bin in the tar"
[ ! -e "$O/evil-state" ] || fail "a refused tar left $O/evil-state"
[ ! -e "$O/amd64-state" ] || fail "a refused run left $O/amd64-state"
# No QEMU on PATH: the Debian package to install.
mkdir -p "$TMP/emptybin"
PATH="$TMP/emptybin" expect_rc 2 "$LKB_BIN" run -accel tcg "$O/arm64"
expect_in "$TMP/err" "qemu-system-aarch64 not found: install the Debian package qemu-system-arm"
PATH="$TMP/emptybin" expect_rc 2 "$LKB_BIN" run -accel tcg "$O/amd64"
expect_in "$TMP/err" "qemu-system-x86_64 not found: install the Debian package qemu-system-x86"
[ ! -e "$O/amd64-state" ] || fail "a refused run left $O/amd64-state"
expect_rc 0 run --help
expect_in "$TMP/out" "Usage: lkb run [qemu] [OPTIONS] PREFIX|FILE"

# --- -dry-run: the command line, LinuxKit's defaults ----------------------
expect_rc 0 run qemu -dry-run -accel tcg "$O/amd64"
expect_in "$TMP/out" "qemu-system-x86_64 -M q35 -m 1024 -smp 1 -accel tcg -no-reboot -pidfile $O/amd64-state/qemu.pid"
expect_in "$TMP/out" "-kernel $O/amd64-kernel -initrd $O/amd64-initrd.img -append 'console=ttyS0 panic=-1'"
expect_in "$TMP/out" "-serial mon:stdio"
expect_rc 0 run -dry-run -accel tcg -cpus 2 -mem 300 -publish 2222:22 -publish 5353:53/udp \
  -disk size=1G -state "$TMP/st" -append "a b" "$O/arm64"
expect_in "$TMP/out" "qemu-system-aarch64 -M virt -cpu max -m 300 -smp 2"
expect_in "$TMP/out" "-append 'console=ttyAMA0 panic=-1 a b'"
expect_in "$TMP/out" "-drive file=$TMP/st/disk.img,if=virtio,format=qcow2"
expect_in "$TMP/out" "-netdev user,id=net0,hostfwd=tcp::2222-:22,hostfwd=udp::5353-:53"
[ ! -e "$TMP/st" ] || fail "-dry-run created the state directory"

# --- boots ----------------------------------------------------------------
if lkb_sanitized; then
  echo "run: ok (boots skipped: sanitizer build, the first pass boots)"
  exit 0
fi
boot() { # boot ARCH: kernel+initrd with an extra cmdline word and a new disk
  local arch=$1 t0=$SECONDS
  set +e
  lkb_boot "$arch" "$TMP/console-$arch" "$TMP/qemu-$arch.log" -mem 512 \
    -append "no_timer_check lkb.run=$arch" -disk size=64M "$O/$arch"
  echo "$? $((SECONDS - t0))" >"$TMP/$arch.result"
}
boot amd64 &
boot arm64 &
wait
for arch in amd64 arm64; do
  read -r rc secs <"$TMP/$arch.result"
  echo "boot $arch: $secs s (exit $rc)"
  c="$TMP/console-$arch"
  grep -aq "LKB-INIT-MARKER done" "$c" || { tail -n 30 "$c" "$TMP/qemu-$arch.log" >&2; fail "$arch: no init marker"; }
  [ "$rc" = 0 ] || { cat "$TMP/qemu-$arch.log" >&2; fail "$arch: lkb run exited $rc after the VM powered off"; }
  expect_in "$c" "Kernel command line: console="
  expect_in "$c" "panic=-1 no_timer_check lkb.run=$arch"
  expect_in "$c" "LKB-INIT-MARKER arch=$([ $arch = amd64 ] && echo x86_64 || echo aarch64)"
  # The created disk: qcow2 of 64 MiB in the state directory, and a
  # virtio block device (PCI 1af4:1001) the guest's PCI scan lists (the
  # test kernel has virtio_blk as a module, which this init does not load).
  qemu-img info --output=json "$TMP/state-$arch/disk.img" >"$TMP/info-$arch"
  expect_in "$TMP/info-$arch" '"format": "qcow2"'
  expect_in "$TMP/info-$arch" '"virtual-size": 67108864'
  grep -aq "pci .*: \[1af4:1001\] type 00" "$c" || { grep -a "pci " "$c" >&2; fail "$arch: the guest has no virtio disk"; }
done
# The rpi3 format's tar: lkb run lays it on an SD card (MBR, FAT32 at
# 1 MiB holding the tar's files) and u-boot from it runs the card's
# boot.scr; the kernel's boot (minutes on raspi3b) is test_rpi3's.
. "$LKB_TEST_STATE/images.env"
for d in "$LKB_TEST_DEBS"/arm64/raspi-firmware_*.deb "$LKB_TEST_DEBS"/arm64/u-boot-rpi_*.deb; do
  dpkg-deb -x "$d" "$TMP/assets"
done
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/cache" -arch arm64 -dir "$O" -name pi -format rpi3 \
  -format-opt firmware-dir="$TMP/assets/usr/lib/raspi-firmware" -format-opt uboot-dir="$TMP/assets/usr/lib/u-boot/rpi_3" \
  "$TMP/arm64.yml"
expect_rc 0 run -dry-run -state "$TMP/pi-state" "$O/pi.tar"
expect_in "$TMP/out" "qemu-system-aarch64 -M raspi3b -m 1024M -kernel $TMP/pi-state/u-boot.bin -drive file=$TMP/pi-state/sdcard.img,if=sd,format=raw"
"$LKB_BIN" run -accel tcg -console-file "$TMP/pi-console" -state "$TMP/pi-state" "$O/pi.tar" </dev/null >"$TMP/pi-qemu.log" 2>&1 &
qpid=$!
for _ in $(seq 1 300); do
  grep -aq "Found U-Boot script /boot.scr" "$TMP/pi-console" 2>/dev/null && break
  kill -0 "$qpid" 2>/dev/null || break
  sleep 1
done
kill "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
[ -s "$TMP/pi-console" ] || { cat "$TMP/pi-qemu.log" >&2; fail "lkb run of the rpi3 tar printed no console"; }
expect_in "$TMP/pi-console" "Found U-Boot script /boot.scr"
sfdisk -J "$TMP/pi-state/sdcard.img" >"$TMP/pi-parts"
expect_in "$TMP/pi-parts" '"start": 2048'
expect_in "$TMP/pi-parts" '"type": "c"'
dd if="$TMP/pi-state/sdcard.img" of="$TMP/pi-fat" bs=1M skip=1 status=none
fsck.fat -n "$TMP/pi-fat" >"$TMP/pi-fsck" 2>&1 || { cat "$TMP/pi-fsck"; fail "fsck.fat rejects the SD card's FAT"; }
tar -tvf "$O/pi.tar" | awk '/^-/ {print $6}' | sed 's|^\./||' | sort >"$TMP/pi-tar-list"
mdir -i "$TMP/pi-state/sdcard.img@@1M" -/ -b ::/ | grep -v '/$' | sed 's|^::/||' | sort >"$TMP/pi-card-list"
[ "$(wc -l <"$TMP/pi-tar-list")" -gt 20 ] || fail "too few files in the rpi3 tar"
diff "$TMP/pi-tar-list" "$TMP/pi-card-list" || fail "the SD card does not hold exactly the tar's files"
mcopy -n -i "$TMP/pi-state/sdcard.img@@1M" ::/boot.scr "$TMP/pi-boot.scr"
tar -xOf "$O/pi.tar" boot.scr | cmp - "$TMP/pi-boot.scr" || fail "boot.scr on the card differs from the tar's"
echo "run: ok"
