#!/usr/bin/env bash
# Goal: SIGTERM makes a node leave cleanly: the process exits 0 within the
# bound, removes its control socket, and the others agree without it.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
pid=${LAB_PID[3]}
lab_signal 3 TERM
code=0
timeout 10 tail --pid="$pid" -f /dev/null || lab_die "n3 still runs 10 s after SIGTERM"
wait "$pid" || code=$?
unset "LAB_PID[3]"
[ "$code" = 0 ] || lab_die "n3 exited with $code after SIGTERM"
[ ! -e "$(lab_sock 3)" ] || lab_die "n3 left its control socket behind"
lab_wait 10 "n1 and n2 agree without n3" lab_agree 1 2
