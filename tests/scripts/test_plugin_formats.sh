#!/usr/bin/env bash
# Plugin ABI 1.1 end to end against the loopback registry: the prebuilt
# ABI 1.0 fixture still builds; a failing format leaves the output
# directory exactly as it was; option mistakes and check() failures happen
# before any registry request; images a format declares are fetched in the
# one fetch phase; `lkb formats` is one table; timestamp and seed.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
GOOD="$LKB_BINARY_DIR/test-plugins/good.so"
ABI10="$LKB_SOURCE_DIR/tests/plugins/abi-1.0/abi10.so"
export LKB_PLUGIN_PATH="$GOOD:$ABI10"
cat >"$TMP/sys.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $R/lkb-test/init:1
YML

# --- the prebuilt ABI 1.0 plugin loads and builds --------------------------
mkdir -p "$TMP/o"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format abi10 -format-opt greeting=hi -dir "$TMP/o" -name s "$TMP/sys.yml"
for line in "format: abi10" "greeting: hi" "cmdline: console=ttyS0" "kernel: 1" "initrd: 1" \
            "rootfs_tar: 1" "n_options: 1"; do
  grep -qx "$line" "$TMP/o/s.abi10" || { cat "$TMP/o/s.abi10"; fail "abi10 output lacks '$line'"; }
done
expect_rc 0 "$LKB_BIN" formats abi10
expect_in "$TMP/out" "plugin ABI:   1.0"

# --- a failing format leaves the output directory exactly as before --------
listing() { (cd "$1" && find . -printf '%p %y %m %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
printf 'old kernel\n' >"$TMP/o/m-kernel"
printf 'old test\n' >"$TMP/o/m.test"
listing "$TMP/o" >"$TMP/before"
for fmts in kernel+initrd,testfmt,testfail abi10,testfail kernel+initrd,tar-kernel-initrd,testfmt,abi10,testfail; do
  expect_rc 6 "$LKB_BIN" build -q -cache "$C" -format "$fmts" -dir "$TMP/o" -name m "$TMP/sys.yml"
  expect_in "$TMP/err" "format testfail (plugin $GOOD): deliberate failure for m"
  listing "$TMP/o" >"$TMP/after"
  diff "$TMP/before" "$TMP/after" >&2 || fail "-format $fmts changed the output directory"
done
# ... and when every format succeeds, all outputs appear together.
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format kernel+initrd,testfmt,abi10 -dir "$TMP/o" -name m "$TMP/sys.yml"
for f in m-kernel m-initrd.img m-cmdline m.test m.seed m.abi10; do [ -s "$TMP/o/$f" ] || fail "$f missing"; done
[ "$(cat "$TMP/o/m.test")" = "console=ttyS0" ] || fail "m.test"
[ -z "$(find "$TMP/o" -name '.lkb-staging-*')" ] || fail "staging directory left behind"

# --- option mistakes and check() fail before any registry request ----------
# The configuration names an image the registry does not have: contacting
# the registry at all leaves "manifest unknown" for it in the registry log.
never="lkb-test/never-$$-$RANDOM"
sed "s|lkb-test/init:1|$never:1|" "$TMP/sys.yml" >"$TMP/never.yml"
log="$LKB_TEST_STATE/registry.log"
expect_rc 2 "$LKB_BIN" build -cache "$TMP/c2" -format testfmt,kernel+initrd -format-opt colour=red -dir "$TMP/o" "$TMP/never.yml"
expect_in "$TMP/err" "-format-opt colour=red: no format of this build has an option 'colour'"
expect_in "$TMP/err" "testfmt accepts greeting (string), count (uint), big (size), flag (bool), image (string)"
expect_in "$TMP/err" "kernel+initrd accepts none"
expect_rc 2 "$LKB_BIN" build -cache "$TMP/c2" -format testfmt -format-opt testfmt.count=lots "$TMP/never.yml"
expect_in "$TMP/err" "format testfmt option count: \"lots\" is not an unsigned decimal integer"
expect_rc 2 "$LKB_BIN" build -cache "$TMP/c2" -format testfmt -format-opt count=13 "$TMP/never.yml"
expect_in "$TMP/err" "format testfmt (plugin $GOOD): count 13 is unlucky"
expect_rc 2 "$LKB_BIN" build -cache "$TMP/c2" -format testfmt -format-opt image=Not/A/Ref "$TMP/never.yml"
expect_in "$TMP/err" "image Not/A/Ref"
sleep 1
if grep -q "$never" "$log"; then fail "the registry was contacted before the option errors"; fi
[ ! -e "$TMP/c2" ] || fail "the cache was opened before the checks: $(find "$TMP/c2")"
# Control: the same build with good options does reach the registry.
expect_rc 4 "$LKB_BIN" build -q -cache "$TMP/c2" -format testfmt -dir "$TMP/o" "$TMP/never.yml"
for _ in 1 2 3 4 5; do grep -q "$never" "$log" && break; sleep 1; done
grep -q "$never" "$log" || fail "control: the registry log does not show the request"

# --- a declared image is fetched in the fetch phase, before any layout ------
expect_rc 4 "$LKB_BIN" build -cache "$C" -format testfmt -format-opt image="$R/lkb-test/nosuch-assets:1" -dir "$TMP/o" -name d "$TMP/sys.yml"
expect_in "$TMP/err" "lkb-test/nosuch-assets:1"
if grep -q "Extract kernel image" "$TMP/out"; then fail "layout started before the declared image failed"; fi
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format testfmt -format-opt image="$R/lkb-test/init:1" -dir "$TMP/o" -name d "$TMP/sys.yml"
# rpi3's assets image is such a declared image: a bad one fails before layout.
if [ -f "$LKB_BINARY_DIR/plugins/rpi3.so" ]; then
  expect_rc 4 "$LKB_BIN" build -cache "$C" -format rpi3 -arch arm64 -format-opt assets-image="$R/lkb-test/nosuch-assets:1" -dir "$TMP/o" -name d "$TMP/sys.yml"
  expect_in "$TMP/err" "lkb-test/nosuch-assets:1"
  if grep -q "Extract kernel image" "$TMP/out"; then fail "rpi3: layout started before the assets image failed"; fi
  # The issue's reproducer: rpi3 succeeds, rpi3-img fails (-size too small):
  # no NAME.tar either, the directory is exactly as before.
  listing "$TMP/o" >"$TMP/before"
  expect_rc 6 "$LKB_BIN" build -q -cache "$C" -format rpi3,rpi3-img -arch arm64 -size 32M \
    -format-opt assets-image="$LKB_TEST_RPI3_ASSETS" -dir "$TMP/o" -name pi "$TMP/sys.yml"
  expect_in "$TMP/err" "format rpi3-img (plugin "
  listing "$TMP/o" >"$TMP/after"
  diff "$TMP/before" "$TMP/after" >&2 || fail "-format rpi3,rpi3-img changed the output directory"
  expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format rpi3 -arch arm64 \
    -format-opt assets-image="$LKB_TEST_RPI3_ASSETS" -dir "$TMP/o" -name pi "$TMP/sys.yml"
  [ -s "$TMP/o/pi.tar" ] || fail "rpi3 alone: no pi.tar"
  expect_rc 2 "$LKB_BIN" build -cache "$C" -format rpi3,rpi3-img -arch arm64 -format-opt rpi3.data-size=1G "$TMP/sys.yml"
  expect_in "$TMP/err" "format rpi3 has no option 'data-size' (rpi3 accepts firmware-dir (string), uboot-dir (string), assets-image (string), config-txt-file (string), config-txt-append (string))"
fi

# --- rootfs tar only on request; timestamp and seed -------------------------
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/o" -name r1 "$TMP/sys.yml"
grep -q "rootfs no ucode no " "$TMP/o/r1.seed" || fail "rootfs tar made for a format that did not ask: $(cat "$TMP/o/r1.seed")"
sed 's|  cmdline: "console=ttyS0"|  cmdline: "console=ttyS0"\n  ucode: System.map|' "$TMP/sys.yml" >"$TMP/ucode.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/o" -name u "$TMP/ucode.yml"
grep -q "ucode yes " "$TMP/o/u.seed" || fail "ucode_path not handed over: $(cat "$TMP/o/u.seed")"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/o" -name r2 "$TMP/sys.yml"
cmp -s "$TMP/o/r1.seed" "$TMP/o/r2.seed" || fail "seed differs between equal builds"
grep -q "^epoch 1492533000 " "$TMP/o/r1.seed" || fail "default timestamp: $(cat "$TMP/o/r1.seed")"
SOURCE_DATE_EPOCH=86400 "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/o" -name r3 "$TMP/sys.yml"
expect_rc 2 env SOURCE_DATE_EPOCH=yesterday "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/o" -name r5 "$TMP/sys.yml"
expect_in "$TMP/err" "SOURCE_DATE_EPOCH=yesterday: want a non-negative integer"
grep -q "^epoch 86400 " "$TMP/o/r3.seed" || fail "SOURCE_DATE_EPOCH not handed over"
cmp -s "$TMP/o/r1.seed" "$TMP/o/r3.seed" && fail "seed ignores the timestamp"
sed 's|console=ttyS0|console=ttyS1|' "$TMP/sys.yml" >"$TMP/other.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format testfmt -dir "$TMP/o" -name r4 "$TMP/other.yml"
[ "$(sed 's/.*seed //' "$TMP/o/r1.seed")" != "$(sed 's/.*seed //' "$TMP/o/r4.seed")" ] || fail "seed ignores the configuration"

# --- the SDK example builds for real: declared option, check, output ------
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -I"$LKB_SOURCE_DIR/sdk/include" \
  "$LKB_SOURCE_DIR/sdk/examples/hello/hello.c" -o "$TMP/hello.so"
expect_rc 2 env LKB_PLUGIN_PATH="$TMP/hello.so" "$LKB_BIN" build -q -cache "$C" -format hello -format-opt hello.repeat=11 -dir "$TMP/o" -name h "$TMP/sys.yml"
expect_in "$TMP/err" "repeat=11: want 1 to 10"
expect_rc 0 env LKB_PLUGIN_PATH="$TMP/hello.so" SOURCE_DATE_EPOCH=1000 "$LKB_BIN" build -q -cache "$C" -format hello -format-opt repeat=2 -format-opt greeting=moin -dir "$TMP/o" -name h "$TMP/sys.yml"
[ "$(grep -c '^greeting: moin$' "$TMP/o/h.hello.txt")" = 2 ] || { cat "$TMP/o/h.hello.txt"; fail "hello output"; }
expect_in "$TMP/o/h.hello.txt" "source_date_epoch: 1000"

# --- lkb formats: one table -------------------------------------------------
expect_rc 0 "$LKB_BIN" formats
[ "$(grep -c '^FORMAT ' "$TMP/out")" = 1 ] || fail "more than one table header"
grep -qE '^kernel\+initrd +kernel, .* built in$' "$TMP/out" || fail "built-in row"
grep -qE "^testfmt +test +$GOOD \(good 1\)$" "$TMP/out" || fail "plugin row"
grep -qE "^abi10 " "$TMP/out" || fail "1.0 plugin row"
expect_rc 0 "$LKB_BIN" formats -v
grep -qE '^    count +uint +- +a number$' "$TMP/out" || fail "-v lists options"
expect_rc 0 "$LKB_BIN" formats testfmt
expect_in "$TMP/out" "provided by:  $GOOD (good 1)"
expect_in "$TMP/out" "plugin ABI:   1.1"
grep -qE '^  big +size +1M +a size$' "$TMP/out" || fail "formats FORMAT lists options"
expect_rc 2 "$LKB_BIN" formats nosuch
echo "plugin formats: ok"
