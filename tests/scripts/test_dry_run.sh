#!/usr/bin/env bash
# `lkb build -dry-run`: prints the merged configuration without fetching;
# invalid YAML fails with exit 3 and every located error.
. "$(dirname "$0")/lib.sh"
d="$LKB_SOURCE_DIR/tests/data/yaml"
expect_rc 0 "$LKB_BIN" build -dry-run -cache /nonexistent/never-created "$d/valid/getty-sshd.yml" "$d/valid/anchors.yml"
expect_in "$TMP/out" "    image: linuxkit/kernel:6.6.13"
expect_in "$TMP/out" "    - name: two"
[ ! -e /nonexistent/never-created ] || fail "dry-run touched the cache"
# Reading from stdin works too.
set +e; "$LKB_BIN" build -dry-run - <"$d/valid/anchors.yml" >"$TMP/out" 2>"$TMP/err"; rc=$?; set -e
[ "$rc" -eq 0 ] || fail "dry-run from stdin exited $rc"
expect_in "$TMP/out" "name: three"

# Byte for byte what LinuxKit prints (tests/data/yaml/dump/*.dry-run, each
# case's header names the go-yaml rule it covers), Println's extra newline
# included.
for f in "$d"/dump/*.yml; do
  expect_rc 0 "$LKB_BIN" build -dry-run "$f"
  cmp "$TMP/out" "${f%.yml}.dry-run" || { diff "${f%.yml}.dry-run" "$TMP/out" >&2; fail "$f: dry-run differs"; }
  # ... and it reads back to the same output.
  cp "$TMP/out" "$TMP/again.yml"
  expect_rc 0 "$LKB_BIN" build -dry-run "$TMP/again.yml"
  cmp "$TMP/out" "$TMP/again.yml" || fail "$f: dry-run output does not read back the same"
done
# An image reference starting with '@' (other than @pkg:) is located, exit 3.
printf 'init:\n  - linuxkit/init:1\nonboot:\n  - name: x\n    image: "@lkt:x"\n' >"$TMP/at.yml"
expect_rc 3 "$LKB_BIN" build -dry-run "$TMP/at.yml"
expect_in "$TMP/err" "at.yml:5:12: onboot[0]: '@lkt:x' is not an image reference"

expect_rc 3 "$LKB_BIN" build -dry-run "$d/invalid/many_errors.yml"
expect_in "$TMP/err" "many_errors.yml:4:5: onboot[0]: unknown key 'bogus' in image entry"
expect_in "$TMP/err" "many_errors.yml:9:1: unknown key 'extra' in configuration"
expect_in "$TMP/err" "4 errors"
expect_rc 3 "$LKB_BIN" build -dry-run "$TMP/does-not-exist.yml"
expect_in "$TMP/err" "does-not-exist.yml"
echo "dry-run: ok"
