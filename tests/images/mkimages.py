#!/usr/bin/env python3
"""Build the lkb test images as OCI image layouts from Debian packages.

Usage: mkimages.py DEBS_DIR OUT_DIR

DEBS_DIR holds <arch>/*.deb (see fetch-debs.sh). For every image an OCI
layout OUT_DIR/<image>/ is written (oci-layout, index.json, blobs/) whose
index.json names one tag. Output is deterministic: entries sorted, fixed
mtimes (SOURCE_DATE_EPOCH, default 0), uid/gid 0, gzip header mtime 0, so
the same packages give the same digests and pushes are no-ops.

Only the Python standard library is used so a fresh Debian 12 can run it.
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
import tempfile

MTIME = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
ARCHES = {"amd64": {"architecture": "amd64", "os": "linux"},
          "arm64": {"architecture": "arm64", "os": "linux", "variant": "v8"}}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
MARKER = "LKB-INIT-MARKER"


class Layer:
    """An ordered list of tar members built in memory."""

    def __init__(self, compress=True):
        self.entries = []  # (TarInfo, bytes|None)
        self.compress = compress

    def _info(self, name, type_, mode):
        ti = tarfile.TarInfo(name)
        ti.type = type_
        ti.mode = mode
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    def dir(self, name, mode=0o755):
        self.entries.append((self._info(name, tarfile.DIRTYPE, mode), None))
        return self

    def file(self, name, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.entries.append((ti, data))
        return self

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.entries.append((ti, None))
        return self

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o644)
        ti.linkname = target
        self.entries.append((ti, None))
        return self

    def tree(self, root, prefix=""):
        """Add a host directory recursively, sorted, parents first."""
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel = os.path.relpath(dirpath, root)
            base = prefix if rel == "." else os.path.join(prefix, rel)
            if base:
                self.dir(base, os.stat(dirpath).st_mode & 0o7777)
            for f in sorted(filenames):
                p = os.path.join(dirpath, f)
                name = os.path.join(base, f)
                st = os.lstat(p)
                if os.path.islink(p):
                    self.symlink(name, os.readlink(p))
                else:
                    with open(p, "rb") as fh:
                        self.file(name, fh.read(), st.st_mode & 0o7777)
        return self

    def tar_bytes(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for ti, data in self.entries:
                tf.addfile(ti, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()

    def blob(self):
        raw = self.tar_bytes()
        diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        if not self.compress:
            return raw, LAYER_TAR, diff_id
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="", compresslevel=6) as gz:
            gz.write(raw)
        return out.getvalue(), LAYER_GZIP, diff_id


class Layout:
    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            shutil.rmtree(path)
        os.makedirs(os.path.join(path, "blobs", "sha256"))
        with open(os.path.join(path, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion": "1.0.0"}')

    def put(self, data):
        if isinstance(data, str):
            data = data.encode()
        hexd = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.path, "blobs", "sha256", hexd), "wb") as f:
            f.write(data)
        return "sha256:" + hexd, len(data)

    def image(self, arch, layers, config=None):
        """Write config + layers + manifest; return the manifest descriptor."""
        config = dict(config or {})
        descs, diff_ids = [], []
        for layer in layers:
            data, mt, diff_id = layer.blob()
            d, n = self.put(data)
            descs.append({"mediaType": mt, "digest": d, "size": n})
            diff_ids.append(diff_id)
        plat = ARCHES[arch]
        cfg = {"architecture": plat["architecture"], "os": "linux", "config": config,
               "rootfs": {"type": "layers", "diff_ids": diff_ids},
               "created": "1970-01-01T00:00:00Z"}
        if "variant" in plat:
            cfg["variant"] = plat["variant"]
        cd, cn = self.put(json.dumps(cfg, sort_keys=True, separators=(",", ":")))
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": cn},
                    "layers": descs}
        md, mn = self.put(json.dumps(manifest, separators=(",", ":")))
        return {"mediaType": OCI_MANIFEST, "digest": md, "size": mn, "platform": dict(plat)}

    def finish(self, tag, descs, index=True):
        """index.json naming `tag`: an image index over descs, or descs[0]."""
        if index:
            idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}
            d, n = self.put(json.dumps(idx, separators=(",", ":")))
            root = {"mediaType": OCI_INDEX, "digest": d, "size": n}
        else:
            root = {k: v for k, v in descs[0].items() if k != "platform"}
        root["annotations"] = {"org.opencontainers.image.ref.name": tag}
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [root]}, f)
        return root["digest"]


def extract(deb, dest):
    os.makedirs(dest, exist_ok=True)
    subprocess.run(["dpkg-deb", "-x", deb, dest], check=True)


def one(pattern_dir, prefix):
    names = [n for n in sorted(os.listdir(pattern_dir)) if n.startswith(prefix) and n.endswith(".deb")]
    if not names:
        sys.exit(f"mkimages: no {prefix}*.deb in {pattern_dir} (run fetch-debs.sh)")
    return os.path.join(pattern_dir, names[-1])


def busybox_layer(root):
    lay = Layer()
    lay.dir("bin").file("bin/busybox", open(os.path.join(root, "bin", "busybox"), "rb").read(), 0o755)
    lay.symlink("bin/sh", "busybox")
    return lay


INIT_SCRIPT = f"""#!/bin/busybox sh
# lkb test init: proves the initrd was unpacked and /init ran.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "{MARKER} arch=$(/bin/busybox uname -m)"
for d in onboot onshutdown services; do
  [ -d /containers/$d ] && echo "lkb-containers $d: $(/bin/busybox ls /containers/$d | /bin/busybox tr '\\n' ' ')"
done
[ -f /etc/lkb-test-file ] && echo "lkb-file: $(/bin/busybox cat /etc/lkb-test-file)"
echo "{MARKER} done"
/bin/busybox poweroff -f
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def kernel_image(out, debs, work):
    lay_dir = Layout(os.path.join(out, "kernel"))
    descs = []
    for arch in ("amd64", "arm64"):
        kdeb = one(os.path.join(debs, arch), "linux-image-")
        root = os.path.join(work, "kernel-" + arch)
        extract(kdeb, root)
        ver = sorted(os.listdir(os.path.join(root, "lib", "modules")))[0]
        kernel = open(os.path.join(root, "boot", "vmlinuz-" + ver), "rb").read()
        if arch == "arm64":
            # LinuxKit's arm64 kernels ship Image.gz; Debian ships Image.
            b = io.BytesIO()
            with gzip.GzipFile(fileobj=b, mode="wb", mtime=0, filename="") as gz:
                gz.write(kernel)
            kernel = b.getvalue()
        # kernel.tar like LinuxKit's: ./lib/modules/<ver>/..., plus
        # ./boot/dtb/... on arm64. A few modules keep it small.
        kt = Layer(compress=False)
        kt.dir(".").dir("./lib").dir("./lib/modules").dir(f"./lib/modules/{ver}")
        mroot = os.path.join(root, "lib", "modules", ver)
        for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
            kt.file(f"./lib/modules/{ver}/{f}", open(os.path.join(mroot, f), "rb").read())
        mods = ["kernel/drivers/block/loop.ko", "kernel/drivers/net/usb/smsc95xx.ko"]
        made = set()
        for m in mods:
            p = os.path.join(mroot, m)
            if not os.path.exists(p):
                continue
            parts = m.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = f"./lib/modules/{ver}/" + "/".join(parts[:i])
                if d not in made:
                    kt.dir(d)
                    made.add(d)
            kt.file(f"./lib/modules/{ver}/{m}", open(p, "rb").read())
        if arch == "arm64":
            kt.dir("./boot").dir("./boot/dtb").dir("./boot/dtb/broadcom")
            dtbdir = os.path.join(root, "usr", "lib", "linux-image-" + ver, "broadcom")
            for dtb in ("bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb"):
                kt.file("./boot/dtb/broadcom/" + dtb, open(os.path.join(dtbdir, dtb), "rb").read())
        lay = Layer()
        lay.file("System.map", open(os.path.join(root, "boot", "System.map-" + ver), "rb").read())
        lay.file("kernel", kernel)
        lay.file("kernel.tar", kt.tar_bytes())
        descs.append(lay_dir.image(arch, [lay], {"Labels": {"org.lkb.test.kernel.version": ver}}))
        shutil.rmtree(root)
    return lay_dir.finish("6.1", descs)


def busybox_root(debs, arch, work):
    root = os.path.join(work, "busybox-" + arch)
    if not os.path.exists(root):
        extract(one(os.path.join(debs, arch), "busybox-static_"), root)
    return root


def init_image(out, debs, work):
    lay_dir = Layout(os.path.join(out, "init"))
    descs = []
    for arch in ARCHES:
        bb = busybox_layer(busybox_root(debs, arch, work))
        top = Layer()
        top.file("init", INIT_SCRIPT, 0o755)
        top.dir("etc").file("etc/passwd", PASSWD).file("etc/group", GROUP)
        top.file("etc/lkb-init-release", "lkb test init 1\n")
        descs.append(lay_dir.image(arch, [bb, top], {"Cmd": ["/init"]}))
    return lay_dir.finish("1", descs)


def container_image(out, debs, work, name, label, cmd):
    lay_dir = Layout(os.path.join(out, name))
    descs = []
    for arch in ARCHES:
        bb = busybox_layer(busybox_root(debs, arch, work))
        top = Layer().dir("etc").file(f"etc/{name}-release", f"{name} 1\n")
        cfg = {"Cmd": cmd, "Env": ["PATH=/bin:/sbin", f"LKB_IMAGE={name}"], "WorkingDir": "/",
               "Labels": {"org.mobyproject.config": json.dumps(label, sort_keys=True)}}
        descs.append(lay_dir.image(arch, [bb, top], cfg))
    return lay_dir.finish("1", descs)


def layers_image(out):
    """Three layers exercising whiteouts, opaque dirs, hard links, type changes."""
    l1 = Layer()
    l1.dir("etc").file("etc/keep", "keep\n").file("etc/remove-me", "gone\n")
    l1.dir("opq", 0o755).file("opq/lower-a", "a\n").file("opq/lower-b", "b\n")
    l1.dir("wdir").file("wdir/x", "x\n").dir("wdir/sub").file("wdir/sub/y", "y\n")
    l1.file("becomes-dir", "file first\n")
    l1.dir("bin").file("bin/tool", "#!/bin/sh\n", 0o4755)
    l1.dir("private", 0o700).file("private/secret", "s\n", 0o600)
    l1.dir("data").file("data/orig", "shared data\n")
    l2 = Layer()
    l2.dir("etc").file("etc/.wh.remove-me", "")
    l2.file(".wh.wdir", "")
    l2.dir("opq").file("opq/.wh..wh..opq", "").file("opq/upper", "u\n")
    l2.file(".wh.becomes-dir", "").dir("becomes-dir").file("becomes-dir/inside", "now a dir\n")
    l2.dir("data").hardlink("data/link-in-layer2", "data/orig")
    l2.symlink("etc/alias", "keep")
    l3 = Layer(compress=False)
    l3.dir("etc").file("etc/new", "new\n")
    l3.hardlink("etc/new-link", "etc/new")
    l3.file("wdir", "wdir is a file now\n")
    lay_dir = Layout(os.path.join(out, "layers"))
    descs = [lay_dir.image(a, [l1, l2, l3], {"Cmd": ["/bin/tool"]}) for a in ARCHES]
    return lay_dir.finish("1", descs)


def amd64only_image(out, debs, work):
    lay_dir = Layout(os.path.join(out, "amd64only"))
    bb = busybox_layer(busybox_root(debs, "amd64", work))
    d = lay_dir.image("amd64", [bb], {"Cmd": ["/bin/busybox", "true"]})
    return lay_dir.finish("1", [d], index=False)


def rpi3_assets_image(out, debs, work):
    """Raspberry Pi boot assets laid out as Debian installs them."""
    root = os.path.join(work, "rpi3-assets")
    extract(one(os.path.join(debs, "arm64"), "raspi-firmware_"), root)
    extract(one(os.path.join(debs, "arm64"), "u-boot-rpi_"), root)
    lay = Layer()
    fw = "usr/lib/raspi-firmware"
    lay.dir("usr").dir("usr/lib").dir(fw)
    for f in ("bootcode.bin", "start.elf", "fixup.dat", "start_cd.elf", "fixup_cd.dat",
              "start_x.elf", "fixup_x.dat"):
        lay.file(f"{fw}/{f}", open(os.path.join(root, fw, f), "rb").read())
    ub = "usr/lib/u-boot/rpi_3"
    lay.dir("usr/lib/u-boot").dir(ub)
    lay.file(f"{ub}/u-boot.bin", open(os.path.join(root, ub, "u-boot.bin"), "rb").read())
    lay_dir = Layout(os.path.join(out, "rpi3-assets"))
    d = lay_dir.image("arm64", [lay], {})
    return lay_dir.finish("1", [d])


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    debs, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    digests = {}
    with tempfile.TemporaryDirectory(prefix="lkb-mkimages-") as work:
        digests["KERNEL"] = kernel_image(out, debs, work)
        digests["INIT"] = init_image(out, debs, work)
        digests["ONBOOT"] = container_image(
            out, debs, work, "onboot",
            {"binds": ["/var:/var"], "capabilities": ["CAP_NET_ADMIN"], "readonly": True},
            ["/bin/busybox", "echo", "onboot ran"])
        digests["SERVICE"] = container_image(
            out, debs, work, "service",
            {"capabilities": ["CAP_SYS_ADMIN", "CAP_NET_RAW"], "net": "host", "pid": "host",
             "tmpfs": ["/run:size=1m"]},
            ["/bin/busybox", "sleep", "3600"])
        digests["LAYERS"] = layers_image(out)
        digests["AMD64ONLY"] = amd64only_image(out, debs, work)
        digests["RPI3_ASSETS"] = rpi3_assets_image(out, debs, work)
    with open(os.path.join(out, "digests.env"), "w") as f:
        for k, v in digests.items():
            f.write(f"LKB_TEST_{k}_DIGEST={v}\n")


if __name__ == "__main__":
    main()
