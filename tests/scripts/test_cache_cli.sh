#!/usr/bin/env bash
# `lkb cache`: import an OCI archive, list, export, remove, clean.
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/images.env"
c="$TMP/cache"
skopeo copy -q --all "oci:$LKB_TEST_OCI_DIR/init:1" "oci-archive:$TMP/init.tar:example.org/lkb/init:1"

expect_rc 0 "$LKB_BIN" cache -cache "$c" import "$TMP/init.tar"
expect_in "$TMP/out" "imported example.org/lkb/init:1"
expect_rc 0 "$LKB_BIN" cache -cache "$c" ls
expect_in "$TMP/out" "example.org/lkb/init:1"
expect_in "$TMP/out" "$LKB_TEST_INIT_DIGEST"

expect_rc 0 "$LKB_BIN" cache -cache "$c" export example.org/lkb/init:1 "$TMP/out.tar"
tar tf "$TMP/out.tar" >"$TMP/list"
grep -qx "index.json" "$TMP/list" || fail "export lacks index.json"
grep -qx "blobs/sha256/${LKB_TEST_INIT_DIGEST#sha256:}" "$TMP/list" || fail "export lacks the index blob"

expect_rc 2 "$LKB_BIN" cache -cache "$c" rm example.org/lkb/nosuch:1
expect_in "$TMP/err" "not in the cache"
expect_rc 0 "$LKB_BIN" cache -cache "$c" rm example.org/lkb/init:1
expect_rc 0 "$LKB_BIN" cache -cache "$c" clean
grep -qE '^removed [1-9][0-9]* blobs' "$TMP/out" || { cat "$TMP/out"; fail "clean removed nothing"; }
[ -z "$(ls "$c/blobs/sha256")" ] || fail "blobs left after rm + clean"

# A truncated archive is refused and leaves the cache empty.
head -c 20000 "$TMP/init.tar" >"$TMP/bad.tar"
set +e; "$LKB_BIN" cache -cache "$c" import "$TMP/bad.tar" >/dev/null 2>"$TMP/err"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "truncated archive imported"
expect_rc 0 "$LKB_BIN" cache -cache "$c" ls
[ "$(wc -l <"$TMP/out")" -eq 1 ] || fail "cache not empty after failed import"
echo "cache cli: ok"
