#!/usr/bin/env python3
"""Build the benchmark's big image (OCI layout OUT_DIR/big<MB>, tag 1): MB
(default 88, issue 13's service) of real kernel modules from the cached
Debian amd64 kernel package, deterministic.
Usage: mkbig.py DEBS_DIR OUT_DIR [MB]"""
import glob, os, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "images"))
from mkoci import Layout, Tar

debs, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 88
deb = sorted(glob.glob(os.path.join(debs, "amd64", "linux-image-*.deb")))[-1]
with tempfile.TemporaryDirectory() as work:
    subprocess.run(["dpkg-deb", "-x", deb, work], check=True)
    layers, cur, total, done = [], Tar(), 0, False
    for dirpath, dirnames, files in os.walk(os.path.join(work, "lib", "modules")):
        dirnames.sort()
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                continue
            data = open(p, "rb").read()
            cur.file(os.path.relpath(p, work), data, 0o644)
            total += len(data)
            if len(cur.members) >= 400:
                layers.append((cur, "gzip"))
                cur = Tar()
            if total >= mb << 20:
                done = True
                break
        if done:
            break
    layers.append((cur, "gzip"))
    lay = Layout(os.path.join(out, f"big{mb}"))
    lay.finish("1", [lay.image("amd64", layers, {"Cmd": ["/bin/true"]})])
print(total)
