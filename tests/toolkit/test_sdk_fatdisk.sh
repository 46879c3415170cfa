#!/usr/bin/env bash
# Third-party disk plugin workflow: install lkb, build
# sdk/examples/fatdisk OUT OF TREE with `pkg-config lkb-plugin lkb-disk`
# against the installed SDK and toolkit, check it exports only its entry,
# then build a real system with it and check the FAT image with fsck.fat
# and mtools against the kernel and initrd lkb builds, twice (same bytes);
# too small a -size and a full disk fail cleanly.
. "$(dirname "$0")/../scripts/lib.sh"
: "${LKB_SOURCE_DIR:?}" "${LKB_BINARY_DIR:?}"
: "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
R=$LKB_TEST_REGISTRY

prefix="$TMP/prefix"
cmake --install "$LKB_BINARY_DIR" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name lkb-disk.pc)
[ -n "$pc" ] || fail "lkb-disk.pc not installed"
[ -f "$prefix/include/lkb/disk.h" ] || fail "lkb/disk.h not installed"
[ -f "$prefix/include/lkb/disk/fat.h" ] || fail "lkb/disk/fat.h not installed"
[ -n "$(find "$prefix" -name liblkb-disk.a)" ] || fail "liblkb-disk.a not installed"
export PKG_CONFIG_PATH=$(dirname "$pc")
pkg-config --exists lkb-disk || fail "pkg-config does not find lkb-disk"
pkg-config --libs lkb-disk | grep -q -- '-lfdisk' || fail "lkb-disk.pc does not bring libfdisk"
plugindir=$(realpath "$(pkg-config --variable=plugindir lkb-plugin)")

cp -r "$LKB_SOURCE_DIR/sdk/examples/fatdisk" "$TMP/src"
make -s -C "$TMP/src" >/dev/null
so="$TMP/src/fatdisk.so"
# The toolkit is inside the plugin, hidden: only the entry is exported and
# nothing of lkb is imported.
nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' >"$TMP/def"
[ "$(cat "$TMP/def")" = lkb_plugin_entry_v1 ] || { cat "$TMP/def"; fail "fatdisk.so exports more than its entry"; }
if nm -D --undefined-only "$so" | grep -q ' lkb_'; then fail "fatdisk.so imports lkb symbols"; fi

export LKB_PLUGIN_PATH="$so:$plugindir"
expect_rc 0 "$prefix/bin/lkb" formats
grep -qE "^fatdisk +example toolkit plugin" "$TMP/out" || { cat "$TMP/out"; fail "fatdisk not listed"; }

cat >"$TMP/sys.yml" <<YML
kernel:
  image: $R/lkb-test/kernel:6.1
  cmdline: "console=ttyS0 lkb.fat=1"
init:
  - $R/lkb-test/init:1
YML
C="$TMP/cache"
mkdir -p "$TMP/o"
expect_rc 0 "$prefix/bin/lkb" build -q -cache "$C" -format kernel+initrd,fatdisk -dir "$TMP/o" \
  -name sys -format-opt label=LKBFAT "$TMP/sys.yml"
img="$TMP/o/sys.fat.img"
[ -s "$img" ] || { ls -l "$TMP/o"; fail "no FAT image"; }
fsck.fat -n "$img" >"$TMP/fsck" 2>&1 || { cat "$TMP/fsck"; fail "fsck.fat rejects the image"; }
MTOOLS_SKIP_CHECK=1 minfo -i "$img" :: >"$TMP/minfo"
expect_in "$TMP/minfo" 'disk label="LKBFAT     "'
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img" ::/kernel "$TMP/kernel"
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img" ::/initrd.img "$TMP/initrd"
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img" ::/cmdline.txt "$TMP/cmdline"
cmp -s "$TMP/kernel" "$TMP/o/sys-kernel" || fail "kernel in the image differs"
cmp -s "$TMP/initrd" "$TMP/o/sys-initrd.img" || fail "initrd in the image differs"
[ "$(cat "$TMP/cmdline")" = "console=ttyS0 lkb.fat=1" ] || fail "cmdline.txt: $(cat "$TMP/cmdline")"

# Reproducible: a second build gives the same bytes.
mkdir -p "$TMP/o2"
expect_rc 0 "$prefix/bin/lkb" build -q -cache "$C" -format fatdisk -dir "$TMP/o2" -name sys \
  -format-opt label=LKBFAT "$TMP/sys.yml"
cmp -s "$img" "$TMP/o2/sys.fat.img" || fail "fatdisk is not reproducible"

# Too small a -size: a clear error and no output.
mkdir -p "$TMP/o3"
expect_rc 6 "$prefix/bin/lkb" build -q -cache "$C" -format fatdisk -dir "$TMP/o3" -size 1M "$TMP/sys.yml"
expect_in "$TMP/err" "-size gives 1 MiB"
[ -z "$(ls -A "$TMP/o3")" ] || fail "a failed fatdisk build left files"
# A full disk: the output directory is a 16 MiB tmpfs (mounted in a user and
# mount namespace, no root needed): room for the build's shared inputs
# (kernel and initrd, ~12 MB, kept on the outputs' file system), not for the
# image as well. The plugin's write fails with ENOSPC, the error names the
# file being written, and nothing is left in the directory.
mkdir -p "$TMP/full"
expect_rc 0 unshare -rm sh -c 'mount -t tmpfs -o size=16m tmpfs "$1" || exit 99
  "$2" build -q -cache "$3" -format fatdisk -dir "$1" -name sys "$4" 2>"$5"; echo "rc=$?"
  ls -A "$1"' sh "$TMP/full" "$prefix/bin/lkb" "$C" "$TMP/sys.yml" "$TMP/full.err"
[ "$(cat "$TMP/out")" = "rc=6" ] || { cat "$TMP/out" "$TMP/full.err"; fail "full disk: want exit 6 and an empty directory"; }
expect_in "$TMP/full.err" 'writing "kernel" into the image: No space left on device'
echo "sdk fatdisk example: ok"
