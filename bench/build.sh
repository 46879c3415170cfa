#!/usr/bin/env bash
# Build benchmarks: a small image (the test system) and a ~100 MB one, cold
# cache (empty) and warm cache, printing wall time, peak RSS and initrd
# throughput. Uses the loopback registry of the test suite.
#   bash bench/build.sh            (needs a built build/lkb)
. "$(dirname "$0")/setup.sh"

sed "s|\${LKB_REGISTRY}|$R|g" examples/minimal.yml >"$work/small.yml"

run() { # run LABEL YML CACHE
  python3 - "$lkb" "$2" "$3" "$work/out-$1" "$1" <<'PY'
import os, resource, subprocess, sys, time
lkb, yml, cache, out, label = sys.argv[1:]
os.makedirs(out, exist_ok=True)
t0 = time.monotonic()
p = subprocess.Popen([lkb, "build", "-q", "-arch", "amd64", "-cache", cache, "-dir", out, "-name", "b", yml])
_, status, ru = os.wait4(p.pid, 0)
dt = time.monotonic() - t0
if status:
    sys.exit(f"{label}: lkb failed")
import gzip
path = os.path.join(out, "b-initrd.img")
size = os.path.getsize(path)
with gzip.open(path) as g:
    raw = sum(len(c) for c in iter(lambda: g.read(1 << 20), b""))
print(f"{label:12s} wall {dt:6.2f} s   peak RSS {ru.ru_maxrss/1024:7.1f} MB   "
      f"cpio {raw/1e6:7.1f} MB -> initrd {size/1e6:6.1f} MB   {raw/1e6/dt:6.1f} MB/s of root file system")
PY
}
echo "lkb build benchmarks ($(nproc) cores)"
for img in small big; do
  rm -rf "$work/cache-$img"
  run "$img-cold" "$work/$img.yml" "$work/cache-$img"
  run "$img-warm" "$work/$img.yml" "$work/cache-$img"
done
