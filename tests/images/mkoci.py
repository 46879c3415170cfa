#!/usr/bin/env python3
"""Deterministic OCI image layouts from a small description.

Usage: mkoci.py DESCRIPTION.json OUT_DIR   (prints the root digest)
   or: import mkoci; mkoci.build(description, out_dir)

A description (JSON, or the same structure as Python objects):

  {"tag": "1",                       # ref.name annotation in index.json
   "index": true,                    # false: a plain manifest (one platform)
   "images": [                       # one per platform
     {"arch": "arm64",               # amd64 | arm64 (arm64 gets variant v8)
      "config": {"Env": ["A=b"], "Cmd": ["/bin/sh"], "Entrypoint": [...],
                 "WorkingDir": "/", "Labels": {"k": "v"}},   # copied as is
      "layers": [
        {"compression": "gzip",      # gzip (default) | none | zstd
         "tree": "/host/dir",        # optional: a host tree, sorted, hard
         "prefix": "",               #   links kept, symlinks as links
         "entries": [                # optional, written in the given order
           {"path": "etc", "type": "dir", "mode": "0755"},
           {"path": "etc/a", "type": "file", "data": "text\\n", "mode": "0644"},
           {"path": "etc/b", "type": "file", "src": "/host/file"},
           {"path": "etc/c", "type": "symlink", "target": "a"},
           {"path": "etc/d", "type": "hardlink", "target": "etc/a"},
           {"path": "etc/gone", "type": "whiteout"},   # -> etc/.wh.gone
           {"path": "opq", "type": "opaque"}]}]}]}   # -> opq/.wh..wh..opq

Entries may also carry "uid"/"gid" (default 0). Output is reproducible:
mtimes are SOURCE_DATE_EPOCH (default 0), owners 0 unless given, no
user/group names, gzip headers without name or time, JSON with sorted
keys. The same description on the same zlib/zstd gives the same digests.

zstd layers use the python `zstandard` module when installed, else the
`zstd` program (Debian package zstd); without either they are an error.
Only the standard library is needed otherwise, so a fresh Debian 12 runs it.
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

MTIME = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
PLATFORMS = {"amd64": {"architecture": "amd64", "os": "linux"},
             "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {"none": "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


def _json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _mode(m, default):
    if m is None:
        return default
    return int(m, 8) if isinstance(m, str) else int(m)


class Tar:
    """An ordered list of tar members, built in memory."""

    def __init__(self):
        self.members = []  # (TarInfo, bytes | None)

    def _info(self, path, type_, mode, uid=0, gid=0):
        ti = tarfile.TarInfo(path)
        ti.type, ti.mode, ti.mtime = type_, mode, MTIME
        ti.uid, ti.gid, ti.uname, ti.gname = uid, gid, "", ""
        self.members.append((ti, None))
        return ti

    def dir(self, path, mode=0o755, **own):
        self._info(path, tarfile.DIRTYPE, mode, **own)
        return self

    def file(self, path, data, mode=0o644, **own):
        if isinstance(data, str):
            data = data.encode()
        ti = self._info(path, tarfile.REGTYPE, mode, **own)
        ti.size = len(data)
        self.members[-1] = (ti, data)
        return self

    def symlink(self, path, target, **own):
        self._info(path, tarfile.SYMTYPE, 0o777, **own).linkname = target
        return self

    def hardlink(self, path, target, mode=0o644, **own):
        self._info(path, tarfile.LNKTYPE, mode, **own).linkname = target
        return self

    def whiteout(self, path):
        d, base = os.path.split(path)
        return self.file(os.path.join(d, ".wh." + base), b"")

    def opaque(self, dirpath):
        return self.file(os.path.join(dirpath, ".wh..wh..opq"), b"")

    def tree(self, root, prefix=""):
        """Add a host tree: sorted, parents first, a second name of an inode
        becomes a hard link to the first. Owners are not copied (always 0)."""
        seen = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            base = prefix if rel == "." else os.path.join(prefix, rel)
            if base:
                self.dir(base, os.lstat(dirpath).st_mode & 0o7777)
            names = sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))])
            for f in names:
                p, name = os.path.join(dirpath, f), os.path.join(base, f)
                st = os.lstat(p)
                if os.path.islink(p):
                    self.symlink(name, os.readlink(p))
                elif (st.st_dev, st.st_ino) in seen:
                    self.hardlink(name, seen[(st.st_dev, st.st_ino)], st.st_mode & 0o7777)
                elif os.path.isfile(p):
                    if st.st_nlink > 1:
                        seen[(st.st_dev, st.st_ino)] = name
                    with open(p, "rb") as fh:
                        self.file(name, fh.read(), st.st_mode & 0o7777)
                else:
                    raise ValueError(f"mkoci: {p}: only files, dirs and symlinks are supported")
        return self

    def entries(self, entries):
        for e in entries:
            t, path = e.get("type", "file"), e["path"]
            own = {"uid": int(e.get("uid", 0)), "gid": int(e.get("gid", 0))}
            if t == "dir":
                self.dir(path, _mode(e.get("mode"), 0o755), **own)
            elif t == "file":
                if "src" in e:
                    with open(e["src"], "rb") as fh:
                        data = fh.read()
                else:
                    data = e.get("data", "")
                self.file(path, data, _mode(e.get("mode"), 0o644), **own)
            elif t == "symlink":
                self.symlink(path, e["target"], **own)
            elif t == "hardlink":
                self.hardlink(path, e["target"], _mode(e.get("mode"), 0o644), **own)
            elif t == "whiteout":
                self.whiteout(path)
            elif t == "opaque":
                self.opaque(path)
            else:
                raise ValueError(f"mkoci: {path}: unknown entry type {t!r}")
        return self

    def bytes(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for ti, data in self.members:
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()


def gzip_bytes(raw):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="", compresslevel=9) as gz:
        gz.write(raw)
    return out.getvalue()


def zstd_bytes(raw):
    try:
        import zstandard  # optional: not in the standard library
        return zstandard.ZstdCompressor(level=19).compress(raw)
    except ImportError:
        pass
    if not shutil.which("zstd"):
        raise RuntimeError("mkoci: zstd layer needs python3-zstandard or the zstd program")
    return subprocess.run(["zstd", "-q", "-19", "-c"], input=raw, stdout=subprocess.PIPE,
                          check=True).stdout


def layer_blob(tar, compression="gzip"):
    """(blob, media type, diff_id) of a Tar."""
    raw = tar.bytes()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    if compression == "gzip":
        data = gzip_bytes(raw)
    elif compression == "zstd":
        data = zstd_bytes(raw)
    elif compression == "none":
        data = raw
    else:
        raise ValueError(f"mkoci: unknown compression {compression!r}")
    return data, MT_LAYER[compression], diff_id


class Layout:
    """An OCI image layout directory being written."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            shutil.rmtree(path)
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        with open(os.path.join(path, "oci-layout"), "wb") as f:
            f.write(_json({"imageLayoutVersion": "1.0.0"}))

    def put(self, data):
        hexd = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.path, "blobs", "sha256", hexd), "wb") as f:
            f.write(data)
        return {"digest": "sha256:" + hexd, "size": len(data)}

    def image(self, arch, layers, config=None):
        """layers: list of (Tar, compression). Returns the manifest descriptor
        (with platform)."""
        plat = PLATFORMS[arch]
        descs, diff_ids = [], []
        for tar, comp in layers:
            data, mt, diff_id = layer_blob(tar, comp)
            descs.append(dict(self.put(data), mediaType=mt))
            diff_ids.append(diff_id)
        cfg = dict(plat, config=dict(config or {}),
                   rootfs={"type": "layers", "diff_ids": diff_ids},
                   created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(MTIME)))
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": dict(self.put(_json(cfg)), mediaType=MT_CONFIG),
                    "layers": descs}
        return dict(self.put(_json(manifest)), mediaType=MT_MANIFEST, platform=dict(plat))

    def finish(self, tag, manifests, index=True):
        """Write index.json naming `tag`: an image index over manifests, or
        manifests[0] itself. Returns the root digest."""
        if index:
            root = dict(self.put(_json({"schemaVersion": 2, "mediaType": MT_INDEX,
                                        "manifests": manifests})), mediaType=MT_INDEX)
        else:
            if len(manifests) != 1:
                raise ValueError("mkoci: a plain manifest needs exactly one platform")
            root = {k: v for k, v in manifests[0].items() if k != "platform"}
        root["annotations"] = {"org.opencontainers.image.ref.name": tag}
        with open(os.path.join(self.path, "index.json"), "wb") as f:
            f.write(_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": [root]}))
        return root["digest"]


def build(desc, out):
    """Write the layout described by `desc` to `out`; return its root digest."""
    lay = Layout(out)
    manifests = []
    for img in desc["images"]:
        layers = []
        for ld in img["layers"]:
            t = Tar()
            if "tree" in ld:
                t.tree(ld["tree"], ld.get("prefix", ""))
            t.entries(ld.get("entries", []))
            layers.append((t, ld.get("compression", "gzip")))
        manifests.append(lay.image(img["arch"], layers, img.get("config")))
    return lay.finish(desc.get("tag", "latest"), manifests, desc.get("index", True))


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    with open(argv[1]) as f:
        desc = json.load(f)
    try:
        print(build(desc, argv[2]))
    except (KeyError, ValueError, RuntimeError, OSError) as e:
        sys.exit(f"mkoci: {argv[1]}: {e!r}" if isinstance(e, KeyError) else str(e))


if __name__ == "__main__":
    main(sys.argv)
