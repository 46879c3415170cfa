#!/usr/bin/env python3
"""Loopback HTTP proxy in front of a test registry that injects faults into
blob and manifest downloads, and optionally fronts it with Docker token
(Bearer) auth.

  faultproxy.py --upstream 127.0.0.1:PORT --port-file F [--log F]
                [--faults 500,drop,truncate,corrupt,short,ok,...]
                [--always FAULT] [--manifest-faults LIST] [--manifest-always FAULT]
                [--stall-seconds N] [--token USER:PASS | --token -]

--faults: the k-th GET of each blob gets the k-th fault, later GETs pass.
--always: every blob GET gets FAULT (a blob that can never be fetched).
--manifest-faults, --manifest-always: the same for manifest GETs (by tag
or digest; each path counts on its own).
Faults: any 3-digit status (500, 503, 408, 429, 404, ...: that status, no
upstream body), drop (close without answering), truncate (announce the full
length, send half, close), short (announce and send half), long (announce
and send the body and 64 extra bytes), corrupt (right length, wrong bytes),
drip (the right length at 2 bytes a second, so a no-progress timeout never
fires), stall (announce the length, send nothing for --stall-seconds,
default 60, then close), ok.
--token: every /v2/ request needs "Authorization: Bearer <token>"; tokens
come from GET /token (Basic USER:PASS required unless "-"). The challenge
names realm, service and scope like Docker Hub's.
--log: one line per request: METHOD PATH STATUS FAULT T, T the arrival time
in seconds (monotonic clock, 3 decimals), for back-off checks.
Standard library only.
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse

ARGS = None
LOCK = threading.Lock()
COUNTS = {}
TOKENS = set()


def log(line):
    if ARGS.log:
        with LOCK, open(ARGS.log, "a") as f:
            f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_plain(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def token_endpoint(self):
        want = ARGS.token
        if want != "-":
            got = self.headers.get("Authorization", "")
            exp = "Basic " + base64.b64encode(want.encode()).decode()
            if got != exp:
                log("GET /token 401 -")
                return self.send_plain(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                                       {"Content-Type": "application/json"})
        tok = secrets.token_hex(16)
        with LOCK:
            TOKENS.add(tok)
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        log("GET /token 200 scope=%s service=%s" % (q.get("scope", [""])[0],
                                                     q.get("service", [""])[0]))
        self.send_plain(200, json.dumps({"token": tok}).encode(),
                        {"Content-Type": "application/json"})

    def check_token(self):
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in TOKENS:
            return True
        parts = self.path.split("/")
        scope = ""
        if len(parts) > 3 and ("manifests" in parts or "blobs" in parts):
            kind = "manifests" if "manifests" in parts else "blobs"
            scope = ',scope="repository:%s:pull"' % "/".join(parts[2:parts.index(kind)])
        host, port = self.server.server_address[:2]
        chal = 'Bearer realm="http://%s:%d/token",service="lkb-test"%s' % (host, port, scope)
        log("%s %s 401 -" % (self.command, self.path))
        self.send_plain(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                        {"Content-Type": "application/json", "WWW-Authenticate": chal})
        return False

    def pick(self, always, faults):
        """The fault for this GET: `always`, else the k-th of `faults`."""
        with LOCK:
            k = COUNTS.get(self.path, 0)
            COUNTS[self.path] = k + 1
        if always:
            return always
        return faults[k] if k < len(faults) else "ok"

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.t0 = time.monotonic()
        if self.path.startswith("/token"):
            return self.token_endpoint()
        if ARGS.token and not self.check_token():
            return
        conn = http.client.HTTPConnection(ARGS.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "authorization", "connection")}
        conn.request(self.command, self.path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        fault = "ok"
        ok_get = self.command == "GET" and resp.status == 200
        if ok_get and "/blobs/sha256:" in self.path:
            fault = self.pick(ARGS.always, ARGS.faults)
        elif ok_get and "/manifests/" in self.path:
            fault = self.pick(ARGS.manifest_always, ARGS.manifest_faults)
        log("%s %s %d %s %.3f" % (self.command, self.path, resp.status, fault, self.t0))
        hdrs = [(k, v) for k, v in resp.getheaders()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        if fault.isdigit():
            return self.send_plain(int(fault), b"injected fault\n")
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(resp.status)
        for k, v in hdrs:
            self.send_header(k, v)
        if fault == "truncate":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "drip":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), 2):
                    self.wfile.write(body[i:i + 2])
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass  # the client gave up
            return
        if fault == "stall":
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            time.sleep(ARGS.stall_seconds)
            self.close_connection = True
            return
        if fault == "short":
            body = body[: len(body) // 2]
        if fault == "long":
            body = body + b"\0" * 64
        if fault == "corrupt":
            body = bytes(b ^ 0x5A for b in body)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--faults", default="")
    p.add_argument("--always")
    p.add_argument("--manifest-faults", default="")
    p.add_argument("--manifest-always")
    p.add_argument("--stall-seconds", type=float, default=60)
    p.add_argument("--token")
    ARGS = p.parse_args()
    ARGS.faults = [f for f in ARGS.faults.split(",") if f]
    ARGS.manifest_faults = [f for f in ARGS.manifest_faults.split(",") if f]
    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # connections we cut on purpose end with exceptions

    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
