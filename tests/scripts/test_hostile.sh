#!/usr/bin/env bash
# Hostile input and faults (issue 15): crafted configurations and layers,
# long names, non-regular files, a full disk (a 20 MiB tmpfs when root),
# signals. Each check names the defect it guards against.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
R=$LKB_TEST_REGISTRY
C="$TMP/cache"
cd "$TMP"

# --- item 5: long service names sharing a 491-character prefix ------------
L=$(printf 'x%.0s' $(seq 491))
cat >long.yml <<YML
services:
  - name: ${L}-one
    image: $R/lkb-test/service:1
  - name: ${L}-two
    image: $R/lkb-test/service:1
YML
expect_rc 0 "$LKB_BIN" build -q -cache "$C" -format tar -o long.tar long.yml
for s in one two; do
  tar tf long.tar | grep -qx "containers/services/${L}-$s/config.json" || fail "service ${s}'s bundle missing (names cut short)"
done

# --- item 6: a files source longer than PATH_MAX is an error, not another file
printf 'decoy\n' >decoy
printf 'real\n' >decoy-the-real-one
long_src=$(printf './%.0s' $(seq 2045))decoy-the-real-one   # cut at 4095 it named ./decoy
cat >src.yml <<YML
files:
  - path: etc/f
    source: "$long_src"
YML
expect_rc 5 "$LKB_BIN" build -q -cache "$C" -format tar -o src.tar src.yml
expect_in "$TMP/err" "src.yml:2:5: file etc/f: opening ./././"
[ ! -e src.tar ] || fail "partial output left behind"

# --- non-regular files: a FIFO or /dev/zero blocked or read until OOM -----
mkfifo fifo
for cfg in fifo /dev/zero; do
  expect_rc 3 timeout 20 "$LKB_BIN" build -q -cache "$C" -format tar -o nr.tar "$cfg"
  expect_in "$TMP/err" "$cfg is not a regular file"
done
for src in "$TMP/fifo" /dev/zero; do
  printf 'files:\n  - path: etc/x\n    source: %s\n' "$src" >nr.yml
  expect_rc 5 timeout 20 "$LKB_BIN" build -q -cache "$C" -format tar -o nr.tar nr.yml
  expect_in "$TMP/err" "nr.yml:2:5: file etc/x: $src is not a regular file"
done
[ ! -e nr.tar ] || fail "partial output left behind"

echo "hostile: ok"
