#!/usr/bin/env python3
"""Failover probe for bench/failover/run; runs inside the client namespace.

First waits until the VIP answers (from the node named --holder). Then, at
t0, "powers off" that node: optionally takes its switch port down
(`ip -n SW link set PORT down`) and sends the signal to the given PIDs. From
t0 on it opens a new TCP connection to VIP:PORT every 10 ms (non-blocking,
so slow attempts overlap) and stops at the first one whose peer answers with
a node name other than the old holder's. Prints the milliseconds from t0 to
that answer, and the new holder's name. Exits 1 if nothing answers in time.

Usage: probe.py --vip IP --port P --holder NAME --pids "1 2" --signal KILL|TERM
                [--link-down SWITCH_NS PORT_NAME] [--limit SECONDS]"""
import argparse
import errno
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--vip", required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--holder", required=True)
ap.add_argument("--pids", required=True)
ap.add_argument("--signal", choices=["KILL", "TERM"], required=True)
ap.add_argument("--link-down", nargs=2, metavar=("SWITCH_NS", "PORT"))
ap.add_argument("--limit", type=float, default=30.0)
args = ap.parse_args()


def ask_once(timeout):
    """One blocking connection; returns the answering node's name or None."""
    try:
        with socket.create_connection((args.vip, args.port), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).decode().strip() or None
    except OSError:
        return None


# The baseline: the VIP must answer from the expected holder before t0.
deadline = time.monotonic() + 10
while True:
    who = ask_once(0.5)
    if who == args.holder:
        break
    if time.monotonic() > deadline:
        print(f"probe: the VIP answers from {who!r}, not {args.holder!r}", file=sys.stderr)
        sys.exit(2)
    time.sleep(0.05)

sig = signal.SIGKILL if args.signal == "KILL" else signal.SIGTERM
pids = [int(p) for p in args.pids.split()]
t0 = time.monotonic()
if args.link_down:
    subprocess.run(["ip", "-n", args.link_down[0], "link", "set", args.link_down[1], "down"], check=True)
for pid in pids:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass

sel = selectors.DefaultSelector()
started = {}  # socket -> time the attempt began
next_at = t0
end = t0 + args.limit
winner = None
while winner is None:
    now = time.monotonic()
    if now > end:
        break
    if now >= next_at:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((args.vip, args.port))
        if rc in (0, errno.EINPROGRESS):
            sel.register(s, selectors.EVENT_WRITE, "connect")
            started[s] = now
        else:
            s.close()
        next_at += 0.01
        if next_at < now:
            next_at = now + 0.01
    # Attempts older than 2 s are dropped: a fresh one every 10 ms covers them.
    for s, at in list(started.items()):
        if now - at > 2.0:
            sel.unregister(s)
            s.close()
            del started[s]
    for key, _ in sel.select(timeout=max(0.0, next_at - time.monotonic())):
        s = key.fileobj
        if s not in started:
            continue
        if key.data == "connect":
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                sel.unregister(s)
                s.close()
                del started[s]
            else:
                sel.modify(s, selectors.EVENT_READ, "read")
            continue
        try:
            name = s.recv(64).decode().strip()
        except OSError:
            name = ""
        sel.unregister(s)
        s.close()
        del started[s]
        if name and name != args.holder:
            winner = (time.monotonic(), name)
            break

for s in started:
    s.close()
if winner is None:
    print(f"probe: no survivor answered within {args.limit} s", file=sys.stderr)
    sys.exit(1)
print(f"{(winner[0] - t0) * 1000:.1f} {winner[1]}")
