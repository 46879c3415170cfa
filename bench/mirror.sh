#!/usr/bin/env bash
# CI-fleet benchmarks (docs/cache.md "CI fleet"): the ~100 MB bench image
# built with an empty lkb cache each time: straight from the "upstream"
# registry, through a cold pull-through mirror (docker-registry in proxy
# mode, empty), through the same mirror warm, and from a pre-seeded
# read-only shared cache (-cache-ro). The upstream is the loopback test
# registry behind a relay limited to $UPSTREAM_MBIT (default 100) Mbit/s,
# standing for a registry across the internet; the mirror is on loopback,
# standing for one on the runners' LAN. The initrd is not compressed, so
# that fetching is a visible part of the wall time.
#   bash bench/mirror.sh            (needs a built build/lkb)
. "$(dirname "$0")/setup.sh"
mstate="$work/mirror-state"
RELAY_PID=""
trap 'bash tests/scripts/registry.sh stop "$mstate" >/dev/null 2>&1 || true
      [ -z "$RELAY_PID" ] || kill "$RELAY_PID" 2>/dev/null || true; rm -rf "$work"' EXIT
mbit=${UPSTREAM_MBIT:-100}
# A TCP relay to the registry sharing one rate limit over all connections
# (responses only). Standard library only.
python3 - "$R" "$work/relay.port" "$mbit" <<'PY' &
import socket, sys, threading, time
host, port = sys.argv[1].rsplit(":", 1)
rate = float(sys.argv[3]) * 1e6 / 8
lock = threading.Lock()
clock = [time.monotonic()]
def throttle(n):
    with lock:
        now = time.monotonic()
        start = max(now, clock[0])
        clock[0] = start + n / rate
        until = clock[0]
    time.sleep(max(0.0, until - time.monotonic()))
def pipe(src, dst, slow):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            if slow:
                throttle(len(b))
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
def serve(c):
    u = socket.create_connection((host, int(port)))
    threading.Thread(target=pipe, args=(c, u, False), daemon=True).start()
    pipe(u, c, True)
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(64)
open(sys.argv[2] + ".tmp", "w").write(str(l.getsockname()[1])); 
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
RELAY_PID=$!
for _ in $(seq 50); do [ -s "$work/relay.port" ] && break; sleep 0.1; done
U=127.0.0.1:$(cat "$work/relay.port")
sed "s|$R/|$U/|g" "$work/big.yml" >"$work/wan.yml"
bash tests/scripts/registry.sh start-proxy "$mstate" "http://$U"
M=$(sed -n 's/^LKB_TEST_REGISTRY_PROXY=//p' "$mstate/registry.env")

run() { # run LABEL CACHE ARGS...: wall time of one build
  local label=$1 cache=$2; shift 2
  rm -rf "$work/out"; mkdir -p "$work/out"
  local t0 t1
  t0=$(date +%s.%N)
  "$lkb" build -q -arch amd64 -initrd-compression none -cache "$cache" -dir "$work/out" -name b "$@" "$work/wan.yml"
  t1=$(date +%s.%N)
  printf '%-40s wall %6.2f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}
echo "lkb mirror and shared-cache benchmarks ($(nproc) cores, ~100 MB image, upstream at $mbit Mbit/s, empty lkb cache each run)"
rm -rf "$work/c1"; run "upstream, no mirror" "$work/c1"
rm -rf "$work/c2"; run "cold mirror (pull-through)" "$work/c2" -mirror "$U=http://$M"
rm -rf "$work/c3"; run "warm mirror" "$work/c3" -mirror "$U=http://$M"
chmod -R a-w "$work/c1"
rm -rf "$work/c4"; run "read-only shared cache (-cache-ro)" "$work/c4" -cache-ro "$work/c1"
chmod -R u+w "$work/c1"
run "the runner's own warm cache (for scale)" "$work/c1"
