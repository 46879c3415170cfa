#!/usr/bin/env bash
# The loopback registry serves the test images exactly as built from Debian
# packages (platforms, digests, kernel layout, ELF machines, labels, SBOM
# attestations matching the images' files, the layers image against
# layers-expected.txt, reproducible rebuild), and
# registry.sh runs the htpasswd instance over HTTP and HTTPS.
set -euo pipefail
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: point it at the STATE_DIR of tests/scripts/registry.sh start and tests/images/build-images.sh (scripts/test-env.sh does both)}"
for f in registry.env images.env; do
  [ -f "$LKB_TEST_STATE/$f" ] || { echo "FAIL: $LKB_TEST_STATE/$f missing (run scripts/test-env.sh)" >&2; exit 1; }
done
src=${LKB_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck disable=SC1091
. "$LKB_TEST_STATE/registry.env"
# shellcheck disable=SC1091
. "$LKB_TEST_STATE/images.env"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lkb-regtest.XXXXXX")
cleanup() {
  bash "$src/tests/scripts/registry.sh" stop "$TMP/auth" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- the served images ------------------------------------------------------
export LKB_TEST_REGISTRY LKB_TEST_KERNEL_DIGEST LKB_TEST_INIT_DIGEST LKB_TEST_ONBOOT_DIGEST \
  LKB_TEST_SERVICE_DIGEST LKB_TEST_LAYERS_DIGEST LKB_TEST_AMD64ONLY_DIGEST LKB_TEST_RPI3_ASSETS_DIGEST \
  LKB_TEST_KERNEL_VERSION_AMD64 LKB_TEST_KERNEL_VERSION_ARM64
python3 - "$src/tests/images" "$TMP" <<'PY' || fail "registry images (see above)"
import hashlib, io, json, os, subprocess, sys, tarfile
images_dir, tmp = sys.argv[1:]
env = os.environ
reg = env["LKB_TEST_REGISTRY"]
failures = []
def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
def curl(path, accept=None):
    """GET http://REG/v2/PATH with curl: (body, lower-cased headers)."""
    hdr, body = os.path.join(tmp, "h"), os.path.join(tmp, "b")
    cmd = ["curl", "-sS", "-f", "--max-time", "60", "-D", hdr, "-o", body]
    if accept:
        cmd += ["-H", "Accept: " + accept]
    r = subprocess.run(cmd + [f"http://{reg}/v2/{path}"], stderr=subprocess.PIPE, text=True)
    if r.returncode:
        sys.exit(f"FAIL: GET http://{reg}/v2/{path}: {r.stderr.strip()}")
    headers = {}
    for line in open(hdr, encoding="latin-1"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return open(body, "rb").read(), headers
def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()
def manifest(repo, ref, want=None):
    body, h = curl(f"{repo}/manifests/{ref}", f"{MT_INDEX},{MT_MANIFEST}")
    check(h.get("docker-content-digest") == sha(body), f"{repo}:{ref}: Docker-Content-Digest is the sha256 of the body")
    if want:
        check(sha(body) == want, f"{repo}:{ref}: digest {sha(body)}, built {want}")
    return json.loads(body)
def blob(repo, desc):
    body, _ = curl(f"{repo}/blobs/{desc['digest']}")
    check(sha(body) == desc["digest"], f"{repo}: blob {desc['digest']} has sha256 {sha(body)}")
    check(len(body) == desc["size"], f"{repo}: blob {desc['digest']} size {len(body)} != {desc['size']}")
    return body
def layer_tar(data, mt):
    if mt.endswith("+zstd"):
        data = subprocess.run(["zstd", "-dc"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")
def is_attestation(m):
    return m.get("annotations", {}).get("vnd.docker.reference.type") == "attestation-manifest"
def attestation(repo, tag, a, images):
    """A buildkit attestation manifest: its SPDX statement describes the
    image manifest it names, with Debian purls of that arch and files whose
    checksums match the image's files."""
    ref = a.get("annotations", {}).get("vnd.docker.reference.digest")
    m = images.get(ref)
    if not check(m is not None, f"{repo}:{tag} attestation {a['digest']} names no image manifest ({ref})"):
        return
    arch = m["platform"]["architecture"]
    check(a.get("platform") == {"architecture": "unknown", "os": "unknown"}, f"{repo}:{tag} {arch} attestation platform")
    am = manifest(repo, a["digest"], a["digest"])
    sboms = [l for l in am["layers"] if l["mediaType"] == "application/vnd.in-toto+json"
             and l.get("annotations", {}).get("in-toto.io/predicate-type") == "https://spdx.dev/Document"]
    if not check(len(sboms) == 1, f"{repo}:{tag} {arch}: one SPDX statement, got {len(sboms)}"):
        return
    st = json.loads(blob(repo, sboms[0]))
    check([s["digest"]["sha256"] for s in st["subject"]] == [ref[7:]], f"{repo}:{tag} {arch} statement subject")
    doc = st["predicate"]
    check(doc.get("spdxVersion") == "SPDX-2.3" and doc.get("packages"), f"{repo}:{tag} {arch} SPDX 2.3 with packages")
    for p in doc.get("packages", []):
        purl = [r["referenceLocator"] for r in p.get("externalRefs", []) if r["referenceType"] == "purl"]
        check(len(purl) == 1 and purl[0].startswith(f"pkg:deb/debian/{p['name']}@") and f"?arch={arch}" in purl[0],
              f"{repo}:{tag} {arch} package {p['name']} purl {purl}")
    have = files(repo, manifest(repo, m["digest"], m["digest"]))
    for f in doc.get("files", []):
        data = (have.get(f["fileName"].lstrip("/")) or (None, None))[1]
        sums = {c["algorithm"]: c["checksumValue"] for c in f["checksums"]}
        check(data is not None and sums.get("SHA256") == hashlib.sha256(data).hexdigest(),
              f"{repo}:{tag} {arch} SBOM file {f['fileName']} matches the image")
def index(repo, tag, digest, want_plats, attested=True):
    """Check the index (and its attestations: one per image manifest when
    attested, none otherwise); return {arch: (manifest, config)}."""
    idx = manifest(repo, tag, digest)
    if not check(idx.get("mediaType") == MT_INDEX and "manifests" in idx, f"{repo}:{tag} is an OCI image index"):
        return {}
    images = [m for m in idx["manifests"] if not is_attestation(m)]
    atts = [m for m in idx["manifests"] if is_attestation(m)]
    plats = sorted((m["platform"]["os"], m["platform"]["architecture"], m["platform"].get("variant", ""))
                   for m in images)
    check(plats == want_plats, f"{repo}:{tag} platforms are exactly {want_plats}, got {plats}")
    check(len(atts) == (len(images) if attested else 0), f"{repo}:{tag} has {len(atts)} attestation manifests")
    for a in atts:
        attestation(repo, tag, a, {m["digest"]: m for m in images})
    out = {}
    for m in images:
        arch = m["platform"]["architecture"]
        man = manifest(repo, m["digest"], m["digest"])
        check(man.get("mediaType") == MT_MANIFEST, f"{repo}:{tag} {arch} manifest media type")
        cfg = json.loads(blob(repo, man["config"]))
        check(cfg.get("architecture") == arch and cfg.get("os") == "linux", f"{repo}:{tag} {arch} config platform")
        check(len(cfg["rootfs"]["diff_ids"]) == len(man["layers"]), f"{repo}:{tag} {arch} diff_ids")
        out[arch] = (man, cfg)
    return out
BOTH = [("linux", "amd64", ""), ("linux", "arm64", "v8")]
def multi(repo, tag, digest, attested=True):
    return index(repo, tag, digest, BOTH, attested)
def files(repo, man):
    """Union of the layers' members: name -> (TarInfo, data or None)."""
    res = {}
    for l in man["layers"]:
        with layer_tar(blob(repo, l), l["mediaType"]) as tf:
            for ti in tf:
                res[ti.name] = (ti, tf.extractfile(ti).read() if ti.isfile() else None)
    return res
ELF_MACHINE = {"amd64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64
def elf_machine(b):
    return int.from_bytes(b[18:20], "little") if b and b[:4] == b"\x7fELF" else None
def elf_interp(b):
    """Has this little-endian ELF64 a PT_INTERP program header (dynamic)?"""
    u = lambda off, n: int.from_bytes(b[off:off + n], "little")
    phoff, phentsize, phnum = u(32, 8), u(54, 2), u(56, 2)
    return any(u(phoff + i * phentsize, 4) == 3 for i in range(phnum))

body, h = curl("")
check(h.get("docker-distribution-api-version") == "registry/2.0", "/v2/ answers as a registry")

# kernel: LinuxKit kernel image layout (spec build-and-outputs §4.3)
for arch, (man, cfg) in multi("lkb-test/kernel", "6.1", env["LKB_TEST_KERNEL_DIGEST"]).items():
    f = files("lkb-test/kernel", man)
    ver = env[f"LKB_TEST_KERNEL_VERSION_{arch.upper()}"]
    check(ver.startswith("6.1.") and ver.endswith(arch), f"{arch} kernel version {ver}")
    kernel = (f.get("kernel") or (None, b""))[1] or b""
    check(len(kernel) > 1_000_000, f"{arch} /kernel present")
    check("System.map" in f, f"{arch} /System.map present")
    if arch == "amd64":
        check(kernel[0x202:0x206] == b"HdrS", "amd64 /kernel is a bzImage")
        check(f.get("intel-ucode.cpio", (None, b""))[1][:6] == b"070701", "amd64 intel-ucode.cpio is a newc cpio")
    else:
        check(kernel[:2] == b"\x1f\x8b", "arm64 /kernel is Image.gz")
    check("org.mobyproject.linuxkit.kernel.buildimage" in cfg["config"].get("Labels", {}), f"{arch} kernel label")
    if not check("kernel.tar" in f, f"{arch} /kernel.tar present"):
        continue
    kt = tarfile.open(fileobj=io.BytesIO(f["kernel.tar"][1]))
    m = {t.name: t for t in kt}
    mdir = f"./lib/modules/{ver}"
    check(m.get(".") is not None and m["."].isdir(), f"{arch} kernel.tar starts at ./")
    for name in ("modules.dep", "modules.order", "modules.builtin", "kernel/drivers/block/loop.ko",
                 "kernel/drivers/net/usb/smsc95xx.ko", "kernel/drivers/net/usb/usbnet.ko"):
        check(f"{mdir}/{name}" in m, f"{arch} kernel.tar has {mdir}/{name}")
    b = m.get(f"{mdir}/build")
    check(b is not None and b.issym() and b.linkname == f"/usr/src/linux-headers-{ver}", f"{arch} build symlink")
    if f"{mdir}/modules.dep" in m:
        dep = kt.extractfile(f"{mdir}/modules.dep").read().decode()
        check("kernel/drivers/net/usb/smsc95xx.ko: kernel/drivers/net/usb/usbnet.ko" in dep,
              f"{arch} modules.dep lists the smsc95xx dependencies")
        for line in dep.splitlines():   # every module modules.dep names is in the tar
            for ko in line.replace(":", "").split():
                check(f"{mdir}/{ko}" in m, f"{arch} modules.dep names {ko}, not in kernel.tar")
    if f"{mdir}/kernel/drivers/block/loop.ko" in m:
        ko = kt.extractfile(f"{mdir}/kernel/drivers/block/loop.ko").read()
        check(elf_machine(ko) == ELF_MACHINE[arch], f"{arch} loop.ko ELF machine {elf_machine(ko)}")
    boot = sorted(n for n in m if n.startswith("./boot"))
    if arch == "arm64":
        want = ["./boot", "./boot/dtb", "./boot/dtb/broadcom"] + [
            f"./boot/dtb/broadcom/bcm2837-rpi-{b}.dtb" for b in ("3-a-plus", "3-b-plus", "3-b", "cm3-io3", "zero-2-w")]
        if check(boot == want, f"arm64 kernel.tar boot entries: {boot}"):
            for d in want[3:]:
                check(kt.extractfile(d).read()[:4] == b"\xd0\x0d\xfe\xed", f"{d} is a flattened device tree")
    else:
        check(boot == [], f"amd64 kernel.tar has no boot/: {boot}")
    check(len(f["kernel.tar"][1]) < 8 << 20, f"{arch} kernel.tar is small ({len(f['kernel.tar'][1])} bytes)")

# init: /init script and a static busybox of the right machine
for arch, (man, cfg) in multi("lkb-test/init", "1", env["LKB_TEST_INIT_DIGEST"]).items():
    f = files("lkb-test/init", man)
    ti, data = f.get("init", (None, b""))
    check(ti is not None and ti.isfile() and ti.mode & 0o111 == 0o111, f"{arch} /init is an executable file")
    check(data.startswith(b"#!/bin/busybox sh\n") and b"LKB-INIT-MARKER arch=" in data and b"poweroff -f" in data,
          f"{arch} /init script content")
    bb = (f.get("bin/busybox") or (None, b""))[1] or b""
    check(elf_machine(bb) == ELF_MACHINE[arch], f"{arch} busybox ELF machine {elf_machine(bb)}, want {ELF_MACHINE[arch]}")
    check(bb[4:5] == b"\x02" and not elf_interp(bb), f"{arch} busybox is a static ELF64")
    passwd = (f.get("etc/passwd") or (None, b""))[1].decode()
    check(passwd.startswith("root:x:0:0:") and "\nnobody:x:65534:" in passwd, f"{arch} /etc/passwd: {passwd!r}")

# onboot and service: org.mobyproject.config label and image config
for repo, key, label_want, cfg_want in (
        ("lkb-test/onboot", "ONBOOT", {"binds": ["/var:/var"], "capabilities": ["CAP_NET_ADMIN"], "readonly": True},
         {"Cmd": ["/bin/busybox", "echo", "onboot ran"], "WorkingDir": "/"}),
        ("lkb-test/service", "SERVICE", {"capabilities": ["CAP_SYS_ADMIN", "CAP_NET_RAW"], "net": "host",
                                         "pid": "host", "tmpfs": ["/run:size=1m"]},
         {"Entrypoint": ["/bin/busybox"], "Cmd": ["sleep", "3600"], "WorkingDir": "/var"})):
    for arch, (man, cfg) in multi(repo, "1", env[f"LKB_TEST_{key}_DIGEST"]).items():
        c = cfg["config"]
        label = c.get("Labels", {}).get("org.mobyproject.config")
        check(label is not None and json.loads(label) == label_want, f"{repo} {arch} org.mobyproject.config label: {label}")
        for k, v in cfg_want.items():
            check(c.get(k) == v, f"{repo} {arch} config {k}: {c.get(k)}")
        check("PATH=/bin:/sbin" in c.get("Env", []), f"{repo} {arch} Env")
        bb = (files(repo, man).get("bin/busybox") or (None, b""))[1]
        check(elf_machine(bb) == ELF_MACHINE[arch], f"{repo} {arch} busybox machine")

# amd64only: a plain manifest, no index
man = manifest("lkb-test/amd64only", "1", env["LKB_TEST_AMD64ONLY_DIGEST"])
check(man.get("mediaType") == MT_MANIFEST and "manifests" not in man, "amd64only is a plain image manifest")
cfg = json.loads(blob("lkb-test/amd64only", man["config"]))
check(cfg["architecture"] == "amd64", "amd64only config is amd64")

# rpi3-assets: arm64 only, firmware and u-boot where Debian installs them
for arch, (man, cfg) in index("lkb-test/rpi3-assets", "1", env["LKB_TEST_RPI3_ASSETS_DIGEST"],
                              [("linux", "arm64", "v8")], attested=False).items():
    f = files("lkb-test/rpi3-assets", man)
    for n in ("usr/lib/raspi-firmware/bootcode.bin", "usr/lib/raspi-firmware/start.elf",
              "usr/lib/raspi-firmware/fixup.dat", "usr/lib/u-boot/rpi_3/u-boot.bin"):
        check(n in f and len(f[n][1]) > 1000, f"rpi3-assets has {n}")
    n = "usr/lib/raspi-firmware/overlays/lkb-test.dtbo"
    check(n in f and f[n][1][:4] == b"\xd0\x0d\xfe\xed", f"rpi3-assets has the overlay {n}")

# layers: flatten with OCI semantics and compare with layers-expected.txt
def clean(n):
    while n.startswith("./"):
        n = n[2:]
    return os.path.normpath(n) if n else "."
def flatten(repo, man):
    tree = {}  # path -> (type, mode, target)
    for l in man["layers"]:
        lower = set(tree)
        with layer_tar(blob(repo, l), l["mediaType"]) as tf:
            members = [(clean(t.name), t) for t in tf]
        # whiteouts hide lower layers only, whatever their place in the layer
        for name, t in members:
            d, base = os.path.split(name)
            if base == ".wh..wh..opq":
                for p in [p for p in lower if p.startswith(d + "/")]:
                    tree.pop(p, None)
            elif base.startswith(".wh."):
                gone = os.path.join(d, base[4:])
                for p in [p for p in lower if p == gone or p.startswith(gone + "/")]:
                    tree.pop(p, None)
        for name, t in members:
            if os.path.basename(name).startswith(".wh."):
                continue
            old = tree.get(name)
            if old and old[0] == "dir" and not t.isdir():
                for p in [p for p in tree if p.startswith(name + "/")]:
                    del tree[p]
            parts = name.split("/")
            for i in range(1, len(parts)):   # a non-directory ancestor is replaced
                a = "/".join(parts[:i])
                if a in tree and tree[a][0] != "dir":
                    del tree[a]
            kind = "dir" if t.isdir() else "symlink" if t.issym() else "hardlink" if t.islnk() else "file"
            tree[name] = (kind, t.mode & 0o7777, t.linkname if kind in ("symlink", "hardlink") else "")
    return tree
expected = {}
for line in open(os.path.join(images_dir, "layers-expected.txt")):
    if line.strip() and not line.startswith("#"):
        f = line.split()
        expected[f[0]] = (f[1], int(f[2], 8), f[3] if len(f) > 3 else "")
for arch, (man, cfg) in multi("lkb-test/layers", "1", env["LKB_TEST_LAYERS_DIGEST"], attested=False).items():
    mts = [l["mediaType"].rsplit(".", 1)[-1] for l in man["layers"]]
    check(mts == ["tar+gzip", "tar+gzip", "tar", "tar+zstd"], f"layers {arch} media types {mts}")
    got = flatten("lkb-test/layers", man)
    show = lambda e: "absent" if e is None else f"{e[0]} {e[1]:04o} {e[2]}".rstrip()
    for p in sorted(set(got) | set(expected)):
        check(got.get(p) == expected.get(p), f"layers {arch} {p}: flattened '{show(got.get(p))}', expected '{show(expected.get(p))}'")
    for p, (kind, _, target) in got.items():
        if kind == "hardlink":
            check(got.get(target, ("",))[0] == "file", f"layers {arch} {p}: hard link to a missing file {target}")

if failures:
    print("\n".join("FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
PY

# --- reproducible: rebuilding the layers image gives the pushed digest -------
python3 "$src/tests/images/mkimages.py" /nonexistent "$TMP/rebuild" layers
rebuilt=$(sed -n 's/^LKB_TEST_LAYERS_DIGEST=//p' "$TMP/rebuild/digests.env")
[ "$rebuilt" = "$LKB_TEST_LAYERS_DIGEST" ] ||
  fail "rebuilt lkb-test/layers:1 has digest $rebuilt, the pushed one $LKB_TEST_LAYERS_DIGEST"

# --- registry.sh: env, and the htpasswd instance over HTTP, then HTTPS -------
reg=$(bash "$src/tests/scripts/registry.sh" env "$LKB_TEST_STATE") || fail "registry.sh env on the running registry"
grep -qx "export LKB_TEST_REGISTRY=$LKB_TEST_REGISTRY" <<<"$reg" || fail "registry.sh env printed: $reg"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" || true; }
for mode in "" --tls; do
  # shellcheck disable=SC2086
  bash "$src/tests/scripts/registry.sh" start-auth "$TMP/auth" $mode || fail "registry.sh start-auth $mode"
  (
    # shellcheck disable=SC1091
    . "$TMP/auth/registry.env"
    : "${LKB_TEST_REGISTRY_AUTH:?}" "${LKB_TEST_REGISTRY_AUTH_USER:?}" "${LKB_TEST_REGISTRY_AUTH_PASS:?}"
    scheme=http
    if [ -n "$mode" ]; then
      scheme=https
      ca=${LKB_TEST_REGISTRY_AUTH_CA:?no CA written for --tls}
      [ "$(code "http://$LKB_TEST_REGISTRY_AUTH/v2/")" != 200 ] || fail "the TLS registry answers plain HTTP"
      [ "$(code --cacert "$ca" -u lkbuser:lkbpass "https://$LKB_TEST_REGISTRY_AUTH/v2/")" = 200 ] ||
        fail "the certificate does not verify with $ca"
    fi
    [ "$LKB_TEST_REGISTRY_AUTH_SCHEME" = "$scheme" ] || fail "scheme $LKB_TEST_REGISTRY_AUTH_SCHEME, want $scheme"
    url="$scheme://$LKB_TEST_REGISTRY_AUTH/v2/"
    [ "$(code -k "$url")" = 401 ] || fail "$url without credentials: want 401"
    [ "$(code -k -u lkbuser:wrong "$url")" = 401 ] || fail "$url with a wrong password: want 401"
    [ "$(code -k -u lkbuser:lkbpass "$url")" = 200 ] || fail "$url with lkbuser:lkbpass: want 200"
  )
done
pid=$(sed -n 's/^LKB_TEST_REGISTRY_AUTH_PID=//p' "$TMP/auth/registry.env")
bash "$src/tests/scripts/registry.sh" stop "$TMP/auth"
! kill -0 "$pid" 2>/dev/null || fail "registry.sh stop left pid $pid running"
[ ! -f "$TMP/auth/registry.env" ] || fail "registry.sh stop left registry.env"
