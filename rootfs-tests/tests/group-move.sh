#!/usr/bin/env bash
# Goal: `ha resource move web NODE` moves the running group [data, webip] to
# NODE (client reaches the VIP there, disk unmounted on the old node first);
# `ha resource clear web` removes the preference: after NODE goes standby
# and comes back online, the group stays where it went instead of returning.
# Method: lib-storage.sh group; requests through a third node; the mount
# watcher (50 ms) runs throughout.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"
storage_group_up "$1"
h=$ST_HOLDER
t=$(( h % 3 + 1 ))
via=$(( t % 3 + 1 ))
ha_cli "$via" resource move web "n$t" >/dev/null || lab_die "ha resource move web n$t failed"
n=$(group_wait_on "$h" 15)
[ "$n" = "$t" ] || lab_die "ha resource move web n$t put the group on n$n"
node_has_disk "$h" && lab_die "n$h still has the disk mounted after the move"
lab_log "ha resource move moved the group from n$h to n$t"
ha_cli "$via" resource clear web >/dev/null || lab_die "ha resource clear web failed"
ha_cli "$via" node standby "n$t" >/dev/null || lab_die "ha node standby n$t failed"
away=$(group_wait_on "$t" 15)
ha_cli "$via" node online "n$t" >/dev/null || lab_die "ha node online n$t failed"
lab_wait 10 "n$t is online again" eval "[ \"\$(lab_get $via '[n[\"state\"] for n in s[\"nodes\"] if n[\"name\"] == \"n$t\"][0]')\" = '\"online\"' ]"
sleep 3
[ "$(group_on)" = "$away" ] || lab_die "after clear, the group went back from n$away to '$(disk_holders)': the move preference was not cleared"
lab_log "after ha resource clear, the group stays on n$away when n$t comes back"
storage_watch_check
