#!/usr/bin/env bash
# Start/stop Debian's docker-registry on 127.0.0.1 for the tests.
#   registry.sh start STATE_DIR   -> STATE_DIR/registry.env (LKB_TEST_REGISTRY=127.0.0.1:PORT)
#   registry.sh stop  STATE_DIR
# The registry listens on a free loopback port; storage lives in
# STATE_DIR/registry so pushed images survive between runs of the suite.
set -euo pipefail
cmd=${1:?usage: registry.sh start|stop STATE_DIR}
state=${2:?usage: registry.sh start|stop STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd)
envf="$state/registry.env"

alive() { # alive HOSTPORT
  curl -fsS -o /dev/null --max-time 2 "http://$1/v2/"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "$cmd" in
start)
  if [ -f "$envf" ]; then
    # shellcheck disable=SC1090
    . "$envf"
    if [ -n "${LKB_TEST_REGISTRY:-}" ] && alive "$LKB_TEST_REGISTRY"; then
      echo "registry already running at $LKB_TEST_REGISTRY" >&2
      exit 0
    fi
  fi
  port=$(free_port)
  mkdir -p "$state/registry"
  cat >"$state/registry-config.yml" <<CFG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
  nohup /usr/bin/docker-registry serve "$state/registry-config.yml" >"$state/registry.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    if alive "127.0.0.1:$port"; then
      printf 'LKB_TEST_REGISTRY=127.0.0.1:%s\nLKB_TEST_REGISTRY_PID=%s\n' "$port" "$pid" >"$envf"
      echo "registry running at 127.0.0.1:$port (pid $pid)" >&2
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "registry did not start; log:" >&2
  cat "$state/registry.log" >&2
  kill "$pid" 2>/dev/null || true
  exit 1
  ;;
stop)
  if [ -f "$envf" ]; then
    # shellcheck disable=SC1090
    . "$envf"
    [ -n "${LKB_TEST_REGISTRY_PID:-}" ] && kill "$LKB_TEST_REGISTRY_PID" 2>/dev/null || true
    rm -f "$envf"
  fi
  ;;
*)
  echo "usage: registry.sh start|stop STATE_DIR" >&2
  exit 2
  ;;
esac
