#!/usr/bin/env bash
# -decompress-kernel on real kernels (issue 18 item 2). Debian's amd64
# bzImage carries an xz payload (CONFIG_KERNEL_XZ, xz_wrap.sh: BCJ x86 +
# LZMA2, CRC32); its vmlinux is recompressed with gzip, bzip2, lzma, lz4
# (legacy frame) and zstd the way the kernel's scripts/Makefile.lib does
# (the size appended after every payload but gzip's) into bzImages that
# differ from Debian's only in the payload and its length at 0x24C. Every
# one must decompress to exactly Debian's vmlinux, and the decompressed
# amd64 vmlinux boots in QEMU (its PVH entry note lets -kernel load an ELF).
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
cd "$TMP"

# Debian's bzImage, from the package the kernel test image is built from.
deb=$(awk '$1 == "linux-image" {print $2}' "$LKB_TEST_DEBS/amd64/selected-main")
dpkg-deb --fsys-tarfile "$LKB_TEST_DEBS/amd64/$deb" | tar x --wildcards './boot/vmlinuz-*'
cp boot/vmlinuz-* bzImage
# The reference vmlinux: the payload through xz(1), checked against the
# size the kernel build appended (the decompressor's own output length).
python3 - bzImage <<'PY' || fail "Debian's bzImage payload is not the expected xz"
import struct, sys
d = open(sys.argv[1], "rb").read()
setup = (d[0x1f1] + 1) * 512
off = struct.unpack("<I", d[0x248:0x24c])[0] + setup
n = struct.unpack("<I", d[0x24c:0x250])[0]
p = d[off:off + n]
assert p[:6] == b"\xfd7zXZ\x00", p[:6]
open("payload.xz", "wb").write(p[:-4])
open("payload.size", "w").write(str(struct.unpack("<I", p[-4:])[0]))
open("head", "wb").write(d[:off]); open("tail", "wb").write(d[off + n:])
PY
xz -dc payload.xz >vmlinux
[ "$(stat -c %s vmlinux)" = "$(cat payload.size)" ] || fail "xz output is not the size the kernel build recorded"

# Recompress, two at a time, into a cache keyed by the package (this takes
# ~50 s on the loaded 2-core machine; the sanitizer pass and reruns reuse
# it). Fast levels: the level changes the bytes, not the container format
# the decoder has to parse.
PC="${LKB_TEST_CACHE:-$HOME/.cache/lkb-tests}/decompress/${deb%.deb}"
mkdir -p "$PC"
size_le32() { python3 -c 'import os, struct, sys; sys.stdout.buffer.write(struct.pack("<I", os.path.getsize(sys.argv[1])))' "$1"; }
pack() { # pack NAME: vmlinux -> $PC/payload.NAME (as the kernel build writes it)
  [ -s "$PC/payload.$1" ] && return 0
  case $1 in
    gzip) gzip -n -1 <vmlinux ;;
    bzip2) bzip2 -1 <vmlinux; size_le32 vmlinux ;;
    lzma) lzma -1 <vmlinux; size_le32 vmlinux ;;
    lz4) lz4 -q -l -1 stdin stdout <vmlinux; size_le32 vmlinux ;;
    zstd) zstd -q -3 -T1 <vmlinux; size_le32 vmlinux ;;
  esac >"$PC/payload.$1.$$" && mv "$PC/payload.$1.$$" "$PC/payload.$1"
}
fmts=(gzip bzip2 lzma lz4 zstd)
for i in 0 2 4; do
  pack "${fmts[$i]}" & p1=$!
  p2=
  [ $((i + 1)) -lt ${#fmts[@]} ] && { pack "${fmts[$((i + 1))]}" & p2=$!; }
  wait $p1 || fail "compressing ${fmts[$i]}"
  [ -z "$p2" ] || wait $p2 || fail "compressing ${fmts[$((i + 1))]}"
done
for f in "${fmts[@]}"; do ln -s "$PC/payload.$f" "payload.$f"; done
# One uncompressed layer: Debian's bzImage as kernel-xz, one bzImage per
# payload as kernel-NAME; the kernel section's `binary` picks one.
python3 - "$LKB_SOURCE_DIR/tests/tools" "$R" "${fmts[@]}" <<'PY' || fail "pushing the kernel image"
import io, json, struct, sys, tarfile
sys.path.insert(0, sys.argv[1])
import ocitest
head, tail = open("head", "rb").read(), open("tail", "rb").read()
files = {"kernel-xz": open("bzImage", "rb").read()}
for name in sys.argv[3:]:
    p = open("payload." + name, "rb").read()
    h = bytearray(head)
    h[0x24c:0x250] = struct.pack("<I", len(p))
    files["kernel-" + name] = bytes(h) + p + tail
for name in ("xz", "lz4", "zstd"):
    k = bytearray(files["kernel-" + name])
    n = struct.unpack("<I", k[0x24c:0x250])[0]
    k[0x24c:0x250] = struct.pack("<I", n // 2)
    files["kernel-%s-cut" % name] = bytes(k)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name, data in sorted(files.items()):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))
layer = buf.getvalue()
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": [ocitest.sha(layer)]}}).encode()
man = json.dumps({"schemaVersion": 2, "mediaType": ocitest.OCI_MANIFEST,
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                             "size": len(cfg), "digest": ocitest.sha(cfg)},
                  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                              "size": len(layer), "digest": ocitest.sha(layer)}]}).encode()
reg = ocitest.Registry(sys.argv[2])
reg.blob("lkb-test/bzimages", cfg); reg.blob("lkb-test/bzimages", layer)
reg.manifest("lkb-test/bzimages", "1", man, ocitest.OCI_MANIFEST)
PY

for f in xz "${fmts[@]}"; do
  cat >"$f.yml" <<YML
kernel:
  image: $R/lkb-test/bzimages:1
  binary: kernel-$f
  tar: none
  cmdline: "console=ttyS0"
init:
  - $R/lkb-test/init:1
YML
  mkdir -p "out-$f"
  start=$(date +%s%N)
  expect_rc 0 "$LKB_BIN" build -q -cache "$C" -arch amd64 -decompress-kernel -dir "out-$f" -name k "$f.yml"
  echo "decompress: $f payload: $(( ($(date +%s%N) - start) / 1000000 )) ms build"
  cmp -s "out-$f/k-kernel" vmlinux || fail "$f payload: the decompressed kernel differs from Debian's vmlinux"
done
# What the bootloader gets is an x86-64 ELF executable.
python3 - out-xz/k-kernel <<'PY' || fail "decompressed kernel is not an x86-64 ELF executable"
import struct, sys
h = open(sys.argv[1], "rb").read(64)
assert h[:4] == b"\x7fELF" and h[4] == 2 and h[5] == 1, h[:6]   # ELF64, little endian
assert struct.unpack("<HH", h[16:20]) == (2, 62), struct.unpack("<HH", h[16:20])  # ET_EXEC, x86-64
PY
# A payload cut in half (its length at 0x24C halved) is an error, not a
# short kernel.
for f in xz lz4 zstd; do
  sed "s|binary: kernel-$f|binary: kernel-$f-cut|" "$f.yml" >"$f-cut.yml"
  mkdir -p "out-$f-cut"
  expect_rc 5 "$LKB_BIN" build -q -cache "$C" -arch amd64 -decompress-kernel -dir "out-$f-cut" -name k "$f-cut.yml"
  expect_in "$TMP/err" "data is corrupt or truncated"
  [ -z "$(ls -A "out-$f-cut")" ] || fail "$f-cut: output left behind"
done

lkb_sanitized && { echo "decompress: ok (no boot: sanitizer build)"; exit 0; }
# Boot the decompressed Debian kernel (xz payload) with an lkb initrd.
set +e
timeout 300 qemu-system-x86_64 -M q35 -m 512 -accel tcg -nographic -no-reboot -nodefaults \
  -serial stdio -kernel out-xz/k-kernel -initrd out-xz/k-initrd.img \
  -append "console=ttyS0 no_timer_check" </dev/null >console 2>&1
rc=$?
set -e
grep -q "LKB-INIT-MARKER done" console || { tail -40 console >&2; fail "decompressed amd64 kernel did not boot (qemu rc $rc)"; }
expect_in console "LKB-INIT-MARKER arch=x86_64"
echo "decompress: ok"
