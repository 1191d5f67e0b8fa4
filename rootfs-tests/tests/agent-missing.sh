#!/usr/bin/env bash
# Goal: a resource whose agent cannot run on any node (a systemd unit, in a
# build without the systemd agent and nodes without systemd) is never
# reported running and never blocks or takes down the cluster: the vip next
# to it still runs on exactly one node, and the resource ends up stopped
# everywhere with its start failures shown.
# Method: LAB_VIP=1 plus a systemd:ha-lab-none resource; every node's
# status is read until the cluster settles.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_VIP=1
LAB_RESOURCES='[resource.web]
agent = "systemd:ha-lab-none"'
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
one_holder() { [ "$(lab_holders 10.77.0.100 | wc -w)" = 1 ]; }
lab_wait 10 "exactly one node holds 10.77.0.100" one_holder
web_nowhere() {
  local i
  for i in 1 2 3; do
    [ "$(lab_get "$i" '[r["active_on"] for r in s["resources"] if r["id"] == "web"]')" = "[[]]" ] || return 1
  done
}
lab_wait 10 "web is reported running nowhere" web_nowhere
failed_starts() {
  [ "$(lab_get 1 '[sorted(f["node"] for f in r["failures"] if f["op"] == "start" and f["rc"] == 5) for r in s["resources"] if r["id"] == "web"]')" = '[["n1", "n2", "n3"]]' ]
}
lab_wait 10 "a failed start (rc 5, not installed) shown for every node" failed_starts
sleep 3
web_nowhere || lab_die "web was reported running later"
one_holder || lab_die "the vip moved or doubled: $(lab_holders 10.77.0.100)"
lab_agree 1 2 3 >/dev/null || lab_die "the cluster fell apart: $(lab_show_views)"
for i in 1 2 3; do lab_alive "$i" || lab_die "n$i exited"; done
lab_log "web stays stopped, the vip runs on n$(lab_holders 10.77.0.100)"
lab_log "n1 status of web: $(lab_get 1 '[r for r in s["resources"] if r["id"] == "web"]')"
