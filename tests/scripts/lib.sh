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
