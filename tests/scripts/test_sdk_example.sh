#!/usr/bin/env bash
# Third-party plugin workflow: install lkb, build sdk/examples/hello OUT OF
# TREE against the installed SDK found by pkg-config, load it with
# `lkb formats`, and check it links nothing of lkb.
. "$(dirname "$0")/lib.sh"
: "${LKB_SOURCE_DIR:?}" "${LKB_BINARY_DIR:?}"

prefix="$TMP/prefix"
cmake --install "$LKB_BINARY_DIR" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name lkb-plugin.pc)
[ -n "$pc" ] || fail "lkb-plugin.pc not installed"
[ -f "$prefix/include/lkb/plugin.h" ] || fail "plugin.h not installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
[ "$(pkg-config --variable=abi_version lkb-plugin)" = 1 ] || fail "abi_version variable"
[ "$(pkg-config --variable=abi_minor lkb-plugin)" = 1 ] || fail "abi_minor variable"
plugindir=$(realpath "$(pkg-config --variable=plugindir lkb-plugin)")
[ -f "$plugindir/rpi3.so" ] || fail "bundled plugins not in plugindir $plugindir"

cp -r "$LKB_SOURCE_DIR/sdk/examples/hello" "$TMP/src"
make -s -C "$TMP/src" >/dev/null
# Links nothing of lkb: no undefined lkb_ symbols, only the entry exported.
nm -D --undefined-only "$TMP/src/hello.so" >"$TMP/undef"
nm -D --defined-only "$TMP/src/hello.so" >"$TMP/def"
if grep -q ' lkb_' "$TMP/undef"; then fail "hello.so imports lkb symbols"; fi
grep -q ' T lkb_plugin_entry_v1$' "$TMP/def" || fail "entry not exported"

expect_rc 0 env LKB_PLUGIN_PATH="$TMP/src/hello.so:$plugindir" "$prefix/bin/lkb" formats
grep -qE "^hello +example plugin.*$TMP/src/hello.so \(hello 1.1\)" "$TMP/out" || { cat "$TMP/out"; fail "hello not listed"; }
grep -qE '^rpi3 ' "$TMP/out" || fail "installed plugins not found"
# Its declared option, with type, default and help.
expect_rc 0 env LKB_PLUGIN_PATH="$TMP/src/hello.so" "$prefix/bin/lkb" formats hello
grep -qE '^  greeting +string +hello +first line of the text file$' "$TMP/out" || { cat "$TMP/out"; fail "hello options not listed"; }
grep -qE '^  repeat +uint +1 ' "$TMP/out" || fail "repeat option not listed"

# make install puts it into the SDK's plugin dir, where lkb finds it too.
make -s -C "$TMP/src" install >/dev/null
expect_rc 0 env LKB_PLUGIN_PATH="$plugindir" "$prefix/bin/lkb" formats
expect_in "$TMP/out" "$plugindir/hello.so"
echo "sdk example: ok"
