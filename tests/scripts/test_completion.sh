#!/usr/bin/env bash
# Shell completion (completions/): the bash script sourced into this shell
# and its completion function called as bash would, COMPREPLY checked for
# sub-commands, flags, format names from `lkb formats` (built in, the
# build tree's plugins and one from LKB_PLUGIN_PATH), comma lists,
# architectures, YAML files and lkb run's outputs; the zsh script parses.
. "$(dirname "$0")/lib.sh"
: "${LKB_SOURCE_DIR:?}" "${LKB_BINARY_DIR:?}"
. "$LKB_SOURCE_DIR/completions/lkb.bash"
complete -p lkb | grep -q -- "-F _lkb" || fail "complete -F _lkb lkb not registered"
# complete LINE...: COMPREPLY for the last word of the line (may be empty).
complete_words() {
  COMP_WORDS=("$LKB_BIN" "$@")
  COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
  COMPREPLY=()
  _lkb || true  # compgen exits 1 on no match; the test shell has set -e
  printf '%s\n' "${COMPREPLY[@]}" | sort >"$TMP/reply"
}
has() { for w; do grep -qxF -- "$w" "$TMP/reply" || { cat "$TMP/reply" >&2; fail "completion lacks '$w'"; }; done; }
hasnt() { for w; do ! grep -qxF -- "$w" "$TMP/reply" || { cat "$TMP/reply" >&2; fail "completion offers '$w'"; }; done; }

complete_words ""
has build run formats cache version help
complete_words b
[ "$(cat "$TMP/reply")" = build ] || fail "lkb b -> $(cat "$TMP/reply")"
complete_words build -form
has -format -format-opt
hasnt -arch
# Formats: built in and from the build tree's plugins, and a plugin on
# LKB_PLUGIN_PATH (the test plugin "good" declares testfmt).
complete_words build -format ""
has kernel+initrd tar iso-efi raw-efi rpi3 rpi3-img qcow2-bios
hasnt FORMAT
LKB_PLUGIN_PATH="$LKB_BINARY_DIR/test-plugins/good.so" complete_words build -f ""
has testfmt kernel+initrd
complete_words build -format kernel+initrd,rpi
has kernel+initrd,rpi3 kernel+initrd,rpi3-img
hasnt rpi3
complete_words build -arch ""
has amd64 arm64
complete_words build -initrd-compression z
has zstd
# YAML files and directories, nothing else.
mkdir -p "$TMP/w/sub"
touch "$TMP/w/a.yml" "$TMP/w/b.yaml" "$TMP/w/c.txt" "$TMP/w/s-kernel" "$TMP/w/s-initrd.img" "$TMP/w/d.iso" "$TMP/w/e.qcow2"
cd "$TMP/w"
complete_words build -q ""
has a.yml b.yaml sub/
hasnt c.txt d.iso
# lkb run: flags, values, and the outputs it boots (kernel+initrd by prefix).
complete_words run -acc
has -accel
complete_words run -accel ""
has kvm tcg
complete_words run -machine r
has raspi3b raspi3ap
complete_words run ""
has qemu s s-initrd.img d.iso e.qcow2 sub/
hasnt a.yml c.txt s-kernel
complete_words run qemu -mem 512 d
has d.iso
complete_words formats ""
has kernel+initrd rpi3
complete_words cache ""
has ls rm clean verify import export
complete_words help ""
has build run formats cache plugin
cd - >/dev/null
zsh -n "$LKB_SOURCE_DIR/completions/_lkb" || fail "the zsh completion does not parse"
grep -q '^#compdef lkb$' "$LKB_SOURCE_DIR/completions/_lkb" || fail "_lkb lacks #compdef"
echo "completion: ok"
