#!/usr/bin/env bash
# Every file in examples/ builds with the command its header shows
# (bash scripts/bootstrap.sh examples/NAME.yml), run from the source tree
# with this lkb and a temporary output directory.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
: "${LKB_SOURCE_DIR:?LKB_SOURCE_DIR is unset: run through ctest}"
cd "$LKB_SOURCE_DIR"
n=0
for yml in examples/*.yml; do
  name=$(basename "$yml" .yml)
  cmd="bash scripts/bootstrap.sh $yml"
  grep -qxF "#   $cmd" "$yml" || fail "$yml: the header does not show '$cmd'"
  grep -q '^# lkb-args: ' "$yml" || fail "$yml: no '# lkb-args:' header line"
  # shellcheck disable=SC2086 # the command as the header shows it, split into words
  expect_rc 0 env LKB_BIN="$LKB_BIN" LKB_EXAMPLE_DIR="$TMP/ex" $cmd
  expect_in "$TMP/out" "== $yml: lkb build"
  ! grep -q 'LKB_REGISTRY' "$TMP/ex/$name.yml" || fail "$name.yml: \${LKB_REGISTRY} left in"
  n=$((n + 1))
done
[ "$n" -ge 2 ] || fail "only $n examples"
# What each one makes.
for f in minimal-kernel minimal-initrd.img minimal-cmdline rpi3.img; do
  [ -s "$TMP/ex/$f" ] || fail "$f was not built"
done
sfdisk -J "$TMP/ex/rpi3.img" >"$TMP/parts"
expect_in "$TMP/parts" '"type": "c"'
mtype -i "$TMP/ex/rpi3.img@@1M" ::/boot.scr >"$TMP/scr" 2>/dev/null || true
expect_in "$TMP/scr" "setenv bootargs 'console=tty1 console=ttyS1,115200'"
# The rpi3 example's onboot entry is in the initrd with its modprobe.
mcopy -n -i "$TMP/ex/rpi3.img@@1M" ::/initrd.uimg "$TMP/initrd.uimg"
tail -c +65 "$TMP/initrd.uimg" | gzip -dc | cpio_join | cpio -i --to-stdout --quiet 'containers/onboot/*ethernet/config.json' \
  >"$TMP/config.json" 2>/dev/null || true
expect_in "$TMP/config.json" '"modprobe"'
expect_in "$TMP/config.json" 'CAP_SYS_MODULE'
# A missing example is an error, not a silent success.
expect_rc 1 env LKB_BIN="$LKB_BIN" LKB_EXAMPLE_DIR="$TMP/ex" bash scripts/bootstrap.sh examples/none.yml
expect_in "$TMP/err" "no such example: examples/none.yml"
echo "examples: ok ($n)"
