#!/usr/bin/env bash
# lkb build against the loopback registry: layer semantics in the output,
# cpio hard links, reproducibility, compressions, decompress-kernel,
# failures that leave nothing behind, offline mode, plugin formats.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
lkb_test_sys_yml "$TMP/sys.yml" layers:1 - <<YML
  - name: two
    image: $R/lkb-test/onboot:1
services:
  - name: svc
    image: $R/lkb-test/service:1
files:
  - path: etc/linuxkit.yml
    metadata: yaml
YML

root_first() { # ARCHIVE-LISTING (tar/cpio -tv): the root entry, 0755 root, comes first
  head -1 "$1" | grep -Eq '^drwxr-xr-x +[0-9]* *(root|0)[ /]+(root|0) .* \./?$' || fail "$1: first entry is not a 0755 root: $(head -1 "$1")"
}

# --- tar: the layers image flattened with correct OCI semantics -----------
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/sys.tar" "$TMP/sys.yml"
python3 - "$TMP/sys.tar" "$LKB_SOURCE_DIR/tests/images/layers-expected.txt" <<'PY' || fail "layers tree differs"
import sys, tarfile
tf = tarfile.open(sys.argv[1]); m = {t.name: t for t in tf.getmembers()}
bad = []
for line in open(sys.argv[2]):
    if line.startswith("#") or not line.strip():
        continue
    f = line.split(); path, typ, mode = f[0], f[1], int(f[2], 8)
    t = m.get(path)
    if t is None: bad.append(f"missing {path}"); continue
    kind = {tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink"}.get(t.type, "file")
    if path in ("etc",):  # the guaranteed entries reset etc/ to 0755 root
        continue
    if typ == "hardlink":
        other = m.get(f[3])
        # one of the two names carries the data, the other links to it
        if not ((t.type == tarfile.LNKTYPE and t.linkname == f[3]) or (other is not None and other.type == tarfile.LNKTYPE and other.linkname == path)):
            bad.append(f"{path} not hard-linked with {f[3]}")
        continue
    if kind != typ: bad.append(f"{path}: {kind} != {typ}")
    if t.mode & 0o7777 != mode and typ != "symlink": bad.append(f"{path}: mode {oct(t.mode)} != {oct(mode)}")
    if typ == "symlink" and t.linkname != f[3]: bad.append(f"{path}: -> {t.linkname}")
for gone in ("etc/remove-me", "wdir/x", "wdir/sub", "opq/lower-a", "opq/lower-b"):
    if gone in m: bad.append(f"{gone} should be whited out")
for need in ("containers/onboot/000-one/config.json", "containers/onboot/001-two/runtime.json",
             "containers/services/svc/lower/bin/busybox", "boot/kernel", "etc/linuxkit.yml"):
    if need not in m: bad.append(f"missing {need}")
# de-duplication: the second onboot shares the first one's root
if "containers/onboot/001-two/lower/bin/busybox" in m: bad.append("identical image extracted twice")
rt = tf.extractfile("containers/onboot/001-two/runtime.json").read().decode()
if "/containers/onboot/000-one/" not in rt: bad.append("dedup runtime.json does not point at 000-one")
print("\n".join(bad), file=sys.stderr); sys.exit(1 if bad else 0)
PY

tar tvf "$TMP/sys.tar" >"$TMP/sys.tar.list"; root_first "$TMP/sys.tar.list"

# --- kernel+initrd: reproducible, hard links in newc ----------------------
for d in a b; do
  mkdir -p "$TMP/$d"
  expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/$d" -name sys "$TMP/sys.yml"
done
for f in sys-kernel sys-initrd.img sys-cmdline; do
  cmp -s "$TMP/a/$f" "$TMP/b/$f" || fail "$f differs between two builds"
done
[ "$(cat "$TMP/a/sys-cmdline")" = "console=ttyS0" ] || fail "cmdline"
gzip -dc "$TMP/a/sys-initrd.img" | cpio_join >"$TMP/initrd.cpio"
cpio -it <"$TMP/initrd.cpio" 2>/dev/null >"$TMP/list"
grep -qx "init" "$TMP/list" || fail "init not in initrd"
cpio -itv <"$TMP/initrd.cpio" 2>/dev/null >"$TMP/listv"; root_first "$TMP/listv"
grep -qx "boot/kernel" "$TMP/list" && fail "boot/kernel must not be in the initrd"
python3 - "$TMP/initrd.cpio" <<'PY' || fail "newc hard links"
import sys
d = open(sys.argv[1], "rb").read(); i = 0; ents = {}
while True:
    h = d[i:i+110]; assert h[:6] == b"070701", h[:6]
    f = [int(h[6+8*k:14+8*k], 16) for k in range(13)]
    ino, mode, nlink, size, namesize = f[0], f[1], f[4], f[6], f[11]
    name = d[i+110:i+110+namesize-1].decode(); i = (i + 110 + namesize + 3) & ~3
    if name == "TRAILER!!!": break
    ents[name] = (ino, nlink, size); i = (i + size + 3) & ~3
a, b = ents["etc/new"], ents["etc/new-link"]
assert a[0] == b[0] and a[1] == b[1] == 2, (a, b)
assert (a[2] == 0) != (b[2] == 0), "data exactly once"
PY
# SOURCE_DATE_EPOCH clamps every mtime
mkdir -p "$TMP/c"
SOURCE_DATE_EPOCH=86400 "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/c/sde.tar" "$TMP/sys.yml"
python3 -c "import tarfile,sys; sys.exit(max(t.mtime for t in tarfile.open('$TMP/c/sde.tar')) > 86400)" || fail "SOURCE_DATE_EPOCH not applied"

# --- compressions ---------------------------------------------------------
for comp in zstd lz4 none; do
  mkdir -p "$TMP/$comp"
  expect_rc 0 "$LKB_BIN" build -q -cache "$C" -initrd-compression "$comp" -dir "$TMP/$comp" -name s "$TMP/sys.yml"
  case $comp in
    zstd) zstd -dc "$TMP/$comp/s-initrd.img" ;;
    lz4) lz4 -dc "$TMP/$comp/s-initrd.img" ;;
    none) cat "$TMP/$comp/s-initrd.img" ;;
  esac | cpio_join >"$TMP/$comp.cpio"
  cpio -it <"$TMP/$comp.cpio" >"$TMP/$comp.list" 2>/dev/null
  grep -qx init "$TMP/$comp.list" || fail "$comp initrd unreadable"
  cpio -itv <"$TMP/$comp.cpio" >"$TMP/$comp.listv" 2>/dev/null; root_first "$TMP/$comp.listv"
done
expect_rc 2 "$LKB_BIN" build -q -cache "$C" -initrd-compression brotli "$TMP/sys.yml"

# --- tar-kernel-initrd, decompress-kernel ---------------------------------
mkdir -p "$TMP/tki"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar-kernel-initrd -decompress-kernel -arch arm64 -dir "$TMP/tki" -name s "$TMP/sys.yml"
[ "$(tar tf "$TMP/tki/s-initrd.tar" | tr '\n' ' ')" = "kernel initrd.img cmdline " ] || fail "tar-kernel-initrd entries: $(tar tf "$TMP/tki/s-initrd.tar")"
tar xOf "$TMP/tki/s-initrd.tar" kernel >"$TMP/Image"
[ "$(dd if="$TMP/Image" bs=1 skip=56 count=4 2>/dev/null)" = "ARMd" ] || fail "arm64 kernel not decompressed to an Image"

# --- OCI-layout volumes (only the requested platforms' blobs) -------------
cat >"$TMP/ocivol.yml" <<YML
volumes:
  - name: arm
    image: $R/lkb-test/init:1
    format: oci
    platforms: [linux/arm64/v8]
  - name: all
    image: $R/lkb-test/init:1
    format: oci
  - name: blank
YML
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/ocivol.tar" "$TMP/ocivol.yml"
python3 - "$TMP/ocivol.tar" "$LKB_TEST_OCI_DIR/init" "$R" <<'PY' || fail "OCI volume layout"
import json, sys, tarfile
t = tarfile.open(sys.argv[1]); names = set(t.getnames()); src = sys.argv[2]
idx = json.load(open(f"{src}/index.json"))["manifests"][0]["digest"]
mans = {m["platform"]["architecture"]: m["digest"] for m in json.load(open(f"{src}/blobs/sha256/{idx[7:]}"))["manifests"]}
def blobs(d):
    man = json.load(open(f"{src}/blobs/sha256/{d[7:]}"))
    return [d, man["config"]["digest"]] + [l["digest"] for l in man["layers"]]
def has(vol, d): return f"containers/volumes/{vol}/lower/blobs/sha256/{d[7:]}" in names
assert all(has("arm", d) for d in blobs(mans["arm64"])), "arm64 blobs"
assert not has("arm", mans["amd64"]), "amd64 manifest must be filtered out"
assert all(has("all", d) for d in blobs(mans["amd64"]) + blobs(mans["arm64"])), "all platforms"
assert has("arm", idx), "index blob"
lay = t.extractfile("containers/volumes/arm/lower/oci-layout").read()
assert lay == b'{\n\t\t"imageLayoutVersion": "1.0.0"\n\t}', lay
ij = json.loads(t.extractfile("containers/volumes/arm/lower/index.json").read())
m = ij["manifests"][0]
assert m["digest"] == idx and m["annotations"]["org.opencontainers.image.ref.name"] == f"{sys.argv[3]}/lkb-test/init:1", m
assert "containers/volumes/blank/merged" in names and "containers/volumes/arm/tmp" in names
PY

# --- files section: every kind of entry, modes, owners by name ---------------
printf 'from the host\n' >"$TMP/hostfile"
cat >"$TMP/files.yml" <<YML
onboot:
  - name: owner
    image: $R/lkb-test/onboot:1
files:
  - path: /opt/app/conf
    contents: "key=value"
    mode: "0640"
    uid: owner
    gid: 7
  - path: opt/app/data
    directory: true
    mode: "0750"
  - path: opt/app/link
    symlink: conf
  - path: opt/app/copied
    source: $TMP/hostfile
  - path: opt/app/skipped
    source: $TMP/no-such-file
    optional: true
YML
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/files.tar" "$TMP/files.yml"
python3 - "$TMP/files.tar" <<'PY' || fail "files section"
import sys, tarfile
t = tarfile.open(sys.argv[1]); m = {x.name: x for x in t.getmembers()}
c = m["opt/app/conf"]
assert c.isfile() and c.mode == 0o640 and c.uid == 100 and c.gid == 7, (c.mode, c.uid, c.gid)
assert t.extractfile(c).read() == b"key=value"
# parents get the entry's mode plus x bits and its owner (LinuxKit's rule)
assert m["opt"].isdir() and m["opt"].mode == 0o750 and m["opt"].uid == 100, oct(m["opt"].mode)
assert m["opt/app/data"].isdir() and m["opt/app/data"].mode == 0o750
assert m["opt/app/link"].issym() and m["opt/app/link"].linkname == "conf"
assert t.extractfile("opt/app/copied").read() == b"from the host\n"
assert m["opt/app/copied"].mode == 0o600, oct(m["opt/app/copied"].mode)
assert "opt/app/skipped" not in m
PY
sed "s|source: $TMP/no-such-file|source: $TMP/no-such-file\n    mode: \"0600\"|; s|    optional: true||" "$TMP/files.yml" >"$TMP/files-bad.yml"
expect_rc 5 "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/files-bad.tar" "$TMP/files-bad.yml"
expect_in "$TMP/err" "no-such-file"
[ ! -e "$TMP/files-bad.tar" ] || fail "failed tar build left its output"

# --- microcode: boot/ucode.cpio, prepended to the initrd -------------------
sed 's|  cmdline: "console=ttyS0"|  cmdline: "console=ttyS0"\n  ucode: System.map|' "$TMP/sys.yml" >"$TMP/ucode.yml"
mkdir -p "$TMP/uc"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/uc/u.tar" "$TMP/ucode.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/uc" -name u "$TMP/ucode.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar-kernel-initrd -dir "$TMP/uc" -name u "$TMP/ucode.yml"
python3 - "$TMP/uc" <<'PY' || fail "microcode not prepended"
import sys, tarfile
d = sys.argv[1]
uc = tarfile.open(f"{d}/u.tar").extractfile("boot/ucode.cpio").read()
initrd = open(f"{d}/u-initrd.img", "rb").read()
assert len(uc) > 0 and initrd[:len(uc)] == uc and initrd[len(uc):len(uc) + 2] == b"\x1f\x8b"
t = tarfile.open(f"{d}/u-initrd.tar")
assert t.getnames() == ["kernel", "initrd.img", "cmdline", "ucode.cpio"], t.getnames()
assert t.extractfile("ucode.cpio").read() == uc
assert t.extractfile("initrd.img").read()[:2] == b"\x1f\x8b", "tar-kernel-initrd initrd has no ucode"
PY

# --- failures leave nothing behind ----------------------------------------
mkdir -p "$TMP/fail"
sed "s|lkb-test/service:1|lkb-test/nosuch:1|" "$TMP/sys.yml" >"$TMP/bad.yml"
expect_rc 4 "$LKB_BIN" build -q -cache "$C" -dir "$TMP/fail" "$TMP/bad.yml"
expect_in "$TMP/err" "lkb-test/nosuch:1"
[ -z "$(ls -A "$TMP/fail")" ] || fail "failed build left files: $(ls -A "$TMP/fail")"
expect_rc 4 "$LKB_BIN" build -q -offline -cache "$TMP/empty-cache" -dir "$TMP/fail" "$TMP/sys.yml"
expect_in "$TMP/err" "lkb-test/kernel:6.1"
[ -z "$(ls -A "$TMP/fail")" ] || fail "offline failure left files"
# offline works from a warm cache
expect_rc 0 "$LKB_BIN" build -q -offline -cache "$C" -dir "$TMP/fail" -name off "$TMP/sys.yml"
rm -f "$TMP/fail"/*

# --- plugin formats through the ABI ---------------------------------------
expect_rc 0 env LKB_PLUGIN_PATH="$LKB_BINARY_DIR/test-plugins/good.so" "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/fail" -name p "$TMP/sys.yml"
[ "$(cat "$TMP/fail/p.test")" = "console=ttyS0" ] || fail "plugin output"
rm -f "$TMP/fail"/*
expect_rc 6 env LKB_PLUGIN_PATH="$LKB_BINARY_DIR/test-plugins/good.so" "$LKB_BIN" build -q -cache "$C" -format kernel+initrd,testfail -dir "$TMP/fail" -name p "$TMP/sys.yml"
expect_in "$TMP/err" "deliberate failure for p"
[ -z "$(ls -A "$TMP/fail")" ] || fail "plugin failure left files: $(ls -A "$TMP/fail")"
echo "build outputs: ok"
