#!/usr/bin/env bash
# -input-tar (docs/build.md): unchanged sections are copied from a previous
# tar output by their LINUXKIT.source/location records, as LinuxKit does
# (its test cases 060_input_tar and 010_reproducible/004_input_tar); every
# incremental build equals a fresh build byte for byte; copied sections
# need no image (an empty cache and -offline suffice); LinuxKit's refusals.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
B=("$LKB_BIN" build -cache "$C" -arch amd64)
yml() { # yml NAME [extra init image] [service command] [extra first onboot]
  {
    printf 'kernel:\n  image: %s/lkb-test/kernel:6.1\n  cmdline: "console=ttyS0"\n' "$R"
    printf 'init:\n  - %s/lkb-test/init:1\n  - %s/lkb-test/layers:1\n' "$R" "$R"
    [ -z "${2:-}" ] || printf '  - %s\n' "$2"
    printf 'onboot:\n'
    [ -z "${4:-}" ] || printf '  - name: zero\n    image: %s/lkb-test/init:1\n' "$R"
    printf '  - name: one\n    image: %s/lkb-test/onboot:1\n  - name: two\n    image: %s/lkb-test/onboot:1\n' "$R" "$R"
    printf 'services:\n  - name: svc\n    image: %s/lkb-test/service:1\n' "$R"
    [ -z "${3:-}" ] || printf '    command: ["%s"]\n' "$3"
    printf 'volumes:\n  - name: blank\n'
    printf 'files:\n  - path: etc/lkb-extra\n    contents: "x"\n  - path: etc/linuxkit.yml\n    metadata: yaml\n'
  } >"$TMP/$1.yml"
}
copied() { grep -o 'Copy [a-z]*\[*[0-9]*\]* files' "$TMP/err" | awk '{print $2}' | tr '\n' ' '; }
fresh_equals() { # NAME: a fresh build of NAME.yml equals inc-NAME.tar
  expect_rc 0 "${B[@]}" -q -o "$TMP/fresh-$1.tar" "$TMP/$1.yml"
  cmp -s "$TMP/fresh-$1.tar" "$TMP/inc-$1.tar" || fail "$1: -input-tar output differs from a fresh build"
}

yml base
expect_rc 0 "${B[@]}" -q -o "$TMP/base.tar" "$TMP/base.yml"

# unchanged: everything but volumes and files copied, output identical
expect_rc 0 "${B[@]}" -input-tar "$TMP/base.tar" -o "$TMP/inc-base.tar" "$TMP/base.yml"
[ "$(copied)" = "kernel init[0] init[1] onboot[0] onboot[1] services[0] " ] || fail "unchanged: copied $(copied)"
cmp -s "$TMP/base.tar" "$TMP/inc-base.tar" || fail "unchanged: output differs from the input tar"
# the copies need no image: an empty cache, offline (-no-sbom: the SBOM
# takes copied sections' attestations from the cache, test_sbom.sh)
expect_rc 0 "$LKB_BIN" build -cache "$TMP/empty-cache" -offline -arch amd64 -no-sbom -input-tar "$TMP/base.tar" -o "$TMP/off.tar" "$TMP/base.yml"
"${B[@]}" -q -no-sbom -o "$TMP/base-nosbom.tar" "$TMP/base.yml" || fail "base -no-sbom"
cmp -s "$TMP/base-nosbom.tar" "$TMP/off.tar" || fail "offline: output differs from the input tar"

# an init image added: the others copied, the new one built
yml addinit "$R/lkb-test/service:1"
expect_rc 0 "${B[@]}" -input-tar "$TMP/base.tar" -o "$TMP/inc-addinit.tar" "$TMP/addinit.yml"
[ "$(copied)" = "kernel init[0] init[1] onboot[0] onboot[1] services[0] " ] || fail "addinit: copied $(copied)"
expect_in "$TMP/err" "Process init image: $R/lkb-test/service:1"
fresh_equals addinit

# a service's command changed: that service built again
yml cmd "" /bin/true
expect_rc 0 "${B[@]}" -input-tar "$TMP/base.tar" -o "$TMP/inc-cmd.tar" "$TMP/cmd.yml"
[ "$(copied)" = "kernel init[0] init[1] onboot[0] onboot[1] " ] || fail "cmd: copied $(copied)"
fresh_equals cmd

# onboot renumbered: onboot[0]'s old entries are not written again, so the
# copy could be incomplete: lkb builds everything
yml renum "" "" zero
expect_rc 0 "${B[@]}" -input-tar "$TMP/base.tar" -o "$TMP/inc-renum.tar" "$TMP/renum.yml"
expect_in "$TMP/err" "building everything"
fresh_equals renum

# kernel+initrd from copied sections equals a fresh one
mkdir -p "$TMP/ki-a" "$TMP/ki-b"
expect_rc 0 "${B[@]}" -q -format kernel+initrd -dir "$TMP/ki-a" -name s "$TMP/base.yml"
expect_rc 0 "${B[@]}" -q -format kernel+initrd -input-tar "$TMP/base.tar" -dir "$TMP/ki-b" -name s "$TMP/base.yml"
for f in s-kernel s-initrd.img s-cmdline; do
  cmp -s "$TMP/ki-a/$f" "$TMP/ki-b/$f" || fail "kernel+initrd with -input-tar: $f differs"
done

# no metadata file in the configuration: the input tar is not used (LinuxKit)
grep -v -e 'linuxkit.yml' -e 'metadata: yaml' "$TMP/base.yml" >"$TMP/nometa.yml"
expect_rc 0 "${B[@]}" -input-tar "$TMP/base.tar" -o "$TMP/inc-nometa.tar" "$TMP/nometa.yml"
[ -z "$(copied)" ] || fail "nometa: copied $(copied)"
fresh_equals nometa

# refusals: nothing written
mkdir -p "$TMP/r"
cp "$TMP/base.tar" "$TMP/r/same.tar"
expect_rc 2 "${B[@]}" -input-tar "$TMP/r/same.tar" -o "$TMP/r/./same.tar" "$TMP/base.yml"
expect_in "$TMP/err" "input-tar and output file cannot be the same"
cmp -s "$TMP/base.tar" "$TMP/r/same.tar" || fail "the refused build changed the input tar"
expect_rc 2 "${B[@]}" -pull -input-tar "$TMP/base.tar" -o "$TMP/r/x.tar" "$TMP/base.yml"
expect_in "$TMP/err" "cannot use -input-tar and -pull together"
head -c 3000 /dev/urandom >"$TMP/junk.tar"
expect_rc 5 "${B[@]}" -input-tar "$TMP/junk.tar" -o "$TMP/r/x.tar" "$TMP/base.yml"
expect_in "$TMP/err" "not a tar LinuxKit or lkb wrote"
head -c 20480 "$TMP/base.tar" >"$TMP/cut.tar"
expect_rc 5 "${B[@]}" -input-tar "$TMP/cut.tar" -o "$TMP/r/x.tar" "$TMP/base.yml"
expect_rc 5 "${B[@]}" -input-tar "$TMP/nosuch.tar" -o "$TMP/r/x.tar" "$TMP/base.yml"
[ "$(ls -A "$TMP/r")" = same.tar ] || { ls -la "$TMP/r" >&2; fail "a refused build left files"; }
echo ok
