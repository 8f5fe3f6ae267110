#!/usr/bin/env python3
"""Stand-in for systemd's notification socket: receives sd_notify datagrams
on a unix socket and appends each one (newlines turned into spaces) as a line
to a file, so a test can wait for READY=1, WATCHDOG=1, STOPPING=1.
Usage: notify_listener.py SOCKET_PATH OUTPUT_FILE"""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(120)  # never outlive a test by long
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        try:
            data = s.recv(4096)
        except socket.timeout:
            break
        f.write(data.decode("utf-8", "replace").replace("\n", " ") + "\n")
