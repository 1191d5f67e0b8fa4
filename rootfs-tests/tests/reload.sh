#!/usr/bin/env bash
# Goal: `ha reload` and SIGHUP apply a valid config, refuse a broken one
# (exit 1, the old config keeps running), and a state-changing request from
# a non-root user is refused while status works for the socket's group.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lab_init "$1" 3 udpu
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
sock=$(lab_sock 1)
chmod 755 "$LAB_DIR"  # mktemp -d made it 0700; the non-root client below needs to reach the socket
out=$("$LAB_BIN" reload -s "$sock") || lab_die "a valid reload failed: $out"
cp "$(lab_root 1)/ha.toml" "$LAB_DIR/good.toml"
echo 'intervall = "1s"' >> "$(lab_root 1)/ha.toml"
code=0
out=$("$LAB_BIN" reload -s "$sock" 2>&1) || code=$?
[ "$code" = 1 ] || lab_die "a broken reload exited $code, expected 1: $out"
case "$out" in *"reload refused"*) ;; *) lab_die "no refusal message: $out" ;; esac
lab_signal 1 HUP
sleep 0.5
lab_alive 1 || lab_die "n1 died on SIGHUP with a broken config"
lab_wait 5 "n1..n3 still agree after refused reloads" lab_agree 1 2 3
grep -q "reload: refused" "$LAB_DIR/n1.log" || lab_die "the refusal is not logged"
[ "$(stat -c %a "$sock")" = 660 ] || lab_die "socket mode is $(stat -c %a "$sock"), expected 660"
# uid 65534 in the socket's group (root): may read, may not change. The
# client is the copy in n1's root: the build tree may not be reachable by
# that uid.
client="$(lab_root 1)/ha"
setpriv --reuid=65534 --regid=0 --clear-groups "$client" status -s "$sock" --json >/dev/null \
  || lab_die "a group member cannot read the status"
code=0
out=$(setpriv --reuid=65534 --regid=0 --clear-groups "$client" node standby n2 -s "$sock" 2>&1) || code=$?
[ "$code" = 1 ] || lab_die "a non-root standby request exited $code, expected 1: $out"
case "$out" in *"permission denied"*) ;; *) lab_die "no permission message: $out" ;; esac
