#!/usr/bin/env bash
# Outputs LinuxKit has beyond the basic three (docs/build.md): -o FILE for
# any format that writes one file (staged next to FILE, renamed onto it),
# refused for formats writing several, with nothing left behind.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
. "$LKB_TEST_STATE/images.env"
R=$LKB_TEST_REGISTRY
C="$TMP/cache"
export SOURCE_DATE_EPOCH=1700000000
cat >"$TMP/sys.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $R/lkb-test/init:1
onboot:
  - name: one
    image: $R/lkb-test/onboot:1
files:
  - path: etc/lkb-extra
    contents: "extra"
    mode: "0640"
  - path: etc/lkb-link
    symlink: /etc/lkb-extra
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

# --- refusals: nothing is written ------------------------------------------
mkdir -p "$TMP/r"
expect_rc 2 "${B[@]}" -format kernel+initrd -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "cannot be specified for build type kernel+initrd: it writes several files (NAME-kernel, NAME-initrd.img, NAME-cmdline)"
expect_rc 2 "${B[@]}" -format iso-bios -format raw-efi -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "single output format (got iso-bios, raw-efi"
expect_rc 2 "${B[@]}" -format iso-bios -o - "$TMP/sys.yml"
expect_in "$TMP/err" "cannot be streamed"
# a plugin format writing several files is refused after its build
expect_rc 2 "${B[@]}" -format kernel+iso -o "$TMP/r/x" "$TMP/sys.yml"
expect_in "$TMP/err" "format kernel+iso wrote 3 files (sys-cmdline, sys-kernel, sys.iso)"
[ -z "$(ls -A "$TMP/r")" ] || { ls -la "$TMP/r" >&2; fail "a refused -o left files"; }
# a failing build leaves an existing -o file as it was
echo keep >"$TMP/r/keep"
printf "kernel: [\n" >"$TMP/bad.yml"
expect_rc 3 "${B[@]}" -o "$TMP/r/keep" "$TMP/bad.yml"
[ "$(cat "$TMP/r/keep")" = keep ] || fail "a failed build changed the -o file"
no_leftovers "$TMP/r"
echo "ok"
