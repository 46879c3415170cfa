#!/usr/bin/env bash
# Registry mirrors against real pull-through caches: Debian's docker-registry
# in proxy mode in front of an origin registry this test starts (not the
# shared one), over HTTP and over TLS with a test CA given by -cert-file.
# A build through the mirror gives the same image as one from the origin;
# -v names the endpoint of every manifest and blob; a dead or failing
# mirror falls back to the origin with a warning; a warm mirror serves a
# build with the origin stopped; a corrupted blob in the mirror's storage
# is caught by digest (fallback to the origin, or exit 4 when it is down).
. "$(dirname "$0")/lib.sh"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/images.env"
REG="$LKB_SOURCE_DIR/tests/scripts/registry.sh"
S=$TMP/state
FAULT_PID=""
cleanup() {
  [ -z "$FAULT_PID" ] || kill "$FAULT_PID" 2>/dev/null || true
  for d in origin mirror tlsmirror; do bash "$REG" stop "$S/$d" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- an origin of our own with the kernel and init images ------------------
bash "$REG" start "$S/origin"
O=$(sed -n 's/^LKB_TEST_REGISTRY=//p' "$S/origin/registry.env")
for i in kernel:6.1 init:1; do
  skopeo copy -q --all --preserve-digests --dest-tls-verify=false \
    "oci:$LKB_TEST_OCI_DIR/$i" "docker://$O/lkb-test/$i"
done
cat >"$TMP/sys.yml" <<YML
kernel:
  image: $O/lkb-test/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $O/lkb-test/init:1
YML
build() { # build RC CACHE-NAME [ARGS...]: a kernel+initrd build into $TMP/out-CACHE-NAME
  local rc=$1 name=$2; shift 2
  rm -rf "$TMP/out-$name"; mkdir -p "$TMP/out-$name"
  expect_rc "$rc" "$LKB_BIN" build -cache "$TMP/c-$name" -dir "$TMP/out-$name" -name sys "$@" "$TMP/sys.yml"
}
same_as_ref() { # same_as_ref NAME: outputs identical to the direct build's
  for f in sys-kernel sys-initrd.img sys-cmdline; do
    cmp -s "$TMP/out-ref/$f" "$TMP/out-$1/$f" || fail "$1: $f differs from the build without a mirror"
  done
}
served_by() { # served_by HOSTPORT: every blob and manifest line of -v names it
  grep -q " from .*://$1/v2/" "$TMP/err" || { cat "$TMP/err" >&2; fail "nothing served by $1"; }
  ! grep -E ' (blob|manifest) sha256:[0-9a-f]+ from ' "$TMP/err" | grep -v "://$1/v2/" >&2 ||
    fail "something was not served by $1"
}
build 0 ref -v
served_by "$O"

# --- plain HTTP pull-through cache -------------------------------------------
bash "$REG" start-proxy "$S/mirror" "http://$O"
P=$(sed -n 's/^LKB_TEST_REGISTRY_PROXY=//p' "$S/mirror/registry.env")
build 0 http -v -mirror "$O=http://$P"
served_by "$P"
grep -Eq "lkb-test/kernel:6.1: blob sha256:[0-9a-f]{64} from http://$P/v2/lkb-test/kernel/blobs/" "$TMP/err" ||
  fail "-v does not name the mirror for the kernel's blobs"
! grep -q warning "$TMP/err" || fail "warnings with a working mirror"
same_as_ref http
[ -n "$(find "$S/mirror/registry-proxy" -name data -size +1000k)" ] || fail "the mirror stored no blobs"

# A bare URL mirrors every registry; LINUXKIT_MIRROR works and flags win.
build 0 env -v -mirror "http://$P"
served_by "$P"
LINUXKIT_MIRROR="$O=http://$P" build 0 env2 -v
served_by "$P"
LINUXKIT_MIRROR="http://127.0.0.1:1,$O=http://127.0.0.1:1" build 0 env3 -v -mirror "$O=http://$P"
served_by "$P"
! grep -q warning "$TMP/err" || fail "LINUXKIT_MIRROR won over -mirror"
expect_rc 2 "$LKB_BIN" build -mirror "ftp://$P" "$TMP/sys.yml"
expect_in "$TMP/err" "must start with http:// or https://"
expect_rc 2 env LINUXKIT_MIRROR="$O=$P" "$LKB_BIN" build "$TMP/sys.yml"
expect_in "$TMP/err" "LINUXKIT_MIRROR"

# --- TLS pull-through cache with a test CA ------------------------------------
bash "$REG" start-proxy "$S/tlsmirror" "http://$O" --tls
TP=$(sed -n 's/^LKB_TEST_REGISTRY_PROXY=//p' "$S/tlsmirror/registry.env")
CA=$(sed -n 's/^LKB_TEST_REGISTRY_PROXY_CA=//p' "$S/tlsmirror/registry.env")
build 0 tls -v -mirror "$O=https://$TP" -cert-file "$CA"
served_by "$TP"
same_as_ref tls
# Without the CA the mirror's certificate is refused: one warning, origin.
build 0 noca -v -mirror "$O=https://$TP"
[ "$(grep -c "warning: mirror https://$TP" "$TMP/err")" = 1 ] || { cat "$TMP/err"; fail "want one warning for the untrusted mirror"; }
expect_in "$TMP/err" "certificate"
served_by "$O"
expect_rc 2 "$LKB_BIN" build -cert-file "$TMP/sys.yml" "$TMP/sys.yml"
expect_in "$TMP/err" "no PEM certificate"
expect_rc 2 "$LKB_BIN" build -cert-file "$TMP/nosuch.pem" "$TMP/sys.yml"
expect_in "$TMP/err" "nosuch.pem"

# --- a mirror that is down or failing: fall back to the origin ---------------
dead=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s)
build 0 dead -v -mirror "$O=http://127.0.0.1:$dead"
[ "$(grep -c "warning: mirror http://127.0.0.1:$dead" "$TMP/err")" = 1 ] || { cat "$TMP/err"; fail "want exactly one warning for the dead mirror"; }
served_by "$O"
same_as_ref dead
[ $(( $(date +%s) - start )) -lt 30 ] || fail "falling back from a refused connection took too long"
# Every blob GET answers 500: after the retries each blob comes from the origin.
rm -f "$TMP/fault.port"
python3 "$LKB_SOURCE_DIR/tests/tools/faultproxy.py" --upstream "$O" --port-file "$TMP/fault.port" --always 500 &
FAULT_PID=$!
for _ in $(seq 50); do [ -s "$TMP/fault.port" ] && break; sleep 0.1; done
F=127.0.0.1:$(cat "$TMP/fault.port")
build 0 5xx -v -mirror "$O=http://$F"
expect_in "$TMP/err" "warning: mirror http://$F: blob sha256:"
expect_in "$TMP/err" "HTTP 500"
grep -q "blob sha256:[0-9a-f]* from http://$O/v2/" "$TMP/err" || fail "no blob from the origin after 500s"
same_as_ref 5xx
kill "$FAULT_PID"; wait "$FAULT_PID" 2>/dev/null || true; FAULT_PID=""

# --- a corrupted blob in the mirror's storage ---------------------------------
# The kernel's layer (the largest blob): flip bytes, keep the size.
big=$(ls -S "$TMP/c-http/blobs/sha256" | head -1)
data="$S/mirror/registry-proxy/docker/registry/v2/blobs/sha256/${big:0:2}/$big/data"
[ -f "$data" ] || fail "the mirror has no $data"
python3 - "$data" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096); b = f.read(64); f.seek(4096); f.write(bytes(x ^ 0xFF for x in b))
PY
build 0 corrupt -v -mirror "$O=http://$P"
expect_in "$TMP/err" "warning: mirror http://$P: blob sha256:$big"
expect_in "$TMP/err" "digest mismatch"
grep -q "blob sha256:$big from http://$O/v2/" "$TMP/err" || fail "the corrupted blob was not fetched from the origin"
same_as_ref corrupt

# --- the origin stopped: warm mirrors still serve a fresh cache ---------------
bash "$REG" stop "$S/origin"
build 0 offline-tls -v -mirror "$O=https://$TP" -cert-file "$CA"
served_by "$TP"
same_as_ref offline-tls
# ... but the corrupted blob cannot be replaced: exit 4, nothing left behind.
build 4 offline-corrupt -mirror "$O=http://$P"
expect_in "$TMP/err" "sha256:$big"
expect_in "$TMP/err" "digest mismatch"
[ ! -e "$TMP/c-offline-corrupt/blobs/sha256/$big" ] || fail "a corrupt blob entered the cache"
[ -z "$(ls "$TMP/c-offline-corrupt/ingest")" ] || fail "temporary files left in ingest/"
[ -z "$(ls "$TMP/out-offline-corrupt")" ] || fail "outputs left behind by a failed build"
echo "mirror: ok"
