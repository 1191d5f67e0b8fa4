#!/usr/bin/env bash
# Goal: losing one node of three keeps quorum; losing two loses it.
# Method: form; SIGKILL the DC; the two survivors must agree on a new quorate
# view without it; SIGKILL one more; the last one must report no quorum.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
dc=$(lab_get 1 's["dc"]' | tr -d '"')
victim=${dc#n}
rest=()
for i in 1 2 3; do [ "$i" = "$victim" ] || rest+=("$i"); done
lab_log "killing the DC n$victim"
lab_kill "$victim"
lab_wait 10 "n${rest[0]} and n${rest[1]} agree without n$victim" lab_agree "${rest[@]}"
lab_log "after one kill: $(lab_view "${rest[0]}")"
lab_kill "${rest[0]}"
lab_wait 10 "n${rest[1]} alone has no quorum" lab_not_quorate "${rest[1]}"
lab_log "after two kills: $(lab_view "${rest[1]}")"
