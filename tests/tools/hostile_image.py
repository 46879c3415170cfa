#!/usr/bin/env python3
"""Push crafted single-layer amd64 images for the hostile-input tests
(tests/scripts/test_hostile.sh) with the registry HTTP API.

  hostile_image.py REGISTRY REPO:TAG KIND [ARG]

KIND:
  zeros N      one gzip layer holding /big: N zero bytes (a small layer
               that expands a lot; compressed while streaming)
  header-size  a tar header declaring 2^62 bytes followed by a few bytes
  deep N       one file N directories deep
  label N      a normal layer; the config's org.mobyproject.config label is
               N '[' characters
  random N     N files of 512 KiB of incompressible bytes (below the size
               lkb spills to scratch files: fills memory and the initrd)
Prints the layer digest. Standard library only (and ocitest.py).
"""
import io
import json
import os
import random
import sys
import tarfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402


def gzip_stream(chunks):
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = io.BytesIO()
    for c in chunks:
        out.write(z.compress(c))
    out.write(z.flush())
    return out.getvalue()


def header(name, size, type_=tarfile.REGTYPE):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode, ti.type = size, 0o644, type_
    return ti.tobuf(tarfile.PAX_FORMAT)


def zeros_layer(n):
    def chunks():
        yield header("big", n)
        step = 1 << 20
        zero = bytes(step)
        left = n
        while left:
            k = min(left, step)
            yield zero[:k]
            left -= k
        yield bytes((512 - n % 512) % 512) + bytes(1024)
    raw_len = 512 + n + (512 - n % 512) % 512 + 1024
    return gzip_stream(chunks()), raw_len


def small_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def main():
    host, name, kind = sys.argv[1], sys.argv[2], sys.argv[3]
    arg = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    labels = {}
    if kind == "zeros":
        layer, _ = zeros_layer(arg)
    elif kind == "header-size":
        # tarfile refuses to write such a size; patch the pax record in.
        raw = header("huge", 1 << 62) + b"x" * 512
        layer = gzip_stream([raw])
    elif kind == "deep":
        layer = gzip_stream([small_tar([("d/" * arg + "f", b"x")])])
    elif kind == "label":
        layer = gzip_stream([small_tar([("etc/x", b"x")])])
        labels["org.mobyproject.config"] = "[" * arg
    elif kind == "random":
        rnd = random.Random(1)
        layer = gzip_stream([small_tar([("r/%d" % i, rnd.randbytes(512 << 10))
                                        for i in range(arg)])])
    else:
        sys.exit("unknown kind " + kind)
    repo, tag = name.rsplit(":", 1)
    reg = ocitest.Registry(host)
    cfg = {"architecture": "amd64", "os": "linux",
           "config": {"Cmd": ["/bin/sh"], "Labels": labels},
           "rootfs": {"type": "layers", "diff_ids": []}}
    cfgb = json.dumps(cfg, sort_keys=True).encode()
    man = {"schemaVersion": 2, "mediaType": ocitest.OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "size": len(cfgb), "digest": ocitest.sha(cfgb)},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "size": len(layer), "digest": ocitest.sha(layer)}]}
    manb = json.dumps(man, sort_keys=True).encode()
    reg.blob(repo, cfgb)
    reg.blob(repo, layer)
    reg.manifest(repo, tag, manb, ocitest.OCI_MANIFEST)
    print(ocitest.sha(layer))


if __name__ == "__main__":
    main()
