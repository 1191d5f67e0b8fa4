#!/usr/bin/env bash
# Goal: a mandatory [[order]] holds across nodes with real agents, as in
# pacemaker: "web" starts only after "db" has started (on another node),
# and when db fails, web is stopped before db is recovered, then started
# again after it.
# Method: two real OCF scripts (lab_ocf_dummy) under busybox sh; db prefers
# n1 and takes 2 s to start, web prefers n2 and starts at once. The test
# watches the state files (one per running resource, in each node's root)
# every 50 ms and records when each appears and disappears. Without the
# order, web's file would appear first (it starts at once, db after 2 s).
# Then db's state file is removed (its process "dies"): the monitor finds
# it not running, and web's file must vanish before db's comes back.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
LAB_RESOURCES='[resource.db]
agent = "ocf:hatest:Dummy"
params = { state = "/var/lib/ha/db.state", color = "db", delay = "2" }
ops = [ { name = "monitor", interval = "1s", timeout = "5s" }, { name = "start", timeout = "10s" } ]

[resource.web]
agent = "ocf:hatest:Dummy"
params = { state = "/var/lib/ha/web.state", color = "web" }
ops = [ { name = "monitor", interval = "1s", timeout = "5s" } ]

[[location]]
resource = "db"
node = "n1"
score = 100

[[location]]
resource = "web"
node = "n2"
score = 100

[[order]]
first = "db"
then = "web"'
lab_init "$1" 3 udpu
lab_ocf_dummy
db=$(lab_root 1)/var/lib/ha/db.state
web=$(lab_root 2)/var/lib/ha/web.state
# Polls both state files every 50 ms, for up to $1 seconds, until the
# shell condition $2 holds. Records the first time (ms since the epoch)
# each file was seen present (DB_ON, WEB_ON) and absent (DB_OFF, WEB_OFF)
# since the call.
watch_until() {
  local limit=$(( $(lab_now_ms) + $1 * 1000 )) now
  DB_ON='' DB_OFF='' WEB_ON='' WEB_OFF=''
  while :; do
    now=$(lab_now_ms)
    if [ -e "$db" ]; then : "${DB_ON:=$now}"; else : "${DB_OFF:=$now}"; fi
    if [ -e "$web" ]; then : "${WEB_ON:=$now}"; else : "${WEB_OFF:=$now}"; fi
    if eval "$2"; then return 0; fi
    [ "$now" -lt "$limit" ] || lab_die "timed out after $1 s waiting for: $2"
    sleep 0.05
  done
}
lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
watch_until 30 '[ -n "$DB_ON" ] && [ -n "$WEB_ON" ]'
[ "$WEB_ON" -ge "$DB_ON" ] || lab_die "web started $(( DB_ON - WEB_ON )) ms before db"
lab_wait 10 "every node reports db on n1" lab_placed db 1 1 2 3
lab_wait 10 "every node reports web on n2" lab_placed web 2 1 2 3
lab_log "start: db on n1, web on n2 $(( WEB_ON - DB_ON )) ms after db"
rm -f "$db"
watch_until 30 '[ -n "$DB_ON" ]'
[ -n "$WEB_OFF" ] && [ "$WEB_OFF" -le "$DB_ON" ] \
  || lab_die "db came back before web was stopped (web stopped at '$WEB_OFF', db back at $DB_ON)"
db_back=$DB_ON web_off=$WEB_OFF
watch_until 30 '[ -n "$WEB_ON" ]'
[ -z "$DB_OFF" ] || lab_die "db stopped again while web was coming back"
lab_wait 10 "every node reports db on n1" lab_placed db 1 1 2 3
lab_wait 10 "every node reports web on n2" lab_placed web 2 1 2 3
lab_log "db died: web stopped, db back $(( db_back - web_off )) ms later, web back $(( WEB_ON - db_back )) ms after db"
