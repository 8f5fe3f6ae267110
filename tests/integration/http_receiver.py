#!/usr/bin/env python3
"""http_receiver.py - a small HTTP(S) endpoint for the push tests.

Answers POSTs with a scripted sequence of outcomes (then 200 for ever) and
writes one JSON line per request to LOG: its number, Idempotency-Key,
Authorization, the outcome, whether the key was already accepted (a
duplicate, answered 200 as a real idempotent receiver would), and the
dwelling, period, revision and coverage share of the body (a receiver keeps
the highest revision of each dwelling and period: docs/summary.md).

Usage: http_receiver.py --port-file F --log F [--script 500,timeout,429,200]
                        [--tls CERT KEY] [--hang S] [--location URL]
  outcomes: a status code (429 and 503 carry "Retry-After: 1"; 301, 302,
  307 and 308 carry "Location: URL", default https://127.0.0.1:1/moved), or
  "timeout" (no answer for --hang seconds, default 4).
The port (bound on 127.0.0.1, chosen by the kernel) is written to the port
file once the server listens.
"""
import argparse
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"n": 0, "accepted": set()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--script", default="")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--hang", type=float, default=4.0)
    ap.add_argument("--location", default="https://127.0.0.1:1/moved")
    args = ap.parse_args()
    script = [s for s in args.script.split(",") if s]
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            key = self.headers.get("Idempotency-Key", "")
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {}
            with lock:
                n = state["n"]
                state["n"] += 1
                outcome = script[n] if n < len(script) else "200"
                dup = outcome == "200" and key in state["accepted"]
                if outcome == "200":
                    state["accepted"].add(key)
            rec = {"n": n, "key": key, "outcome": outcome, "duplicate": dup,
                   "auth": self.headers.get("Authorization", ""),
                   "type": self.headers.get("Content-Type", ""),
                   "dwelling": doc.get("dwelling"),
                   "period": (doc.get("period") or {}).get("id"),
                   "revision": doc.get("revision"),
                   "coverage": (doc.get("coverage") or {}).get("share"),
                   "t": time.time()}
            log.write(json.dumps(rec) + "\n")
            if outcome == "timeout":
                time.sleep(args.hang)
                self.close_connection = True
                return
            code = int(outcome)
            self.send_response(code)
            if code in (429, 503):
                self.send_header("Retry-After", "1")
            if code in (301, 302, 307, 308):
                self.send_header("Location", args.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
