#!/usr/bin/env bash
# Reproducibility (issue 18 item 5): every format built under different
# conditions gives byte-identical files. Build A: cache A, umask 022,
# working directory A, SOURCE_DATE_EPOCH unset. Build B: a cold cache B,
# umask 077, working directory B, at least a second later. Build C:
# SOURCE_DATE_EPOCH set to LinuxKit's fixed time (what "unset" means) from
# yet another directory, umask 027. D1/D2: SOURCE_DATE_EPOCH=86400 in both
# caches, differing umask and directory: equal to each other, different
# from A. The tar output's generated entries carry the fixed mtime.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
FIXED=1492533000 # 2017-04-18T16:30:00Z, LinuxKit's default mtime (docs/build.md)
for w in wa wb wc wd1 wd2; do
  mkdir -p "$TMP/$w"
  lkb_test_sys_yml "$TMP/$w/sys.yml" layers:1 - <<YML
services:
  - name: svc
    image: $R/lkb-test/service:1
files:
  - path: etc/linuxkit.yml
    metadata: yaml
  - path: etc/motd
    contents: "reproducible\n"
YML
done
AMD64=tar-kernel-initrd,kernel+initrd,raw-efi,qcow2-efi,vhd,vmdk,iso
# (tar must be built alone, as in LinuxKit)
# one W CACHE UMASK [VAR=VALUE...]: every format into $TMP/out-W, run from $TMP/W
one() {
  local w=$1 cache=$2 mask=$3; shift 3
  local out="$TMP/out-$w"
  mkdir -p "$out"
  (
    cd "$TMP/$w" && umask "$mask" && unset SOURCE_DATE_EPOCH && export "$@" &&
      "$LKB_BIN" build -q -cache "$cache" -dir "$out" -name s -format tar sys.yml &&
      "$LKB_BIN" build -q -cache "$cache" -dir "$out" -name s -format "$AMD64" sys.yml &&
      "$LKB_BIN" build -q -cache "$cache" -dir "$out" -name z -initrd-compression zstd sys.yml &&
      "$LKB_BIN" build -q -cache "$cache" -dir "$out" -name l -initrd-compression lz4 sys.yml &&
      "$LKB_BIN" build -q -cache "$cache" -dir "$out" -name p -arch arm64 -format rpi3,rpi3-img \
        -format-opt assets-image="$LKB_TEST_RPI3_ASSETS" sys.yml
  ) 2>"$TMP/err-$w" || { cat "$TMP/err-$w" >&2; fail "build $w failed"; }
}
same() { # same W1 W2: identical file lists and bytes
  local a="$TMP/out-$1" b="$TMP/out-$2"
  [ "$(cd "$a" && ls)" = "$(cd "$b" && ls)" ] || fail "$1 and $2 made different files: $(ls "$a") / $(ls "$b")"
  for f in "$a"/*; do
    cmp -s "$f" "$b/${f##*/}" || fail "${f##*/} differs between builds $1 and $2"
  done
}
start=$(date +%s)
one wa "$TMP/cache-a" 022 LKB_UNUSED=1
sleep 1.1 # a different second on the clock
one wb "$TMP/cache-b" 077 LKB_UNUSED=1
same wa wb
one wc "$TMP/cache-a" 027 SOURCE_DATE_EPOCH=$FIXED
same wa wc
one wd1 "$TMP/cache-a" 022 SOURCE_DATE_EPOCH=86400
one wd2 "$TMP/cache-b" 077 SOURCE_DATE_EPOCH=86400
same wd1 wd2
cmp -s "$TMP/out-wa/s.tar" "$TMP/out-wd1/s.tar" && fail "SOURCE_DATE_EPOCH=86400 did not change the tar"
# Everything was built: kernel+initrd three ways, every plugin format.
want="l-cmdline l-initrd.img l-kernel p.img p.tar s-cmdline s-efi.img s-efi.qcow2 s-initrd.img s-initrd.tar s-kernel s.iso s.tar s.vhd s.vmdk z-cmdline z-initrd.img z-kernel"
have=$(cd "$TMP/out-wa" && ls | tr '\n' ' ')
[ "$have" = "$want " ] || fail "outputs: $have, want $want"
echo "repro: 5 builds of $(echo "$want" | wc -w) files in $(($(date +%s) - start)) s"

# The fixed default mtime: lkb's own entries carry it, nothing is newer,
# and image entries keep theirs (0 in the test images).
python3 - "$TMP/out-wa/s.tar" "$FIXED" <<'PY' || fail "default mtimes in the tar"
import sys, tarfile
fixed = int(sys.argv[2])
m = {t.name: t for t in tarfile.open(sys.argv[1])}
for name in ("boot", "boot/kernel", "boot/cmdline", "etc/linuxkit.yml", "etc/motd",
             "containers/onboot/000-one/config.json", "containers/services/svc/runtime.json"):
    assert m[name].mtime == fixed, (name, m[name].mtime)
assert max(t.mtime for t in m.values()) == fixed, max(t.mtime for t in m.values())
assert m["containers/services/svc/lower/bin/busybox"].mtime == 0
PY
python3 - "$TMP/out-wd1/s.tar" <<'PY' || fail "SOURCE_DATE_EPOCH=86400 mtimes in the tar"
import sys, tarfile
m = {t.name: t for t in tarfile.open(sys.argv[1])}
assert m["etc/motd"].mtime == 86400 and max(t.mtime for t in m.values()) == 86400
PY
echo "repro: ok"
