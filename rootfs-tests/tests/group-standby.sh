#!/usr/bin/env bash
# Goal: `ha node standby NODE` moves the group [data, webip] off that node
# (stopped there before it starts elsewhere: no double mount), every node
# reports the node as standby, and the client reaches the VIP on the new
# node; `ha node online NODE` makes it a member again in status.
# Method: lib-storage.sh group, requests sent through a node that is not the
# holder; the mount watcher (50 ms) runs throughout.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"
storage_group_up "$1"
h=$ST_HOLDER
other=$(( h % 3 + 1 ))
ha_cli "$other" node standby "n$h" >/dev/null || lab_die "ha node standby n$h failed"
next=$(group_wait_on "$h" 15)
node_has_disk "$h" && lab_die "n$h still has the disk mounted after standby"
state_is() {
  local i
  for i in 1 2 3; do
    [ "$(lab_get "$i" "[n[\"state\"] for n in s[\"nodes\"] if n[\"name\"] == \"n$h\"][0]")" = "\"$1\"" ] || return 1
  done
}
lab_wait 10 "every node reports n$h as standby" state_is standby
lab_log "standby of n$h moved the group to n$next"
ha_cli "$other" node online "n$h" >/dev/null || lab_die "ha node online n$h failed"
lab_wait 10 "every node reports n$h as online" state_is online
storage_watch_check
