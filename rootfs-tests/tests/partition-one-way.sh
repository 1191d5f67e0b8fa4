#!/usr/bin/env bash
# Goal: a one-way partition (n3 stops hearing n1, n1 still hears n3) never
# yields two quorate sides, and the cluster re-forms when it heals.
# Method: form; drop n1's packets in n3's input hook (nftables inside n3's
# namespace); sample every node for 8 s; remove the rule; all three agree.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
lab_nft 3 "table inet lab {
  chain input {
    type filter hook input priority 0;
    ip saddr $(lab_addr 1) drop
  }
}"
lab_always 8 "at most one quorate side during a one-way partition" lab_one_side
lab_log "during: n1: $(lab_view 1) | n2: $(lab_view 2) | n3: $(lab_view 3)"
ip netns exec "$(lab_ns 3)" nft delete table inet lab
lab_wait 15 "n1..n3 agree after healing" lab_agree 1 2 3
