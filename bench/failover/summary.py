#!/usr/bin/env python3
"""Summarises bench/failover/run's result lines ("SCENARIO MODE MS"): median,
min and max per scenario and mode, then keepalived's median over ha's."""
import statistics
import sys

rows = {}
for line in open(sys.argv[1]):
    scenario, mode, ms = line.split()
    rows.setdefault((scenario, mode), []).append(float(ms))

print(f"{'scenario':28} {'stop':5} {'runs':>4} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
for (scenario, mode), v in rows.items():
    print(f"{scenario:28} {mode:5} {len(v):4} {statistics.median(v):10.1f} {min(v):8.1f} {max(v):8.1f}")

med = {k: statistics.median(v) for k, v in rows.items()}
ha = list(dict.fromkeys(s for s, _ in med if s.startswith("ha-")))
ka = list(dict.fromkeys(s for s, _ in med if s.startswith("keepalived-")))
if ha and ka:
    print("\nratio = keepalived median / ha median (above 1: ha is faster)")
    for mode in ("kill", "term"):
        for k in ka:
            for h in ha:
                if (h, mode) in med and (k, mode) in med and med[(h, mode)] > 0:
                    print(f"  {mode:5} {k:26} / {h:22} = {med[(k, mode)] / med[(h, mode)]:6.2f}")
