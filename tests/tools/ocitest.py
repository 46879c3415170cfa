#!/usr/bin/env python3
"""Small OCI test images for the core/oci tests, pushed with the registry
HTTP API (no skopeo needed), and `docker save` style tars.

  ocitest.py push REGISTRY REPO:TAG ARCH[,ARCH...] [--index] [--user U:P] [--cafile F] [--big N]
      Pushes one image per arch (an index when several arches or --index)
      and prints JSON: {"root": digest, "root_media_type": ...,
      "platforms": {arch: {"manifest", "config", "layers": [...]}}}
  ocitest.py dockersave OUT.tar NAME:TAG ARCH
      Writes a `docker save` tar (manifest.json, config, layer.tar).

Layer contents per arch (the tests assert on them):
  layer 1: etc/arch ("<arch>\\n"), etc/hostname ("base\\n"), etc/remove-me,
           opq/lower, data/big (N pseudo-random bytes), lnk -> etc/arch,
           dirlink -> etc
  layer 2: etc/hostname ("top-<arch>\\n"), etc/.wh.remove-me,
           opq/.wh..wh..opq, opq/upper, hl (hard link to etc/arch)
Standard library only.
"""
import base64
import gzip
import hashlib
import io
import json
import random
import ssl
import sys
import tarfile
import urllib.request

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            elif kind == "file":
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data
                t.addfile(ti)
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, data
                t.addfile(ti)
    return buf.getvalue()


def gz(data):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(data)
    return buf.getvalue()


def layers_for(arch, big):
    rnd = random.Random("lkb-" + arch)
    l1 = tar_bytes([
        ("etc", "dir", None),
        ("etc/arch", "file", (arch + "\n").encode()),
        ("etc/hostname", "file", b"base\n"),
        ("etc/remove-me", "file", b"gone\n"),
        ("opq", "dir", None),
        ("opq/lower", "file", b"lower\n"),
        ("data", "dir", None),
        ("data/big", "file", bytes(rnd.getrandbits(8) for _ in range(big))),
        ("lnk", "symlink", "etc/arch"),
        ("dirlink", "symlink", "etc"),
    ])
    l2 = tar_bytes([
        ("etc", "dir", None),
        ("etc/hostname", "file", ("top-%s\n" % arch).encode()),
        ("etc/.wh.remove-me", "file", b""),
        ("opq", "dir", None),
        ("opq/.wh..wh..opq", "file", b""),
        ("opq/upper", "file", b"upper\n"),
        ("hl", "hardlink", "etc/arch"),
    ])
    return [l1, l2]


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, host, user=None, cafile=None):
        self.ctx = None
        self.base = "http://" + host
        if cafile:
            self.ctx = ssl.create_default_context(cafile=cafile)
            self.base = "https://" + host
        self.auth = None
        if user:
            self.auth = "Basic " + base64.b64encode(user.encode()).decode()

    def req(self, method, url, data=None, headers=None):
        if not url.startswith("http"):
            url = self.base + url
        r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        if self.auth:
            r.add_header("Authorization", self.auth)
        return urllib.request.urlopen(r, context=self.ctx)

    def blob(self, repo, data):
        d = sha(data)
        try:
            self.req("HEAD", "/v2/%s/blobs/%s" % (repo, d))
            return d
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
        loc = self.req("POST", "/v2/%s/blobs/uploads/" % repo).headers["Location"]
        if loc.startswith("/"):
            loc = self.base + loc
        sep = "&" if "?" in loc else "?"
        self.req("PUT", loc + sep + "digest=" + d, data=data,
                 headers={"Content-Type": "application/octet-stream"})
        return d

    def manifest(self, repo, ref, data, mt):
        self.req("PUT", "/v2/%s/manifests/%s" % (repo, ref), data=data,
                 headers={"Content-Type": mt})
        return sha(data)


def image(arch, big, config_extra=None):
    """Return (blobs dict digest->bytes, manifest bytes, info)."""
    layers = [gz(layers_for(arch, big)[0]), gz(layers_for(arch, big)[1])]
    raw = layers_for(arch, big)
    cfg = {"architecture": arch, "os": "linux",
           "config": {"Cmd": ["/bin/sh"], "Env": ["ARCH=" + arch]},
           "rootfs": {"type": "layers", "diff_ids": [sha(x) for x in raw]}}
    if config_extra:
        cfg.update(config_extra)
    if arch == "arm64":
        cfg["variant"] = "v8"
    cfgb = json.dumps(cfg, sort_keys=True).encode()
    man = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "size": len(cfgb), "digest": sha(cfgb)},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       "size": len(l), "digest": sha(l)} for l in layers]}
    manb = json.dumps(man, sort_keys=True).encode()
    blobs = {sha(cfgb): cfgb}
    for l in layers:
        blobs[sha(l)] = l
    info = {"manifest": sha(manb), "manifest_size": len(manb), "config": sha(cfgb),
            "layers": [sha(l) for l in layers], "layer_sizes": [len(l) for l in layers]}
    return blobs, manb, info, cfgb, raw


def cmd_push(argv):
    host, name, arches = argv[0], argv[1], argv[2].split(",")
    opts = argv[3:]
    user = cafile = None
    force_index = "--index" in opts
    big = 200000
    if "--user" in opts:
        user = opts[opts.index("--user") + 1]
    if "--cafile" in opts:
        cafile = opts[opts.index("--cafile") + 1]
    if "--big" in opts:
        big = int(opts[opts.index("--big") + 1])
    repo, tag = name.rsplit(":", 1)
    reg = Registry(host, user, cafile)
    out = {"platforms": {}}
    descs = []
    for arch in arches:
        blobs, manb, info, _, _ = image(arch, big)
        for d, b in blobs.items():
            reg.blob(repo, b)
        reg.manifest(repo, info["manifest"], manb, OCI_MANIFEST)
        out["platforms"][arch] = info
        plat = {"architecture": arch, "os": "linux"}
        if arch == "arm64":
            plat["variant"] = "v8"
        descs.append({"mediaType": OCI_MANIFEST, "size": len(manb),
                      "digest": info["manifest"], "platform": plat})
        single = manb
    if len(arches) > 1 or force_index:
        idx = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs},
                         sort_keys=True).encode()
        out["root"] = reg.manifest(repo, tag, idx, OCI_INDEX)
        out["root_media_type"] = OCI_INDEX
    else:
        out["root"] = reg.manifest(repo, tag, single, OCI_MANIFEST)
        out["root_media_type"] = OCI_MANIFEST
    print(json.dumps(out))


def cmd_dockersave(argv):
    out, name, arch = argv[0], argv[1], argv[2]
    _, _, info, cfgb, raw = image(arch, 1000)
    cid = hashlib.sha256(cfgb).hexdigest()
    members = [("%s.json" % cid, cfgb)]
    lnames = []
    for i, l in enumerate(raw):
        n = "layer%d/layer.tar" % i
        members.append((n, l))
        lnames.append(n)
    man = [{"Config": "%s.json" % cid, "RepoTags": [name], "Layers": lnames}]
    members.append(("manifest.json", json.dumps(man).encode()))
    with tarfile.open(out, "w") as t:
        # manifest.json first on purpose: the importer must not depend on order
        for n, data in reversed(members):
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    print(json.dumps({"config": info["config"], "layers": [sha(x) for x in raw]}))


if __name__ == "__main__":
    {"push": cmd_push, "dockersave": cmd_dockersave}[sys.argv[1]](sys.argv[2:])
