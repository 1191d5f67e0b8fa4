#!/usr/bin/env bash
# Goal: three real nodes on unicast UDP form one quorate cluster with one DC.
# Method: start n1..n3 in their namespaces; every node's `ha status --json`
# must show quorum, the same DC, and all three nodes online.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree on a quorate cluster" lab_agree 1 2 3
lab_log "formed: $(lab_view 1)"
