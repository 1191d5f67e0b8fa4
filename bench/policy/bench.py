#!/usr/bin/env python3
"""Benchmark: ha's solver against crm_simulate on the same clusters.

For each size (resources x nodes) it builds one cluster: groups of 5
primitives, a location per group, colocations and mandatory orders between
neighbouring groups (scenario.py writes it as ha.toml, state JSON and a
CIB). Two states: "scratch" (nothing runs yet) and "steady" (everything
runs where ha places it, so the answer is "nothing to do": the re-check
the DC does on every event). ha is timed in-process by the policy_bench
example (median of RUNS solves); crm_simulate is timed as a process (it
parses the CIB, places, and plans; median of its runs), only up to
--crm-max resources because it takes minutes beyond.

    cargo build --release --example policy_bench
    bench/policy/bench.py --bench target/x86_64-unknown-linux-gnu/release/examples/policy_bench

Prints a Markdown table.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenario import Scenario  # noqa: E402


def build(n_rsc, n_nodes, seed=7):
    rng = random.Random(seed)
    sc = Scenario()
    sc.nodes = [f"node{i + 1}" for i in range(n_nodes)]
    for n in sc.nodes:
        sc.node_state[n] = "online"
        sc.node_attrs[n] = {"site": rng.choice(["a", "b"])}
    sc.default_stickiness = 100
    sc.primitives = [f"r{i + 1:05d}" for i in range(n_rsc)]
    groups = [sc.primitives[i : i + 5] for i in range(0, n_rsc, 5)]
    for gi, members in enumerate(groups):
        g = f"g{gi + 1:04d}"
        sc.groups[g] = members
        sc.locations.append((g, rng.choice(sc.nodes), None, rng.choice([50, 100, 200])))
        if gi > 0 and gi % 3 == 0:
            prev = f"g{gi:04d}"
            sc.colocations.append((g, prev, rng.choice(["inf", 100, -100])))
        if gi > 0 and gi % 2 == 0:
            prev = f"g{gi:04d}"
            sc.orders.append((prev, g, "mandatory", True))
    return sc


def time_crm(cib, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = subprocess.run(["crm_simulate", "-x", cib, "-s"], capture_output=True, text=True)
        times.append((time.perf_counter() - t) * 1000.0)
        if out.returncode != 0:
            raise RuntimeError(out.stderr[:300])
    return statistics.median(times), min(times), max(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", required=True, help="path to the policy_bench example binary")
    ap.add_argument("--ha", help="path to the ha binary (only to compute the steady state)")
    ap.add_argument("--sizes", default="10,100,1000,5000")
    ap.add_argument("--nodes", default="4,16,32")
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--crm-runs", type=int, default=3)
    ap.add_argument("--crm-max", type=int, default=1000, help="largest resource count given to crm_simulate")
    args = ap.parse_args()
    have_crm = shutil.which("crm_simulate") is not None
    tmp = tempfile.mkdtemp(prefix="ha-bench-")
    key = os.path.join(tmp, "ha.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    print("| resources | nodes | state | ha place median (min-max) ms | ha place+scores ms | ha plan ms | actions | ha peak RSS MiB | crm_simulate median (min-max) ms | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n_rsc in [int(x) for x in args.sizes.split(",")]:
        for n_nodes in [int(x) for x in args.nodes.split(",")]:
            sc = build(n_rsc, n_nodes)
            d = os.path.join(tmp, f"{n_rsc}x{n_nodes}")
            os.makedirs(d)
            toml = os.path.join(d, "ha.toml")
            with open(toml, "w") as f:
                f.write(sc.toml(key))
            for label in ("scratch", "steady"):
                if label == "steady":
                    # Run everything where ha places it from scratch.
                    if not args.ha:
                        continue
                    out = subprocess.run(
                        [args.ha, "simulate", "-c", toml, "--state", state, "--json"],
                        capture_output=True, text=True, check=True,
                    )
                    placed = json.loads(out.stdout)["placement"]
                    sc.active = {k: v for k, v in placed.items() if v}
                state = os.path.join(d, f"{label}.json")
                with open(state, "w") as f:
                    f.write(sc.state_json())
                cib = os.path.join(d, f"{label}.xml")
                with open(cib, "w") as f:
                    f.write(sc.cib())
                out = subprocess.run(
                    [args.bench, toml, state, str(args.runs)], capture_output=True, text=True, check=True
                )
                r = json.loads(out.stdout)
                p, e, pl = r["place"], r["place_with_scores"], r["plan"]
                crm = "not run"
                ratio = ""
                if have_crm and n_rsc <= args.crm_max:
                    med, lo, hi = time_crm(cib, args.crm_runs)
                    crm = f"{med:.0f} ({lo:.0f}-{hi:.0f})"
                    ratio = f"{med / max(p['median_ms'] + pl['median_ms'], 1e-3):.0f}x"
                print(
                    f"| {n_rsc} | {n_nodes} | {label} | {p['median_ms']:.3f} ({p['min_ms']:.3f}-{p['max_ms']:.3f}) "
                    f"| {e['median_ms']:.3f} | {pl['median_ms']:.3f} | {r['actions']} | {r['vm_hwm_kb'] / 1024:.1f} "
                    f"| {crm} | {ratio} |",
                    flush=True,
                )
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
