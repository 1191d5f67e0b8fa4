#!/usr/bin/env bash
# Goal: `ha status --watch` redraws when the cluster changes, and only then.
# Method: watch n1 for 4 s; kill n3 after 1 s; the output must hold more
# than one screen, the first with n3 online, the last with n3 offline, and
# fewer screens than the 8 polls made (no redraw without a change).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
out="$LAB_DIR/watch.out"
timeout 4 "$LAB_BIN" status --watch -s "$(lab_sock 1)" >"$out" &
watcher=$!
sleep 1
lab_kill 3
wait "$watcher" || true
python3 - "$out" <<'PY'
import sys
screens = [s for s in open(sys.argv[1]).read().split("\x1b[H\x1b[2J") if s]
n3 = [[l for l in s.splitlines() if l.strip().startswith("n3 ")] for s in screens]
assert len(screens) >= 2, "only %d screen(s)" % len(screens)
assert len(screens) < 8, "%d screens in 8 polls: redrawn without changes" % len(screens)
assert " online " in n3[0][0], n3[0]
assert " offline " in n3[-1][0], n3[-1]
print("screens: %d" % len(screens))
PY
