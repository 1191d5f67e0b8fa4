#!/usr/bin/env python3
"""Summarise `ha status --json` documents for the lab.

view.py DOC              prints "quorate=true dc=n1 online=n1,n2,n3 votes=3/3 drops={}"
view.py --agree N1,N2, DOC...
                         exits 0 if every document is quorate, names the
                         same DC, the DC is one of N1,N2,..., and each lists
                         exactly those nodes as online; else prints why and
                         exits 1.
view.py --one-side DOC...
                         exits 0 if the quorate nodes among the documents
                         name at most one DC; else prints the sides, exits 1.
"""
import json
import sys

MEMBER_STATES = ("online", "standby", "maintenance")


def online(doc):
    return sorted(n["name"] for n in doc.get("nodes", []) if n.get("state") in MEMBER_STATES)


def view(doc):
    q = doc.get("quorum", {})
    return "quorate=%s dc=%s online=%s votes=%s/%s drops=%s" % (
        str(q.get("quorate")).lower(),
        doc.get("dc"),
        ",".join(online(doc)),
        q.get("votes"),
        q.get("expected_votes"),
        json.dumps(doc.get("drops", {}), sort_keys=True),
    )


def agree(expected, docs):
    expected = sorted(x for x in expected.split(",") if x)
    dcs = set()
    for doc in docs:
        who = doc.get("local_node")
        if not doc.get("quorum", {}).get("quorate"):
            return "%s is not quorate: %s" % (who, view(doc))
        if online(doc) != expected:
            return "%s sees online %s, expected %s" % (who, online(doc), expected)
        dcs.add(doc.get("dc"))
    if len(dcs) != 1:
        return "the nodes name different DCs: %s" % sorted(map(str, dcs))
    dc = dcs.pop()
    if dc not in expected:
        return "the DC %s is not one of %s" % (dc, expected)
    return None


def one_side(docs):
    """At most one quorate side: the quorate nodes name at most one DC
    between them (a node with no DC yet acts on nothing), and a node that
    claims to be DC counts as naming itself. Two DCs among quorate nodes
    would be two partitions acting at once."""
    dcs = {}
    for doc in docs:
        if doc.get("quorum", {}).get("quorate") and doc.get("dc"):
            dcs.setdefault(doc["dc"], []).append(doc.get("local_node"))
    if len(dcs) > 1:
        return "more than one quorate side (DC: followers): %s" % json.dumps(dcs, sort_keys=True)
    return None


def main():
    args = sys.argv[1:]
    if args and args[0] == "--one-side":
        problem = one_side([json.loads(a) for a in args[1:]])
        if problem:
            print(problem, file=sys.stderr)
            sys.exit(1)
        return
    if args and args[0] == "--agree":
        problem = agree(args[1], [json.loads(a) for a in args[2:]])
        if problem:
            print(problem, file=sys.stderr)
            sys.exit(1)
        return
    print(view(json.loads(args[0])))


if __name__ == "__main__":
    main()
