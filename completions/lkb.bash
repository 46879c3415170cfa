# bash completion for lkb: sub-commands, flags, format names (from
# `lkb formats`, so plugins' formats too), architectures, YAML files and
# the outputs `lkb run` boots. Plain bash: works without the
# bash-completion package's helpers.

_lkb_formats() {
  "$1" formats 2>/dev/null | awk 'NR > 1 && $1 != "" { print $1 }'
}

# _lkb_files GLOB...: files matching any glob, and directories to descend.
_lkb_files() {
  local cur=$1 g; shift
  local IFS=$'\n'
  COMPREPLY+=($(compgen -d -S / -- "$cur"))
  for g; do COMPREPLY+=($(compgen -f -X "!$g" -- "$cur")); done
  compopt -o nospace 2>/dev/null || true
}

# Outputs lkb run boots: images by suffix, kernel+initrd by their prefix.
_lkb_run_targets() {
  local cur=$1 k
  _lkb_files "$cur" '*.iso' '*.img' '*.raw' '*.qcow2' '*.vhd' '*.vmdk'
  for k in $(compgen -f -X '!*-kernel' -- "$cur"); do COMPREPLY+=("${k%-kernel}"); done
}

_lkb() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local lkb=${COMP_WORDS[0]} cmd="" i
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac
  done
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "build run formats cache version help" -- "$cur"))
    return
  fi
  case $cmd in
  build)
    case $prev in
      -format|--format|-f)
        # Comma-separated lists: complete the part after the last comma.
        local head="" part=$cur
        [[ $cur == *,* ]] && head=${cur%,*}, part=${cur##*,}
        COMPREPLY=($(compgen -P "$head" -W "$(_lkb_formats "$lkb")" -- "$part"))
        return ;;
      -arch|--arch) COMPREPLY=($(compgen -W "amd64 arm64" -- "$cur")); return ;;
      -initrd-compression|--initrd-compression)
        COMPREPLY=($(compgen -W "gzip zstd lz4 none" -- "$cur")); return ;;
      -dir|--dir|-cache|--cache) COMPREPLY=($(compgen -d -- "$cur")); return ;;
      -o|-output|--output|-input-tar|-sbom-output) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      -name|-size|-format-opt|-fetch-timeout|-fetch-deadline) return ;;
    esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "-format -f -format-opt -name -dir -o -output -size -arch -cache
        -pull -offline -fetch-timeout -fetch-deadline -decompress-kernel -initrd-compression
        -dry-run -no-sbom -sbom-output -sbom-current-time -docker -input-tar -v -verbose -q
        -quiet -help" -- "$cur"))
    else
      _lkb_files "$cur" '*.yml' '*.yaml'
    fi ;;
  run)
    case $prev in
      -arch) COMPREPLY=($(compgen -W "amd64 arm64 x86_64 aarch64" -- "$cur")); return ;;
      -accel) COMPREPLY=($(compgen -W "kvm tcg" -- "$cur")); return ;;
      -networking) COMPREPLY=($(compgen -W "user none" -- "$cur")); return ;;
      -machine) COMPREPLY=($(compgen -W "raspi3b raspi3ap" -- "$cur")); return ;;
      -state) COMPREPLY=($(compgen -d -- "$cur")); return ;;
      -disk|-console-file|-fw|-dtb) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      -mem|-cpus|-publish|-append) return ;;
    esac
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "-arch -mem -cpus -disk -publish -networking -accel -gui
        -console-file -state -uefi -fw -append -machine -dtb -dry-run -help" -- "$cur"))
    else
      [ "$prev" = run ] && COMPREPLY=($(compgen -W "qemu" -- "$cur"))
      _lkb_run_targets "$cur"
    fi ;;
  formats)
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "-v -verbose -help" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$(_lkb_formats "$lkb")" -- "$cur"))
    fi ;;
  cache)
    case $prev in
      -cache) COMPREPLY=($(compgen -d -- "$cur")); return ;;
      import|export) COMPREPLY=($(compgen -f -- "$cur")); return ;;
      cache) COMPREPLY=($(compgen -W "ls rm clean verify import export -cache" -- "$cur")); return ;;
      clean) COMPREPLY=($(compgen -W "-all" -- "$cur")); return ;;
    esac ;;
  help)
    COMPREPLY=($(compgen -W "build run formats cache plugin" -- "$cur")) ;;
  esac
  return 0
}
complete -F _lkb lkb
