#!/usr/bin/env bash
# The loopback registry serves the multi-arch test images as built from
# Debian packages: platforms, kernel layout, ELF machines, labels, digests.
set -euo pipefail
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh (it starts the registry)}"
# shellcheck disable=SC1091
. "$LKB_TEST_STATE/registry.env"
# shellcheck disable=SC1091
. "$LKB_TEST_STATE/images.env"
exec python3 - "$LKB_TEST_REGISTRY" <<'PY'
import hashlib, io, json, os, sys, tarfile, gzip, urllib.request
reg = sys.argv[1]
ACCEPT = ", ".join(["application/vnd.oci.image.index.v1+json",
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json"])
failures = []
def check(cond, msg):
    if not cond:
        failures.append(msg)
def get(path, accept=None):
    req = urllib.request.Request(f"http://{reg}/v2/{path}")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read(), r.headers
def manifest(repo, ref):
    body, hdr = get(f"{repo}/manifests/{ref}", ACCEPT)
    check(hdr["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(body).hexdigest(),
          f"{repo}:{ref} manifest digest header matches content")
    return json.loads(body)
def blob(repo, digest):
    body, _ = get(f"{repo}/blobs/{digest}")
    check("sha256:" + hashlib.sha256(body).hexdigest() == digest, f"{repo} blob {digest} verifies")
    return body
def platform_manifest(repo, tag, arch):
    idx = manifest(repo, tag)
    check(idx["mediaType"] == "application/vnd.oci.image.index.v1+json", f"{repo}:{tag} is an index")
    plats = sorted((m["platform"]["architecture"], m["platform"].get("variant", "")) for m in idx["manifests"])
    check(plats == [("amd64", ""), ("arm64", "v8")], f"{repo}:{tag} platforms are amd64 + arm64/v8, got {plats}")
    m = [m for m in idx["manifests"] if m["platform"]["architecture"] == arch][0]
    return manifest(repo, m["digest"])
def layer_files(repo, man):
    files = {}
    for l in man["layers"]:
        data = blob(repo, l["digest"])
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            for ti in tf:
                files[ti.name] = (ti, tf.extractfile(ti).read() if ti.isfile() else None)
    return files
ELF = {"amd64": 62, "arm64": 183}
def elf_machine(b):
    return int.from_bytes(b[18:20], "little") if b[:4] == b"\x7fELF" else None

for arch in ("amd64", "arm64"):
    man = platform_manifest("lkb-test/kernel", "6.1", arch)
    files = layer_files("lkb-test/kernel", man)
    check("kernel" in files and len(files["kernel"][1]) > 1_000_000, f"{arch} kernel present")
    kt = tarfile.open(fileobj=io.BytesIO(files["kernel.tar"][1]))
    names = kt.getnames()
    check(any(n.startswith("./lib/modules/") and n.endswith(".ko") for n in names), f"{arch} kernel.tar has modules")
    dtbs = [n for n in names if n.startswith("./boot/dtb/broadcom/bcm2837-rpi-3-b")]
    if arch == "arm64":
        check(sorted(dtbs) == ["./boot/dtb/broadcom/bcm2837-rpi-3-b-plus.dtb", "./boot/dtb/broadcom/bcm2837-rpi-3-b.dtb"], f"arm64 dtbs: {dtbs}")
        check(files["kernel"][1][:2] == b"\x1f\x8b", "arm64 kernel is Image.gz")
    else:
        check(dtbs == [], "amd64 kernel.tar has no dtbs")
        check(files["kernel"][1][0x202:0x206] == b"HdrS", "amd64 kernel is a bzImage")

    man = platform_manifest("lkb-test/init", "1", arch)
    files = layer_files("lkb-test/init", man)
    ti, data = files["init"]
    check(ti.mode & 0o111 and b"LKB-INIT-MARKER" in data, f"{arch} /init executable with marker")
    check(elf_machine(files["bin/busybox"][1]) == ELF[arch], f"{arch} busybox ELF machine")

    man = platform_manifest("lkb-test/onboot", "1", arch)
    cfg = json.loads(blob("lkb-test/onboot", man["config"]["digest"]))
    check(cfg["architecture"] == arch, f"{arch} onboot config architecture")
    label = json.loads(cfg["config"]["Labels"]["org.mobyproject.config"])
    check(label["capabilities"] == ["CAP_NET_ADMIN"], f"{arch} onboot label parsed")

man = manifest("lkb-test/amd64only", "1")
check(man["mediaType"] == "application/vnd.oci.image.manifest.v1+json", "amd64only is a plain manifest")
man = platform_manifest("lkb-test/layers", "1", "amd64")
check(len(man["layers"]) == 3, "layers image has 3 layers")
check(man["layers"][2]["mediaType"].endswith(".tar"), "third layer is uncompressed")

if failures:
    print("\n".join("FAIL: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
print("registry images: ok")
PY
