#!/usr/bin/env bash
# The SPDX SBOM (build-and-outputs.md §9.2, docs/build.md "SBOM") built from
# the test images' buildkit attestations in the loopback registry: the
# entry in the tar and the initrd, a package and prefix-joined files from
# each image LinuxKit collects from (and nothing from an image without
# attestations or from a de-duplicated container), file checksums that
# match the files in the image, -no-sbom, -sbom-output, byte-identical
# builds, -sbom-current-time, -offline with a warm cache, -input-tar, and
# malformed attestations refused with nothing written.
. "$(dirname "$0")/lib.sh"
lkb_test_registry
C="$TMP/cache"
B=("$LKB_BIN" build -q -cache "$C" -arch amd64)
lkb_test_sys_yml "$TMP/sys.yml" layers:1 - <<YML
  - name: two
    image: $R/lkb-test/onboot:1
services:
  - name: svc
    image: $R/lkb-test/service:1
volumes:
  - name: vimg
    image: $R/lkb-test/runc:1
  - name: ocivol
    image: $R/lkb-test/containerd:1
    format: oci
YML
expect_rc 0 "${B[@]}" -o "$TMP/a.tar" "$TMP/sys.yml"

# --- the entry and its contents --------------------------------------------------
python3 - "$TMP/a.tar" <<'PY' || fail "SBOM entry or contents"
import hashlib, json, sys, tarfile
t = tarfile.open(sys.argv[1])
members = t.getmembers()
e = members[-1]
assert e.name == "sbom.spdx.json", f"last entry is {e.name}"
assert e.isfile() and e.mode == 0o644 and e.uid == 0 and e.gid == 0 and e.mtime == 1492533000, \
    (oct(e.mode), e.uid, e.gid, e.mtime)
assert e.pax_headers == {}, f"pax records {e.pax_headers}"
raw = t.extractfile(e).read()
assert raw.endswith(b"}\n") and raw.count(b"\n") == 1, "compact JSON and one newline"
d = json.loads(raw)
assert list(d)[:6] == ["spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo"], list(d)
assert (d["spdxVersion"], d["dataLicense"], d["SPDXID"], d["name"]) == ("SPDX-2.3", "CC0-1.0", "SPDXRef-DOCUMENT", "sbom")
assert d["creationInfo"] == {"licenseListVersion": "3.20", "creators": ["Organization: LinuxKit", "Tool: linuxkit"],
                             "created": "2017-04-18T16:30:00Z"}, d["creationInfo"]
assert d["documentNamespace"].startswith("https://github.com/linuxkit/linuxkit/sbom-")
# one package list per image in LinuxKit's collection order: kernel, init
# (layers: none), the filesystem volume, the first onboot (the second shares
# its extraction), the service; not the OCI-layout volume
pk = [(p["name"].split("-6.1")[0], p.get("packageFileName")) for p in d["packages"]]
want = [("linux-image", None), ("busybox-static", None),
        ("libseccomp2", "containers/volumes/vimg/lower"), ("runc", "containers/volumes/vimg/lower"),
        ("busybox-static", "containers/onboot/000-one/rootfs"),
        ("busybox-static", "containers/services/svc/lower")]
assert pk == want, pk
for p in d["packages"]:
    purl = [r["referenceLocator"] for r in p["externalRefs"] if r["referenceType"] == "purl"]
    assert purl and purl[0].startswith(f"pkg:deb/debian/{p['name']}@") and "?arch=amd64" in purl[0], purl
names = [f["fileName"] for f in d["files"]]
for n in ("/kernel", "/bin/busybox", "containers/volumes/vimg/lower/usr/sbin/runc",
          "containers/onboot/000-one/rootfs/bin/busybox", "containers/services/svc/lower/bin/busybox"):
    assert n in names, f"{n} not in {names}"
assert not any("001-two" in n or "ocivol" in n for n in names), names
# the checksums are the files' in the output
for f in d["files"]:
    if f["fileName"] == "/kernel":
        continue  # stored as boot/kernel
    data = t.extractfile(f["fileName"].lstrip("/")).read()
    sums = {c["algorithm"]: c["checksumValue"] for c in f["checksums"]}
    assert sums["SHA256"] == hashlib.sha256(data).hexdigest(), f["fileName"]
assert hashlib.sha256(t.extractfile("boot/kernel").read()).hexdigest() == \
    [c for f in d["files"] if f["fileName"] == "/kernel" for c in f["checksums"] if c["algorithm"] == "SHA256"][0]["checksumValue"]
rel = {(r["spdxElementId"], r["relationshipType"]) for r in d["relationships"]}
assert ("SPDXRef-DOCUMENT", "DESCRIBES") in rel, rel
PY

# --- reproducible; -sbom-current-time ------------------------------------------
expect_rc 0 "${B[@]}" -o "$TMP/b.tar" "$TMP/sys.yml"
cmp -s "$TMP/a.tar" "$TMP/b.tar" || fail "two builds differ"
for i in 1 2; do
  expect_rc 0 "${B[@]}" -sbom-current-time -o "$TMP/now$i.tar" "$TMP/sys.yml"
  tar -xOf "$TMP/now$i.tar" sbom.spdx.json >"$TMP/now$i.json" 2>/dev/null
done
python3 - "$TMP/a.tar" "$TMP/now1.json" "$TMP/now2.json" <<'PY' || fail "-sbom-current-time"
import datetime, json, sys, tarfile
a = json.load(tarfile.open(sys.argv[1]).extractfile("sbom.spdx.json"))
n1, n2 = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
when = datetime.datetime.strptime(n1["creationInfo"]["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
age = (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()
assert -5 < age < 600, f"created {n1['creationInfo']['created']} is not now"
assert len({a["documentNamespace"], n1["documentNamespace"], n2["documentNamespace"]}) == 3, "namespaces"
assert n1["packages"] == a["packages"] and n1["files"] == a["files"]
PY

# --- -no-sbom, -sbom-output, the initrd -----------------------------------------
expect_rc 0 "${B[@]}" -no-sbom -o "$TMP/none.tar" "$TMP/sys.yml"
tar -tf "$TMP/none.tar" 2>/dev/null >"$TMP/none.list"
! grep -q spdx "$TMP/none.list" || fail "-no-sbom wrote an SBOM"
[ "$(($(tar -tf "$TMP/a.tar" 2>/dev/null | wc -l) - 1))" = "$(wc -l <"$TMP/none.list")" ] || fail "-no-sbom: other entries changed"
expect_rc 0 "${B[@]}" -sbom-output my.sbom.json -o "$TMP/named.tar" "$TMP/sys.yml"
tar -tf "$TMP/named.tar" 2>/dev/null >"$TMP/named.list"
[ "$(tail -n 1 "$TMP/named.list")" = my.sbom.json ] || fail "-sbom-output: $(tail -n 1 "$TMP/named.list")"
! grep -qx sbom.spdx.json "$TMP/named.list" || fail "-sbom-output also wrote sbom.spdx.json"
cmp -s <(tar -xOf "$TMP/named.tar" my.sbom.json 2>/dev/null) <(tar -xOf "$TMP/a.tar" sbom.spdx.json 2>/dev/null) ||
  fail "-sbom-output changed the contents"
expect_rc 2 "${B[@]}" -sbom-output ../x -o "$TMP/bad.tar" "$TMP/sys.yml"
expect_in "$TMP/err" "-sbom-output"
[ ! -e "$TMP/bad.tar" ] || fail "a refused -sbom-output left an output"
mkdir "$TMP/ki"
expect_rc 0 "${B[@]}" -format kernel+initrd -initrd-compression none -dir "$TMP/ki" -name s "$TMP/sys.yml"
cpio_join <"$TMP/ki/s-initrd.img" >"$TMP/initrd.cpio"
(cd "$TMP/ki" && cpio -id --quiet sbom.spdx.json <"$TMP/initrd.cpio")
cmp -s "$TMP/ki/sbom.spdx.json" <(tar -xOf "$TMP/a.tar" sbom.spdx.json 2>/dev/null) || fail "the initrd's SBOM differs from the tar's"

# --- offline: a warm cache serves the attestations too ----------------------------
expect_rc 0 "${B[@]}" -offline -o "$TMP/off.tar" "$TMP/sys.yml"
cmp -s "$TMP/a.tar" "$TMP/off.tar" || fail "-offline with a warm cache differs"
# a cache filled with -no-sbom lacks them: offline says so, online fetches them
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/c2" -arch amd64 -no-sbom -o "$TMP/x.tar" "$TMP/sys.yml"
expect_rc 4 "$LKB_BIN" build -q -cache "$TMP/c2" -arch amd64 -offline -o "$TMP/x2.tar" "$TMP/sys.yml"
expect_in "$TMP/err" "offline mode"
expect_in "$TMP/err" "attestation"
[ ! -e "$TMP/x2.tar" ] || fail "a failed offline build left an output"
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/c2" -arch amd64 -o "$TMP/x3.tar" "$TMP/sys.yml"
cmp -s "$TMP/a.tar" "$TMP/x3.tar" || fail "attestations fetched later give another output"
expect_rc 0 "$LKB_BIN" cache -cache "$TMP/c2" clean
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/c2" -arch amd64 -offline -o "$TMP/x4.tar" "$TMP/sys.yml"
cmp -s "$TMP/a.tar" "$TMP/x4.tar" || fail "cache clean dropped attestation blobs"

# --- retries and verification, as for layers: through tests/tools/faultproxy.py,
# each blob's first GET answers 503, the second sends wrong bytes; each
# manifest's first GET answers 503
python3 "$LKB_SOURCE_DIR/tests/tools/faultproxy.py" --upstream "$R" --port-file "$TMP/proxy.port" \
  --log "$TMP/proxy.log" --faults 503,corrupt --manifest-faults 503 &
PROXY_PID=$!
trap 'kill "$PROXY_PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do [ -s "$TMP/proxy.port" ] && break; sleep 0.1; done
P=127.0.0.1:$(cat "$TMP/proxy.port")
printf 'init:\n  - %s/lkb-test/init:1\n' "$P" >"$TMP/proxied.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/c-proxied" -arch amd64 -o "$TMP/proxied.tar" "$TMP/proxied.yml"
cp "$TMP/proxy.log" "$TMP/proxy.log.faults"
# the same proxy as a mirror of the registry (no faults left): the
# attestations come through it, and the output equals a direct build's
printf 'init:\n  - %s/lkb-test/init:1\n' "$R" >"$TMP/mirrored.yml"
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/c-direct" -arch amd64 -o "$TMP/direct.tar" "$TMP/mirrored.yml"
: >"$TMP/proxy.log"
expect_rc 0 "$LKB_BIN" build -q -cache "$TMP/c-mirror" -arch amd64 -mirror "$R=http://$P" \
  -o "$TMP/mirrored.tar" "$TMP/mirrored.yml"
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
cmp -s "$TMP/direct.tar" "$TMP/mirrored.tar" || fail "a build through a mirror differs"
read -r ATT STMT < <(python3 - "$LKB_TEST_OCI_DIR/init" <<'PY'
import json, sys
d = sys.argv[1]
blob = lambda dg: json.load(open(f"{d}/blobs/sha256/{dg[7:]}"))
idx = blob(json.load(open(f"{d}/index.json"))["manifests"][0]["digest"])
amd = [m["digest"] for m in idx["manifests"] if m["platform"]["architecture"] == "amd64"][0]
att = [m for m in idx["manifests"] if m.get("annotations", {}).get("vnd.docker.reference.digest") == amd][0]
sbom = [l for l in blob(att["digest"])["layers"] if l["annotations"]["in-toto.io/predicate-type"] == "https://spdx.dev/Document"]
print(att["digest"], sbom[0]["digest"])
PY
)
grep -q "^GET /v2/lkb-test/init/blobs/$STMT 200" "$TMP/proxy.log" ||
  { cat "$TMP/proxy.log" >&2; fail "the SBOM statement did not come through the mirror"; }
[ "$(grep -c "^GET /v2/lkb-test/init/manifests/$ATT " "$TMP/proxy.log.faults")" = 2 ] ||
  { cat "$TMP/proxy.log.faults" >&2; fail "the attestation manifest was not fetched again after a 503"; }
[ "$(grep -c "^GET /v2/lkb-test/init/blobs/$STMT " "$TMP/proxy.log.faults")" = 3 ] ||
  { cat "$TMP/proxy.log.faults" >&2; fail "the SBOM statement was not retried after a 503 and wrong bytes"; }
python3 - "$TMP/proxied.tar" <<'PY' || fail "SBOM through the fault proxy"
import json, sys, tarfile
d = json.load(tarfile.open(sys.argv[1]).extractfile("sbom.spdx.json"))
assert [p["name"] for p in d["packages"]] == ["busybox-static"], d.get("packages")
PY

# --- -input-tar: copied sections' attestations come from the cache ---------------
# (no volumes: lkb builds them again, which an empty cache cannot)
sed '/^volumes:/,$d' "$TMP/sys.yml" >"$TMP/meta.yml"
printf 'files:\n  - path: etc/linuxkit.yml\n    metadata: yaml\n' >>"$TMP/meta.yml"
expect_rc 0 "${B[@]}" -o "$TMP/m.tar" "$TMP/meta.yml"
expect_rc 0 "$LKB_BIN" build -cache "$C" -arch amd64 -input-tar "$TMP/m.tar" -o "$TMP/m2.tar" "$TMP/meta.yml"
expect_in "$TMP/err" "Copy init[0] files"
cmp -s "$TMP/m.tar" "$TMP/m2.tar" || fail "-input-tar: the SBOM differs from a fresh build's"
expect_rc 0 "$LKB_BIN" build -cache "$TMP/empty" -offline -arch amd64 -input-tar "$TMP/m.tar" -o "$TMP/m3.tar" "$TMP/meta.yml"
expect_in "$TMP/err" "is not in the cache: its attestations are left out"
python3 - "$TMP/m3.tar" <<'PY' || fail "-input-tar with an empty cache"
import json, sys, tarfile
d = json.load(tarfile.open(sys.argv[1]).extractfile("sbom.spdx.json"))
assert "packages" not in d, d.get("packages")
PY

# --- malformed attestations: a clear error, nothing written ----------------------
push_bad() { # push_bad TAG KIND: an amd64 image whose attestation is broken
  python3 - "$R" "$1" "$2" "$LKB_SOURCE_DIR/tests/tools" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[4])
import ocitest
reg, tag, kind = ocitest.Registry(sys.argv[1]), sys.argv[2], sys.argv[3]
repo = "lkb-test/bad-sbom"
blobs, manb, info, _, _ = ocitest.image("amd64", 1000)
for b in blobs.values():
    reg.blob(repo, b)
reg.manifest(repo, info["manifest"], manb, ocitest.OCI_MANIFEST)
stmt = {"notjson": b"{not json", "packages": json.dumps({"predicate": {"packages": {}}}).encode(),
        "files": json.dumps({"predicate": {"files": [{"fileName": 7}]}}).encode()}.get(kind, b"{}")
cfg = json.dumps({"architecture": "unknown", "os": "unknown", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
layer = {"mediaType": "application/vnd.in-toto+json", "digest": reg.blob(repo, stmt), "size": len(stmt),
         "annotations": {"in-toto.io/predicate-type": "https://spdx.dev/Document"}}
att = {"schemaVersion": 2, "mediaType": ocitest.OCI_MANIFEST,
       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": reg.blob(repo, cfg), "size": len(cfg)},
       "layers": [dict(layer, size={"manifest": -1, "huge": 1 << 40}.get(kind, len(stmt)))]}
attb = json.dumps(att).encode()
reg.manifest(repo, ocitest.sha(attb), attb, ocitest.OCI_MANIFEST)
idx = {"schemaVersion": 2, "mediaType": ocitest.OCI_INDEX, "manifests": [
    {"mediaType": ocitest.OCI_MANIFEST, "digest": info["manifest"], "size": len(manb),
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": ocitest.OCI_MANIFEST, "digest": ocitest.sha(attb), "size": len(attb),
     "platform": {"architecture": "unknown", "os": "unknown"},
     "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                     "vnd.docker.reference.digest": info["manifest"]}}]}
reg.manifest(repo, tag, json.dumps(idx).encode(), ocitest.OCI_INDEX)
print(ocitest.sha(attb) if kind in ("manifest", "huge") else ocitest.sha(stmt))
PY
}
for kind in notjson packages files manifest huge; do
  digest=$(push_bad "$kind" "$kind") || fail "pushing the $kind image"
  printf 'init:\n  - %s/lkb-test/bad-sbom:%s\n' "$R" "$kind" >"$TMP/bad.yml"
  want=5
  case $kind in manifest | huge) want=4 ;; esac
  expect_rc "$want" "${B[@]}" -o "$TMP/bad-$kind.tar" "$TMP/bad.yml"
  expect_in "$TMP/err" "lkb-test/bad-sbom:$kind"
  expect_in "$TMP/err" "$digest"
  [ "$kind" != huge ] || expect_in "$TMP/err" "of 1099511627776 bytes is over the limit"
  [ -z "$(find "$TMP" -maxdepth 1 -name "*bad-$kind*")" ] || fail "$kind: a failed build left $(find "$TMP" -maxdepth 1 -name "*bad-$kind*")"
  # the attestation is not read at all with -no-sbom
  expect_rc 0 "${B[@]}" -no-sbom -o "$TMP/bad-$kind.tar" "$TMP/bad.yml"
done
echo "test_sbom: ok"
