#!/usr/bin/python3
"""Peers that never answer, for the stop and reload tests of foyerd.

  blackhole.py --mode full|silent --ports-file FILE --count N [--log FILE]

Opens N listening sockets on free loopback ports and writes their numbers to
FILE, one a line, once they are ready.

  full    listen(0) and never accept, with the accept queue filled by
          connections of our own: the kernel drops every further SYN, so a
          client's connect() stays pending until its own timeout (a broker
          or gateway that is overloaded or hung).
  silent  accept every connection, read and discard what comes, never write
          (a peer that hangs after the handshake).  Each accepted connection
          is logged as "accept PORT" (the listening port) to --log.

Runs until killed.  Loopback only.
"""
import argparse
import os
import selectors
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("full", "silent"), required=True)
    ap.add_argument("--ports-file", required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--log")
    a = ap.parse_args()

    listeners, fillers = [], []
    for _ in range(a.count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(0)
        listeners.append(s)
    if a.mode == "full":
        # listen(0) keeps one connection in the accept queue; the second
        # SYN is already dropped.  A few more make sure of it whatever the
        # kernel's rounding of the backlog.
        for s in listeners:
            for _ in range(4):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setblocking(False)
                try:
                    c.connect(s.getsockname())
                except BlockingIOError:
                    pass
                fillers.append(c)
    ports = [s.getsockname()[1] for s in listeners]
    tmp = a.ports_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join("%d\n" % p for p in ports))
    os.rename(tmp, a.ports_file)
    log = open(a.log, "a", buffering=1) if a.log else None

    sel = selectors.DefaultSelector()
    if a.mode == "silent":
        for s in listeners:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, ("listen", s.getsockname()[1]))
    kept = []
    while True:
        if a.mode == "full":
            sel.select(3600)  # nothing registered: sleep
            continue
        for key, _ in sel.select():
            kind, port = key.data
            if kind == "listen":
                try:
                    c, _ = key.fileobj.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                kept.append(c)
                sel.register(c, selectors.EVENT_READ, ("conn", port))
                if log:
                    log.write("accept %d\n" % port)
            else:
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()


if __name__ == "__main__":
    sys.exit(main())
