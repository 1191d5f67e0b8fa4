#!/usr/bin/env bash
# Goal: `ha resource move web NODE` moves the running group [data, webip] to
# NODE (client reaches the VIP there, disk unmounted on the old node first)
# and, given without --lifetime, its preference disappears by itself once
# the group runs there: `ha status --json` on every node lists no
# constraint, and after NODE goes standby and comes back online the group
# stays where it went instead of returning. A second move to where the
# group runs is refused. A move with --lifetime stays (shown with its time
# left) until `ha resource clear web` removes it; after that, standby +
# online of its node again leaves the group where it went.
# Method: lib-storage.sh group; requests through a third node; the mount
# watcher (50 ms) runs throughout.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../lib-storage.sh"

# constraints I: node I's runtime constraints from `ha status --json`, as a
# JSON string of "RESOURCE:KIND:NODE" words ("" when there are none).
constraints() {
  lab_get "$1" '" ".join(c["resource"] + ":" + c["kind"] + ":" + c["node"] for c in s.get("constraints", []))'
}

no_constraints_anywhere() {
  local i
  for i in 1 2 3; do
    [ "$(constraints "$i")" = '""' ] || return 1
  done
}

# standby_and_back T VIA: standby node T (the group leaves it), online T
# again; prints where the group runs 3 s after T is back.
standby_and_back() {
  local t=$1 via=$2 away
  ha_cli "$via" node standby "n$t" >/dev/null || lab_die "ha node standby n$t failed"
  away=$(group_wait_on "$t" 15)
  ha_cli "$via" node online "n$t" >/dev/null || lab_die "ha node online n$t failed"
  lab_wait 10 "n$t is online again" eval "[ \"\$(lab_get $via '[n[\"state\"] for n in s[\"nodes\"] if n[\"name\"] == \"n$t\"][0]')\" = '\"online\"' ]"
  sleep 3
  group_on || lab_die "the group web is not running whole after n$t came back (disk on: '$(disk_holders)')"
}

storage_group_up "$1"
h=$ST_HOLDER
t=$(( h % 3 + 1 ))
via=$(( t % 3 + 1 ))

# 1. Move without --lifetime: the preference clears itself.
ha_cli "$via" resource move web "n$t" >/dev/null || lab_die "ha resource move web n$t failed"
n=$(group_wait_on "$h" 15)
[ "$n" = "$t" ] || lab_die "ha resource move web n$t put the group on n$n"
node_has_disk "$h" && lab_die "n$h still has the disk mounted after the move"
lab_log "ha resource move moved the group from n$h to n$t"
lab_wait 5 "the move preference is cleared on every node once the group runs on n$t" no_constraints_anywhere
lab_log "the move preference cleared itself: ha status --json lists no constraint on n1..n3"

# 2. A move without --lifetime to where the group runs is refused.
if out=$(ha_cli "$via" resource move web "n$t" 2>&1); then
  lab_die "ha resource move web n$t (already there) was accepted: $out"
fi
case "$out" in
  *"already runs on n$t"*) lab_log "a move to the node running the group is refused: $(echo "$out" | head -n 1)" ;;
  *) lab_die "ha resource move web n$t (already there) failed without saying why: $out" ;;
esac
no_constraints_anywhere || lab_die "the refused move left a constraint: $(constraints "$via")"

# 3. Standby + online of n$t: nothing pulls the group back there.
away=$(standby_and_back "$t" "$via")
[ "$away" != "$t" ] || lab_die "after the automatic clear, the group went back to n$t: the move preference was not cleared"
lab_log "after standby + online of n$t the group stays on n$away"

# 4. A move with --lifetime stays until `ha resource clear`.
ha_cli "$via" resource move web "n$t" --lifetime 10min >/dev/null || lab_die "ha resource move web n$t --lifetime 10min failed"
n=$(group_wait_on "$away" 15)
[ "$n" = "$t" ] || lab_die "ha resource move web n$t --lifetime put the group on n$n"
sleep 2
[ "$(constraints "$via")" = "\"web:move:n$t\"" ] || lab_die "the move with --lifetime is not shown (or gone) on n$via: $(constraints "$via")"
left=$(lab_get "$via" 's["constraints"][0].get("expires_in")')
[ "$left" != null ] || lab_die "the move with --lifetime shows no time left"
lab_log "a move with --lifetime stays after the move (expires in $left)"
ha_cli "$via" resource clear web >/dev/null || lab_die "ha resource clear web failed"
lab_wait 5 "ha resource clear web removes the preference on every node" no_constraints_anywhere
away=$(standby_and_back "$t" "$via")
[ "$away" != "$t" ] || lab_die "after clear, the group went back to n$t: the move preference was not cleared"
lab_log "after ha resource clear, the group stays on n$away when n$t comes back"
storage_watch_check
