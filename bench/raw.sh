#!/usr/bin/env bash
# raw plugin benchmark: wall time and peak RSS of raw-bios, raw-efi and qcow2-efi
# for the big test image (88 MB of kernel modules, as bench/build.sh),
# warm cache, and how sparse the outputs are (bytes allocated on disk vs
# apparent size). Uses the loopback registry of the test suite.
#   bash bench/raw.sh            (needs a built build/lkb)
. "$(dirname "$0")/setup.sh"
# Warm the cache once (the fetch is bench/build.sh's business).
"$lkb" build -q -arch amd64 -cache "$work/cache" -dir "$work" -name warm -format kernel+initrd "$work/big.yml"

echo "raw plugin benchmarks ($(nproc) cores, big image, warm cache, -size default 1024M)"
# kernel+initrd first: the same build without a disk, the baseline.
for fmt in kernel+initrd raw-bios raw-efi qcow2-efi; do
  python3 - "$lkb" "$work/big.yml" "$work/cache" "$work/out-$fmt" "$fmt" <<'PY'
import glob, os, subprocess, sys, time
lkb, yml, cache, out, fmt = sys.argv[1:]
os.makedirs(out, exist_ok=True)
t0 = time.monotonic()
p = subprocess.Popen([lkb, "build", "-q", "-arch", "amd64", "-cache", cache, "-dir", out,
                      "-name", "b", "-format", fmt, yml])
_, status, ru = os.wait4(p.pid, 0)
dt = time.monotonic() - t0
if status:
    sys.exit(f"{fmt}: lkb failed")
for path in sorted(glob.glob(os.path.join(out, "b*"))):
    st = os.stat(path)
    print(f"{fmt:13s} wall {dt:6.2f} s   peak RSS {ru.ru_maxrss/1024:6.1f} MB   "
          f"{os.path.basename(path)} {st.st_size/2**20:7.1f} MiB apparent, "
          f"{st.st_blocks*512/2**20:6.1f} MiB allocated")
PY
done
