#!/usr/bin/env bash
# A docker-registry on 127.0.0.1 with TLS (self-signed certificate) and
# htpasswd Basic authentication, for tests/unit/test_oci_auth.c.
#   oci-auth-registry.sh start DIR -> DIR/auth.env:
#       LKB_TEST_AUTH_REGISTRY=127.0.0.1:PORT LKB_TEST_AUTH_USER=.. LKB_TEST_AUTH_PASS=..
#       LKB_TEST_AUTH_CA=DIR/ca.pem LKB_TEST_AUTH_PID=..
#   oci-auth-registry.sh stop DIR
set -euo pipefail
cmd=${1:?usage: oci-auth-registry.sh start|stop DIR}
dir=${2:?usage: oci-auth-registry.sh start|stop DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
case "$cmd" in
start)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=lkb-test-registry" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:TRUE" \
    -keyout "$dir/key.pem" -out "$dir/ca.pem" 2>/dev/null
  htpasswd -Bbn lkbuser 's3cret:pass' >"$dir/htpasswd"
  cat >"$dir/config.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
auth:
  htpasswd:
    realm: lkb-test
    path: $dir/htpasswd
http:
  addr: 127.0.0.1:$port
  tls:
    certificate: $dir/ca.pem
    key: $dir/key.pem
CFG
  nohup /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/ca.pem" "https://127.0.0.1:$port/v2/" || true)
    if [ "$code" = 401 ]; then
      printf 'LKB_TEST_AUTH_REGISTRY=127.0.0.1:%s\nLKB_TEST_AUTH_USER=lkbuser\nLKB_TEST_AUTH_PASS=s3cret:pass\nLKB_TEST_AUTH_CA=%s\nLKB_TEST_AUTH_PID=%s\n' \
        "$port" "$dir/ca.pem" "$pid" >"$dir/auth.env"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/registry.log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
  ;;
stop)
  if [ -f "$dir/auth.env" ]; then
    # shellcheck disable=SC1091
    . "$dir/auth.env"
    kill "$LKB_TEST_AUTH_PID" 2>/dev/null || true
    rm -f "$dir/auth.env"
  fi
  ;;
esac
