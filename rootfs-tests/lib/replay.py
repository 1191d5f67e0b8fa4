#!/usr/bin/env python3
"""replay.py FILE DEST_IP PORT SECONDS: sends the payloads recorded by
capture.py to DEST_IP:PORT, over and over, for SECONDS (from whatever
namespace it runs in)."""
import socket
import struct
import sys
import time

path, dest, port, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
data = open(path, "rb").read()
records = []
i = 0
while i < len(data):
    (n,) = struct.unpack("!I", data[i:i + 4])
    records.append(data[i + 4:i + 4 + n])
    i += 4 + n
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = 0
end = time.time() + seconds
while time.time() < end and records:
    for r in records:
        s.sendto(r, (dest, port))
        sent += 1
    time.sleep(0.05)
print(sent)
