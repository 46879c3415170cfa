#!/usr/bin/env bash
# The CLI surface: sub-commands, help, documented exit codes.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "$LKB_BIN" version
expect_in "$TMP/out" "plugin ABI: 1"
expect_in "$TMP/out" "libarchive"

expect_rc 0 "$LKB_BIN" --help
expect_in "$TMP/out" "Exit codes"
expect_rc 2 "$LKB_BIN"
expect_rc 2 "$LKB_BIN" frobnicate
expect_in "$TMP/err" "unknown command 'frobnicate'"

for cmd in build formats cache version; do
  expect_rc 0 "$LKB_BIN" "$cmd" --help
  expect_in "$TMP/out" "Usage: lkb $cmd"
  expect_rc 0 "$LKB_BIN" "$cmd" -help
done

expect_rc 2 "$LKB_BIN" build
expect_in "$TMP/err" "at least one configuration file"
expect_rc 2 "$LKB_BIN" build -frobnicate x.yml
expect_in "$TMP/err" "unknown or ambiguous option -frobnicate"
expect_rc 2 "$LKB_BIN" build -size 12K x.yml
expect_in "$TMP/err" 'invalid -size "12K"'
expect_rc 2 "$LKB_BIN" build -docker x.yml
expect_in "$TMP/err" "never uses a Docker daemon"

# Formats: the bundled plugins are found next to the uninstalled binary.
expect_rc 0 env LKB_PLUGIN_PATH= "$LKB_BIN" formats
for f in rpi3 iso raw-bios raw-efi; do
  grep -qE "^$f " "$TMP/out" || { cat "$TMP/out"; fail "format $f not listed"; }
done
# A refused plugin is reported by file name and makes the exit code 6.
expect_rc 6 env LKB_PLUGIN_PATH="$LKB_BINARY_DIR/test-plugins/wrong_abi.so" "$LKB_BIN" formats
expect_in "$TMP/err" "wrong_abi.so: plugin declares ABI version 7"
grep -qE '^rpi3 ' "$TMP/out" || fail "good plugins still listed next to a refused one"
echo "cli: ok"
