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
PROXY_PID=
cleanup() { # the proxy (it holds ctest's pipe), the tmpfs, then lib.sh's $TMP
  set +e
  [ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null
  mountpoint -q "$TMP/full" 2>/dev/null && umount "$TMP/full"
  rm -rf "$TMP"
}
trap cleanup EXIT
HI="python3 $LKB_SOURCE_DIR/tests/tools/hostile_image.py $R"
svc() { printf 'services:\n  - name: h\n    image: %s\n' "$1" >"$2"; } # svc REF FILE
peak_kb() { # peak_kb CMD...: run CMD (output in $TMP/out, $TMP/err); its peak RSS in KiB, or -exit code
  python3 - "$TMP" "$@" <<'PY'
import resource, subprocess, sys
tmp = sys.argv[1]
r = subprocess.run(sys.argv[2:], stdout=open(tmp + "/out", "wb"), stderr=open(tmp + "/err", "wb"))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -r.returncode)
PY
}


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
tar tf long.tar >long.list  # (not piped into grep -q: SIGPIPE under pipefail)
for s in one two; do
  grep -qx "containers/services/${L}-$s/config.json" long.list || fail "service ${s}'s bundle missing (names cut short)"
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

# --- registry faults through tests/tools/faultproxy.py ----------------------
proxy() { # proxy FAULT-ARGS...: (re)start the proxy in front of the registry; sets P
  [ -z "$PROXY_PID" ] || { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; }
  rm -f "$TMP/proxy.port"
  python3 "$LKB_SOURCE_DIR/tests/tools/faultproxy.py" --upstream "$R" --port-file "$TMP/proxy.port" "$@" &
  PROXY_PID=$!
  for _ in $(seq 50); do [ -s "$TMP/proxy.port" ] && break; sleep 0.1; done
  P=127.0.0.1:$(cat "$TMP/proxy.port")
}
# Every kind of transient fault on each blob, then the right bytes: the
# build succeeds and the cache holds only verified blobs.
proxy --faults drop,truncate,corrupt  # the 4th attempt gets the right bytes
svc "$P/lkb-test/service:1" faulty.yml
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/cf" -format tar -o faulty.tar faulty.yml
tar tf faulty.tar >faulty.list
grep -qx "containers/services/h/lower/bin/busybox" faulty.list || fail "faulty pull: busybox missing"
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/cf" verify
expect_in "$TMP/out" "removed 0 corrupt"
# A registry dripping 2 bytes a second never trips the no-progress timer;
# the per-request deadline (LKB_FETCH_DEADLINE) ends each attempt.
proxy --always drip
svc "$P/lkb-test/service:1" drip.yml
start=$(date +%s)
expect_rc 4 env LKB_FETCH_DEADLINE=2 "$LKB_BIN" build -q -cache "$TMP/cd" -format tar -o drip.tar drip.yml
expect_in "$TMP/err" "failed after 4 attempts: Operation timed out after"
[ $(($(date +%s) - start)) -lt 60 ] || fail "the deadline did not end the drip"
[ ! -e drip.tar ] || fail "partial output left behind"
# The same with the flag, which wins over the environment.
start=$(date +%s)
expect_rc 4 env LKB_FETCH_DEADLINE=1000 "$LKB_BIN" build -q -cache "$TMP/cd" -fetch-deadline 2 \
  -format tar -o drip.tar drip.yml
expect_in "$TMP/err" "failed after 4 attempts: Operation timed out after"
[ $(($(date +%s) - start)) -lt 60 ] || fail "-fetch-deadline did not end the drip"
[ ! -e drip.tar ] || fail "partial output left behind"

# --- a damaged cache: index.json repaired, 0-byte and bit-flipped blobs removed
cp -r "$C" dc
echo '{"manifests": [' >dc/index.json
expect_rc 4 "$LKB_BIN" build -q -cache "$TMP/dc" -format tar -o dc.tar long.yml
expect_in "$TMP/err" "'lkb cache clean' or 'lkb cache verify' repairs it"
blobs=(dc/blobs/sha256/*)
: >"${blobs[0]}"                                                    # empty
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); b = f.read(1); f.seek(0); f.write(bytes([b[0] ^ 1]))' "${blobs[1]}"  # bit flip
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/dc" verify
expect_in "$TMP/out" "removed 2 corrupt"
expect_in "$TMP/err" "moved to $TMP/dc/index.json.damaged"
[ ! -e "${blobs[0]}" ] && [ ! -e "${blobs[1]}" ] || fail "corrupt blobs kept"
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/dc" -format tar -o dc.tar long.yml
echo '[]' >dc/index.json
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/dc" clean
expect_in "$TMP/err" "not an OCI image index; moved to"
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/dc" ls

# --- crafted layers pushed to the registry ---------------------------------
# A 256 KiB layer expanding to 256 MiB of zeros: file data spills to a
# scratch file, so memory stays flat (it held all of it: 1 GiB -> 1.04 GB).
zd=$($HI lkb-hostile/zeros:256m zeros $((256 << 20)))
svc "$R/lkb-hostile/zeros:256m" zeros.yml
kb=$(peak_kb "$LKB_BIN" build -q -cache "$C" -format tar -o - zeros.yml)
[ "$kb" -gt 0 ] || { cat "$TMP/err" >&2; fail "zeros build failed ($kb)"; }
[ "$kb" -lt 120000 ] || fail "a 256 MiB file took ${kb} KiB of memory"
echo "256 MiB file: peak RSS ${kb} KiB"
[ "$(stat -c %s "$TMP/out")" -gt $((256 << 20)) ] || fail "tar of the zeros image is short"
# Beyond the layer's expansion limit (1024x its size, at least 1 GiB, or
# LKB_LAYER_MAX_BYTES): a decompression bomb, refused with the digest.
expect_rc 5 env LKB_LAYER_MAX_BYTES=100000000 "$LKB_BIN" build -q -cache "$C" -format tar -o bomb.tar zeros.yml
expect_in "$TMP/err" "layer $zd of image $R/lkb-hostile/zeros:256m expands beyond its limit at big: refused as a decompression bomb"
[ ! -e bomb.tar ] || fail "partial output left behind"

# A header declaring 2^62 bytes: a bad layer (exit 5, its digest), not
# "out of memory" (exit 1).
d=$($HI lkb-hostile/header:1 header-size)
svc "$R/lkb-hostile/header:1" header.yml
expect_rc 5 "$LKB_BIN" build -q -cache "$C" -format tar -o header.tar header.yml
expect_in "$TMP/err" "layer $d"
[ ! -e header.tar ] || fail "partial output left behind"

# One file 6000 directories deep (item 3: cubic, did not finish in 180 s).
$HI lkb-hostile/deep:1 deep 6000 >/dev/null
svc "$R/lkb-hostile/deep:1" deep.yml
expect_rc 0 timeout 60 "$LKB_BIN" build -q -cache "$C" -format tar -o deep.tar deep.yml

# A 1 MB label of '[' (item 4: quadratic in libyaml, ~25 minutes).
$HI lkb-hostile/label:1 label $((1 << 20)) >/dev/null
svc "$R/lkb-hostile/label:1" label.yml
expect_rc 3 timeout 20 "$LKB_BIN" build -q -cache "$C" -format tar -o label.tar label.yml
expect_in "$TMP/err" "nested more than 64 levels deep"

# --- a full disk (item 1: the initrd writer crashed with gzip and lz4) -----
if mkdir -p full && mount -t tmpfs -o size=20m lkb-hostile "$TMP/full" 2>/dev/null; then
  $HI lkb-hostile/random:1 random 60 >/dev/null   # 30 MiB that does not compress
  cat >full.yml <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
init:
  - $R/lkb-test/init:1
services:
  - name: r
    image: $R/lkb-hostile/random:1
YML
  mkdir -p full/tmp full/out
  for comp in gzip lz4 zstd none; do  # the initrd is written in -dir's file system first
    expect_rc 5 "$LKB_BIN" build -q -cache "$C" -initrd-compression $comp -dir "$TMP/full/out" -name f full.yml
    expect_in "$TMP/err" "No space left on device"
    [ -z "$(ls -A full/out)" ] || fail "$comp: -dir keeps $(ls -A full/out)"
  done
  # -o FILE on the full disk: the same, nothing left next to FILE.
  expect_rc 5 "$LKB_BIN" build -q -cache "$C" -format tar-kernel-initrd -o "$TMP/full/f.tar" full.yml
  [ -z "$(ls -A full | grep -v '^tmp$' | grep -v '^out$')" ] || fail "-o on a full disk keeps $(ls -A full)"
  # A file spilled to a scratch file in a full TMPDIR: a layer error.
  expect_rc 5 env TMPDIR="$TMP/full/tmp" "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/z.tar" zeros.yml
  expect_in "$TMP/err" "No space left on device"
  umount "$TMP/full"
  # A full cache disk while a layer is unpacked: the service image's blobs
  # (1 MB) fit a 1600 KiB cache, its 2 MB unpacked layer does not. That
  # layer is streamed instead (not kept), the small one is kept, and the
  # tar is the one a roomy cache gives; a layer inflated through a mapping
  # of a file whose blocks were never allocated died of SIGBUS (exit 135).
  svc "$R/lkb-test/service:1" svc1.yml
  expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/roomy" -format tar -o "$TMP/svc-roomy.tar" svc1.yml
  mkdir -p fullc
  mount -t tmpfs -o size=1600k lkb-hostile-cache "$TMP/fullc"
  expect_rc 0 "$LKB_BIN" build -v -cache "$TMP/fullc" -format tar -o "$TMP/svc-full.tar" svc1.yml
  expect_in "$TMP/err" "1 inflated into the unpacked cache, 1 inflated (not kept)"
  cmp -s "$TMP/svc-roomy.tar" "$TMP/svc-full.tar" || fail "a full cache changed the tar"
  umount "$TMP/fullc"
else
  echo "SKIP: full-disk checks need 'mount -t tmpfs' (root); not run" >&2
fi

# --- signals: SIGINT/SIGTERM remove the temporaries; after SIGKILL the next
# build removes the dead run's ones ---------------------------------------
# The images come from $C read-only; the writable cache cannot keep unpacked
# layers (a file is in the way), so the 256 MiB of zeros stream through a
# scratch file as without the unpacked cache: slow enough to be caught in
# the middle (from unpacked ranges the tar is written in a blink).
mkdir -p sig/tmp sig/out sig/cache
: >sig/cache/unpacked
interrupt() { # interrupt SIGNAL: start the zeros build, signal it mid-way; prints its status
  TMPDIR="$TMP/sig/tmp" "$LKB_BIN" build -q -cache "$TMP/sig/cache" -cache-ro "$C" -format tar \
    -o "$TMP/sig/out/z.tar" zeros.yml &
  local pid=$! i
  for i in $(seq 100); do # until the output is being written
    compgen -G "$TMP/sig/out/.lkb-staging-*/*" >/dev/null && break
    sleep 0.1
  done
  kill -"$1" "$pid"
  set +e; wait "$pid"; echo $?; set -e
}
for sig in INT TERM; do
  st=$(interrupt $sig)
  [ "$st" -gt 128 ] || fail "SIG$sig: build exited $st, not by the signal"
  [ -z "$(ls -A sig/out)" ] || fail "SIG$sig left $(ls sig/out) in -dir"
  [ -z "$(ls -A sig/tmp)" ] || fail "SIG$sig left $(ls sig/tmp) in TMPDIR"
done
st=$(interrupt KILL)
# The dead build's staging and shared-input directories (both in -dir).
compgen -G "$TMP/sig/out/.lkb-staging-*" >/dev/null && compgen -G "$TMP/sig/out/.lkb-build.*" >/dev/null ||
  fail "SIGKILL left nothing to clean (test is void): $(ls -A sig/out)"
expect_rc 0 env TMPDIR="$TMP/sig/tmp" "$LKB_BIN" build -q -cache "$C" -format tar -o "$TMP/sig/out/z.tar" deep.yml
[ "$(ls -A sig/out)" = z.tar ] || fail "stale output temporaries kept: $(ls sig/out)"
[ -z "$(ls -A sig/tmp)" ] || fail "stale temporaries kept in TMPDIR: $(ls sig/tmp)"

echo "hostile: ok"
