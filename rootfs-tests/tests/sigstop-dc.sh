#!/usr/bin/env bash
# Goal: a DC paused for 3x the timeout does not act on its stale view when
# it resumes: at no moment are there two quorate sides (the resumed node
# must not go on as quorate DC beside the new one), and it rejoins.
# Method: form; SIGSTOP the DC for 3 s (timeout 1 s); the other two agree on
# a new view; SIGCONT; sample every node for 4 s; all three agree.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu 1s
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
dc=$(lab_get 1 's["dc"]' | tr -d '"')
old=${dc#n}
rest=()
for i in 1 2 3; do [ "$i" = "$old" ] || rest+=("$i"); done
lab_signal "$old" STOP
sleep 3
lab_wait 2 "n${rest[0]} and n${rest[1]} agree while n$old is paused" lab_agree "${rest[@]}"
lab_signal "$old" CONT
lab_always 4 "at most one quorate side after the old DC resumed" lab_one_side
lab_wait 15 "n1..n3 agree after the old DC resumed" lab_agree 1 2 3
lab_log "after: $(lab_view "$old")"
