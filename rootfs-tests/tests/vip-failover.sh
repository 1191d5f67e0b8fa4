#!/usr/bin/env bash
# Goal: a real resource fails over: the vip agent adds 10.77.0.100 on the
# node the cluster chose, every node's status says where it runs, a SIGKILL
# of that node moves it to a survivor, and a graceful leave (SIGTERM) of the
# new holder removes the address before the process exits.
# Method: LAB_VIP=1 (one vip resource, stonith disabled); the address is
# observed in each namespace with `ip addr`, the placement via
# `ha status --json`.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_VIP=1
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
one_holder() { [ "$(lab_holders 10.77.0.100 | wc -w)" = 1 ]; }
lab_wait 10 "exactly one node holds 10.77.0.100" one_holder
first=$(lab_holders 10.77.0.100)
lab_wait 10 "every node reports webip on n$first" lab_placed webip "$first" 1 2 3
lab_log "webip runs on n$first"
lab_kill "$first"
rest=()
for i in 1 2 3; do [ "$i" = "$first" ] || rest+=("$i"); done
moved() { lab_holders 10.77.0.100 | tr ' ' '\n' | grep -qx -e "${rest[0]}" -e "${rest[1]}"; }
lab_wait 15 "a survivor takes over 10.77.0.100" moved
second=$(lab_holders 10.77.0.100 | tr ' ' '\n' | grep -x -e "${rest[0]}" -e "${rest[1]}" | head -1)
[ "$(lab_holders 10.77.0.100 | tr ' ' '\n' | grep -cx -e "${rest[0]}" -e "${rest[1]}")" = 1 ] \
  || lab_die "both survivors hold the address: $(lab_holders 10.77.0.100)"
lab_wait 10 "the survivors report webip on n$second" lab_placed webip "$second" "${rest[@]}"
lab_log "after killing n$first, webip runs on n$second"
pid=${LAB_PID[$second]}
lab_signal "$second" TERM
timeout 20 tail --pid="$pid" -f /dev/null || lab_die "n$second still runs 20 s after SIGTERM"
unset "LAB_PID[$second]"
if ip -n "$(lab_ns "$second")" -br addr show dev eth0 | grep -qw "10.77.0.100/24"; then
  lab_die "n$second left 10.77.0.100 behind after a graceful leave"
fi
lab_log "n$second removed the address on SIGTERM"
