#!/usr/bin/env bash
# Goal: an external OCF resource agent runs under the daemon as under
# pacemaker: the cluster starts it on exactly one node with its params as
# OCF_RESKEY_*, every node's status reports it there, and after a SIGKILL
# of that node it runs on exactly one survivor.
# Method: every node's root gets a static busybox as /bin/sh and a real OCF
# script at /usr/lib/ocf/resource.d/hatest/Dummy (lab_ocf_dummy). The
# script keeps its state file in the node's own root, so the roots holding
# the file are the nodes running the resource; the file holds
# OCF_RESKEY_color.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_RESOURCES='[resource.dummy]
agent = "ocf:hatest:Dummy"
params = { state = "/var/lib/ha/dummy.state", color = "blue" }
ops = [ { name = "monitor", interval = "1s", timeout = "5s" } ]'
lab_init "$1" 3 udpu
lab_ocf_dummy
runs_on() {
  local i
  for i in "$@"; do
    if [ -f "$(lab_root "$i")/var/lib/ha/dummy.state" ]; then echo "$i"; fi
  done
}
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
one_of() { [ "$(runs_on "$@" | wc -l)" = 1 ]; }
lab_wait 10 "the OCF script runs on exactly one node" one_of 1 2 3
first=$(runs_on 1 2 3)
got=$(cat "$(lab_root "$first")/var/lib/ha/dummy.state")
[ "$got" = "blue dummy" ] || lab_die "the script saw '$got', not its params and instance 'blue dummy'"
lab_wait 10 "every node reports dummy on n$first" lab_placed dummy "$first" 1 2 3
lab_log "dummy runs on n$first (the script saw: $got)"
lab_kill "$first"
rest=()
for i in 1 2 3; do [ "$i" = "$first" ] || rest+=("$i"); done
lab_wait 15 "a survivor runs dummy" one_of "${rest[@]}"
second=$(runs_on "${rest[@]}")
lab_wait 10 "the survivors report dummy on n$second" lab_placed dummy "$second" "${rest[@]}"
lab_log "after killing n$first, dummy runs on n$second"
