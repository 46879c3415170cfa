#!/usr/bin/env python3
"""Seed corpora for fuzz_layer (small tars, plain and gzip, with every entry
kind lkb handles) and fuzz_label (image configs with labels).
  seeds.py LAYER_DIR LABEL_DIR"""
import gzip
import io
import json
import os
import sys
import tarfile


def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, arg in entries:
            ti = tarfile.TarInfo(name)
            data = None
            if kind == "f":
                data = arg.encode()
                ti.size = len(data)
            elif kind == "d":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            elif kind == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, arg
            elif kind == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, arg
            elif kind == "c":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 1, 3
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


LAYERS = {
    "basic": [("./", "d", ""), ("etc", "d", ""), ("etc/a", "f", "one"), ("etc/l", "l", "a"),
              ("etc/h", "h", "etc/a"), ("dev/null", "c", "")],
    "whiteouts": [("etc/.wh.a", "f", ""), ("opq/.wh..wh..opq", "f", ""), ("opq/n", "f", "n"),
                  (".wh.gone", "f", "")],
    "hostile": [("../escape", "f", "x"), ("/abs/x", "f", "y"), ("lnk", "l", "/etc"),
                ("lnk/passwd", "f", "z"), ("hl", "h", "missing")],
    "deep": [("d/" * 200 + "f", "f", "deep")],
}

CONFIGS = {
    "flow": {"binds": ["/var:/var"], "capabilities": ["CAP_NET_ADMIN"], "readonly": True},
    "runtime": {"net": "host", "pid": "host", "tmpfs": ["/tmp"],
                "runtime": {"mounts": [{"type": "bind", "source": "/a", "destination": "/b"}]}},
}


def main():
    layer_dir, label_dir = sys.argv[1], sys.argv[2]
    for name, entries in LAYERS.items():
        raw = tar(entries)
        open(os.path.join(layer_dir, name + ".tar"), "wb").write(raw)
        open(os.path.join(layer_dir, name + ".tar.gz"), "wb").write(gzip.compress(raw, mtime=0))
    for name, label in CONFIGS.items():
        cfg = {"architecture": "amd64", "os": "linux",
               "config": {"Labels": {"org.mobyproject.config": json.dumps(label)}}}
        open(os.path.join(label_dir, name + ".json"), "w").write(json.dumps(cfg))
        open(os.path.join(label_dir, name + ".yml"), "w").write(json.dumps(label))
    open(os.path.join(label_dir, "deep.yml"), "w").write("[" * 100)


if __name__ == "__main__":
    main()
