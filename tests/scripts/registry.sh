#!/usr/bin/env bash
# Loopback instances of Debian's docker-registry (distribution 2.8) for tests.
#
#   registry.sh start STATE_DIR        plain HTTP, no auth, deletes enabled
#       -> STATE_DIR/registry.env: LKB_TEST_REGISTRY=127.0.0.1:PORT, _PID
#   registry.sh start-auth STATE_DIR [--tls]
#       htpasswd Basic auth (user lkbuser, password lkbpass); plain HTTP, or
#       HTTPS with a fresh self-signed certificate given --tls
#       -> LKB_TEST_REGISTRY_AUTH=127.0.0.1:PORT, _AUTH_USER, _AUTH_PASS,
#          _AUTH_SCHEME (http|https), _AUTH_CA (--tls only), _AUTH_PID
#   registry.sh start-proxy STATE_DIR UPSTREAM_URL [--tls]
#       a pull-through cache (proxy: remoteurl: UPSTREAM_URL), data in
#       STATE_DIR/registry-proxy; with --tls HTTPS with a certificate signed
#       by a fresh test CA (STATE_DIR/registry-proxy-ca.pem)
#       -> LKB_TEST_REGISTRY_PROXY=127.0.0.1:PORT, _PROXY_SCHEME,
#          _PROXY_CA (--tls only), _PROXY_DATA, _PROXY_PID
#   registry.sh stop STATE_DIR         stop all three
#   registry.sh env STATE_DIR          print `export` lines for the running
#                                      instances; fails if none answers
#
# Ports are free loopback ports; storage lives in STATE_DIR/registry and
# STATE_DIR/registry-auth so pushed images survive restarts. A start while
# the instance still answers reuses it. Quiet on success; on failure the
# registry log is shown. docker-registry 2.8 accepts htpasswd over plain
# HTTP (the distribution docs only recommend TLS), hence the default.
set -euo pipefail
usage() { echo "usage: registry.sh start|start-auth [--tls]|start-proxy URL [--tls]|stop|env STATE_DIR" >&2; exit 2; }
cmd=${1:-}
state=${2:-}
if [ -z "$cmd" ] || [ -z "$state" ]; then usage; fi
tls=0
if [ "$cmd" = start-auth ] && [ "${3:-}" = --tls ]; then tls=1; fi
upstream=""
if [ "$cmd" = start-proxy ]; then
  upstream=${3:-}
  [ -n "$upstream" ] || usage
  if [ "${4:-}" = --tls ]; then tls=1; fi
fi
mkdir -p "$state"
state=$(cd "$state" && pwd)
envf="$state/registry.env"
AUTH_USER=lkbuser
AUTH_PASS=lkbpass

die() { echo "registry.sh: $*" >&2; exit 1; }

# Serialise concurrent starts/stops on the same STATE_DIR.
exec 9>"$state/registry.lock"
flock 9

envget() { # envget KEY: value from registry.env, empty if absent
  [ -f "$envf" ] || return 0
  sed -n "s/^$1=//p" "$envf" | tail -1
}

envput() { # envput PATTERN KEY=VALUE...: replace the lines matching PATTERN
  local pat=$1; shift
  { grep -Ev "$pat" "$envf" 2>/dev/null || true; printf '%s\n' "$@"; } >"$envf.tmp"
  mv "$envf.tmp" "$envf"
}
MAIN_KEYS='^LKB_TEST_REGISTRY(_PID)?='
AUTH_KEYS='^LKB_TEST_REGISTRY_AUTH'
PROXY_KEYS='^LKB_TEST_REGISTRY_PROXY'

ours() { # ours PID CONFIG: PID is a docker-registry serving CONFIG
  [ -n "$1" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "docker-registry serve $2"
}

http_code() { # http_code URL [curl args]: HTTP status, 000 if no answer
  local url=$1; shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" 2>/dev/null || true
}

main_alive() { # main_alive HOSTPORT
  [ "$(http_code "http://$1/v2/")" = 200 ]
}

auth_alive() { # auth_alive HOSTPORT SCHEME [CA]: 401 without, 200 with credentials
  local -a cacert=()
  [ -n "${3:-}" ] && cacert=(--cacert "$3")
  [ "$(http_code "$2://$1/v2/" "${cacert[@]}")" = 401 ] &&
    [ "$(http_code "$2://$1/v2/" "${cacert[@]}" -u "$AUTH_USER:$AUTH_PASS")" = 200 ]
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

stop_pid() { # stop_pid PID CONFIG
  ours "$1" "$2" || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$1" 2>/dev/null || true
}

# launch NAME CONFIG PROBE...: serve CONFIG in the background until PROBE
# succeeds; sets $pid. The config's port comes from $port.
launch() {
  local name=$1 cfg=$2; shift 2
  command -v docker-registry >/dev/null || [ -x /usr/bin/docker-registry ] ||
    die "docker-registry is not installed (apt-get install docker-registry)"
  # 9>&-: the registry must not inherit (and so hold) the lock.
  nohup /usr/bin/docker-registry serve "$cfg" >"$state/$name.log" 2>&1 </dev/null 9>&- &
  pid=$!
  for _ in $(seq 1 150); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  return 1
}

# serve NAME CFG STORAGE HTTP_EXTRA TOP_EXTRA PROBE [PROBE ARGS]: a config on
# a free loopback port, launched until PROBE 127.0.0.1:PORT ARGS... answers;
# three tries (the port may be taken before the registry binds it). Sets
# $port and $pid; on failure shows the log.
serve() {
  local name=$1 cfg=$2 storage=$3 http_extra=$4 top_extra=$5 probe=$6; shift 6
  mkdir -p "$storage"
  for _ in 1 2 3; do
    port=$(free_port)
    config "$storage" "$port" "$http_extra" "$top_extra" >"$cfg"
    launch "$name" "$cfg" "$probe" "127.0.0.1:$port" "$@" && return 0
  done
  cat "$state/$name.log" >&2
  return 1
}

config() { # config STORAGE PORT [HTTP_EXTRA [TOP_EXTRA]]: a registry config on stdout
  cat <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
  secret: lkb-test-not-secret
${3:-}
${4:-}
CFG
}

start_main() {
  local cfg="$state/registry-config.yml" reg
  reg=$(envget LKB_TEST_REGISTRY)
  if [ -n "$reg" ] && ours "$(envget LKB_TEST_REGISTRY_PID)" "$cfg" && main_alive "$reg"; then
    return 0
  fi
  stop_pid "$(envget LKB_TEST_REGISTRY_PID)" "$cfg"
  serve registry "$cfg" "$state/registry" "" "" main_alive ||
    die "docker-registry did not start (log above, config $cfg)"
  envput "$MAIN_KEYS" "LKB_TEST_REGISTRY=127.0.0.1:$port" "LKB_TEST_REGISTRY_PID=$pid"
}

start_auth() {
  local cfg="$state/registry-auth-config.yml" reg scheme=http ca=""
  [ "$tls" = 1 ] && { scheme=https; ca="$state/registry-auth-ca.pem"; }
  reg=$(envget LKB_TEST_REGISTRY_AUTH)
  if [ -n "$reg" ] && [ "$(envget LKB_TEST_REGISTRY_AUTH_SCHEME)" = "$scheme" ] &&
     ours "$(envget LKB_TEST_REGISTRY_AUTH_PID)" "$cfg" && auth_alive "$reg" "$scheme" "$ca"; then
    return 0
  fi
  stop_pid "$(envget LKB_TEST_REGISTRY_AUTH_PID)" "$cfg"
  command -v htpasswd >/dev/null || die "htpasswd is not installed (apt-get install apache2-utils)"
  htpasswd -Bbn "$AUTH_USER" "$AUTH_PASS" >"$state/registry-auth.htpasswd" 2>/dev/null
  local http_extra="" auth_extra
  auth_extra=$(printf 'auth:\n  htpasswd:\n    realm: lkb-test\n    path: %s' "$state/registry-auth.htpasswd")
  if [ "$tls" = 1 ]; then
    # Self-signed, valid for 127.0.0.1 and localhost; it is its own CA.
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=lkb-test-registry" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -keyout "$state/registry-auth-key.pem" -out "$ca" >/dev/null 2>&1 ||
      die "openssl could not create the test certificate"
    http_extra=$(printf '  tls:\n    certificate: %s\n    key: %s' "$ca" "$state/registry-auth-key.pem")
  fi
  serve registry-auth "$cfg" "$state/registry-auth" "$http_extra" "$auth_extra" auth_alive "$scheme" "$ca" ||
    die "docker-registry with htpasswd auth did not start (log above, config $cfg)"
  local -a lines=("LKB_TEST_REGISTRY_AUTH=127.0.0.1:$port" "LKB_TEST_REGISTRY_AUTH_USER=$AUTH_USER"
                  "LKB_TEST_REGISTRY_AUTH_PASS=$AUTH_PASS" "LKB_TEST_REGISTRY_AUTH_SCHEME=$scheme")
  [ -n "$ca" ] && lines+=("LKB_TEST_REGISTRY_AUTH_CA=$ca")
  lines+=("LKB_TEST_REGISTRY_AUTH_PID=$pid")
  envput "$AUTH_KEYS" "${lines[@]}"
}

proxy_alive() { # proxy_alive HOSTPORT SCHEME [CA]
  local -a cacert=()
  [ -n "${3:-}" ] && cacert=(--cacert "$3")
  [ "$(http_code "$2://$1/v2/" "${cacert[@]}")" = 200 ]
}

# A test CA and a server certificate it signs for 127.0.0.1/localhost, so
# clients are given the CA (-cert-file), not the server's own certificate.
make_ca_cert() { # make_ca_cert PREFIX: PREFIX-ca.pem, PREFIX-cert.pem, PREFIX-key.pem
  local p=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=lkb-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$p-ca-key.pem" -out "$p-ca.pem" >/dev/null 2>&1 &&
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$p-key.pem" -out "$p.csr" >/dev/null 2>&1 &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$p.ext" &&
  openssl x509 -req -in "$p.csr" -CA "$p-ca.pem" -CAkey "$p-ca-key.pem" -CAcreateserial \
    -days 30 -extfile "$p.ext" -out "$p-cert.pem" >/dev/null 2>&1 ||
    die "openssl could not create the test CA and certificate"
  rm -f "$p.csr" "$p.ext"
}

start_proxy() {
  local cfg="$state/registry-proxy-config.yml" reg scheme=http ca=""
  [ "$tls" = 1 ] && { scheme=https; ca="$state/registry-proxy-ca.pem"; }
  reg=$(envget LKB_TEST_REGISTRY_PROXY)
  if [ -n "$reg" ] && [ "$(envget LKB_TEST_REGISTRY_PROXY_SCHEME)" = "$scheme" ] &&
     grep -qF "remoteurl: $upstream" "$cfg" 2>/dev/null &&
     ours "$(envget LKB_TEST_REGISTRY_PROXY_PID)" "$cfg" && proxy_alive "$reg" "$scheme" "$ca"; then
    return 0
  fi
  stop_pid "$(envget LKB_TEST_REGISTRY_PROXY_PID)" "$cfg"
  local http_extra="" proxy_extra
  proxy_extra=$(printf 'proxy:\n  remoteurl: %s' "$upstream")
  if [ "$tls" = 1 ]; then
    make_ca_cert "$state/registry-proxy"
    http_extra=$(printf '  tls:\n    certificate: %s\n    key: %s' "$state/registry-proxy-cert.pem" "$state/registry-proxy-key.pem")
  fi
  serve registry-proxy "$cfg" "$state/registry-proxy" "$http_extra" "$proxy_extra" proxy_alive "$scheme" "$ca" ||
    die "docker-registry in proxy mode did not start (log above, config $cfg)"
  local -a lines=("LKB_TEST_REGISTRY_PROXY=127.0.0.1:$port" "LKB_TEST_REGISTRY_PROXY_SCHEME=$scheme"
                  "LKB_TEST_REGISTRY_PROXY_DATA=$state/registry-proxy")
  [ -n "$ca" ] && lines+=("LKB_TEST_REGISTRY_PROXY_CA=$ca")
  lines+=("LKB_TEST_REGISTRY_PROXY_PID=$pid")
  envput "$PROXY_KEYS" "${lines[@]}"
}

case "$cmd" in
start) start_main ;;
start-auth) start_auth ;;
start-proxy) start_proxy ;;
stop)
  stop_pid "$(envget LKB_TEST_REGISTRY_PID)" "$state/registry-config.yml"
  stop_pid "$(envget LKB_TEST_REGISTRY_AUTH_PID)" "$state/registry-auth-config.yml"
  stop_pid "$(envget LKB_TEST_REGISTRY_PROXY_PID)" "$state/registry-proxy-config.yml"
  rm -f "$envf"
  ;;
env)
  [ -f "$envf" ] || die "no registry started in $state (run: registry.sh start $state)"
  reg=$(envget LKB_TEST_REGISTRY)
  areg=$(envget LKB_TEST_REGISTRY_AUTH)
  pat=""
  if [ -n "$reg" ] && main_alive "$reg"; then pat="$MAIN_KEYS"; fi
  preg=$(envget LKB_TEST_REGISTRY_PROXY)
  if [ -n "$preg" ] && proxy_alive "$preg" "$(envget LKB_TEST_REGISTRY_PROXY_SCHEME)" "$(envget LKB_TEST_REGISTRY_PROXY_CA)"; then
    pat="${pat:+$pat|}$PROXY_KEYS"
  fi
  if [ -n "$areg" ] && auth_alive "$areg" "$(envget LKB_TEST_REGISTRY_AUTH_SCHEME)" "$(envget LKB_TEST_REGISTRY_AUTH_CA)"; then
    pat="${pat:+$pat|}$AUTH_KEYS"
  fi
  [ -n "$pat" ] || die "no registry recorded in $envf answers (run: registry.sh start $state)"
  grep -E "$pat" "$envf" | sed 's/^/export /'
  ;;
*) usage ;;
esac
