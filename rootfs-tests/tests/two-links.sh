#!/usr/bin/env bash
# Goal: redundant links fail independently: losing one link keeps a peer a
# member, and `ha status` shows that link down for that peer; losing both
# loses the peer.
# Method: two bridges, two heartbeat links; take n3's port on the second
# bridge down; after 3 s all three still agree and n1 shows n3's link 1
# down and link 0 up; then take n3's first port down too: n1 and n2 agree
# without n3.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_LINKS=2
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree over two links" lab_agree 1 2 3
links() { lab_get 1 '[l["up"] for l in s["nodes"][2]["links"]]'; }
both_up() { [ "$(links)" = "[true, true]" ]; }
lab_wait 5 "n1 sees both of n3's links up" both_up
ip -n "$LAB_SW" link set "${LAB_P}q3" down
sleep 3
lab_always 1 "n1..n3 still agree with one link of n3 down" lab_agree 1 2 3
[ "$(links)" = "[true, false]" ] || lab_die "n1 shows n3's links as $(links), expected [true, false]"
lab_log "one link down: n1 shows n3 links $(links)"
ip -n "$LAB_SW" link set "${LAB_P}p3" down
lab_wait 10 "n1 and n2 agree without n3 once both links are down" lab_agree 1 2
