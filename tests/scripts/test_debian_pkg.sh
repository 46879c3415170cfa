#!/usr/bin/env bash
# Debian packages (debian/, docs/packaging.md): dpkg-buildpackage -us -uc
# -b on a copy of the source tree builds lkb, lkb-plugin-iso,
# lkb-plugin-raw, lkb-plugin-rpi3 and lkb-dev; lintian finds no error;
# each package holds its files and declares the Debian packages its boot
# assets come from; then, unpacked with dpkg -x into a directory (no
# installation), the packaged lkb builds examples/minimal.yml from the
# loopback registry as kernel+initrd and with a packaged plugin (iso-bios,
# raw-efi) found through LKB_PLUGIN_PATH, and lkb-dev's pkg-config files
# point into the unpacked tree. LKB_TEST_SKIP_DEB=1 skips it (a developer
# shortcut: CI runs it).
. "$(dirname "$0")/lib.sh"
if [ "${LKB_TEST_SKIP_DEB:-0}" = 1 ]; then
  echo "debian_pkg: skipped (LKB_TEST_SKIP_DEB=1)"
  exit 0
fi
: "${LKB_SOURCE_DIR:?}" "${LKB_TEST_STATE:?LKB_TEST_STATE is unset: run through scripts/test.sh}"
. "$LKB_TEST_STATE/registry.env"
# The packages are built in a copy: dpkg-buildpackage writes debian/ and
# obj-*/ into the tree and the .debs next to it.
mkdir -p "$TMP/src/lkb"
tar -C "$LKB_SOURCE_DIR" -c --exclude=./build --exclude=./build-asan --exclude=./.git \
  --exclude='./obj-*' --exclude='./debian/.debhelper' . | tar -x -C "$TMP/src/lkb"
t0=$SECONDS
(cd "$TMP/src/lkb" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
  >"$TMP/dpkg-buildpackage.log" 2>&1 || { tail -40 "$TMP/dpkg-buildpackage.log" >&2; fail "dpkg-buildpackage failed"; }
echo "dpkg-buildpackage: $((SECONDS - t0)) s"
ver=$(dpkg-parsechangelog -l "$LKB_SOURCE_DIR/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
D="$TMP/src"
for p in lkb lkb-plugin-iso lkb-plugin-raw lkb-plugin-rpi3 lkb-dev; do
  [ -s "$D/${p}_${ver}_$arch.deb" ] || { ls "$D" >&2; fail "no $p package"; }
done
! grep -q "substitution variable .* used, but is not defined" "$TMP/dpkg-buildpackage.log" || fail "undefined substvar"
lintian --fail-on error "$D/lkb_${ver}_$arch.changes" \
  >"$TMP/lintian" 2>&1 || { cat "$TMP/lintian" >&2; fail "lintian reports errors"; }
! grep -q '^E:' "$TMP/lintian" || { cat "$TMP/lintian" >&2; fail "lintian errors"; }

# What each package holds and depends on.
contents() { dpkg -c "$D/${1}_${ver}_$arch.deb" | awk '{print $6}' >"$TMP/c-$1"; }
fields() { dpkg-deb -f "$D/${1}_${ver}_$arch.deb" Depends Suggests >"$TMP/f-$1"; }
contents lkb
for f in ./usr/bin/lkb ./usr/share/man/man1/lkb.1.gz ./usr/share/man/man1/lkb-run.1.gz \
  ./usr/share/man/man1/lkb-build.1.gz ./usr/share/bash-completion/completions/lkb \
  ./usr/share/zsh/vendor-completions/_lkb; do
  grep -qxF "$f" "$TMP/c-lkb" || fail "lkb lacks $f"
done
! grep -q '\.so$' "$TMP/c-lkb" || fail "a plugin in the lkb package"
for p in iso raw rpi3; do
  contents "lkb-plugin-$p"
  grep -qxF "./usr/lib/$multiarch/lkb/plugins/$p.so" "$TMP/c-lkb-plugin-$p" || fail "lkb-plugin-$p lacks $p.so"
  fields "lkb-plugin-$p"
  expect_in "$TMP/f-lkb-plugin-$p" "lkb (= $ver)"
done
expect_in "$TMP/f-lkb-plugin-iso" "isolinux, syslinux-common, systemd-boot-efi"
expect_in "$TMP/f-lkb-plugin-raw" "syslinux, systemd-boot-efi, qemu-utils, e2fsprogs"
case $arch in
  arm64|armhf) expect_in "$TMP/f-lkb-plugin-rpi3" "raspi-firmware, u-boot-rpi" ;;
  *) grep -q "^Suggests: raspi-firmware, u-boot-rpi" "$TMP/f-lkb-plugin-rpi3" || { cat "$TMP/f-lkb-plugin-rpi3"; fail "rpi3 Suggests"; } ;;
esac
contents lkb-dev
for f in ./usr/include/lkb/plugin.h ./usr/include/lkb/disk.h "./usr/lib/$multiarch/liblkb-disk.a" \
  "./usr/lib/$multiarch/pkgconfig/lkb-plugin.pc" "./usr/lib/$multiarch/pkgconfig/lkb-disk.pc" \
  ./usr/share/man/man7/lkb-plugin.7.gz; do
  grep -qxF "$f" "$TMP/c-lkb-dev" || fail "lkb-dev lacks $f"
done

# Unpacked, not installed: the packaged binary and plugins build the example.
ROOT="$TMP/root"
for p in lkb lkb-plugin-iso lkb-plugin-raw lkb-plugin-rpi3 lkb-dev; do dpkg -x "$D/${p}_${ver}_$arch.deb" "$ROOT"; done
LKB="$ROOT/usr/bin/lkb"
expect_rc 0 "$LKB" version
expect_in "$TMP/out" "plugin dir: /usr/lib/$multiarch/lkb/plugins"
export LKB_PLUGIN_PATH="$ROOT/usr/lib/$multiarch/lkb/plugins"
expect_rc 0 "$LKB" formats
for f in iso-bios raw-efi rpi3-img; do
  grep -q "^$f .*$ROOT/usr/lib/$multiarch/lkb/plugins/" "$TMP/out" || { cat "$TMP/out"; fail "$f not from the unpacked plugins"; }
done
sed "s/\${LKB_REGISTRY}/$LKB_TEST_REGISTRY/g" "$LKB_SOURCE_DIR/examples/minimal.yml" >"$TMP/minimal.yml"
mkdir -p "$TMP/out-ex"
expect_rc 0 "$LKB" build -q -cache "$TMP/cache" -dir "$TMP/out-ex" -format kernel+initrd,iso-bios,raw-efi "$TMP/minimal.yml"
for f in minimal-kernel minimal-initrd.img minimal-cmdline minimal.iso minimal-efi.img; do
  [ -s "$TMP/out-ex/$f" ] || { ls -la "$TMP/out-ex" >&2; fail "the packaged lkb did not write $f"; }
done
xorriso -indev "$TMP/out-ex/minimal.iso" -report_el_torito plain >"$TMP/eltorito" 2>&1
grep -Eq "El Torito boot img : +1 +BIOS" "$TMP/eltorito" || { cat "$TMP/eltorito"; fail "the packaged iso plugin's ISO has no BIOS entry"; }
expect_rc 0 "$LKB" run -dry-run -accel tcg "$TMP/out-ex/minimal-efi.img"
expect_in "$TMP/out" "OVMF_CODE_4M.fd"
# The packaged manual page and lkb help say the same; the completion loads.
zcat "$ROOT/usr/share/man/man1/lkb-run.1.gz" | groff -man -Tascii -P-c -P-b -P-u -rHY=0 >"$TMP/man-run"
"$LKB" help run | cmp - "$TMP/man-run" || fail "lkb help run differs from the packaged lkb-run(1)"
bash -c ". '$ROOT/usr/share/bash-completion/completions/lkb' && complete -p lkb" >/dev/null || fail "packaged bash completion"
# lkb-dev: relocatable pkg-config files find the unpacked headers.
PKG_CONFIG_PATH="$ROOT/usr/lib/$multiarch/pkgconfig" pkg-config --cflags lkb-plugin >"$TMP/cflags"
inc=$(sed 's/^-I//; s/ *$//' "$TMP/cflags")
[ -f "$inc/lkb/plugin.h" ] || fail "lkb-plugin.pc points at $inc"
echo "debian_pkg: ok"
