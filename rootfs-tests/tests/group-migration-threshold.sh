#!/usr/bin/env bash
# Goal: with migration_threshold = 1 on the group, a single monitor failure
# (the VIP deleted by hand) moves the whole group [data, webip] to another
# node instead of restarting it in place; the file system is unmounted on
# the old node before the new one mounts it, and the client reaches the VIP
# on the new node.
# Method: lib-storage.sh with ST_GROUP_META='migration_threshold = 1'; the
# mount watcher (50 ms) fails the test on any double mount.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"
ST_GROUP_META='migration_threshold = 1'
storage_group_up "$1"
h=$ST_HOLDER
ip -n "$(lab_ns "$h")" addr del 10.77.0.100/24 dev eth0
next=$(group_wait_on "$h" 15)
node_has_disk "$h" && lab_die "n$h still has the disk mounted after the group moved"
[ "$(lab_get "$next" '[r["failcounts"] for r in s["resources"] if r["id"] == "webip"][0]')" = "{\"n$h\": 1}" ] \
  || lab_die "webip's fail-count on n$h is not 1: $(lab_get "$next" '[r["failcounts"] for r in s["resources"] if r["id"] == "webip"][0]')"
lab_log "one failure on n$h moved the group to n$next (fail-count n$h=1)"
# It stays there: n$h is not eligible while the fail-count is at the threshold.
sleep 3
[ "$(group_on)" = "$next" ] || lab_die "the group left n$next: disk on '$(disk_holders)', VIP on '$(lab_holders 10.77.0.100)'"
storage_watch_check
