#!/usr/bin/env bash
# Goal: a node restarted with its incarnation file rejoins, with a higher
# incarnation, and the cluster agrees again.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
before=$(cat "$(lab_root 2)/var/lib/ha/incarnation")
lab_kill 2
lab_wait 10 "n1 and n3 agree without n2" lab_agree 1 3
lab_start 2
lab_wait 15 "n1..n3 agree after n2 restarted" lab_agree 1 2 3
after=$(cat "$(lab_root 2)/var/lib/ha/incarnation")
[ "$after" -gt "$before" ] || lab_die "incarnation did not grow: $before -> $after"
lab_log "n2 rejoined with incarnation $before -> $after: $(lab_view 2)"
