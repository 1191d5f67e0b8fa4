#!/usr/bin/env bash
# Goal: a node with the wrong key never joins, and its packets are counted
# as drops by the others.
# Method: four configured nodes; n4 gets a different key; n1..n3 must agree
# on exactly n1..n3 for 5 s, n4 must never be quorate, and n1's drop
# counters must grow.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 4 udpu
head -c 32 /dev/urandom > "$(lab_root 4)/ha.key"
lab_start_all
lab_wait 15 "n1..n3 agree without n4" lab_agree 1 2 3
lab_always 5 "n1..n3 keep n4 out" lab_agree 1 2 3
lab_always 1 "n4 is never quorate" lab_not_quorate 4
drops=$(lab_drops 1)
[ "$drops" -gt 0 ] || lab_die "n1 counted no dropped packets from n4: $(lab_view 1)"
lab_log "n1: $(lab_view 1)"
