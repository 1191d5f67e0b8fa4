#!/usr/bin/env python3
"""Differential check: ha's placement against pacemaker's scheduler.

Generates random scenarios (scenario.py), writes each as ha.toml + state
JSON for `ha simulate --json` and as a CIB with node_state/lrm history for
`crm_simulate -x FILE -s` (Debian package pacemaker-cli-utils), derives
pacemaker's target placement from its current status plus its "Transition
Summary", and compares the two placements resource by resource.

    bench/policy/diff.py --ha target/x86_64-unknown-linux-gnu/release/ha --count 500

Prints the agreement, and for every disagreement the seed and the features
of the scenario; --keep DIR keeps the files of disagreeing scenarios.
"""

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenario import random_scenario  # noqa: E402

LINE = re.compile(r"^\s*\*?\s*(Start|Stop|Move|Recover|Restart|Migrate)\s+(\S+)\s+\(\s*([^)]*?)\s*\)")


def crm_placement(sc, cib_path):
    out = subprocess.run(
        ["crm_simulate", "-x", cib_path, "-s"], capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(f"crm_simulate failed: {out.stderr.strip()[:300]}")
    # Start from what runs now (pacemaker ignores a cleanly offline node).
    place = {}
    for p in sc.primitives:
        top = sc.top_of(p)
        holder = top if top in sc.clones else p
        cur = [n for n in sc.active.get(holder, []) if sc.node_state[n] != "offline"]
        place[holder] = set(cur)
    for line in out.stdout.splitlines():
        m = LINE.match(line)
        if not m or "(blocked)" in line:
            # A blocked action will not happen (e.g. a start without quorum).
            continue
        verb, rsc, where = m.groups()
        base = rsc.split(":")[0]
        holder = sc.clone_of(base) or base
        if sc.group_of(base) and sc.clone_of(sc.group_of(base)):
            holder = sc.clone_of(sc.group_of(base))
        nodes = [x.strip() for x in where.split("->")]
        s = place.setdefault(holder, set())
        if verb == "Start":
            s.add(nodes[-1])
        elif verb == "Stop":
            s.discard(nodes[0])
        elif verb in ("Move", "Migrate", "Recover") and len(nodes) == 2:
            s.discard(nodes[0])
            s.add(nodes[1])
    return place, out.stdout


def ha_placement(ha, toml_path, state_path):
    out = subprocess.run(
        [ha, "simulate", "-c", toml_path, "--state", state_path, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        raise RuntimeError(f"ha simulate failed ({out.returncode}): {out.stderr.strip()[:500]}")
    doc = json.loads(out.stdout)
    return {k: set(v) for k, v in doc["placement"].items()}, out.stdout


def features(sc):
    f = []
    if sc.groups:
        f.append("group")
    if sc.clones:
        f.append("clone")
    if any(isinstance(s, int) for _, _, s in sc.colocations):
        f.append("coloc-finite")
    if any(s == "inf" for _, _, s in sc.colocations):
        f.append("coloc+inf")
    if any(s == "-inf" for _, _, s in sc.colocations):
        f.append("coloc-inf")
    if sc.orders:
        f.append("order")
    if not sc.symmetric:
        f.append("asymmetric")
    if not sc.quorate:
        f.append(f"noquorum-{sc.no_quorum_policy}")
    if sc.failed:
        f.append("failed")
    if sc.failcounts:
        f.append("failcount")
    if any("priority" in m for m in sc.meta.values()):
        f.append("priority")
    if any(r for _, _, r, _ in sc.locations):
        f.append("rule")
    if any(s != "online" for s in sc.node_state.values()):
        f.append("node-down")
    return f


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ha", required=True, help="path to the ha binary")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument("--keep", help="directory for the files of disagreeing scenarios")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if shutil.which("crm_simulate") is None:
        sys.exit("crm_simulate not found: apt-get install -y pacemaker-cli-utils")
    tmp = tempfile.mkdtemp(prefix="ha-diff-")
    key = os.path.join(tmp, "ha.key")
    with open(key, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(key, 0o600)
    agree = 0
    resources = 0
    resources_agree = 0
    classes = collections.Counter()
    disagreements = []
    for seed in range(args.seed, args.seed + args.count):
        sc = random_scenario(seed)
        d = os.path.join(tmp, str(seed))
        os.makedirs(d, exist_ok=True)
        paths = {x: os.path.join(d, x) for x in ("ha.toml", "state.json", "cib.xml")}
        with open(paths["ha.toml"], "w") as f:
            f.write(sc.toml(key))
        with open(paths["state.json"], "w") as f:
            f.write(sc.state_json())
        with open(paths["cib.xml"], "w") as f:
            f.write(sc.cib())
        ours, ours_out = ha_placement(args.ha, paths["ha.toml"], paths["state.json"])
        theirs, theirs_out = crm_placement(sc, paths["cib.xml"])
        diff = []
        for rsc in sorted(set(ours) | set(theirs)):
            resources += 1
            a, b = ours.get(rsc, set()), theirs.get(rsc, set())
            if a == b:
                resources_agree += 1
            else:
                diff.append(f"{rsc}: ha={sorted(a)} pacemaker={sorted(b)}")
        if not diff:
            agree += 1
            shutil.rmtree(d)
            continue
        feats = features(sc)
        classes[" ".join(feats)] += 1
        disagreements.append((seed, feats, diff))
        if args.keep:
            dest = os.path.join(args.keep, str(seed))
            shutil.copytree(d, dest, dirs_exist_ok=True)
            with open(os.path.join(dest, "crm_simulate.out"), "w") as f:
                f.write(theirs_out)
            with open(os.path.join(dest, "ha.out"), "w") as f:
                f.write(ours_out)
        shutil.rmtree(d)
    for seed, feats, diff in disagreements:
        print(f"seed {seed} [{' '.join(feats)}]: " + "; ".join(diff))
    print(
        f"scenarios: {args.count}, placements identical: {agree} ({100.0 * agree / args.count:.1f}%); "
        f"resources compared: {resources}, identical: {resources_agree} "
        f"({100.0 * resources_agree / max(resources, 1):.1f}%)"
    )
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
