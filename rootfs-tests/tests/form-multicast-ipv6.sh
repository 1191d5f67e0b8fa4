#!/usr/bin/env bash
# Goal: multicast heartbeats over IPv6: the group (ff15::4841) is joined on
# the link's interface and sent to with IPV6_MULTICAST_IF, in namespaces
# without a default route; three nodes form a quorate cluster with one DC.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_IPV6=1
lab_init "$1" 3 udp
lab_start_all
lab_wait 15 "n1..n3 agree over IPv6 multicast" lab_agree 1 2 3
lab_log "formed: $(lab_view 1)"
