#!/usr/bin/env bash
# Outputs LinuxKit has beyond the basic three (docs/build.md): -o FILE for
# any format that writes one file (staged next to FILE, renamed onto it),
# refused for formats writing several, with nothing left behind; the tar's
# LINUXKIT.source/location pax records and symlink modes as LinuxKit
# writes them; docker (the tar plus LinuxKit's Dockerfile), kernel+squashfs
# and kernel+erofs checked with unsquashfs and fsck.erofs, their contents
# compared with the tar, reproducible.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
export SOURCE_DATE_EPOCH=1700000000
lkb_test_sys_yml "$TMP/sys.yml" - <<YML
  - name: two
    image: $R/lkb-test/onboot:1
services:
  - name: svc
    image: $R/lkb-test/service:1
volumes:
  - name: blank
  - name: vimg
    image: $R/lkb-test/onboot:1
files:
  - path: etc/lkb-extra
    contents: "extra"
    mode: "0640"
  - path: etc/lkb-link
    symlink: /etc/lkb-extra
    mode: "0640"
  - path: etc/linuxkit.yml
    metadata: yaml
YML
B=("$LKB_BIN" build -q -cache "$C" -arch amd64)
no_leftovers() { # DIR: only the expected files, no staging directory
  ! ls -A "$1" | grep -q '^\.lkb-staging' || fail "staging directory left in $1"
}

# --- -o FILE: tar, iso, raw-efi, each equal to the -dir build ------------
mkdir -p "$TMP/o" "$TMP/d"
for f in tar:sys.tar iso-bios:sys.iso raw-efi:sys-efi.img; do
  fmt=${f%%:*} file=${f#*:}
  expect_rc 0 "${B[@]}" -format "$fmt" -o "$TMP/o/out-$fmt" "$TMP/sys.yml"
  [ -s "$TMP/o/out-$fmt" ] || fail "-o $TMP/o/out-$fmt not written"
  expect_rc 0 "${B[@]}" -format "$fmt" -dir "$TMP/d" "$TMP/sys.yml"
  cmp -s "$TMP/o/out-$fmt" "$TMP/d/$file" || fail "$fmt: -o output differs from -dir's $file"
done
no_leftovers "$TMP/o"
[ "$(ls -A "$TMP/o" | wc -l)" -eq 3 ] || { ls -la "$TMP/o" >&2; fail "-o wrote more than its file"; }
# a bare name lands in the working directory; an existing file is replaced
echo old >"$TMP/o/out-tar"
(cd "$TMP/o" && expect_rc 0 "${B[@]}" -o out-tar "$TMP/sys.yml")
cmp -s "$TMP/o/out-tar" "$TMP/d/sys.tar" || fail "-o over an existing file: not replaced"
# -o - streams the tar to stdout
"${B[@]}" -o - "$TMP/sys.yml" >"$TMP/stdout.tar" || fail "-o - failed"
cmp -s "$TMP/stdout.tar" "$TMP/d/sys.tar" || fail "-o - differs from the tar file"

# --- the tar: LinuxKit's pax records and symlink modes ------------------
python3 - "$TMP/d/sys.tar" "$R" <<'PY' || fail "tar pax records or modes differ from LinuxKit's"
import sys, tarfile
tf = tarfile.open(sys.argv[1]); R = sys.argv[2]
m = {t.name: t for t in tf.getmembers()}
bad = []
for t in tf.getmembers():
    h = t.pax_headers
    if t.name == ".":
        continue  # lkb's own root entry, as LinuxKit's tarheaders test skips it
    if t.name == "sbom.spdx.json":  # spec §9.2: the SBOM carries no records
        if h: bad.append(f"{t.name}: records {h}")
        continue
    if "LINUXKIT.source" not in h or "LINUXKIT.location" not in h:
        bad.append(f"{t.name}: no LINUXKIT records: {h}")
want = {  # entry: (source, location, mode or None)
    "boot/kernel": (f"{R}/lkb-test/kernel:6.1", "kernel", None),
    "boot/cmdline": (f"{R}/lkb-test/kernel:6.1", "kernel", 0o644),
    "bin/busybox": (f"{R}/lkb-test/init:1", "init[0]", None),
    "etc/mtab": (f"{R}/lkb-test/init:1", "init[0]", 0o755),
    "etc/resolv.conf": (f"{R}/lkb-test/init:1", "init[0]", 0o644),
    "containers/onboot/000-one/config.json": (f"{R}/lkb-test/onboot:1", "onboot[0]", 0o644),
    "containers/onboot/001-two/runtime.json": (f"{R}/lkb-test/onboot:1", "onboot[1]", 0o644),
    "containers/services/svc/config.json": (f"{R}/lkb-test/service:1", "services[0]", 0o644),
    "containers/volumes/blank/lower": ("empty", "volume[0]", 0o755),
    "containers/volumes/blank/tmp": ("linuxkit.volumes", "volume[0]", 0o755),
    "containers/volumes/vimg/merged": ("linuxkit.volumes", "volume[1]", 0o755),
    "containers/volumes/vimg/lower/etc/mtab": (f"{R}/lkb-test/onboot:1", "volume[1]", 0o755),
    "etc/lkb-extra": ("linuxkit.files", "files[0]", 0o640),
    "etc/lkb-link": ("linuxkit.files", "files[1]", 0o640),
    "etc/linuxkit.yml": ("linuxkit.files", "files[2]", 0o600),
}
for name, (src, loc, mode) in want.items():
    t = m.get(name)
    if t is None: bad.append(f"missing {name}"); continue
    got = (t.pax_headers.get("LINUXKIT.source"), t.pax_headers.get("LINUXKIT.location"))
    if got != (src, loc): bad.append(f"{name}: {got} != {(src, loc)}")
    if mode is not None and t.mode != mode: bad.append(f"{name}: mode {oct(t.mode)} != {oct(mode)}")
for name in ("etc/mtab", "etc/resolv.conf", "etc/lkb-link"):
    if not m[name].issym(): bad.append(f"{name} is not a symlink")
# pax header names as Go writes them, records sorted by key
raw = open(sys.argv[1], "rb").read()
if b"boot/PaxHeaders.0/kernel\0" not in raw: bad.append("no boot/PaxHeaders.0/kernel header")
i = raw.index(b"LINUXKIT.location=kernel\n")
if raw[i:i + 80].find(b"LINUXKIT.source=") < 0: bad.append("records not in key order")
print("\n".join(bad), file=sys.stderr); sys.exit(1 if bad else 0)
PY
# GNU tar reads it; --pax-option drops the records it does not know
mkdir -p "$TMP/x"
tar --pax-option='delete=LINUXKIT.*,delete=LKB.*' -xf "$TMP/d/sys.tar" -C "$TMP/x" 2>"$TMP/tar.err" || { cat "$TMP/tar.err" >&2; fail "GNU tar cannot extract the tar"; }
[ ! -s "$TMP/tar.err" ] || { cat "$TMP/tar.err" >&2; fail "GNU tar warned"; }
[ "$(readlink "$TMP/x/etc/lkb-link")" = /etc/lkb-extra ] || fail "etc/lkb-link not extracted"
cmp -s "$TMP/x/boot/kernel" <(tar -xOf "$TMP/d/sys.tar" boot/kernel 2>/dev/null) || fail "boot/kernel differs"

# --- docker: the tar's entries, then LinuxKit's Dockerfile ----------------
expect_rc 0 "${B[@]}" -format docker -dir "$TMP/d" "$TMP/sys.yml"
python3 - "$TMP/d/sys.tar" "$TMP/d/sys.docker" <<'PY' || fail "docker output is not the tar plus the Dockerfile"
import sys
t, d = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
body = t[:-1024]  # the tar without its two end blocks
assert d.startswith(body), "docker output does not start with the tar's entries"
import tarfile, io
m = tarfile.open(fileobj=io.BytesIO(d)).getmembers()
last = m[-1]
assert last.name == "Dockerfile" and last.pax_headers == {}, (last.name, last.pax_headers)
assert last.mode == 0o644 and last.uid == 0 and last.mtime == 1492533000, (last.mode, last.mtime)
data = tarfile.open(fileobj=io.BytesIO(d)).extractfile("Dockerfile").read()
assert data == b'\nFROM scratch\n\nCOPY . ./\n\nENTRYPOINT ["/bin/rc.init"]\n', data
assert len(m) == len(tarfile.open(sys.argv[1]).getmembers()) + 1
PY
"${B[@]}" -format docker -o - "$TMP/sys.yml" | cmp -s - "$TMP/d/sys.docker" || fail "docker -o - differs"

# --- kernel+squashfs, kernel+erofs: the tar's contents, reproducible -------
for f in squashfs erofs; do
  for d in "$TMP/$f-a" "$TMP/$f-b"; do
    mkdir -p "$d"
    expect_rc 0 "${B[@]}" -format kernel+$f -dir "$d" "$TMP/sys.yml"
  done
  [ "$(ls "$TMP/$f-a" | sort | tr "\n" " ")" = "$(printf "%s\n" sys-cmdline sys-kernel sys-$f.img | sort | tr "\n" " ")" ] || fail "kernel+$f outputs: $(ls "$TMP/$f-a")"
  for o in sys-cmdline sys-kernel sys-$f.img; do
    cmp -s "$TMP/$f-a/$o" "$TMP/$f-b/$o" || fail "kernel+$f: $o differs between two builds"
  done
  [ "$(cat "$TMP/$f-a/sys-cmdline")" = console=ttyS0 ] || fail "kernel+$f: cmdline"
  tar -xOf "$TMP/d/sys.tar" boot/kernel 2>/dev/null | cmp -s - "$TMP/$f-a/sys-kernel" || fail "kernel+$f: kernel differs"
done
TZ=UTC unsquashfs -lln "$TMP/squashfs-a/sys-squashfs.img" >"$TMP/sq.list" || fail "unsquashfs cannot read the image"
fsck.erofs --extract="$TMP/erofs-x" "$TMP/erofs-a/sys-erofs.img" >"$TMP/fsck.out" 2>&1 || { cat "$TMP/fsck.out" >&2; fail "fsck.erofs refused the image"; }
python3 - "$TMP/d/sys.tar" "$TMP/sq.list" "$TMP/erofs-x" <<'PY' || fail "squashfs/erofs contents differ from the tar"
import os, re, stat, sys, tarfile, time
tf = tarfile.open(sys.argv[1])
skip = {"boot/kernel", "boot/cmdline", "boot/ucode.cpio"}
want, byname = {}, {t.name: t for t in tf.getmembers()}
for t in tf.getmembers():
    if t.name in skip: continue
    if t.islnk(): t = byname[t.linkname]  # a hard link reads as its target
    kind = "d" if t.isdir() else "l" if t.issym() else "-" if t.isfile() else "?"
    want[t.name] = (kind, t.mode & 0o7777, t.uid, t.gid, t.size if kind == "-" else None,
                    t.linkname if kind == "l" else None, t.mtime)
def perm(s):  # "rwsr-xr-x" -> 0o4755
    m = 0
    for i, c in enumerate(s):
        if c in "rwxst": m |= 1 << (8 - i)
    for i, (lo, bit) in enumerate(((2, 0o4000), (5, 0o2000), (8, 0o1000))):
        if s[lo] in "sStT": m |= bit
        if s[lo] in "ST": m &= ~(1 << (8 - lo))
    return m
bad = []
# squashfs: unsquashfs -lln, times in minutes
got = {}
for line in open(sys.argv[2]):
    g = re.match(r"(\S)(\S{9}) (\d+)/(\d+) +(\d+) (\S+ \S+) squashfs-root/?(.*?)(?: -> (.*))?$", line.rstrip("\n"))
    if not g: bad.append(f"squashfs: unparsed {line!r}"); continue
    k, p, uid, gid, size, when, name, link = g.groups()
    name = name or "."
    mt = int(time.mktime(time.strptime(when, "%Y-%m-%d %H:%M")) - time.timezone)
    got[name] = (k, perm(p), int(uid), int(gid), int(size) if k == "-" else None, link, mt)
for name, w in want.items():
    g = got.get(name)
    if g is None: bad.append(f"squashfs lacks {name}"); continue
    if g[:6] != w[:6] or g[6] != w[6] - w[6] % 60: bad.append(f"squashfs {name}: {g} != {w}")
for name in set(got) - set(want): bad.append(f"squashfs has extra {name}")
# erofs: the tree fsck.erofs extracted
root = sys.argv[3]
seen = set()
for d, dirs, files in os.walk(root):
    for n in dirs + files + ["."] * (d == root):
        p = os.path.normpath(os.path.join(d, n))
        name = os.path.relpath(p, root)
        seen.add(name)
        st = os.lstat(p)
        k = "d" if stat.S_ISDIR(st.st_mode) else "l" if stat.S_ISLNK(st.st_mode) else "-"
        w = want.get(name)
        if w is None: bad.append(f"erofs has extra {name}"); continue
        g = (k, stat.S_IMODE(st.st_mode), w[2], w[3], st.st_size if k == "-" else None,
             os.readlink(p) if k == "l" else None, int(st.st_mtime))
        if os.geteuid() == 0 and (st.st_uid, st.st_gid) != w[2:4]: bad.append(f"erofs {name}: owner")
        if k != "l" and g != w: bad.append(f"erofs {name}: {g} != {w}")
        if k == "l" and g[0:1] + g[5:6] != w[0:1] + w[5:6]: bad.append(f"erofs {name}: {g} != {w}")
for name in set(want) - seen: bad.append(f"erofs lacks {name}")
print("\n".join(bad[:40]), file=sys.stderr); sys.exit(1 if bad else 0)
PY

# --- refusals: nothing is written ------------------------------------------
mkdir -p "$TMP/r"
expect_rc 2 "${B[@]}" -format kernel+initrd -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "cannot be specified for build type kernel+initrd: it writes several files (NAME-kernel, NAME-initrd.img, NAME-cmdline)"
expect_rc 2 "${B[@]}" -format kernel+squashfs -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "(NAME-kernel, NAME-cmdline, NAME-squashfs.img)"
expect_rc 2 "${B[@]}" -format iso-bios -format raw-efi -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "single output format (got iso-bios, raw-efi"
expect_rc 2 "${B[@]}" -format iso-bios -o - "$TMP/sys.yml"
expect_in "$TMP/err" "cannot be streamed"
# a plugin format writing several files is refused after its build
expect_rc 2 "${B[@]}" -format kernel+iso -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "format kernel+iso wrote 3 files (sys-cmdline, sys-kernel, sys.iso)"
[ -z "$(ls -A "$TMP/r")" ] || { ls -la "$TMP/r" >&2; fail "a refused -o left files"; }
# -o into a missing directory fails before anything is fetched
expect_rc 5 "${B[@]}" -o "$TMP/r/nodir/x.tar" "$TMP/sys.yml"
expect_in "$TMP/err" "-o $TMP/r/nodir/x.tar: directory $TMP/r/nodir: No such file or directory"
# a failing build leaves an existing -o file as it was
echo keep >"$TMP/r/keep"
printf "kernel: [\n" >"$TMP/bad.yml"
expect_rc 3 "${B[@]}" -o "$TMP/r/keep" "$TMP/bad.yml"
[ "$(cat "$TMP/r/keep")" = keep ] || fail "a failed build changed the -o file"
no_leftovers "$TMP/r"
echo "ok"
