#!/usr/bin/env bash
# Goal: a node whose persisted state file was damaged (truncated, as by a
# crash on a file system without atomic rename, or a bad disk) reports it,
# sets it aside, and rejoins; the cluster is unaffected.
# Method: form with a vip resource (so there is replicated state to
# persist); SIGKILL n2; cut its state file in half; restart it: it must log
# the damage, leave state.corrupt-1 behind, write a fresh state file, and
# all three must agree again.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_VIP=1
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
state="$(lab_root 2)/var/lib/ha/state"
lab_wait 5 "n2 persisted its state" test -s "$state"
lab_kill 2
size=$(stat -c %s "$state")
truncate -s $((size / 2)) "$state"
lab_wait 10 "n1 and n3 agree without n2" lab_agree 1 3
lab_start 2
lab_wait 15 "n1..n3 agree after n2 restarted on a damaged state file" lab_agree 1 2 3
[ -e "$state.corrupt-1" ] || lab_die "the damaged state file was not set aside"
grep -q "persisted cluster state was damaged (truncated" "$LAB_DIR/n2.log" || lab_die "the damage is not logged"
lab_wait 5 "n2 wrote a fresh state file" test -s "$state"
lab_log "$(grep 'state was damaged' "$LAB_DIR/n2.log" | head -1)"
