#!/usr/bin/env python3
"""logtime.py SINCE_MS PATTERN LOG...: for each log, the first line at or
after SINCE_MS (ms since the epoch) that contains PATTERN; prints the latest
of those moments minus SINCE_MS, in ms, or nothing if a log lacks it.
Log lines start with the daemon's RFC 3339 UTC time."""
import datetime
import sys

since, pattern, logs = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
latest = None
for path in logs:
    found = None
    for line in open(path, errors="replace"):
        if pattern not in line:
            continue
        stamp = line.split(" ", 1)[0]
        try:
            at = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
        ms = int(at.timestamp() * 1000)
        if ms >= since:
            found = ms
            break
    if found is None:
        sys.exit(0)
    latest = found if latest is None else max(latest, found)
print(latest - since)
