#!/usr/bin/python3
"""Slowloris against foyerd's HTTP server (tests/integration/http_slowloris.sh).

Opens PER_IP connections from each of N_IPS loopback source addresses
(127.0.0.2 ...), each sending a request line and then one header byte every
half second, never finishing its headers.  Prints, once a second, how many
connections the server keeps and how many it closed, and writes "held N
closed M" to the file named by argv[2] once every connection has been
judged (kept open past the first round, or closed).  Runs until killed.

Usage: http_slowloris.py PORT STATUS_FILE N_IPS PER_IP
"""
import select
import socket
import sys
import time

port, status, n_ips, per_ip = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
socks = []
for ip in range(n_ips):
    for _ in range(per_ip):
        s = socket.socket()
        s.bind(("127.0.0.%d" % (ip + 2), 0))
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        except OSError:
            s.close()
            continue
        socks.append(s)
closed = set()
written = False
start = time.monotonic()
while True:
    for s in socks:
        if s in closed:
            continue
        try:
            s.sendall(b"a")
        except OSError:
            closed.add(s)
    # A closed connection reads as EOF (or a reset).
    r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.5)
    for s in r:
        try:
            if not s.recv(4096):
                closed.add(s)
        except OSError:
            closed.add(s)
    if not written and time.monotonic() - start > 1.5:
        with open(status + ".tmp", "w") as f:
            f.write("held %d closed %d\n" % (len(socks) - len(closed), len(closed)))
        import os

        os.rename(status + ".tmp", status)
        written = True
