#!/usr/bin/env python3
"""The lkb test images, built with mkoci.py from Debian packages.

Usage: mkimages.py DEBS_DIR OUT_DIR [IMAGE...]

DEBS_DIR holds <arch>/selected-<set> and the .deb files they name
(fetch-debs.sh).
Each image becomes an OCI layout OUT_DIR/<image>/ whose index.json names one
tag; OUT_DIR/digests.env gets LKB_TEST_<IMAGE>_DIGEST=<root digest>. With
IMAGE arguments only those are built ("layers" needs no packages at all).
Images made from Debian packages carry buildkit-style SBOM attestations
(SPDX 2.3 in in-toto statements); layers, amd64only and rpi3-assets do not.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mkoci import MT_CONFIG, MT_MANIFEST, MTIME, Layout, Tar, _json, gzip_bytes  # noqa: E402

ARCHES = ("amd64", "arm64")
EXTRA_ENV = {}  # more digests.env lines, e.g. the kernel versions
MARKER = "LKB-INIT-MARKER"


class Debs:
    """The selected packages of each arch, extracted on demand."""

    def __init__(self, debs, work):
        self.debs, self.work, self.roots = debs, work, {}

    def deb(self, arch, pkg):
        d = os.path.join(self.debs, arch)
        files = {}
        for sel in sorted(os.listdir(d) if os.path.isdir(d) else []):
            if sel.startswith("selected-") and not sel.endswith((".lists", ".new")):
                files.update(line.split() for line in open(os.path.join(d, sel)) if line.strip())
        if pkg not in files:
            sys.exit(f"mkimages: no {pkg} selected in {d} (run fetch-debs.sh)")
        return os.path.join(d, files[pkg])

    def root(self, arch, pkg):
        key = (arch, pkg)
        if key not in self.roots:
            dest = os.path.join(self.work, f"{pkg}-{arch}")
            os.makedirs(dest)
            subprocess.run(["dpkg-deb", "-x", self.deb(arch, pkg), dest], check=True)
            self.roots[key] = dest
        return self.roots[key]

    def control(self, arch, pkg):
        """(Package, Version, Architecture) of a selected package."""
        out = subprocess.run(["dpkg-deb", "-f", self.deb(arch, pkg), "Package", "Version",
                              "Architecture"], stdout=subprocess.PIPE, text=True, check=True).stdout
        f = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
        return f["Package"], f["Version"], f["Architecture"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def busybox_files(debs, arch):
    """The SBOM entry of busybox_layer: the package and its one file."""
    return "busybox-static", [("/bin/busybox", read(os.path.join(debs.root(arch, "busybox-static"), "bin", "busybox")))]


def busybox_layer(debs, arch):
    root = debs.root(arch, "busybox-static")
    return Tar().dir("bin").file("bin/busybox", read(os.path.join(root, "bin", "busybox")), 0o755) \
        .symlink("bin/sh", "busybox")


def parents(tar, made, path):
    """Add the directories above path that tar does not have yet."""
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        d = "/".join(parts[:i])
        if d not in made:
            tar.dir(d)
            made.add(d)


def pick(tar, made, root, rels):
    """Add files and symlinks of an extracted package at their own paths;
    returns the regular files as (absolute path, bytes), for the SBOM."""
    files = []
    for rel in rels:
        parents(tar, made, rel)
        p = os.path.join(root, rel)
        if os.path.islink(p):
            tar.symlink(rel, os.readlink(p))
        else:
            tar.file(rel, read(p), os.lstat(p).st_mode & 0o7777)
            files.append(("/" + rel, read(p)))
    return files


def busybox_full_layer(debs, arch, made):
    """busybox with a symlink per applet (/bin/sh scripts call them by name).
    The applet list is the same on every arch: ask the host's busybox."""
    host = subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()
    applets = subprocess.run([os.path.join(debs.root(host, "busybox-static"), "bin", "busybox"),
                              "--list-full"], stdout=subprocess.PIPE, text=True, check=True).stdout
    t = busybox_layer(debs, arch)
    made.add("bin")
    for a in sorted(set(applets.split()) - {"bin/sh", "bin/busybox", "linuxrc"}):
        parents(t, made, a)
        t.symlink(a, "/bin/busybox")
    return t


def init_source(name):
    """A script of the runc/containerd test init (tests/images/init/)."""
    return read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "init", name))


# ---------------------------------------------------------- attestations --
# buildkit's attestation storage: next to each platform manifest the index
# lists an attestation manifest (platform unknown/unknown, annotated with the
# manifest it describes) whose layers are in-toto statements: an SPDX 2.3
# document of the Debian packages the image was made from, with the files
# taken from each, and a provenance statement lkb must skip. Dates come from
# SOURCE_DATE_EPOCH (mkoci's MTIME), never the clock, so digests are stable.

MT_INTOTO = "application/vnd.in-toto+json"
SPDX_PREDICATE = "https://spdx.dev/Document"
PROVENANCE_PREDICATE = "https://slsa.dev/provenance/v0.2"


def spdx_id(kind, text):
    return f"SPDXRef-{kind}-" + re.sub(r"[^A-Za-z0-9.-]", "-", text)


def purl(name, version, arch):
    """pkg:deb/debian/NAME@VERSION?arch=ARCH (a Debian epoch is a qualifier)."""
    epoch, _, ver = version.rpartition(":")
    return f"pkg:deb/debian/{name}@{ver}?arch={arch}" + (f"&epoch={epoch}" if epoch else "")


def spdx_document(image, arch, packages):
    """packages: [(name, version, deb arch, [(path in the image, bytes)])]."""
    doc_packages, files, rels = [], [], []
    for name, version, darch, pfiles in packages:
        pid = spdx_id("Package-deb", name)
        doc_packages.append({
            "SPDXID": pid, "name": name, "versionInfo": version, "supplier": "Organization: Debian",
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": purl(name, version, darch)}]})
        rels.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                     "relatedSpdxElement": pid})
        for path, data in pfiles:
            fid = spdx_id("File", path.strip("/"))
            files.append({"SPDXID": fid, "fileName": path,
                          "checksums": [{"algorithm": "SHA1", "checksumValue": hashlib.sha1(data).hexdigest()},
                                        {"algorithm": "SHA256", "checksumValue": hashlib.sha256(data).hexdigest()}],
                          "licenseConcluded": "NOASSERTION", "copyrightText": "NOASSERTION"})
            rels.append({"spdxElementId": pid, "relationshipType": "CONTAINS", "relatedSpdxElement": fid})
    return {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
            "name": f"lkb-test/{image}", "documentNamespace": f"https://lkb.invalid/test-images/{image}/{arch}",
            "creationInfo": {"licenseListVersion": "3.20", "creators": ["Tool: lkb-mkimages"],
                             "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(MTIME))},
            "packages": doc_packages, "files": files, "relationships": rels}


def attestation(lay, debs, image, arch, manifest, pkgs):
    """The attestation manifest descriptor for manifest (from lay.image);
    pkgs: [(selected package, [(path, bytes)])]."""
    doc = spdx_document(image, arch, [debs.control(arch, p) + (files,) for p, files in pkgs])
    plat = "linux%2Farm64%2Fv8" if arch == "arm64" else f"linux%2F{arch}"
    subject = [{"name": f"pkg:docker/lkb-test/{image}?platform={plat}",
                "digest": {"sha256": manifest["digest"][len("sha256:"):]}}]
    provenance = {"buildType": "https://lkb.invalid/mkimages", "builder": {"id": "tests/images/mkimages.py"}}
    layers = []
    for ptype, pred in ((SPDX_PREDICATE, doc), (PROVENANCE_PREDICATE, provenance)):
        stmt = _json({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": ptype,
                      "subject": subject, "predicate": pred})
        layers.append(dict(lay.put(stmt), mediaType=MT_INTOTO, annotations={"in-toto.io/predicate-type": ptype}))
    cfg = {"architecture": "unknown", "os": "unknown", "config": {},
           "rootfs": {"type": "layers", "diff_ids": [d["digest"] for d in layers]}}
    man = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
           "config": dict(lay.put(_json(cfg)), mediaType=MT_CONFIG), "layers": layers}
    return dict(lay.put(_json(man)), mediaType=MT_MANIFEST, platform={"architecture": "unknown", "os": "unknown"},
                annotations={"vnd.docker.reference.digest": manifest["digest"],
                             "vnd.docker.reference.type": "attestation-manifest"})


# ---------------------------------------------------------------- kernel --

# A handful of modules with their real dependencies, so busybox modprobe
# would work: loop, the Raspberry Pi 3 USB host controller (dwc2) and
# Ethernet drivers (smsc95xx on the 3B, lan78xx on the 3B+).
# The runc test init also needs what LinuxKit's kernels build in and
# Debian's has as modules: overlay (read-write bundles), ext4 (the data
# partition) and virtio disks.
RUNC_MODULES = ("overlay", "crc32c_generic", "ext4", "virtio_pci", "virtio_blk")
MODULES = {"amd64": ("loop", "smsc95xx") + RUNC_MODULES,
           "arm64": ("loop", "dwc2", "smsc95xx", "lan78xx") + RUNC_MODULES}


def rpi3_dtbs(dtbdir):
    """Every BCM2837 board's device tree the kernel ships (3B, 3B+, 3A+, CM3,
    Zero 2 W; bcm2710- names are the downstream kernel's)."""
    return sorted(f for f in os.listdir(dtbdir)
                  if f.startswith(("bcm2837-", "bcm2710-")) and f.endswith(".dtb"))


def modinfo(path, field):
    """Every value of a .modinfo field of a module."""
    return [m.decode() for m in re.findall(rb"(?:^|\0)" + field.encode() + rb"=([^\0]*)", read(path))]


def modinfo_depends(path):
    return [d for v in modinfo(path, "depends") for d in v.split(",") if d]


def modules_alias(mroot, mods):
    """modules.alias for mods, as depmod writes it (busybox modprobe reads
    it for the init's modalias coldplug)."""
    lines = []
    for rel in mods:
        name = os.path.basename(rel)[:-3].replace("-", "_")
        lines += [f"alias {a} {name}\n" for a in modinfo(os.path.join(mroot, rel), "alias")]
    return "".join(lines)


def module_closure(mroot, modules):
    """Relative paths of modules and everything they depend on, and the
    modules.dep lines for them (dependencies listed deepest last, as depmod)."""
    byname = {}
    for dirpath, _, files in os.walk(os.path.join(mroot, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                byname[f[:-3].replace("-", "_")] = os.path.relpath(os.path.join(dirpath, f), mroot)
    deps = {}

    def visit(name):
        rel = byname[name.replace("-", "_")]
        if rel not in deps:
            deps[rel] = [byname[d.replace("-", "_")] for d in modinfo_depends(os.path.join(mroot, rel))]
            for d in modinfo_depends(os.path.join(mroot, rel)):
                visit(d)
        return rel

    for m in modules:
        visit(m)

    def load_order(rel, out):
        """rel's dependencies, each after all it needs (a DFS post-order;
        the direct ones visited last first, so the first stays first in
        modules.dep): modprobe loads a modules.dep line from its end."""
        for d in reversed(deps[rel]):
            if d not in out:
                load_order(d, out)
                out.append(d)
        return out

    dep = "".join(f"{rel}: {' '.join(reversed(load_order(rel, [])))}".rstrip() + "\n" for rel in sorted(deps))
    return sorted(deps), dep


def newc(entries):
    """A cpio "newc" archive of (name, mode, data) — for the early-microcode
    stand-in; cpio is not in the Python standard library."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        fields = [ino if name != "TRAILER!!!" else 0, mode, 0, 0, 1, 0, len(data),
                  0, 0, 0, 0, len(nb), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + nb
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def kernel_image(out, debs, name="kernel", no_efi=False):
    """The test kernel; no_efi: its "MZ" (the PE/EFI stub's DOS header)
    zeroed, a kernel EFI firmware cannot start (issue 11's error)."""
    lay = Layout(os.path.join(out, name))
    manifests, attests = [], []
    for arch in ARCHES:
        root = debs.root(arch, "linux-image")
        ver = sorted(os.listdir(os.path.join(root, "lib", "modules")))[0]
        kernel = read(os.path.join(root, "boot", "vmlinuz-" + ver))
        if no_efi:
            kernel = b"\0\0" + kernel[2:]
        if arch == "arm64":
            # LinuxKit's arm64 kernels ship Image.gz; Debian ships Image.
            kernel = gzip_bytes(kernel)
        # kernel.tar as LinuxKit's `tar cf kernel.tar .`: ./lib/modules/<ver>/
        # with a `build` symlink, plus ./boot/dtb/<vendor>/ on arm64.
        EXTRA_ENV[f"LKB_TEST_KERNEL_VERSION_{arch.upper()}"] = ver
        mroot = os.path.join(root, "lib", "modules", ver)
        mods, dep = module_closure(mroot, MODULES[arch])
        kt = Tar().dir(".").dir("./lib").dir("./lib/modules")
        mdir = f"./lib/modules/{ver}"
        kt.dir(mdir).symlink(f"{mdir}/build", f"/usr/src/linux-headers-{ver}")
        made = {"", ".", "./lib", "./lib/modules", mdir}
        for rel in mods:
            parents(kt, made, f"{mdir}/{rel}")
            kt.file(f"{mdir}/{rel}", read(os.path.join(mroot, rel)))
        kt.file(f"{mdir}/modules.builtin", read(os.path.join(mroot, "modules.builtin")))
        kt.file(f"{mdir}/modules.builtin.modinfo", read(os.path.join(mroot, "modules.builtin.modinfo")))
        kt.file(f"{mdir}/modules.dep", dep)
        kt.file(f"{mdir}/modules.alias", modules_alias(mroot, mods))
        order = [l for l in read(os.path.join(mroot, "modules.order")).decode().splitlines()
                 if l in mods]
        kt.file(f"{mdir}/modules.order", "".join(l + "\n" for l in order))
        if arch == "arm64":
            kt.dir("./boot").dir("./boot/dtb").dir("./boot/dtb/broadcom")
            dtbdir = os.path.join(root, "usr", "lib", "linux-image-" + ver, "broadcom")
            for dtb in rpi3_dtbs(dtbdir):
                kt.file("./boot/dtb/broadcom/" + dtb, read(os.path.join(dtbdir, dtb)))
        # The image root, sorted like LinuxKit's (only kernel, kernel.tar and
        # a configured ucode are consumed; the rest must be ignored).
        top = Tar()
        # Debian's System.map is an 83-byte placeholder; tests use it as a
        # stand-in `ucode` file that exists on both arches.
        top.file("System.map", read(os.path.join(root, "boot", "System.map-" + ver)))
        if arch == "amd64":
            top.file("intel-ucode-license.txt", "lkb test stand-in, not Intel microcode\n")
            top.file("intel-ucode.cpio", newc([
                ("kernel", 0o40755, b""), ("kernel/x86", 0o40755, b""),
                ("kernel/x86/microcode", 0o40755, b""),
                ("kernel/x86/microcode/GenuineIntel.bin", 0o100644, b"LKB-TEST-NOT-MICROCODE\n")]))
        top.file("kernel", kernel)
        top.file("kernel-source-info", f"URL: debian linux-image-{ver}\nKERNEL_VERSION: {ver}\n")
        top.file("kernel.tar", kt.bytes())
        cfg = {"Labels": {"org.mobyproject.linuxkit.kernel.buildimage": "lkb-test/kernel-builder:6.1",
                          "org.lkb.test.kernel.version": ver}}
        manifests.append(lay.image(arch, [(top, "gzip")], cfg))
        attests.append(attestation(lay, debs, name, arch, manifests[-1], [("linux-image", [("/kernel", kernel)])]))
    return lay.finish("6.1", manifests + attests)


# ------------------------------------------------------------------ init --

INIT_SCRIPT = f"""#!/bin/busybox sh
# lkb test init: proves the initrd was unpacked and /init ran.
/bin/busybox mkdir -p /proc /sys /dev
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "{MARKER} arch=$(/bin/busybox uname -m)"
echo "lkb-root-mode: $(/bin/busybox stat -c %a /)"
for d in onboot onshutdown services; do
  [ -d /containers/$d ] && echo "lkb-containers $d: $(/bin/busybox ls /containers/$d | /bin/busybox tr '\\n' ' ')"
done
[ -f /etc/lkb-test-file ] && echo "lkb-file: $(/bin/busybox cat /etc/lkb-test-file)"
# Device tree facts for the boot tests: the model, and any lkb-* property a
# test put in (through the firmware's DT, an overlay, fdtput).
for p in /proc/device-tree/model /proc/device-tree/lkb-*; do
  [ -f "$p" ] && echo "lkb-dt $(/bin/busybox basename $p)=$(/bin/busybox tr -d '\\000' <$p)"
done
echo "{MARKER} done"
/bin/busybox poweroff -f
"""

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def init_image(out, debs):
    lay = Layout(os.path.join(out, "init"))
    manifests, attests = [], []
    for arch in ARCHES:
        top = Tar().file("init", INIT_SCRIPT, 0o755)
        top.dir("etc").file("etc/passwd", PASSWD).file("etc/group", GROUP)
        top.file("etc/lkb-init-release", "lkb test init 1\n")
        manifests.append(lay.image(arch, [(busybox_layer(debs, arch), "gzip"), (top, "gzip")],
                                   {"Cmd": ["/init"]}))
        attests.append(attestation(lay, debs, "init", arch, manifests[-1], [busybox_files(debs, arch)]))
    return lay.finish("1", manifests + attests)


# ------------------------------------------------------------ containers --

# Mount points a container's root needs when it is read-only: runc cannot
# create them in a read-only bundle on LinuxKit's read-only root.
MOUNT_POINTS = ("dev", "etc", "proc", "run", "sys", "tmp", "var")


def container_image(out, debs, name, label, config):
    """busybox with applets and /bin/lkb-probe (tests/images/init/probe),
    which the boot tests run to show each container's configuration."""
    lay = Layout(os.path.join(out, name))
    manifests, attests = [], []
    for arch in ARCHES:
        made = set()
        bb = busybox_full_layer(debs, arch, made)
        top = Tar()
        for d in MOUNT_POINTS:
            top.dir(d)
        top.file(f"etc/{name}-release", f"{name} 1\n").dir("bin").file("bin/lkb-probe", init_source("probe"), 0o755)
        cfg = dict(config, Env=["PATH=/bin:/sbin", f"LKB_IMAGE={name}"],
                   Labels={"org.mobyproject.config": json.dumps(label, sort_keys=True,
                                                                separators=(",", ":"))})
        manifests.append(lay.image(arch, [(bb, "gzip"), (top, "gzip")], cfg))
        attests.append(attestation(lay, debs, name, arch, manifests[-1], [busybox_files(debs, arch)]))
    return lay.finish("1", manifests + attests)


def onboot_image(out, debs):
    return container_image(out, debs, "onboot",
                           {"binds": ["/var:/var"], "capabilities": ["CAP_NET_ADMIN"], "readonly": True},
                           {"Cmd": ["/bin/busybox", "echo", "onboot ran"], "WorkingDir": "/"})


def service_image(out, debs):
    return container_image(out, debs, "service",
                           {"capabilities": ["CAP_SYS_ADMIN", "CAP_NET_RAW"], "net": "host",
                            "pid": "host", "tmpfs": ["/run:size=1m"]},
                           {"Entrypoint": ["/bin/busybox"], "Cmd": ["sleep", "3600"],
                            "WorkingDir": "/var"})


# ------------------------------------------- runc / containerd test init --
# Three init images, split as LinuxKit's init, runc and containerd: a
# system that boots the way LinuxKit's does and runs every bundle lkb
# wrote with the real runc (onboot, onshutdown) and containerd (services).

TRIPLET = {"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}
LOADER = {"amd64": ("lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
          "arm64": ("lib/ld-linux-aarch64.so.1", "lib/aarch64-linux-gnu/ld-linux-aarch64.so.1")}


def script(body):
    return "#!/bin/sh\n" + body + "\n"


def sysinit_image(out, debs):
    """busybox init and applets, /init (copy to tmpfs, switch_root),
    /etc/inittab, rc.init, rc.shutdown, lkb-report, the runtime.json helper,
    and the C library, jq and its libraries from Debian (runc, containerd
    and ctr are dynamically linked too)."""
    lay = Layout(os.path.join(out, "sysinit"))
    manifests, attests = [], []
    for arch in ARCHES:
        made = set()
        bb = busybox_full_layer(debs, arch, made)
        lib, ulib = f"lib/{TRIPLET[arch]}", f"usr/lib/{TRIPLET[arch]}"
        t = Tar()
        pkgs = [busybox_files(debs, arch)]
        for pkg, rels in (("libc6", LOADER[arch] + (f"{lib}/libc.so.6", f"{lib}/libm.so.6")),
                          ("libonig5", (f"{ulib}/libonig.so.5", f"{ulib}/libonig.so.5.3.0")),
                          ("libjq1", (f"{ulib}/libjq.so.1", f"{ulib}/libjq.so.1.0.4")),
                          ("jq", ("usr/bin/jq",))):
            pkgs.append((pkg, pick(t, made, debs.root(arch, pkg), rels)))
        top = Tar().file("init", init_source("init"), 0o755)
        for d in ("containers", "dev", "etc", "mnt", "proc", "root", "run", "sys", "tmp", "var"):
            top.dir(d, 0o700 if d == "root" else 0o755)
        top.file("etc/inittab", init_source("inittab")).file("etc/passwd", PASSWD).file("etc/group", GROUP)
        top.file("etc/lkb-init-release", "lkb test sysinit 1\n").dir("etc/init.d").dir("etc/shutdown.d")
        top.dir("bin").file("bin/rc.init", init_source("rc.init"), 0o755)
        top.file("bin/rc.shutdown", init_source("rc.shutdown"), 0o755)
        top.file("bin/lkb-report", init_source("lkb-report"), 0o755)
        top.dir("usr").dir("usr/lib").dir("usr/lib/lkb-test").file("usr/lib/lkb-test/bundle.sh", init_source("bundle.sh"))
        manifests.append(lay.image(arch, [(bb, "gzip"), (t, "gzip"), (top, "gzip")], {"Cmd": ["/init"]}))
        attests.append(attestation(lay, debs, "sysinit", arch, manifests[-1], pkgs))
    return lay.finish("1", manifests + attests)


def one_layer_image(out, debs, name, layer):
    """An image of both arches, one layer each: layer(arch) gives its Tar
    and the packages it took files from, for the attestations."""
    lay = Layout(os.path.join(out, name))
    manifests, attests = [], []
    for arch in ARCHES:
        tar, pkgs = layer(arch)
        manifests.append(lay.image(arch, [(tar, "gzip")], {}))
        attests.append(attestation(lay, debs, name, arch, manifests[-1], pkgs))
    return lay.finish("1", manifests + attests)


def runc_image(out, debs):
    """Debian's runc and libseccomp, and the onboot/onshutdown runner."""
    def layer(arch):
        t, made, ulib = Tar(), set(), f"usr/lib/{TRIPLET[arch]}"
        pkgs = [("libseccomp2", pick(t, made, debs.root(arch, "libseccomp2"),
                                     (f"{ulib}/libseccomp.so.2", f"{ulib}/libseccomp.so.2.5.4"))),
                ("runc", pick(t, made, debs.root(arch, "runc"), ("usr/sbin/runc", "usr/bin/runc")))]
        t.file("usr/bin/lkb-run-bundles", init_source("run-bundles"), 0o755)
        t.dir("etc").dir("etc/init.d").dir("etc/shutdown.d")
        t.file("etc/init.d/010-onboot", script("exec /usr/bin/lkb-run-bundles onboot"), 0o755)
        t.file("etc/shutdown.d/010-onshutdown", script("exec /usr/bin/lkb-run-bundles onshutdown"), 0o755)
        return t, pkgs
    return one_layer_image(out, debs, "runc", layer)


def containerd_image(out, debs):
    """Debian's containerd, its runc v2 shim and ctr, and the services starter."""
    def layer(arch):
        t = Tar()
        files = pick(t, set(), debs.root(arch, "containerd"),
                     ("usr/bin/containerd", "usr/bin/containerd-shim-runc-v2", "usr/bin/ctr"))
        t.dir("etc").dir("etc/init.d").file("etc/init.d/020-containerd", init_source("containerd"), 0o755)
        return t, [("containerd", files)]
    return one_layer_image(out, debs, "containerd", layer)


def kernel_noefi_image(out, debs):
    return kernel_image(out, debs, "kernel-noefi", no_efi=True)


# ---------------------------------------------------------------- layers --

def layers_image(out, debs=None):
    """Four layers (gzip, gzip, uncompressed, zstd) exercising whiteouts,
    opaque directories, hard links and type changes; layers-expected.txt is
    the flattened result."""
    l1 = Tar()
    l1.dir("etc").file("etc/keep", "keep\n").file("etc/remove-me", "gone\n")
    l1.dir("opq").file("opq/lower-a", "a\n").file("opq/lower-b", "b\n")
    l1.dir("wdir").file("wdir/x", "x\n").dir("wdir/sub").file("wdir/sub/y", "y\n")
    l1.file("becomes-dir", "file first\n")
    l1.dir("bin").file("bin/tool", "#!/bin/sh\n", 0o4755)
    l1.dir("private", 0o700).file("private/secret", "s\n", 0o600)
    l1.dir("data").file("data/orig", "shared data\n")
    l2 = Tar()
    l2.dir("etc").whiteout("etc/remove-me")              # file whiteout
    l2.whiteout("wdir")                                   # directory whiteout
    l2.dir("opq").opaque("opq").file("opq/upper", "u\n")  # opaque directory
    l2.whiteout("becomes-dir").dir("becomes-dir").file("becomes-dir/inside", "now a dir\n")
    l2.dir("data").hardlink("data/link-in-layer2", "data/orig")  # across layers
    l2.symlink("etc/alias", "keep")
    l3 = Tar()
    l3.dir("etc").file("etc/new", "new\n")
    l3.hardlink("etc/new-link", "etc/new")               # same layer
    l3.file("wdir", "wdir is a file now\n")              # directory -> file
    l4 = Tar().dir("zstd").file("zstd/hello", "from a zstd layer\n")
    lay = Layout(os.path.join(out, "layers"))
    layers = [(l1, "gzip"), (l2, "gzip"), (l3, "none"), (l4, "zstd")]
    return lay.finish("1", [lay.image(a, layers, {"Cmd": ["/bin/tool"]}) for a in ARCHES])


def amd64only_image(out, debs):
    lay = Layout(os.path.join(out, "amd64only"))
    m = lay.image("amd64", [(busybox_layer(debs, "amd64"), "gzip")],
                  {"Cmd": ["/bin/busybox", "true"]})
    return lay.finish("1", [m], index=False)


# ----------------------------------------------------------- rpi3 assets --

# A firmware overlay as config.txt's dtoverlay=lkb-test would apply it: a
# property at the root that the boot test looks for in /proc/device-tree.
# Debian's raspi-firmware ships no overlays/; this stands in for them.
TEST_OVERLAY = """/dts-v1/;
/plugin/;
/ {
\tcompatible = "brcm,bcm2837";
\tfragment@0 {
\t\ttarget-path = "/";
\t\t__overlay__ {
\t\t\tlkb-overlay = "applied";
\t\t};
\t};
};
"""


def dtc_overlay(source):
    try:
        return subprocess.run(["dtc", "-@", "-q", "-I", "dts", "-O", "dtb", "-"], input=source.encode(),
                              stdout=subprocess.PIPE, check=True).stdout
    except FileNotFoundError:
        sys.exit("mkimages: dtc not found (apt-get install device-tree-compiler)")


def rpi3_assets_image(out, debs):
    """Raspberry Pi boot assets laid out as Debian installs them (arm64 only;
    read by the rpi3 output format's assets-image option), plus a test
    overlay in the firmware's overlays/."""
    fw, ub = "usr/lib/raspi-firmware", "usr/lib/u-boot/rpi_3"
    fw_root, ub_root = debs.root("arm64", "raspi-firmware"), debs.root("arm64", "u-boot-rpi")
    t = Tar().dir("usr").dir("usr/lib").dir(fw)
    for f in ("bootcode.bin", "start.elf", "fixup.dat", "start_cd.elf", "fixup_cd.dat",
              "start_x.elf", "fixup_x.dat"):
        t.file(f"{fw}/{f}", read(os.path.join(fw_root, fw, f)))
    t.dir(f"{fw}/overlays").file(f"{fw}/overlays/lkb-test.dtbo", dtc_overlay(TEST_OVERLAY))
    t.dir("usr/lib/u-boot").dir(ub).file(f"{ub}/u-boot.bin", read(os.path.join(ub_root, ub, "u-boot.bin")))
    lay = Layout(os.path.join(out, "rpi3-assets"))
    return lay.finish("1", [lay.image("arm64", [(t, "gzip")], {})])


IMAGES = {"kernel": kernel_image, "init": init_image, "onboot": onboot_image,
          "service": service_image, "layers": layers_image, "amd64only": amd64only_image,
          "rpi3-assets": rpi3_assets_image, "sysinit": sysinit_image, "runc": runc_image,
          "containerd": containerd_image, "kernel-noefi": kernel_noefi_image}


def main(argv):
    if len(argv) < 3 or any(a not in IMAGES for a in argv[3:]):
        sys.exit(__doc__)
    debs_dir, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    digests = {}
    with tempfile.TemporaryDirectory(prefix="lkb-mkimages-") as work:
        debs = Debs(debs_dir, work)
        for name in argv[3:] or IMAGES:
            digests[name] = IMAGES[name](out, debs)
    with open(os.path.join(out, "digests.env"), "w") as f:
        for name, d in digests.items():
            f.write(f"LKB_TEST_{name.upper().replace('-', '_')}_DIGEST={d}\n")
        for k, v in EXTRA_ENV.items():
            f.write(f"{k}={v}\n")


if __name__ == "__main__":
    main(sys.argv)
