#!/usr/bin/env python3
"""capture.py IFACE SRC_IP PORT SECONDS OUT: records the UDP payloads that
arrive on IFACE from SRC_IP to PORT for SECONDS (AF_PACKET, run inside the
receiving node's namespace), one length-prefixed record each, into OUT."""
import socket
import struct
import sys
import time

iface, src, port, seconds, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ETH_P_IP = 0x0800
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
s.bind((iface, ETH_P_IP))
s.settimeout(0.2)
want = socket.inet_aton(src)
records = []
end = time.time() + seconds
while time.time() < end:
    try:
        pkt = s.recv(65535)
    except socket.timeout:
        continue
    ihl = (pkt[0] & 0x0F) * 4
    if pkt[9] != 17 or pkt[12:16] != want:
        continue
    dport = struct.unpack("!H", pkt[ihl + 2:ihl + 4])[0]
    if dport != port:
        continue
    records.append(pkt[ihl + 8:])
with open(out, "wb") as f:
    for r in records:
        f.write(struct.pack("!I", len(r)) + r)
print(len(records))
