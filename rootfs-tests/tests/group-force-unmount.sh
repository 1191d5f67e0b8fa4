#!/usr/bin/env bash
# Goal: a busy mount (a process with its cwd inside the shared file system,
# in the holder's mount namespace) does not block a move: with
# force_unmount (default true) the filesystem agent signals the process,
# unmounts, and the group [data, webip] starts on another node; the disk is
# never mounted on two nodes.
# Method: lib-storage.sh group; the busy process is `sleep` entered into the
# holder's mount namespace with nsenter, cwd in the mount; the group is
# moved away with `ha node standby`.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"
storage_group_up "$1"
h=$ST_HOLDER
nsenter -t "${LAB_PID[$h]}" -m -- sh -c "cd $(lab_root "$h")/srv/data && exec sleep 600" &
busy=$!
sleep 0.3
kill -0 "$busy" 2>/dev/null || lab_die "the busy process did not start"
ha_cli 1 node standby "n$h" >/dev/null || lab_die "ha node standby n$h failed"
n=$(group_wait_on "$h" 20)
if kill -0 "$busy" 2>/dev/null; then
  kill -9 "$busy"
  lab_die "the process keeping the mount busy on n$h is still running"
fi
rc=0
wait "$busy" || rc=$?
[ "$rc" -gt 128 ] || lab_die "the busy process ended with status $rc, not by a signal"
node_has_disk "$h" && lab_die "n$h still has the disk mounted"
lab_log "the busy mount on n$h was force-unmounted (holder ended by signal $((rc - 128))); the group runs on n$n"
storage_watch_check
