"""Random cluster scenarios written three ways: ha.toml, the state JSON of
`ha status --json`, and a pacemaker CIB with node_state/lrm history, so the
same question can be asked of `ha simulate` and of `crm_simulate`.

Used by diff.py (differential check) and bench.py (benchmark). Seeded:
the same seed always gives the same scenario.
"""

import json
import random

INF = "INFINITY"
# pacemaker 2.1.5's digest of an empty parameter set: without it
# crm_simulate restarts every active resource "due to resource definition
# change".
DIGEST = "f2317cad3d54cec5d7d7aa7d0bf35cf8"


def score_xml(s):
    if s == "inf":
        return "INFINITY"
    if s == "-inf":
        return "-INFINITY"
    return str(s)


def score_toml(s):
    return f'"{s}"' if isinstance(s, str) else str(s)


class Scenario:
    """A cluster: nodes, primitives (file order), groups, clones,
    constraints, and the current state."""

    def __init__(self):
        self.nodes = []  # names, config order
        self.node_attrs = {}  # node -> {attr: value}
        self.node_state = {}  # node -> online|standby|offline
        self.quorate = True
        self.no_quorum_policy = "stop"
        self.symmetric = True
        self.default_stickiness = 0
        self.primitives = []  # ids, file order
        self.meta = {}  # id -> {stickiness, priority, target_role, migration_threshold}
        self.groups = {}  # gid -> [members]
        self.clones = {}  # cid -> (child, max or None, node_max)
        self.locations = []  # (rsc, node or None, rule or None, score)
        self.colocations = []  # (rsc, with, score)
        self.orders = []  # (first, then, kind, symmetrical)
        self.active = {}  # primitive id or clone id -> [nodes]
        self.failcounts = {}  # (primitive, node) -> count
        self.failed = set()  # (primitive or clone id, node)

    # -- structure helpers --
    def group_of(self, p):
        for g, ms in self.groups.items():
            if p in ms:
                return g
        return None

    def clone_of(self, x):
        for c, (child, _, _) in self.clones.items():
            if child == x:
                return c
        return None

    def top_of(self, p):
        g = self.group_of(p)
        x = g if g else p
        return self.clone_of(x) or x

    def top_level(self):
        out = []
        for p in self.primitives:
            t = self.top_of(p)
            if t not in out:
                out.append(t)
        return out

    # -- writers --
    def toml(self, key_file):
        o = []
        o.append("[cluster]")
        o.append('name = "diff"')
        o.append(f'key_file = "{key_file}"')
        o.append(f'no_quorum_policy = "{self.no_quorum_policy}"')
        o.append(f"symmetric = {'true' if self.symmetric else 'false'}")
        o.append("stonith_enabled = false")
        o.append("")
        o.append("[[heartbeat.link]]")
        o.append("")
        for i, n in enumerate(self.nodes):
            o.append("[[node]]")
            o.append(f'name = "{n}"')
            o.append(f"id = {i + 1}")
            o.append(f'addrs = ["10.9.0.{i + 1}"]')
            attrs = self.node_attrs.get(n, {})
            if attrs:
                inner = ", ".join(f'{k} = "{v}"' for k, v in attrs.items())
                o.append(f"attributes = {{ {inner} }}")
            o.append("")
        o.append("[defaults]")
        o.append(f"stickiness = {self.default_stickiness}")
        o.append("")

        def meta_lines(x):
            m = self.meta.get(x, {})
            lines = []
            if "stickiness" in m:
                lines.append(f"stickiness = {m['stickiness']}")
            if "priority" in m:
                lines.append(f"priority = {m['priority']}")
            if "target_role" in m:
                lines.append(f'target_role = "{m["target_role"]}"')
            if "migration_threshold" in m:
                lines.append(f"migration_threshold = {m['migration_threshold']}")
            return lines

        for p in self.primitives:
            o.append(f"[resource.{p}]")
            o.append('agent = "ocf:pacemaker:Dummy"')
            o.extend(meta_lines(p))
            o.append("")
        for g, ms in self.groups.items():
            o.append(f"[group.{g}]")
            o.append("resources = [" + ", ".join(f'"{m}"' for m in ms) + "]")
            o.extend(meta_lines(g))
            o.append("")
        for c, (child, mx, nmx) in self.clones.items():
            o.append(f"[clone.{c}]")
            o.append(f'resource = "{child}"')
            if mx is not None:
                o.append(f"max = {mx}")
            o.append(f"node_max = {nmx}")
            o.extend(meta_lines(c))
            o.append("")
        for rsc, node, rule, score in self.locations:
            o.append("[[location]]")
            o.append(f'resource = "{rsc}"')
            if node:
                o.append(f'node = "{node}"')
            else:
                a, op, v = rule
                o.append(f'rule = {{ attribute = "{a}", op = "{op}", value = "{v}" }}')
            o.append(f"score = {score_toml(score)}")
            o.append("")
        for rsc, w, score in self.colocations:
            o.append("[[colocation]]")
            o.append(f'resource = "{rsc}"')
            o.append(f'with = "{w}"')
            o.append(f"score = {score_toml(score)}")
            o.append("")
        for f, t, kind, sym in self.orders:
            o.append("[[order]]")
            o.append(f'first = "{f}"')
            o.append(f'then = "{t}"')
            o.append(f'kind = "{kind}"')
            o.append(f"symmetrical = {'true' if sym else 'false'}")
            o.append("")
        return "\n".join(o)

    def state_json(self):
        res = []
        ids = []
        for p in self.primitives:
            c = self.clone_of(p)
            ids.append(c if c else p)
        for rid in ids:
            fc = {}
            prim = self.clones[rid][0] if rid in self.clones else rid
            for (p, n), v in self.failcounts.items():
                if p == prim:
                    fc[n] = v
            res.append(
                {
                    "id": rid,
                    "active_on": self.active.get(rid, []),
                    "failcounts": fc,
                    "failed_on": sorted(n for (r, n) in self.failed if r == rid),
                }
            )
        return json.dumps(
            {
                "quorum": {"quorate": self.quorate, "votes": 1, "expected_votes": 1},
                "nodes": [{"name": n, "state": self.node_state[n]} for n in self.nodes],
                "resources": res,
            },
            indent=1,
        )

    def cib(self):
        o = []
        q = "1" if self.quorate else "0"
        o.append(
            f'<cib crm_feature_set="3.16.2" validate-with="pacemaker-3.9" epoch="1" '
            f'num_updates="0" admin_epoch="0" have-quorum="{q}" dc-uuid="1">'
        )
        o.append("<configuration><crm_config><cluster_property_set id=\"opts\">")
        o.append('<nvpair id="o1" name="stonith-enabled" value="false"/>')
        o.append(f'<nvpair id="o2" name="no-quorum-policy" value="{self.no_quorum_policy}"/>')
        o.append(
            f'<nvpair id="o3" name="symmetric-cluster" value="{"true" if self.symmetric else "false"}"/>'
        )
        o.append("</cluster_property_set></crm_config><nodes>")
        for i, n in enumerate(self.nodes):
            o.append(f'<node id="{i + 1}" uname="{n}">')
            attrs = dict(self.node_attrs.get(n, {}))
            if self.node_state[n] == "standby":
                attrs["standby"] = "on"
            if attrs:
                o.append(f'<instance_attributes id="na-{i + 1}">')
                for k, v in attrs.items():
                    o.append(f'<nvpair id="na-{i + 1}-{k}" name="{k}" value="{v}"/>')
                o.append("</instance_attributes>")
            o.append("</node>")
        o.append("</nodes><resources>")

        def meta_xml(x):
            m = self.meta.get(x, {})
            pairs = []
            if "stickiness" in m:
                pairs.append(("resource-stickiness", m["stickiness"]))
            if "priority" in m:
                pairs.append(("priority", m["priority"]))
            if "target_role" in m:
                pairs.append(("target-role", "Stopped" if m["target_role"] == "stopped" else "Started"))
            if "migration_threshold" in m:
                pairs.append(("migration-threshold", m["migration_threshold"]))
            return pairs

        def meta_block(x, extra=()):
            pairs = list(extra) + meta_xml(x)
            if not pairs:
                return ""
            inner = "".join(f'<nvpair id="{x}-m-{k}" name="{k}" value="{v}"/>' for k, v in pairs)
            return f'<meta_attributes id="{x}-meta">{inner}</meta_attributes>'

        def prim_xml(p):
            return f'<primitive id="{p}" class="ocf" provider="pacemaker" type="Dummy">{meta_block(p)}</primitive>'

        def group_xml(g):
            return f'<group id="{g}">{meta_block(g)}' + "".join(prim_xml(m) for m in self.groups[g]) + "</group>"

        for t in self.top_level():
            if t in self.clones:
                child, mx, nmx = self.clones[t]
                extra = [("clone-node-max", nmx)]
                if mx is not None:
                    extra.insert(0, ("clone-max", mx))
                inner = group_xml(child) if child in self.groups else prim_xml(child)
                o.append(f'<clone id="{t}">{meta_block(t, extra)}{inner}</clone>')
            elif t in self.groups:
                o.append(group_xml(t))
            else:
                o.append(prim_xml(t))
        o.append("</resources>")
        o.append('<rsc_defaults><meta_attributes id="rsc-defaults">')
        o.append(f'<nvpair id="rd-stick" name="resource-stickiness" value="{self.default_stickiness}"/>')
        o.append("</meta_attributes></rsc_defaults>")
        o.append("<constraints>")
        for i, (rsc, node, rule, score) in enumerate(self.locations):
            if node:
                o.append(f'<rsc_location id="loc{i}" rsc="{rsc}" node="{node}" score="{score_xml(score)}"/>')
            else:
                a, op, v = rule
                o.append(
                    f'<rsc_location id="loc{i}" rsc="{rsc}"><rule id="loc{i}-r" score="{score_xml(score)}">'
                    f'<expression id="loc{i}-e" attribute="{a}" operation="{op}" value="{v}"/></rule></rsc_location>'
                )
        for i, (rsc, w, score) in enumerate(self.colocations):
            o.append(f'<rsc_colocation id="col{i}" rsc="{rsc}" with-rsc="{w}" score="{score_xml(score)}"/>')
        for i, (f, t, kind, sym) in enumerate(self.orders):
            k = kind.capitalize()
            o.append(
                f'<rsc_order id="ord{i}" first="{f}" then="{t}" kind="{k}" '
                f'symmetrical="{"true" if sym else "false"}"/>'
            )
        o.append("</constraints></configuration><status>")
        for i, n in enumerate(self.nodes):
            nid = i + 1
            if self.node_state[n] == "offline":
                o.append(
                    f'<node_state id="{nid}" uname="{n}" in_ccm="false" crmd="offline" '
                    f'join="down" expected="down"/>'
                )
                continue
            o.append(
                f'<node_state id="{nid}" uname="{n}" in_ccm="true" crmd="online" join="member" expected="member">'
            )
            fcs = [(p, v) for (p, nn), v in self.failcounts.items() if nn == n]
            if fcs:
                o.append(f'<transient_attributes id="{nid}"><instance_attributes id="status-{nid}">')
                for p, v in fcs:
                    o.append(f'<nvpair id="status-{nid}-fc-{p}" name="fail-count-{p}#monitor_10000" value="{v}"/>')
                    o.append(
                        f'<nvpair id="status-{nid}-lf-{p}" name="last-failure-{p}#monitor_10000" value="1700000000"/>'
                    )
                o.append("</instance_attributes></transient_attributes>")
            o.append(f'<lrm id="{nid}"><lrm_resources>')
            for p in self.primitives:
                holder = self.top_of(p) if self.top_of(p) in self.clones else p
                if n not in self.active.get(holder, []):
                    continue
                ops = (
                    f'<lrm_rsc_op id="{p}_last_0" operation_key="{p}_start_0" operation="start" '
                    f'crm-debug-origin="diff" crm_feature_set="3.16.2" transition-key="1:1:0:d" '
                    f'transition-magic="0:0;1:1:0:d" call-id="1" rc-code="0" op-status="0" interval="0" '
                    f'last-rc-change="1700000000" exec-time="1" queue-time="0" op-digest="{DIGEST}"/>'
                )
                if (holder, n) in self.failed:
                    ops += (
                        f'<lrm_rsc_op id="{p}_last_failure_0" operation_key="{p}_monitor_10000" '
                        f'operation="monitor" crm-debug-origin="diff" crm_feature_set="3.16.2" '
                        f'transition-key="2:1:0:d" transition-magic="0:1;2:1:0:d" call-id="2" rc-code="1" '
                        f'op-status="0" interval="10000" last-rc-change="1700000000" exec-time="1" queue-time="0"/>'
                    )
                o.append(
                    f'<lrm_resource id="{p}" class="ocf" provider="pacemaker" type="Dummy">{ops}</lrm_resource>'
                )
            o.append("</lrm_resources></lrm></node_state>")
        o.append("</status></cib>")
        return "\n".join(o)


SCORES_LOC = ["-inf", -100, 10, 50, 100, 200, 1000, "inf"]
SCORES_COL = ["-inf", -500, -50, 50, 100, 500, "inf"]


def random_scenario(seed, n_nodes=None, n_prims=None):
    rng = random.Random(seed)
    sc = Scenario()
    n = n_nodes or rng.randint(2, 5)
    sc.nodes = [f"node{i + 1}" for i in range(n)]
    for node in sc.nodes:
        sc.node_attrs[node] = {"site": rng.choice(["a", "b"]), "rack": str(rng.randint(1, 4))}
        r = rng.random()
        sc.node_state[node] = "standby" if r < 0.1 else "offline" if r < 0.2 else "online"
    if rng.random() < 0.1:
        sc.quorate = False
        sc.no_quorum_policy = rng.choice(["stop", "freeze", "ignore"])
    sc.symmetric = rng.random() >= 0.2
    sc.default_stickiness = rng.choice([0, 0, 50, 100, 1000])
    k = n_prims or rng.randint(2, 8)
    sc.primitives = [f"r{i + 1}" for i in range(k)]
    # Groups of consecutive primitives, and at most one clone.
    i = 0
    gi = 0
    while i < k:
        if rng.random() < 0.3 and i + 1 < k:
            size = min(rng.randint(2, 3), k - i)
            gi += 1
            sc.groups[f"g{gi}"] = sc.primitives[i : i + size]
            i += size
        else:
            i += 1
    singles = [p for p in sc.primitives if sc.group_of(p) is None]
    if singles and rng.random() < 0.3:
        child = rng.choice(singles)
        mx = rng.choice([None, None, 1, 2, n])
        sc.clones[f"{child}-clone"] = (child, mx, rng.choice([1, 1, 1, 2]))
    tops = sc.top_level()
    for x in sc.primitives + list(sc.groups):
        m = {}
        if rng.random() < 0.15:
            m["stickiness"] = rng.choice([0, 30, 100, 500])
        if rng.random() < 0.1 and x in tops:
            m["priority"] = rng.randint(1, 5)
        if rng.random() < 0.04:
            m["target_role"] = "stopped"
        if rng.random() < 0.15 and x in sc.primitives:
            m["migration_threshold"] = rng.randint(1, 3)
        if m:
            sc.meta[x] = m
    # Constraints.
    targets = tops + [p for p in sc.primitives if sc.group_of(p) and sc.top_of(p) not in sc.clones]
    for _ in range(rng.randint(0, 4)):
        rsc = rng.choice(targets)
        score = rng.choice(SCORES_LOC)
        if rng.random() < 0.25:
            rule = rng.choice(
                [("site", "eq", "a"), ("site", "ne", "b"), ("rack", "gt", "2"), ("rack", "lte", "2")]
            )
            sc.locations.append((rsc, None, rule, score))
        else:
            sc.locations.append((rsc, rng.choice(sc.nodes), None, score))
    perm = tops[:]
    rng.shuffle(perm)
    for _ in range(rng.randint(0, 3)):
        if len(perm) < 2:
            break
        a, b = sorted(rng.sample(range(len(perm)), 2))
        # Acyclic: the dependent comes later in a random permutation.
        dep, prim = perm[b], perm[a]
        if dep in sc.clones and prim in sc.clones:
            continue
        if any(c[0] == dep and c[1] == prim for c in sc.colocations):
            continue
        sc.colocations.append((dep, prim, rng.choice(SCORES_COL)))
    for _ in range(rng.randint(0, 2)):
        if len(perm) < 2:
            break
        a, b = sorted(rng.sample(range(len(perm)), 2))
        sc.orders.append((perm[a], perm[b], rng.choice(["mandatory", "optional"]), rng.random() < 0.8))
    # Current state: where things run now.
    up = [x for x in sc.nodes if sc.node_state[x] != "offline"]
    for t in tops:
        if not up:
            break
        if t in sc.clones:
            child, mx, nmx = sc.clones[t]
            cnt = rng.randint(0, len(up))
            if mx is not None:
                cnt = min(cnt, mx)
            sc.active[t] = sorted(rng.sample(up, cnt), key=sc.nodes.index)
            continue
        if rng.random() < 0.5:
            continue
        node = rng.choice(up)
        members = sc.groups.get(t, [t])
        upto = len(members) if rng.random() < 0.85 else rng.randint(1, len(members))
        for m in members[:upto]:
            sc.active[m] = [node]
    for p in sc.primitives:
        holder = sc.top_of(p) if sc.top_of(p) in sc.clones else p
        nodes = sc.active.get(holder, [])
        if rng.random() < 0.15:
            node = rng.choice(nodes) if nodes and rng.random() < 0.7 else rng.choice(sc.nodes)
            sc.failcounts[(p, node)] = rng.randint(1, 3)
            if node in nodes and rng.random() < 0.5:
                sc.failed.add((holder, node))
    return sc
