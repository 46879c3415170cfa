#!/usr/bin/env bash
# Manual pages (docs/man/*.scd): every page built, rendered by man(1)
# without groff warnings; `lkb help COMMAND` prints the same text as the
# page; and each page documents every flag its command's --help lists, so
# the two cannot drift apart silently.
. "$(dirname "$0")/lib.sh"
: "${LKB_BINARY_DIR:?}"
M="$LKB_BINARY_DIR/man"
for p in lkb.1 lkb-build.1 lkb-run.1 lkb-formats.1 lkb-cache.1 lkb-plugin.7; do
  [ -s "$M/$p" ] || fail "$p not built"
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$M/$p" 2>"$TMP/warn" >/dev/null
  [ ! -s "$TMP/warn" ] || { cat "$TMP/warn"; fail "$p: groff warnings"; }
done
for t in lkb build run formats cache plugin; do
  page=lkb-$t; [ $t = lkb ] && page=lkb
  expect_rc 0 "$LKB_BIN" help $t
  f=$(ls "$M/$page".[17])
  groff -man -Tascii -P-c -P-b -P-u -rHY=0 "$f" | cmp - "$TMP/out" || fail "lkb help $t differs from $f"
done
expect_in <("$LKB_BIN" help run) "lkb-run - boot an lkb output in QEMU"
expect_rc 2 "$LKB_BIN" help nothing
expect_in "$TMP/err" "no help on 'nothing'"
# Every flag of the usage text is in the manual page.
for cmd in build run; do
  "$LKB_BIN" $cmd --help | grep -oE '^ +-[a-z][a-z-]*' | tr -d ' ' | sort -u >"$TMP/flags-$cmd"
  [ "$(wc -l <"$TMP/flags-$cmd")" -gt 10 ] || fail "too few $cmd flags parsed"
  "$LKB_BIN" help $cmd >"$TMP/page-$cmd"
  while read -r flag; do
    grep -qE -- "(^|[ ,])$flag([ ,=[]|\$)" "$TMP/page-$cmd" || fail "lkb-$cmd(1) does not document $flag"
  done <"$TMP/flags-$cmd"
done
echo "man: ok"
