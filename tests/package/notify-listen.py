#!/usr/bin/env python3
"""notify-listen.py SOCKET SECONDS - the NOTIFY_SOCKET end of a Type=notify
service, for the package test: binds SOCKET (mode 0666, so the labagent user
can send to it), prints every datagram's lines as they come (flushed), and
exits after SECONDS at the latest. Every wait in the test stays bounded."""
import os
import socket
import sys
import time

path, seconds = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + seconds
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s.bind(path)
os.chmod(path, 0o666)
print("LISTENING", flush=True)
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data = s.recv(65536)
    except socket.timeout:
        break
    for line in data.decode("utf-8", "replace").splitlines():
        print(line, flush=True)
