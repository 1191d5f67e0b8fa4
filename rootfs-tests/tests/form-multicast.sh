#!/usr/bin/env bash
# Goal: the same with multicast (transport = "udp"): the group is joined on
# the link's interface and sent to with IP_MULTICAST_IF, in namespaces that
# have no default route.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udp
lab_start_all
lab_wait 15 "n1..n3 agree on a quorate cluster over multicast" lab_agree 1 2 3
lab_log "formed: $(lab_view 1)"
