#!/usr/bin/env bash
# Goal: a VIP deleted by hand under a running group is noticed by its
# monitor and put back on the same node; the fail-count (1 on that node)
# shows in `ha status --json` on every node, and `ha resource cleanup webip`
# clears it everywhere, with the group still in place and reachable.
# Method: lib-storage.sh group [data, webip] (monitor every 2 s, default
# on_fail restart, migration_threshold inf); the address is removed with
# `ip addr del` inside the holder's namespace; the mount watcher runs
# throughout.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"
storage_group_up "$1"
h=$ST_HOLDER
failcount_is() {
  local i want=$1
  for i in 1 2 3; do
    [ "$(lab_get "$i" '[r["failcounts"] for r in s["resources"] if r["id"] == "webip"][0]')" = "$want" ] || return 1
  done
}
failcount_is '{}' || lab_die "webip has a fail-count before any failure"
ip -n "$(lab_ns "$h")" addr del 10.77.0.100/24 dev eth0
[ -z "$(lab_holders 10.77.0.100)" ] || lab_die "the VIP is still held after deleting it"
lab_wait 10 "every node shows webip's fail-count 1 on n$h" failcount_is "{\"n$h\": 1}"
lab_wait 10 "the VIP is back on n$h and the client reaches it" eval '[ "$(group_on)" = "$h" ]'
lab_log "the monitor noticed the missing VIP; n$h added it again; fail-count n$h=1 everywhere"
ha_cli 1 resource cleanup webip >/dev/null || lab_die "ha resource cleanup webip failed"
lab_wait 10 "every node shows webip's fail-count cleared" failcount_is '{}'
[ "$(group_on)" = "$h" ] || lab_die "the group left n$h after the cleanup"
lab_log "ha resource cleanup cleared the fail-count; the group stays on n$h"
storage_watch_check
