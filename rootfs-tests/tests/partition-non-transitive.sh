#!/usr/bin/env bash
# Goal: a non-transitive partition (n1 and n3 cannot reach each other, both
# reach n2) never yields two quorate sides; the cluster re-forms on healing.
# Method: a bridge-family nftables rule in the switch drops n1<->n3 frames.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
lab_nft_switch "table bridge lab {
  chain forward {
    type filter hook forward priority 0;
    iifname \"${LAB_P}p1\" oifname \"${LAB_P}p3\" drop
    iifname \"${LAB_P}p3\" oifname \"${LAB_P}p1\" drop
  }
}"
lab_always 8 "at most one quorate side during a non-transitive partition" lab_one_side
lab_log "during: n1: $(lab_view 1) | n2: $(lab_view 2) | n3: $(lab_view 3)"
ip netns exec "$LAB_SW" nft delete table bridge lab
lab_wait 15 "n1..n3 agree after healing" lab_agree 1 2 3
