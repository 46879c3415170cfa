#!/usr/bin/env bash
# Build tests/data/boot/system.yml and really boot it in QEMU (TCG): the
# test init (tests/images/init/) starts the system as LinuxKit's does and
# runs every bundle lkb wrote with the real runc (onboot, onshutdown) and
# containerd (services). Each container prints the configuration it got
# (lkb-probe): the boot asserts its marker, ids, capability sets against
# the YAML, binds, the files: entry through a bind, a read-only root, and
# that onshutdown ran at poweroff. Boots: kernel+initrd on amd64 and arm64
# (gzip), again with lz4 and zstd initrds, rpi3-img's kernel and initrd on
# raspi3b, and raw-bios with a data partition that an onboot container
# mounts by label (issue 12), checked afterwards in the disk image.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
. "$LKB_TEST_STATE/images.env"
export LKB_REGISTRY=$LKB_TEST_REGISTRY
data="$LKB_SOURCE_DIR/tests/data/boot"
for f in system amd64 arm64 data rpi3; do
  sed "s|\${LKB_REGISTRY}|$LKB_REGISTRY|g" "$data/$f.yml" >"$TMP/$f.yml"
done

# The kernel's capability numbers: the enumeration order of
# runtime-config.md §6 (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
CAPS=(CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID
  CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN
  CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE
  CAP_SYS_PACCT CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME
  CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP
  CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ
  CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE)
capmask() { # capmask CAP...: the set as /proc/PID/status prints it
  local m=0 c i
  for c; do
    for i in "${!CAPS[@]}"; do [ "${CAPS[$i]}" = "$c" ] && m=$((m | 1 << i)); done
  done
  printf '%016x' "$m"
}
in_order() { # in_order FILE TEXT...: each TEXT appears, after the one before
  local f=$1 prev=0 t n; shift
  for t; do
    n=$(grep -anF -- "$t" "$f" | head -1 | cut -d: -f1)
    [ -n "$n" ] && [ "$n" -gt "$prev" ] || { tail -60 "$f" >&2; fail "$f: '$t' missing or not after line $prev"; }
    prev=$n
  done
}

# check_console FILE UNAME_M: what every boot of system.yml must show.
check_console() {
  local c=$1 m=$2 admin none
  admin=$(capmask CAP_NET_ADMIN) none=$(capmask)
  grep -aq "LKB-INIT-MARKER done" "$c" || { tail -60 "$c" >&2; fail "$c: no final init marker"; }
  expect_in "$c" "LKB-INIT-MARKER arch=$m"
  expect_in "$c" "lkb-root-mode: 755"  # not the rootfs default 1777
  expect_in "$c" "lkb-containers onboot: 000-hello 001-user"
  expect_in "$c" "lkb-containers services: sleeper"
  expect_in "$c" "lkb-containers onshutdown: 000-bye"
  expect_in "$c" "lkb-file: written by lkb"
  # hello: the image label (CAP_NET_ADMIN, readonly, /var bind), root.
  expect_in "$c" "lkb-probe hello: uid=0 gid=0"
  expect_in "$c" "lkb-probe hello: CapEff=$admin"
  expect_in "$c" "lkb-probe hello: CapBnd=$admin"
  expect_in "$c" "lkb-probe hello: CapAmb=$none"
  expect_in "$c" "lkb-probe hello: root ro"
  expect_in "$c" "lkb-probe hello: wrote /var/lkb-hello"
  expect_in "$c" "lkb-runc onboot 000-hello: exit 0"
  # user: uid/gid/additionalGids, capabilities + ambient for a non-root
  # user, read-write (overlay), binds.add of the files: entry, the label's
  # /var bind showing what hello wrote.
  local nbs
  nbs=$(capmask CAP_NET_BIND_SERVICE)
  expect_in "$c" "lkb-probe user: uid=1000 gid=1000 groups=1000,1001"
  expect_in "$c" "lkb-probe user: CapEff=$nbs"
  expect_in "$c" "lkb-probe user: CapPrm=$nbs"
  expect_in "$c" "lkb-probe user: CapAmb=$nbs"
  expect_in "$c" "lkb-probe user: CapBnd=$nbs"
  expect_in "$c" "lkb-probe user: root rw"
  expect_in "$c" "lkb-probe user: cat /etc/lkb-test-file=written by lkb"
  expect_in "$c" "lkb-probe user: cat /var/lkb-hello=from hello"
  expect_in "$c" "lkb-runc onboot 001-user: exit 0"
  # sleeper, under containerd: label capabilities + capabilities.add,
  # binds.add.
  expect_in "$c" "lkb-ctr sleeper: started 0"
  expect_in "$c" "lkb-service sleeper: lkb-probe sleeper: uid=0 gid=0"
  expect_in "$c" "lkb-service sleeper: lkb-probe sleeper: CapEff=$(capmask CAP_SYS_ADMIN CAP_NET_RAW CAP_KILL)"
  expect_in "$c" "lkb-service sleeper: lkb-probe sleeper: cat /var/lkb-hello=from hello"
  expect_in "$c" "lkb-service sleeper: lkb-probe sleeper: done"
  # bye runs at poweroff, after everything else.
  expect_in "$c" "lkb-probe bye: CapEff=$admin"
  in_order "$c" "lkb-probe hello: ran" "lkb-probe user: ran" "lkb-service sleeper: lkb-probe sleeper: ran" \
    "lkb-probe bye: ran" "lkb-runc onshutdown 000-bye: exit 0" "LKB-INIT-MARKER done"
  ! grep -a "lkb-runtime: \|cannot prepare\|lkb-probe .* unreadable" "$c" || fail "$c: a bundle failed"
}

build() { # build NAME ARCH FORMAT YML... [-- lkb args]: outputs in $TMP/out-NAME
  local name=$1 arch=$2 format=$3 out="$TMP/out-$1"; shift 3
  local -a ymls=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do ymls+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; args=("$@"); }
  mkdir -p "$out"
  # Not expect_rc: boots run two at a time and must not share $TMP/out.
  "$LKB_BIN" build -q -cache "$TMP/cache" -arch "$arch" -dir "$out" -name sys -format "$format" \
    ${args[@]+"${args[@]}"} "${ymls[@]}" 2>"$TMP/err-$name" ||
    { cat "$TMP/err-$name" >&2; fail "$name: build failed"; }
}

qemu_boot() { # qemu_boot NAME QEMU-ARGS...: console in $TMP/console-NAME
  # Until QEMU exits (poweroff) or, where poweroff only halts (raspi3b has
  # no PSCI), until the final marker is out; at most 20 minutes (a boot
  # takes 2-4 minutes alone, over 10 on this 2-core machine under load).
  local name=$1 c="$TMP/console-$1" t0=$SECONDS qpid; shift
  "$@" -accel tcg -display none -monitor none -no-reboot </dev/null >"$TMP/qemu-$name" 2>&1 &
  qpid=$!
  while [ $((SECONDS - t0)) -lt 1200 ]; do
    kill -0 "$qpid" 2>/dev/null || break
    if grep -aq "LKB-INIT-MARKER done" "$c" 2>/dev/null; then sleep 2; break; fi
    sleep 1
  done
  kill "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  echo "boot $name: $((SECONDS - t0)) s"
  grep -aq "LKB-INIT-MARKER done" "$c" 2>/dev/null || { tail -n 60 "$c" "$TMP/qemu-$name" >&2; fail "$name: no final init marker"; }
}

# no_timer_check: on a loaded host TCG can fail the kernel's IO-APIC
# timer check and panic (seen on this 2-core machine under load).
boot_initrd() { # boot_initrd ARCH COMPRESSION
  local arch=$1 comp=$2 name=$1-$2 out="$TMP/out-$1-$2" m
  build "$name" "$arch" kernel+initrd "$TMP/system.yml" "$TMP/$arch.yml" -- -initrd-compression "$comp"
  for f in sys-kernel sys-initrd.img sys-cmdline; do
    [ -s "$out/$f" ] || fail "$name: $f missing"
  done
  lkb_sanitized && return 0
  local -a qemu
  case $arch in
    amd64) qemu=(qemu-system-x86_64 -M q35 -m 1024) m=x86_64 ;;
    arm64) qemu=(qemu-system-aarch64 -M virt -cpu cortex-a53 -m 1024) m=aarch64 ;;
  esac
  qemu_boot "$name" "${qemu[@]}" -nodefaults -serial "file:$TMP/console-$name" \
    -kernel "$out/sys-kernel" -initrd "$out/sys-initrd.img" -append "$(cat "$out/sys-cmdline") no_timer_check"
  check_console "$TMP/console-$name" "$m"
}

# raw-bios with an ext4 data partition (issue 12): the onboot "mount"
# container mounts it by label under /var (rshared back to the host) and
# writes a marker; rc.shutdown unmounts it; the marker is then read from
# the disk image with debugfs.
boot_data() {
  local out="$TMP/out-data" img
  build data amd64 raw-bios "$TMP/system.yml" "$TMP/amd64.yml" "$TMP/data.yml" -- \
    -size 400M -format-opt data=true
  img="$out/sys-bios.img"
  [ -s "$img" ] || fail "data: $img missing"
  lkb_sanitized && return 0
  qemu_boot data qemu-system-x86_64 -M pc -m 1024 -drive "if=virtio,format=raw,file=$img" \
    -nodefaults -serial "file:$TMP/console-data"
  local c="$TMP/console-data"
  check_console "$c" x86_64
  expect_in "$c" "lkb-containers onboot: 000-hello 001-user 002-mount"
  expect_in "$c" "lkb-probe mount: CapEff=$(capmask CAP_SYS_ADMIN)"
  expect_in "$c" "lkb-probe mount: mounted lkb-data (/dev/vda2) on /var/lib/lkb-data"
  expect_in "$c" "lkb-probe mount: cat /var/lib/lkb-data/marker=from mount"
  expect_in "$c" "lkb-runc onboot 002-mount: exit 0"
  expect_in "$c" "lkb-data on the host: from mount"
  expect_in "$c" "lkb-shutdown: unmounted /var/lib/lkb-data"
  local start size
  read -r start size < <(sfdisk -J "$img" | python3 -c '
import json, sys
p = json.load(sys.stdin)["partitiontable"]["partitions"][1]
print(p["start"], p["size"])')
  dd if="$img" of="$TMP/data-p2.img" bs=512 skip="$start" count="$size" status=none
  e2fsck -fn "$TMP/data-p2.img" >"$TMP/e2fsck" 2>&1 || { cat "$TMP/e2fsck" >&2; fail "data: e2fsck after the boot"; }
  [ "$(debugfs -R "cat /marker" "$TMP/data-p2.img" 2>/dev/null)" = "from mount" ] ||
    fail "data: the marker the container wrote is not on the disk"
}

# rpi3-img on QEMU raspi3b: the card's kernel.uimg, initrd.uimg and 3B
# device tree, with QEMU in the firmware's and u-boot's place (u-boot reads
# the ~60 MB from the emulated SD card at a few hundred KiB/s under TCG;
# test_rpi3.sh boots cards through u-boot). The console is the mini UART
# (ttyS1, QEMU's second serial port).
boot_rpi3() {
  local out="$TMP/out-rpi3" f
  build rpi3 arm64 rpi3-img "$TMP/system.yml" "$TMP/rpi3.yml" -- \
    -format-opt assets-image="$LKB_TEST_RPI3_ASSETS"
  [ -s "$out/sys.img" ] || fail "rpi3: sys.img missing"
  lkb_sanitized && return 0
  for f in kernel.uimg initrd.uimg bcm2837-rpi-3-b.dtb; do
    mcopy -n -i "$out/sys.img@@1M" "::/$f" "$TMP/rpi3-$f"
  done
  qemu_boot rpi3 qemu-system-aarch64 -M raspi3b -m 1G -kernel "$TMP/rpi3-kernel.uimg" \
    -initrd "$TMP/rpi3-initrd.uimg" -dtb "$TMP/rpi3-bcm2837-rpi-3-b.dtb" \
    -append "$(sed -n 's/^ *cmdline: "\(.*\)"$/\1/p' "$TMP/rpi3.yml")" \
    -serial null -serial "file:$TMP/console-rpi3"
  check_console "$TMP/console-rpi3" aarch64
  expect_in "$TMP/console-rpi3" "lkb-dt model=Raspberry Pi 3 Model B"
}

# Two at a time (2 cores); the kernel only takes LZ4's legacy framing,
# and zstd since 5.9.
pair() {
  local p1 p2
  "$1" ${2:+$2} ${3:+$3} & p1=$!
  "$4" ${5:+$5} ${6:+$6} & p2=$!
  wait "$p1" || fail "$1 $2 $3 failed"
  wait "$p2" || fail "$4 $5 $6 failed"
}
pair boot_initrd amd64 gzip boot_initrd arm64 gzip
pair boot_data "" "" boot_rpi3 "" ""
pair boot_initrd amd64 lz4 boot_initrd arm64 zstd
if lkb_sanitized; then echo "boot: ok (builds only: sanitizer build, the first pass boots)"; else echo "boot: ok"; fi
