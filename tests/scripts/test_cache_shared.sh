#!/usr/bin/env bash
# Read-only shared caches (-cache-ro, LKB_CACHE_PATH) under a writable one:
# a build is served from the shared cache (even -offline) without copying
# anything; new blobs go to the writable cache; a corrupt shared blob is
# skipped (and left alone) and a fresh copy fetched; `cache export` of
# several images from the layered caches and `cache import` round-trip.
# The shared cache is chmod a-w, but tests may run as root, so what proves
# that nothing was written is a listing of every path with its size, mode,
# mtime and sha256, compared before and after.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
SH=$TMP/shared
trap 'chmod -R u+w "$TMP" 2>/dev/null; rm -rf "$TMP"' EXIT
lkb_test_sys_yml "$TMP/sys.yml"
# The same plus an image the shared cache does not have.
{ cat "$TMP/sys.yml"; printf 'services:\n  - name: svc\n    image: %s/lkb-test/service:1\n' "$R"; } >"$TMP/more.yml"
build() { # build RC NAME YML [ARGS...]: outputs in $TMP/out-NAME
  local rc=$1 name=$2 yml=$3; shift 3
  rm -rf "$TMP/out-$name"; mkdir -p "$TMP/out-$name"
  expect_rc "$rc" "$LKB_BIN" build -format kernel+initrd -dir "$TMP/out-$name" -name sys "$@" "$yml"
}
same_initrd() { # same_initrd A B
  cmp -s "$TMP/out-$1/sys-initrd.img" "$TMP/out-$2/sys-initrd.img" || fail "initrd of $2 differs from $1's"
}
listing() { # listing DIR: path, type, size, mode, mtime and content hash of everything
  (cd "$1" && find . -printf '%p %y %s %m %T@\n' | sort &&
   find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}
blobs() { ls "$1/blobs/sha256" 2>/dev/null | sort; }

# --- seed the shared cache, then make it read-only ---------------------------
build 0 seed "$TMP/more.yml" -q -cache "$TMP/direct"   # reference for the bigger build
build 0 ref "$TMP/sys.yml" -q -cache "$SH"
chmod -R a-w "$SH"
listing "$SH" >"$TMP/shared.before"

# --- served from the shared cache, nothing copied ------------------------------
build 0 ro "$TMP/sys.yml" -q -offline -cache "$TMP/w" -cache-ro "$SH"
same_initrd ref ro
[ -z "$(blobs "$TMP/w")" ] || fail "blobs were copied into the writable cache: $(blobs "$TMP/w")"
grep -q '"manifests":\[\]' "$TMP/w/index.json" || fail "the writable index changed: $(cat "$TMP/w/index.json")"
# LKB_CACHE_PATH (colon-separated, empty parts ignored) does the same.
LKB_CACHE_PATH=":$SH" build 0 env "$TMP/sys.yml" -q -offline -cache "$TMP/w"
same_initrd ref env
expect_rc 2 env LKB_CACHE_PATH="$TMP/nosuch" "$LKB_BIN" build -offline -cache "$TMP/w" "$TMP/sys.yml"
expect_in "$TMP/err" "$TMP/nosuch"
expect_rc 2 "$LKB_BIN" build -cache-ro "$TMP/sys.yml" -cache "$TMP/w" "$TMP/sys.yml"
expect_in "$TMP/err" "is not an lkb cache"

# --- shared blobs are hashed once: their stamps live in the writable cache -----
stamps() { ls "$1/verified/lower" 2>/dev/null | sort; }
[ -n "$(stamps "$TMP/w")" ] || fail "no stamps for the shared cache's blobs in $TMP/w/verified/lower"
[ -z "$(comm -23 <(stamps "$TMP/w") <(blobs "$SH"))" ] || fail "stamps for blobs the shared cache lacks: $(stamps "$TMP/w")"
# A stamp never hides a shared blob changed since it was hashed.
cp -a "$SH" "$TMP/sh2"
chmod -R u+w "$TMP/sh2"
build 0 sh2 "$TMP/sys.yml" -q -offline -cache "$TMP/w4" -cache-ro "$TMP/sh2"
[ -n "$(stamps "$TMP/w4")" ] || fail "no stamps after a build on $TMP/sh2"
flip=$(comm -12 <(stamps "$TMP/w4") <(ls -S "$TMP/sh2/blobs/sha256" | head -1))
[ -n "$flip" ] || fail "the largest shared blob has no stamp"
python3 - "$TMP/sh2/blobs/sha256/$flip" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(16); f.seek(100); f.write(bytes(x ^ 0xFF for x in b))
PY
build 4 sh2-bad "$TMP/sys.yml" -offline -cache "$TMP/w4" -cache-ro "$TMP/sh2"
expect_in "$TMP/err" "sha256:$flip"
# `cache clean` drops the stamps of blobs no attached shared cache has.
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/w4" clean
[ -z "$(stamps "$TMP/w4")" ] || fail "stale shared-blob stamps kept: $(stamps "$TMP/w4")"

# --- new blobs go to the writable cache ----------------------------------------
build 0 more "$TMP/more.yml" -q -cache "$TMP/w" -cache-ro "$SH"
same_initrd seed more
[ -n "$(blobs "$TMP/w")" ] || fail "the service image's blobs are not in the writable cache"
dup=$(comm -12 <(blobs "$TMP/w") <(blobs "$SH"))
# The service image shares its busybox layer with onboot? Only blobs the
# shared cache lacks may be fetched.
[ -z "$dup" ] || fail "blobs the shared cache has were fetched again: $dup"
# -pull asks the registry again; what it records goes to the writable cache.
build 0 pull "$TMP/sys.yml" -q -pull -cache "$TMP/w" -cache-ro "$SH"
same_initrd ref pull
grep -q "lkb-test/init:1" "$TMP/w/index.json" || fail "-pull did not record init in the writable index"
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/w" -cache-ro "$SH" clean
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/w" -cache-ro "$SH" verify

# --- export from the layered caches, import elsewhere ---------------------------
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/w" -cache-ro "$SH" export \
  "$R/lkb-test/kernel:6.1" "$R/lkb-test/init:1" "$R/lkb-test/onboot:1" "$R/lkb-test/service:1" "$TMP/all.tar"
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/imported" import "$TMP/all.tar"
for i in kernel:6.1 init:1 onboot:1 service:1; do expect_in "$TMP/out" "imported $R/lkb-test/$i"; done
build 0 imported "$TMP/more.yml" -q -offline -cache "$TMP/imported"
same_initrd seed imported
# ... and the imported cache serves as a shared one in turn.
chmod -R a-w "$TMP/imported"
listing "$TMP/imported" >"$TMP/imported.before"
build 0 imported-ro "$TMP/more.yml" -q -offline -cache "$TMP/w2" -cache-ro "$TMP/imported"
same_initrd seed imported-ro
[ -z "$(blobs "$TMP/w2")" ] || fail "blobs copied from the imported read-only cache"
listing "$TMP/imported" | diff "$TMP/imported.before" - || fail "the imported read-only cache changed"
expect_rc 2 "$LKB_BIN" cache -cache "$TMP/w2" export "$R/lkb-test/nosuch:1" "$TMP/x.tar"
[ ! -e "$TMP/x.tar" ] || fail "a failed export left $TMP/x.tar"

# --- a corrupt blob in a read-only cache: warned about, skipped, left alone ----
cp -a "$SH" "$TMP/bad"
chmod -R u+w "$TMP/bad"
big=$(ls -S "$TMP/bad/blobs/sha256" | head -1)
python3 - "$TMP/bad/blobs/sha256/$big" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(16); f.seek(100); f.write(bytes(x ^ 0xFF for x in b))
PY
chmod -R a-w "$TMP/bad"
listing "$TMP/bad" >"$TMP/bad.before"
build 4 bad-offline "$TMP/sys.yml" -offline -cache "$TMP/w3" -cache-ro "$TMP/bad"
expect_in "$TMP/err" "sha256:$big"
build 0 bad "$TMP/sys.yml" -cache "$TMP/w3" -cache-ro "$TMP/bad"
expect_in "$TMP/err" "read-only cache $TMP/bad"
expect_in "$TMP/err" "sha256:$big"
same_initrd ref bad
[ "$(blobs "$TMP/w3")" = "$big" ] || fail "want only the corrupt blob fetched anew, got: $(blobs "$TMP/w3")"
listing "$TMP/bad" | diff "$TMP/bad.before" - || fail "the read-only cache with the corrupt blob changed"

listing "$SH" | diff "$TMP/shared.before" - || fail "the shared read-only cache changed"
echo "cache shared: ok"
