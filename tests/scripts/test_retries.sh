#!/usr/bin/env bash
# Retries as docs/cache.md promises them (issue 18 item 3), through
# tests/tools/faultproxy.py in front of the loopback registry: 408/429/5xx,
# a stalled transfer (no byte for -fetch-timeout), over-long bodies, the
# back-off schedule (500 ms, 1 s, 2 s), the same on manifests, and 404 as a
# final answer (exactly one request).
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
R=$LKB_TEST_REGISTRY
cd "$TMP"
PROXY_PID=
cleanup() { # the proxy holds ctest's pipe: stop it before lib.sh removes $TMP
  set +e
  [ -z "$PROXY_PID" ] || kill "$PROXY_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
proxy() { # proxy FAULT-ARGS...: (re)start the proxy with a fresh log; sets P
  [ -z "$PROXY_PID" ] || { kill "$PROXY_PID"; wait "$PROXY_PID" 2>/dev/null || true; }
  rm -f proxy.port proxy.log
  python3 "$LKB_SOURCE_DIR/tests/tools/faultproxy.py" --upstream "$R" --port-file proxy.port \
    --log proxy.log "$@" &
  PROXY_PID=$!
  for _ in $(seq 50); do [ -s proxy.port ] && break; sleep 0.1; done
  P=127.0.0.1:$(cat proxy.port)
}
# A small image of our own (config + 2 layers), single-platform and indexed.
python3 "$LKB_SOURCE_DIR/tests/tools/ocitest.py" push "$R" lkb-retry/one:1 amd64 --big 100000 >one.json
python3 "$LKB_SOURCE_DIR/tests/tools/ocitest.py" push "$R" lkb-retry/idx:1 amd64,arm64 --big 50000 >idx.json
blobs() { python3 -c 'import json, sys; p = json.load(open(sys.argv[1]))["platforms"]["amd64"]; print(" ".join([p["config"]] + p["layers"]))' "$1"; }
ONE_BLOBS=$(blobs one.json)
IDX_MANIFEST=$(python3 -c 'import json; print(json.load(open("idx.json"))["platforms"]["amd64"]["manifest"])')
yml() { printf 'onboot:\n  - name: x\n    image: %s\n' "$1" >"$2"; } # yml REF FILE
build() { # build NAME REPO [FLAGS...]: a tar build of REPO:1 through the proxy into a fresh cache
  local name=$1 repo=$2; shift 2
  yml "$P/$repo:1" "$name.yml"
  "$LKB_BIN" build -q -cache "$TMP/cache-$name" "$@" -format tar -o "$name.tar" "$name.yml"
}
gets() { grep -c "^GET $1 " proxy.log || true; } # gets PATH: GET requests the proxy logged
# gaps PATH MIN... : the arrival times of PATH's GETs are apart by at least
# each MIN in turn (the back-off), and by at most MIN + 3 s (a loaded host).
gaps() {
  local path=$1; shift
  awk -v p="$path" '$1 == "GET" && $2 == p {print $5}' proxy.log >times
  python3 - times "$@" <<'PY' || { cat proxy.log >&2; fail "$path: back-off gaps"; }
import sys
t = [float(x) for x in open(sys.argv[1])]
want = [float(x) for x in sys.argv[2:]]
assert len(t) == len(want) + 1, (t, want)
for a, b, w in zip(t, t[1:], want):
    assert w - 0.05 <= b - a <= w + 3, f"gap {b - a:.3f} s, want {w} s"
PY
}

# --- 408, 429, 503 on every blob, then the bytes: 4 GETs, back-off 0.5/1/2 s
proxy --faults 408,429,503
build status lkb-retry/one || fail "408/429/503 were not retried"
for d in $ONE_BLOBS; do
  [ "$(gets "/v2/lkb-retry/one/blobs/$d")" = 4 ] || { cat proxy.log >&2; fail "blob $d: want 3 faulty + 1 good GET"; }
  gaps "/v2/lkb-retry/one/blobs/$d" 0.5 1 2
done

# --- a stalled blob (headers, then nothing): retried after -fetch-timeout --
proxy --faults stall --stall-seconds 60
start=$(date +%s)
build stall lkb-retry/one -fetch-timeout 2 || fail "a stalled transfer was not retried"
[ $(($(date +%s) - start)) -lt 30 ] || fail "the stall was not cut by -fetch-timeout 2"
for d in $ONE_BLOBS; do
  [ "$(gets "/v2/lkb-retry/one/blobs/$d")" = 2 ] || { cat proxy.log >&2; fail "blob $d: want a stalled and a good GET"; }
  gaps "/v2/lkb-retry/one/blobs/$d" 2.5 # 2 s without a byte, then the 0.5 s back-off
done

# --- over-long bodies: retried; a registry that always sends them fails ---
proxy --faults long,long
build long lkb-retry/one || fail "an over-long blob body was not retried"
for d in $ONE_BLOBS; do
  [ "$(gets "/v2/lkb-retry/one/blobs/$d")" = 3 ] || { cat proxy.log >&2; fail "blob $d: want 2 long + 1 good GET"; }
done
proxy --always long
expect_rc 4 build long-always lkb-retry/one
expect_in "$TMP/err" "failed after 4 attempts: body longer than the"
[ ! -e long-always.tar ] || fail "partial output left behind"
[ -z "$(ls -A cache-long-always/blobs/sha256 2>/dev/null)" ] || fail "an over-long blob entered the cache"

# --- manifests: statuses, dropped, truncated, short, over-long, stalled ---
# The tag's manifest and (through an index) the platform manifest by digest.
proxy --manifest-faults 503,429,408
build mstatus lkb-retry/one || fail "manifest 503/429/408 were not retried"
[ "$(gets /v2/lkb-retry/one/manifests/1)" = 4 ] || { cat proxy.log >&2; fail "manifest: want 3 faulty + 1 good GET"; }
gaps /v2/lkb-retry/one/manifests/1 0.5 1 2
proxy --manifest-faults truncate,short,long
build mbody lkb-retry/idx || fail "manifest body faults were not retried"
for m in /v2/lkb-retry/idx/manifests/1 "/v2/lkb-retry/idx/manifests/$IDX_MANIFEST"; do
  [ "$(gets "$m")" = 4 ] || { cat proxy.log >&2; fail "$m: want 3 faulty + 1 good GET"; }
done
# (libcurl itself resends once at once when a reused connection is dropped:
# at least one more GET, not an exact count)
proxy --manifest-faults drop,drop
build mdrop lkb-retry/one || fail "a dropped manifest connection was not retried"
[ "$(gets /v2/lkb-retry/one/manifests/1)" -ge 3 ] || { cat proxy.log >&2; fail "manifest: want 2 dropped + 1 good GET"; }
proxy --manifest-faults stall --stall-seconds 60
build mstall lkb-retry/one -fetch-timeout 2 || fail "a stalled manifest was not retried"
[ "$(gets /v2/lkb-retry/one/manifests/1)" = 2 ] || { cat proxy.log >&2; fail "manifest: want a stalled and a good GET"; }
proxy --manifest-always 500
expect_rc 4 build mfail lkb-retry/one
expect_in "$TMP/err" "HTTP 500 (after 4 attempts)"
[ "$(gets /v2/lkb-retry/one/manifests/1)" = 4 ] || { cat proxy.log >&2; fail "manifest: want 4 attempts"; }
proxy --manifest-always short
expect_rc 4 build mshort lkb-retry/one
expect_in "$TMP/err" "after 4 attempts: manifest content hashes to"
[ "$(gets /v2/lkb-retry/one/manifests/1)" = 4 ] || { cat proxy.log >&2; fail "short manifest: want 4 attempts"; }

# --- 404 is final: one request ----------------------------------------------
proxy --manifest-always 404
expect_rc 4 build m404 lkb-retry/one
expect_in "$TMP/err" "manifest unknown (HTTP 404)"
[ "$(gets /v2/lkb-retry/one/manifests/1)" = 1 ] || { cat proxy.log >&2; fail "a 404 manifest was asked for again"; }
proxy --always 404
expect_rc 4 build b404 lkb-retry/one
expect_in "$TMP/err" "registry answered HTTP 404"
sleep 1 # blobs requested in parallel: let the proxy log the last ones
for d in $ONE_BLOBS; do
  n=$(gets "/v2/lkb-retry/one/blobs/$d")
  [ "$n" -le 1 ] || { cat proxy.log >&2; fail "blob $d: a 404 was asked for again ($n GETs)"; }
done
echo "retries: ok"
