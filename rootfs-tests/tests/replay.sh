#!/usr/bin/env bash
# Goal: captured packets replayed from another namespace change nothing:
# in particular, replaying a dead node's old heartbeats does not keep it
# alive, and the replays are counted as drops.
# Method: form; record 2 s of n3's packets as n1 receives them; SIGKILL n3;
# from a fresh namespace on the bridge, replay them at n1 for 4 s; n1 and n2
# must agree on {n1, n2} throughout the last 2 s, and n1's drops grow.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
here=$(dirname "$0")/../lib
n=$(ip netns exec "$(lab_ns 1)" python3 "$here/capture.py" eth0 "$(lab_addr 3)" 5405 2 "$LAB_DIR/n3.pcap")
[ "$n" -gt 5 ] || lab_die "captured only $n packets from n3"
lab_log "captured $n packets from n3"
lab_add_netns 9
lab_kill 3
before=$(lab_drops 1)
ip netns exec "$(lab_ns 9)" python3 "$here/replay.py" "$LAB_DIR/n3.pcap" "$(lab_addr 1)" 5405 4 >"$LAB_DIR/replayed" &
replayer=$!
sleep 2
lab_always 2 "n1 and n2 agree on {n1, n2} while n3's packets are replayed" lab_agree 1 2
wait "$replayer"
after=$(lab_drops 1)
[ "$after" -gt "$before" ] || lab_die "n1's drop counters did not grow ($before -> $after) after $(cat "$LAB_DIR/replayed") replays"
lab_log "replayed $(cat "$LAB_DIR/replayed") packets; n1 drops $before -> $after; $(lab_view 1)"
