#!/usr/bin/env python3
"""Build the benchmark's ~100 MB image (OCI layout): real kernel modules
from the cached Debian amd64 kernel package, deterministic.
Usage: mkbig.py DEBS_DIR OUT_DIR [MB]"""
import os, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "images"))
import mkimages as m

debs, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 100
with tempfile.TemporaryDirectory() as work:
    m.extract(m.one(os.path.join(debs, "amd64"), "linux-image-"), work)
    mods = os.path.join(work, "lib", "modules")
    layers, cur, total = [], m.Layer(), 0
    for dirpath, dirnames, files in os.walk(mods):
        dirnames.sort()
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            if os.path.islink(p):
                continue
            data = open(p, "rb").read()
            cur.file(os.path.relpath(p, work), data, 0o644)
            total += len(data)
            if len(cur.entries) >= 400:
                layers.append(cur); cur = m.Layer()
            if total >= mb << 20:
                break
        if total >= mb << 20:
            break
    layers.append(cur)
    lay = m.Layout(os.path.join(out, "big"))
    d = lay.image("amd64", layers, {"Cmd": ["/bin/true"]})
    lay.finish("1", [d])
print(total)
