#!/usr/bin/env bash
# Initrd segments (issue 13): the initrd's bytes are the same whether its
# segments came from the cache or not; a change rebuilds only its segment;
# a corrupt cached segment is found and rebuilt; two builds sharing one
# cache at once both succeed; the cache stays under its bound; `lkb cache
# clean` removes segments. Unpacked layers: an unchanged rebuild inflates
# no layer and compresses no archive; the same bytes with the unpacked
# cache deleted, truncated, corrupted (re-made), unwritable or read-only.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
sys() { # sys FILE CONTENTS COMMAND
  lkb_test_sys_yml "$1" layers:1 - <<YML
services:
  - name: svc
    image: $R/lkb-test/service:1
    command: ["/bin/sleep", "$3"]
files:
  - path: etc/segment-test
    contents: "$2"
YML
}
sys "$TMP/a.yml" one 100
sys "$TMP/files.yml" two 100
sys "$TMP/svc.yml" one 200
build() { # build DIR YML [args]: -v output in DIR.log
  local d=$1 y=$2
  shift 2
  rm -rf "$d" && mkdir -p "$d"
  "$LKB_BIN" build -v -cache "$C" -dir "$d" -name s "$@" "$y" >"$d.log" 2>&1 || { cat "$d.log"; fail "build $d"; }
}
segs() { find "$C/segments" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l; }
cached() { sed -n 's/.* archives (\([0-9]*\) from the segment cache.*/\1/p' "$1"; }
compressed() { sed -n 's/.* from the segment cache, \([0-9]*\) compressed.*/\1/p' "$1"; }
# layers LOG: "<read unpacked> <inflated into the cache> <inflated, not kept>"
layers() { sed -n 's/^layers: \([0-9]*\) read unpacked, \([0-9]*\) inflated into the unpacked cache, \([0-9]*\) inflated.*/\1 \2 \3/p' "$1"; }
archives() { sed -n 's/.*components, \([0-9]*\) archives.*/\1/p' "$1"; }

# Nothing cached, then everything cached: the same bytes.
build "$TMP/u" "$TMP/a.yml"
[ "$(cached "$TMP/u.log")" = 0 ] || fail "first build used cached segments: $(grep initrd: "$TMP/u.log")"
n=$(segs)
[ "$n" -ge 3 ] || fail "expected a segment per component, found $n"
[ "$(archives "$TMP/u.log")" = "$n" ] || fail "archives $(archives "$TMP/u.log") != cached segments $n"
read -r lr lm ls <<<"$(layers "$TMP/u.log")"
# (a layer two images share is made once, then read)
[ "$lm" -ge 3 ] && [ "$ls" = 0 ] || fail "first build: $(grep ^layers: "$TMP/u.log")"
nl=$((lr + lm)) nu=$lm
[ "$(find "$C/unpacked" -maxdepth 1 -type f -name '[0-9a-f]*' ! -name '*.ok' | wc -l)" = "$nu" ] ||
  fail "expected $nu unpacked layers in $C/unpacked"
build "$TMP/c" "$TMP/a.yml"
[ "$(cached "$TMP/c.log")" = "$n" ] || fail "rebuild compressed again: $(grep initrd: "$TMP/c.log")"
# An unchanged rebuild inflates no layer and compresses no archive.
[ "$(layers "$TMP/c.log")" = "$nl 0 0" ] || fail "rebuild inflated layers: $(grep ^layers: "$TMP/c.log")"
[ "$(compressed "$TMP/c.log")" = 0 ] || fail "rebuild compressed: $(grep initrd: "$TMP/c.log")"
cmp -s "$TMP/u/s-initrd.img" "$TMP/c/s-initrd.img" || fail "cached initrd differs from the uncached one"
grep -q "phase layout:" "$TMP/c.log" || fail "-v prints no phase times"

# The kernel's view: every archive's entries, the root first at 0755.
gzip -dc "$TMP/c/s-initrd.img" | cpio_join >"$TMP/all.cpio"
cpio -itv <"$TMP/all.cpio" 2>/dev/null >"$TMP/list"
head -1 "$TMP/list" | grep -q '^drwxr-xr-x .* \.$' || fail "root entry not first: $(head -1 "$TMP/list")"
for f in init etc/segment-test containers/onboot/000-one/config.json containers/services/svc/config.json; do
  grep -q " $f\$" "$TMP/list" || fail "$f missing from the initrd"
done

# One changed files entry, one changed service command: one new segment each.
build "$TMP/f" "$TMP/files.yml"
[ "$(segs)" = $((n + 1)) ] || fail "a changed files entry added $(($(segs) - n)) segments, want 1"
[ "$(cached "$TMP/f.log")" = $((n - 1)) ] || fail "files change: $(grep initrd: "$TMP/f.log")"
[ "$(compressed "$TMP/f.log")" = 1 ] || fail "files change: $(grep initrd: "$TMP/f.log")"
[ "$(layers "$TMP/f.log")" = "$nl 0 0" ] || fail "files change inflated: $(grep ^layers: "$TMP/f.log")"
gzip -dc "$TMP/f/s-initrd.img" | cpio_join | cpio -i --to-stdout --quiet etc/segment-test >"$TMP/got"
[ "$(cat "$TMP/got")" = two ] || fail "changed files entry not in the initrd: $(cat "$TMP/got")"
build "$TMP/s" "$TMP/svc.yml"
[ "$(segs)" = $((n + 2)) ] || fail "a changed service command added $(($(segs) - n - 1)) segments, want 1"
gzip -dc "$TMP/s/s-initrd.img" | cpio_join | cpio -i --to-stdout --quiet containers/services/svc/config.json >"$TMP/cfg"
grep -q '"200"' "$TMP/cfg" || fail "changed command not in the service's config.json"
[ "$(compressed "$TMP/s.log")" = 1 ] || fail "service change: $(grep initrd: "$TMP/s.log")"

# A corrupt segment (one flipped byte) and a truncated one are rebuilt,
# never used; the output stays the same.
mapfile -t files < <(find "$C/segments" -maxdepth 1 -type f ! -name '.*' | sort)
python3 - "${files[0]}" "${files[1]}" <<'PY'
import sys
a = bytearray(open(sys.argv[1], "rb").read()); a[-10] ^= 0xff; open(sys.argv[1], "wb").write(a)
b = open(sys.argv[2], "rb").read(); open(sys.argv[2], "wb").write(b[:len(b) // 2])
PY
for y in a files svc; do
  build "$TMP/r-$y" "$TMP/$y.yml"
done
bad=$(( $(cached "$TMP/r-a.log") + $(cached "$TMP/r-files.log") + $(cached "$TMP/r-svc.log") ))
[ "$bad" = $((3 * n - 2)) ] || fail "corrupt segments were used or not rebuilt ($bad of $((3 * n)) cached)"
cmp -s "$TMP/u/s-initrd.img" "$TMP/r-a/s-initrd.img" || fail "output changed after a corrupt segment"
cmp -s "$TMP/f/s-initrd.img" "$TMP/r-files/s-initrd.img" || fail "output changed after a corrupt segment (files)"
cmp -s "$TMP/s/s-initrd.img" "$TMP/r-svc/s-initrd.img" || fail "output changed after a corrupt segment (svc)"

# Other compressions: cached and uncached alike.
for comp in zstd lz4 none; do
  build "$TMP/$comp-1" "$TMP/a.yml" -initrd-compression "$comp"
  build "$TMP/$comp-2" "$TMP/a.yml" -initrd-compression "$comp"
  cmp -s "$TMP/$comp-1/s-initrd.img" "$TMP/$comp-2/s-initrd.img" || fail "$comp: cached output differs"
done
[ "$(cached "$TMP/zstd-2.log")" = "$n" ] || fail "zstd segments not cached: $(grep initrd: "$TMP/zstd-2.log")"

# Two builds at once on one cache without segments: both succeed, same bytes.
rm -rf "$C/segments"
build "$TMP/p1" "$TMP/a.yml" & p1=$!
build "$TMP/p2" "$TMP/a.yml" & p2=$!
wait $p1 || fail "concurrent build 1"
wait $p2 || fail "concurrent build 2"
cmp -s "$TMP/u/s-initrd.img" "$TMP/p1/s-initrd.img" || fail "concurrent build 1 differs"
cmp -s "$TMP/u/s-initrd.img" "$TMP/p2/s-initrd.img" || fail "concurrent build 2 differs"
[ -z "$(find "$C/segments" -name '.tmp-*')" ] || fail "temporary segment files left behind"

# The bound: least recently used segments go past LKB_SEGMENT_CACHE_MAX.
total=$(du -cb "$C"/segments/* | tail -1 | cut -f1)
half=$((total / 2))
LKB_SEGMENT_CACHE_MAX=$half build "$TMP/b" "$TMP/files.yml"
now=$(du -cb "$C"/segments/* | tail -1 | cut -f1)
[ "$now" -le "$half" ] || fail "segment cache holds $now bytes, bound $half"
cmp -s "$TMP/f/s-initrd.img" "$TMP/b/s-initrd.img" || fail "output changed under the bound"

# Unpacked layers: deleted, the segments still serve (their keys name
# the layers' diff_ids) and the layers are made again; truncated or with
# a flipped byte (and no segments to hide it), each is found, made again,
# and the output is unchanged.
build "$TMP/d0" "$TMP/a.yml" # the segments the bound above dropped
rm -rf "$C/unpacked"
build "$TMP/d" "$TMP/a.yml"
[ "$(layers "$TMP/d.log")" = "$lr $nu 0" ] || fail "deleted unpacked: $(grep ^layers: "$TMP/d.log")"
[ "$(compressed "$TMP/d.log")" = 0 ] || fail "deleted unpacked: $(grep initrd: "$TMP/d.log")"
cmp -s "$TMP/u/s-initrd.img" "$TMP/d/s-initrd.img" || fail "output differs with the unpacked cache deleted"
mapfile -t ups < <(find "$C/unpacked" -maxdepth 1 -type f -size +8k ! -name '*.ok' | sort)
[ "${#ups[@]}" -ge 2 ] || fail "expected two unpacked layers of more than 8 KiB"
for how in truncate flip; do
  python3 - "${ups[0]}" "$how" <<'PY'
import os, sys
p, how = sys.argv[1], sys.argv[2]
b = bytearray(open(p, "rb").read())
if how == "truncate":
    b = b[:len(b) // 2]
else:
    b[len(b) // 2] ^= 0xff
open(p, "r+b").write(b) if how == "flip" else open(p, "wb").write(b)
PY
  rm -rf "$C/segments"
  build "$TMP/x-$how" "$TMP/a.yml"
  [ "$(layers "$TMP/x-$how.log")" = "$((nl - 1)) 1 0" ] ||
    fail "$how unpacked layer not made again: $(grep ^layers: "$TMP/x-$how.log")"
  cmp -s "$TMP/u/s-initrd.img" "$TMP/x-$how/s-initrd.img" || fail "output differs after a $how unpacked layer"
done
# lkb cache verify hashes every unpacked layer: a flipped byte is found.
"$LKB_BIN" cache -cache "$C" verify >"$TMP/verify0" || fail "cache verify"
grep -q "^checked $nu unpacked layers, removed 0 corrupt" "$TMP/verify0" || fail "verify: $(cat "$TMP/verify0")"
python3 - "${ups[1]}" <<'PY'
import os, sys
st = os.stat(sys.argv[1])
with open(sys.argv[1], "r+b") as f:
    f.seek(st.st_size // 2); b = f.read(1); f.seek(st.st_size // 2); f.write(bytes([b[0] ^ 1]))
os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns))
PY
"$LKB_BIN" cache -cache "$C" verify >"$TMP/verify" || fail "cache verify"
grep -q "^checked $nu unpacked layers, removed 1 corrupt" "$TMP/verify" || fail "verify: $(cat "$TMP/verify")"
[ ! -e "${ups[1]}" ] || fail "verify left the corrupt unpacked layer"
# A cache where unpacked layers cannot be kept, and a read-only shared
# cache: layers are inflated as before, the same bytes.
C2="$TMP/cache2"
mkdir -p "$C2" && : >"$C2/unpacked"
"$LKB_BIN" build -v -cache "$C2" -cache-ro "$C" -dir "$TMP" -name none2 "$TMP/a.yml" >"$TMP/ro.log" 2>&1 ||
  { cat "$TMP/ro.log"; fail "build with an unusable unpacked cache"; }
[ "$(layers "$TMP/ro.log")" = "0 0 $nl" ] || fail "unusable unpacked cache: $(grep ^layers: "$TMP/ro.log")"
cmp -s "$TMP/u/s-initrd.img" "$TMP/none2-initrd.img" || fail "output differs without an unpacked cache"

# cache clean removes them; a rebuild gives the same bytes.
"$LKB_BIN" cache -cache "$C" clean >"$TMP/clean" || fail "cache clean"
grep -qE '^removed [1-9][0-9]* initrd segments' "$TMP/clean" || fail "clean: $(cat "$TMP/clean")"
grep -qE '^removed [1-9][0-9]* unpacked layers' "$TMP/clean" || fail "clean: $(cat "$TMP/clean")"
[ "$(segs)" = 0 ] || fail "segments left after clean"
[ ! -e "$C/unpacked" ] || fail "unpacked layers left after clean"
build "$TMP/k" "$TMP/a.yml"
cmp -s "$TMP/u/s-initrd.img" "$TMP/k/s-initrd.img" || fail "output after cache clean differs"
# The unpacked cache's bound: least recently used layers go.
utotal=$(du -cb "$C"/unpacked/* | tail -1 | cut -f1)
LKB_UNPACKED_CACHE_MAX=$((utotal / 2)) build "$TMP/ub" "$TMP/a.yml"
unow=$(du -cb "$C"/unpacked/* | tail -1 | cut -f1)
[ "$unow" -le $((utotal / 2)) ] || fail "unpacked cache holds $unow bytes, bound $((utotal / 2))"
[ -z "$(find "$C/unpacked" -name '.tmp-*')" ] || fail "temporary unpacked files left behind"
cmp -s "$TMP/u/s-initrd.img" "$TMP/ub/s-initrd.img" || fail "output changed under the unpacked bound"
echo "segments: ok ($n segments per build)"
