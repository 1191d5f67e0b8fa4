#!/usr/bin/env python3
"""A tiny TCP service for the failover benchmark: answers each connection
with its node name and closes. One runs in every node's network namespace,
bound to 0.0.0.0, so only the node that holds the VIP gets the VIP's traffic.
Usage: listener.py NAME PORT"""
import socket
import sys

name, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(128)
reply = (name + "\n").encode()
while True:
    conn, _ = srv.accept()
    try:
        conn.sendall(reply)
    except OSError:
        pass
    conn.close()
