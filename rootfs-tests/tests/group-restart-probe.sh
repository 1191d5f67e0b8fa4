#!/usr/bin/env bash
# Goal: a daemon killed and restarted at once (faster than the peers'
# timeout) on the node running the group, with the VIP still configured on
# its eth0, probes what is running instead of starting it blind: at no
# sample is the VIP on eth0 twice or on two nodes, and the group ends up
# running on one node with the client reaching it.
# Method: lib-storage.sh group; SIGKILL of the holder's daemon only (its
# network stays up, so the address stays), immediate restart; every 50 ms
# for 8 s the VIP copies are counted in every namespace. (The kill ends the
# node's mount namespace, so its file system is gone: the group's order
# makes the cluster stop the VIP and start both again; a second copy of the
# address would show up here.)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"
storage_group_up "$1"
h=$ST_HOLDER
lab_kill "$h"
[ "$(ip -n "$(lab_ns "$h")" -br addr show dev eth0 | grep -o '10\.77\.0\.100/' | wc -l)" = 1 ] \
  || lab_die "the VIP is not left on n$h's eth0 after the kill"
lab_start "$h"
copies() {
  local i c=0
  for i in 1 2 3; do
    c=$(( c + $(ip -n "$(lab_ns "$i")" addr show | grep -c ' 10\.77\.0\.100/' || true) ))
  done
  echo "$c"
}
end=$(( $(date +%s) + 8 ))
while [ "$(date +%s)" -lt "$end" ]; do
  c=$(copies)
  [ "$c" -le 1 ] || lab_die "the VIP is configured $c times: $(lab_holders 10.77.0.100)"
  sleep 0.05
done
n=$(group_wait_on "" 15)
lab_log "the restarted n$h probed; the VIP was never doubled; the group runs on n$n"
storage_watch_check
