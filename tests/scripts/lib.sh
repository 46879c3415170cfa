# Helpers for shell tests: source it. Every check prints what it expected.
set -euo pipefail
: "${LKB_BIN:?LKB_BIN must point at the lkb binary (run through ctest)}"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lkb-shtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_rc CODE CMD... : run CMD, capture stdout/stderr in $TMP/out $TMP/err
expect_rc() {
  local want=$1; shift
  set +e; "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?; set -e
  [ "$rc" -eq "$want" ] || { cat "$TMP/out" "$TMP/err" >&2; fail "'$*' exited $rc, want $want"; }
}
expect_in() { # expect_in FILE TEXT
  grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$1 lacks '$2'"; }
}
# The sanitizer pass runs every build and check but not the QEMU boots:
# a boot tests the image, which the first pass already booted, not lkb's
# memory safety. Scripts call this right before their boots.
# (No pipe into grep -q: under pipefail ldd's SIGPIPE would read as false.)
lkb_sanitized() { [[ $(ldd "$LKB_BIN" 2>/dev/null) == *libasan* ]]; }
# stdin: an initrd's decompressed bytes, concatenated newc archives (one per
# segment); stdout: one archive of all their entries, for cpio(1), which
# stops at the first TRAILER!!!.
cpio_join() {
  python3 -c '
import sys
d = sys.stdin.buffer.read(); out = []; i = 0
while i + 110 <= len(d):
    if d[i:i+6] != b"070701":
        i += 1; continue
    f = [int(d[i+6+8*k:i+14+8*k], 16) for k in range(13)]
    size, nlen = f[6], f[11]
    end = (((i + 110 + nlen + 3) & ~3) + size + 3) & ~3
    if d[i+110:i+110+nlen-1] != b"TRAILER!!!":
        out.append(d[i:end])
    i = end
out.append(b"070701" + b"0" * 8 * 4 + b"00000001" + b"0" * 8 * 6 + b"0000000B" + b"0" * 8 + b"TRAILER!!!\0\0\0\0")
sys.stdout.buffer.write(b"".join(out))
'
}
# lkb_boot NAME CONSOLE LOG RUN-ARGS...: boot through `lkb run` (TCG, the
# serial console to CONSOLE, QEMU's own messages to LOG, state in
# $TMP/state-NAME, stdin closed so nothing reaches a boot menu), for at
# most $LKB_BOOT_TIMEOUT seconds (600: TCG on a shared, loaded 2-core
# machine). Returns lkb run's (QEMU's) status.
lkb_boot() {
  local name=$1 console=$2 log=$3; shift 3
  timeout "${LKB_BOOT_TIMEOUT:-600}" "$LKB_BIN" run -accel tcg -console-file "$console" \
    -state "$TMP/state-$name" "$@" </dev/null >"$log" 2>&1
}
# lkb_test_registry: for tests against the loopback registry (scripts/test.sh
# starts it): the references in registry.env and images.env, and R, its
# host:port.
lkb_test_registry() {
  : "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
  . "$LKB_TEST_STATE/registry.env"
  . "$LKB_TEST_STATE/images.env"
  R=$LKB_TEST_REGISTRY
}
# lkb_test_sys_yml FILE [IMAGE...] [-]: the system most build tests start
# from: the test kernel with cmdline console=ttyS0; init, then each
# lkb-test/IMAGE (e.g. layers:1) in init; onboot `one`. With `-` the YAML
# on stdin follows: list items there continue onboot, then other sections.
lkb_test_sys_yml() {
  local file=$1 img more=false; shift
  {
    cat <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: "console=ttyS0"
init:
  - $R/lkb-test/init:1
YML
    for img in "$@"; do
      if [ "$img" = - ]; then more=true; else printf '  - %s/lkb-test/%s\n' "$R" "$img"; fi
    done
    cat <<YML
onboot:
  - name: one
    image: $R/lkb-test/onboot:1
YML
    if $more; then cat; fi
  } >"$file"
}
