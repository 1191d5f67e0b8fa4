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
# n3's leave makes the others drop it at once, not after the 1 s timeout:
# compare the node logs' timestamps (one clock) of n3's SIGTERM and of
# each peer's "peer left".
log_ms() { # FILE PATTERN: the first matching line's time, in ms of the day
  python3 - "$1" "$2" <<'PY'
import sys
for line in open(sys.argv[1]):
    if sys.argv[2] in line:
        t = line.split()[0].split("T")[1].rstrip("Z")
        h, m, s = t.split(":")
        print(round((int(h) * 3600 + int(m) * 60 + float(s)) * 1000))
        break
PY
}
term=$(log_ms "$LAB_DIR/n3.log" "signal: SIGTERM")
[ -n "$term" ] || lab_die "n3 did not log its SIGTERM"
for i in 1 2; do
  left=$(log_ms "$LAB_DIR/n$i.log" "peer left: peer=n3")
  [ -n "$left" ] || lab_die "n$i did not act on n3's leave (no 'peer left' in its log)"
  lab_log "n$i dropped n3 $(( left - term )) ms after its SIGTERM (timeout 1000 ms)"
  [ $(( left - term )) -lt 200 ] || lab_die "n$i dropped n3 only $(( left - term )) ms after its SIGTERM"
done
