# Sourced: runtime.json of a bundle, as LinuxKit's `service` applies it
# before the container is created. jq reads the JSON; busybox mount takes
# the option words (flags such as bind, remount, private, ro; the rest is
# the file system's data string).

# bundle_mount BUNDLE DESTINATION TYPE SOURCE OPTIONS
# Propagation words (private, rshared, ...) are applied after the mount
# with --make-*: busybox mount would pass them to the file system.
bundle_mount() {
  local dst=$2 type=$3 src=$4 o rest="" prop=""
  case $dst in /*) ;; *) dst=$1/rootfs/$dst ;; esac
  mkdir -p "$dst"
  for o in $(echo "$5" | tr , ' '); do
    case $o in
    shared|rshared|private|rprivate|slave|rslave|unbindable|runbindable) prop="$prop $o" ;;
    *) rest="$rest${rest:+,}$o" ;;
    esac
    case $o in upperdir=*|workdir=*) mkdir -p "${o#*=}" ;; esac
  done
  if [ -n "$type" ]; then
    mount -t "$type" ${rest:+-o "$rest"} "$src" "$dst"
  elif [ -n "$src" ]; then
    mount ${rest:+-o "$rest"} "$src" "$dst"
  elif [ -n "$rest" ]; then
    mount -o "$rest" "$dst"
  fi || { echo "lkb-runtime: cannot mount $dst ($type $src $5)" >&2; return 1; }
  for o in $prop; do
    mount --make-"$o" "$dst" || { echo "lkb-runtime: cannot make $dst $o" >&2; return 1; }
  done
}

# bundle_prepare BUNDLE: mounts then mkdir; a missing runtime.json is an
# empty runtime.
bundle_prepare() {
  local bundle=$1 rt=$1/runtime.json cmds d
  [ -f "$rt" ] || return 0
  # One bundle_mount line per entry, every value quoted by jq's @sh.
  cmds=$(jq -r '.mounts[]? | "bundle_mount \"$bundle\" \(.destination | @sh) \(.type // "" | @sh) \(.source // "" | @sh) \(.options // [] | join(",") | @sh)"' "$rt") || return 1
  echo "$cmds" | while read -r line; do
    [ -z "$line" ] || eval "$line" || exit 1
  done || return 1
  jq -r '.mkdir[]?' "$rt" | while IFS= read -r d; do
    case $d in /*) ;; *) d=$bundle/rootfs/$d ;; esac
    mkdir -p "$d" || exit 1
  done
}

# bundle_cleanup BUNDLE: unmount what bundle_prepare mounted, last first.
bundle_cleanup() {
  local bundle=$1 rt=$1/runtime.json d
  [ -f "$rt" ] || return 0
  jq -r '[.mounts[]?.destination] | reverse | .[]' "$rt" | while IFS= read -r d; do
    case $d in /*) ;; *) d=$bundle/rootfs/$d ;; esac
    umount "$d" 2>/dev/null
  done
  return 0
}
