#!/usr/bin/env bash
# Atomic outputs (issue 18 item 6, docs/build.md): a failed build leaves
# outputs already in -dir exactly as they were (content, inode, mtime) and
# adds nothing; an I/O failure in the middle of the initrd write (the file
# size limit, RLIMIT_FSIZE) fails cleanly with nothing partial anywhere; an
# unchanged rebuild keeps its identical outputs (same inode, fresh mtime);
# `-o -` streams the tar to stdout, byte-identical to `-o FILE`.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
cd "$TMP"
lkb_test_sys_yml sys.yml
snapshot() { # snapshot DIR: every entry with inode, size, mtime and hash
  (cd "$1" && for f in $(ls -A); do
     printf '%s %s\n' "$(stat -c '%n %i %s %Y' "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)"
   done)
}
# Warm the cache, then fill -dir with a previous build's outputs and a
# file of the user's.
mkdir -p dir
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir dir -name s sys.yml
echo "mine" >dir/notes.txt
touch -d @1000000000 dir/*
snapshot dir >before
unchanged() { # unchanged WHAT: -dir is as it was
  snapshot dir >after
  diff before after >&2 || fail "$1: -dir changed"
}

# --- failed builds leave -dir alone ------------------------------------------
sed "s|lkb-test/onboot:1|lkb-test/nosuch:1|" sys.yml >bad-image.yml
expect_rc 4 "$LKB_BIN" build -q -cache "$C" -dir dir -name s bad-image.yml
unchanged "a missing image"
printf 'files:\n  - path: etc/x\n    source: %s/no-such-file\n' "$TMP" >bad-file.yml
expect_rc 5 "$LKB_BIN" build -q -cache "$C" -dir dir -name s sys.yml bad-file.yml
unchanged "a missing files source"
# kernel+initrd succeeds and is staged, the plugin format after it fails:
# the new kernel+initrd files must not replace the old ones.
expect_rc 6 env LKB_PLUGIN_PATH="$LKB_BINARY_DIR/test-plugins/good.so" \
  "$LKB_BIN" build -q -cache "$C" -dir dir -name s -format kernel+initrd,testfail sys.yml
expect_in "$TMP/err" "deliberate failure for s"
unchanged "a failing second format"

# --- an I/O failure during the initrd write ----------------------------------
# Three 10 MiB incompressible files make the initrd (30 MiB) the largest
# thing lkb writes; a 16 MiB file size limit lets each file's scratch copy
# and the kernel (8 MiB) through and cuts the initrd in the middle.
# Temporaries go to a private TMPDIR.
printf 'files:\n' >big.yml
for i in 1 2 3; do
  head -c $((10 << 20)) /dev/urandom >"big$i"
  printf '  - path: opt/big%s\n    source: %s/big%s\n' "$i" "$TMP" "$i" >>big.yml
done
mkdir -p tmp
limited() { # limited WHAT LKB-ARGS...: lkb under a 16 MiB file size limit must exit 5, EFBIG
  local what=$1; shift
  set +e
  (ulimit -f $((16 << 10)); exec env TMPDIR="$TMP/tmp" "$LKB_BIN" build -q -cache "$C" "$@") \
    >"$TMP/out.txt" 2>"$TMP/err"
  local rc=$?
  set -e
  [ "$rc" = 5 ] || { cat "$TMP/err" >&2; fail "$what: a write over the file size limit exited $rc, want 5"; }
  expect_in "$TMP/err" "File too large"
  unchanged "$what: write failure"
  [ -z "$(ls -A tmp)" ] || fail "$what: temporaries left in TMPDIR: $(ls -A tmp)"
}
for comp in gzip none; do
  limited "$comp initrd" -dir dir -name s -initrd-compression "$comp" sys.yml big.yml
  expect_in "$TMP/err" "initrd"
done
# the same for -o: no partial file next to the target
limited "tar -o" -format tar -o "$TMP/dir/s.tar" sys.yml big.yml

# --- an unchanged rebuild keeps identical outputs ------------------------------
# (lkb_staging_place): the same file (inode), its mtime now; what changed is
# replaced. The comparison is made only when the old file is in the page
# cache: read it first, so a machine short of memory cannot flake this.
ino() { stat -c %i "$1"; }
k=$(ino dir/s-kernel) i=$(ino dir/s-initrd.img)
cat dir/s-* >/dev/null
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir dir -name s sys.yml
[ "$(ino dir/s-kernel)" = "$k" ] && [ "$(ino dir/s-initrd.img)" = "$i" ] || fail "an identical output was replaced"
[ "$(stat -c %Y dir/s-initrd.img)" -gt 1000000000 ] || fail "a kept output's mtime was not set to now"
ls -A dir | grep -q staging && fail "staging left behind: $(ls -A dir)"
printf 'files:\n  - path: etc/changed\n    contents: "x"\n' >changed.yml
cat dir/s-* >/dev/null
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -dir dir -name s sys.yml changed.yml
[ "$(ino dir/s-kernel)" = "$k" ] || fail "the unchanged kernel was replaced"
[ "$(ino dir/s-initrd.img)" != "$i" ] || fail "the changed initrd was not replaced"
zcat dir/s-initrd.img >initrd.cpio
grep -aq etc/changed initrd.cpio || fail "the new initrd lacks etc/changed"
# -o FILE alike
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o same.tar sys.yml
t=$(ino same.tar)
cat same.tar >/dev/null
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o same.tar sys.yml
[ "$(ino same.tar)" = "$t" ] || fail "-o: an identical output was replaced"

# --- -o - writes the tar to stdout ---------------------------------------------
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o file.tar sys.yml
"$LKB_BIN" build -q -cache "$C" -format tar -o - sys.yml >stdout.tar 2>"$TMP/err" ||
  { cat "$TMP/err" >&2; fail "-o - failed"; }
[ ! -s "$TMP/err" ] || { cat "$TMP/err" >&2; fail "-o - wrote to stderr"; }
cmp -s file.tar stdout.tar || fail "-o - differs from -o FILE"
# (The listing goes to a file: grep -q quitting early would SIGPIPE tar.)
tar tf stdout.tar >"$TMP/list" 2>/dev/null
grep -qx "containers/onboot/000-one/config.json" "$TMP/list" || fail "-o -: not the rootfs tar"
[ "$(ls -A | grep -c '^-$' || true)" = 0 ] || fail "-o - created a file named -"
# appended to a file (O_APPEND: copy_file_range refuses it, the bytes are
# copied by hand)
"$LKB_BIN" build -q -cache "$C" -format tar -o - sys.yml >>appended.tar 2>"$TMP/err" ||
  { cat "$TMP/err" >&2; fail "-o - >> FILE failed"; }
cmp -s appended.tar file.tar || fail "-o - >> FILE differs from -o FILE"
# through a pipe, and a full stdout is an error, not a success
"$LKB_BIN" build -q -cache "$C" -format tar -o - sys.yml | cmp -s - file.tar || fail "-o - through a pipe"
expect_rc 5 sh -c 'exec "$0" build -q -cache "$1" -format tar -o - "$2" >/dev/full' "$LKB_BIN" "$C" sys.yml
expect_in "$TMP/err" "No space left on device"
echo "atomic: ok"
