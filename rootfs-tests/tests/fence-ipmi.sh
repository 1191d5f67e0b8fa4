#!/usr/bin/env bash
# Goal: fencing through IPMI for real. Every node has a BMC: an OpenIPMI
# ipmi_sim in the switch namespace (10.77.0.20I:623, RMCP+), whose
# chassis_control program "powers the node off" (switch port down, every
# process in the node's namespace SIGKILLed, its addresses gone). The
# cluster runs with stonith_enabled = true and one ipmi [[fence]] device per
# node; the daemon drives the real ipmitool (copied into each node root with
# its libraries) with -I lanplus -C 3 and a password file.
# Shown: (1) the VIP holder is cut off while its BMC password on the DC side
# is wrong: the DC's fence attempts fail (RMCP+ session refused), the holder
# stays `unclean` in `ha status`, and for 6 s the VIP is NOT recovered on a
# survivor; (2) the right password goes back: the next retry powers the
# holder off through its BMC, and only after that power-off does the VIP
# come up on a survivor; (3) `ha fence NODE` powers a node off through its
# BMC on request. No password reaches a log.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
for tool in ipmi_sim ipmitool ldd; do
  command -v "$tool" >/dev/null || lab_die "$tool is missing (apt-get install openipmi ipmitool)"
done
LAB_VIP=1
PASSWORD="lab-$RANDOM-secret"
eval "lab_config_base$(declare -f lab_config | sed 1s/^lab_config//)"
lab_config() {
  lab_config_base | sed 's/^stonith_enabled = false$/stonith_enabled = true/'
  local i
  for i in $(seq 1 "$LAB_N"); do
    cat <<EOF
[[fence]]
name = "ipmi-n$i"
driver = "ipmi"
targets = ["n$i"]
delay = "1s"
params = { host = "10.77.0.20$i", username = "admin", password_file = "/ipmi-n$i.pass" }

EOF
  done
}
lab_init "$1" 3 udpu
grep -q '^stonith_enabled = true$' "$LAB_DIR/ha.toml" || lab_die "the config did not turn stonith on"

declare -a BMC_PID=()
fence_cleanup() {
  local status=$? pid
  # Not under -e: every step must run, also after a failure.
  set +e
  for pid in "${BMC_PID[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" != 0 ] && [ -s "${LAB_DIR:-/nonexistent}/bmc.log" ]; then
    echo "---- bmc.log ----" >&2
    cat "$LAB_DIR/bmc.log" >&2
  fi
  (exit "$status")
  lab_cleanup
}
trap fence_cleanup EXIT

# ipmitool and its shared libraries inside every node root (the roots hold
# nothing else), plus each node's copy of the BMC password files.
for i in 1 2 3; do
  root=$(lab_root "$i")
  for f in /usr/bin/ipmitool $(ldd /usr/bin/ipmitool | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
  done
  for t in 1 2 3; do
    printf '%s\n' "$PASSWORD" > "$root/ipmi-n$t.pass"
    chmod 600 "$root/ipmi-n$t.pass"
  done
done

# The chassis control program: ipmi_sim runs it as `PROG NODE get power`
# and `PROG NODE set power 0|1`. Power off = port down, everything in the
# node's namespace killed, its addresses flushed (as if the box went dark).
cat > "$LAB_DIR/chassis" <<EOF
#!/bin/sh
node=\$1; shift
state="$LAB_DIR/power-\$node"
case "\$1 \$2" in
  "get power")
    if [ -e "\$state" ]; then echo "power:\$(cat "\$state")"; else echo "power:1"; fi ;;
  "set power")
    echo "\$(date +%s%3N) \$node set power \$3" >> "$LAB_DIR/bmc.log"
    if [ "\$3" = 0 ]; then
      ip link set "${LAB_P}p\$node" down
      for pid in \$(ip netns pids "${LAB_P}n\$node"); do kill -9 "\$pid" 2>/dev/null; done
      ip -n "${LAB_P}n\$node" addr flush dev eth0
    fi
    echo "\$3" > "\$state" ;;
esac
exit 0
EOF
chmod 755 "$LAB_DIR/chassis"

# One BMC per node, on the switch side of the lab network.
for i in 1 2 3; do
  ip -n "$LAB_SW" addr add "10.77.0.20$i/24" dev br0
  cat > "$LAB_DIR/bmc$i.conf" <<EOF
name "bmc$i"
set_working_mc 0x20
  startlan 1
    addr 10.77.0.20$i 623
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcde$i
  endlan
  chassis_control "$LAB_DIR/chassis $i"
  user 2 true "admin" "$PASSWORD" admin 10 none md2 md5 straight
EOF
  cat > "$LAB_DIR/bmc$i.emu" <<EOF
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EOF
  mkdir -p "$LAB_DIR/bmc$i.state"
  ip netns exec "$LAB_SW" ipmi_sim -n -p -c "$LAB_DIR/bmc$i.conf" -f "$LAB_DIR/bmc$i.emu" \
    -s "$LAB_DIR/bmc$i.state" >"$LAB_DIR/bmc$i.out" 2>&1 </dev/null &
  BMC_PID+=($!)
done
# The reference client sees every BMC answer "on" from a node's namespace.
bmc_status() {
  ip netns exec "$(lab_ns 1)" ipmitool -I lanplus -C 3 -H "10.77.0.20$1" -U admin \
    -f "$(lab_root 1)/ipmi-n$1.pass" chassis power status
}
for i in 1 2 3; do
  lab_wait 10 "BMC $i answers" eval "bmc_status $i | grep -q 'Chassis Power is on'"
done

# NODE's state as node I sees it: online, unclean, offline, ...
node_state() {
  lab_get "$1" "[n['state'] for n in s['nodes'] if n['name'] == 'n$2'][0]" | tr -d '"'
}

lab_start_all
lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
lab_wait 20 "the VIP is on one node" eval '[ "$(lab_holders 10.77.0.100 | wc -w)" = 1 ]'
holder=$(lab_holders 10.77.0.100)
rest=()
for i in 1 2 3; do [ "$i" = "$holder" ] || rest+=("$i"); done
lab_log "webip on n$holder; survivors-to-be: n${rest[0]} n${rest[1]}"

# (1) Wrong password for the holder's BMC on the survivors, then cut the
# holder off (its port stops forwarding; carrier stays up, it keeps running).
for i in "${rest[@]}"; do
  printf 'not-the-password\n' > "$(lab_root "$i")/ipmi-n$holder.pass"
done
bridge -n "$LAB_SW" link set dev "${LAB_P}p$holder" state 0
cut_ms=$(lab_now_ms)
lab_wait 15 "n${rest[0]} and n${rest[1]} agree without n$holder" lab_agree "${rest[@]}"
dc=$(lab_get "${rest[0]}" 's["dc"]' | tr -d '"')
dc=${dc#n}
lab_log "DC of the survivors: n$dc"
failed_seen() { grep -q "fence: device failed target=n$holder device=ipmi-n$holder" "$LAB_DIR/n$dc.log"; }
lab_wait 15 "the DC tries the BMC of n$holder and fails" failed_seen
unclean_not_recovered() {
  [ "$(node_state "$dc" "$holder")" = unclean ] || return 1
  local h
  h=$(lab_holders 10.77.0.100)
  for i in "${rest[@]}"; do
    case " $h " in *" $i "*) echo "VIP on survivor n$i while n$holder is unclean" >&2; return 1 ;; esac
  done
}
lab_always 6 "n$holder stays unclean and the VIP is not recovered while its fence fails" unclean_not_recovered
tries=$(grep -c "fence: device failed target=n$holder" "$LAB_DIR/n$dc.log")
[ "$tries" -ge 3 ] || lab_die "fencing n$holder was tried $tries times in 6 s; expected retries"
grep "fence: device failed target=n$holder" "$LAB_DIR/n$dc.log" | tail -n 1 | grep -q "RMCP+ session" \
  || lab_die "the failure does not carry ipmitool's reason: $(grep 'fence: device failed' "$LAB_DIR/n$dc.log" | tail -n 1)"
[ ! -e "$LAB_DIR/power-$holder" ] || lab_die "the BMC of n$holder was switched with a wrong password"
status_text=$("$LAB_BIN" status -s "$(lab_sock "$dc")")
printf '%s\n' "$status_text" | grep -q "unclean" || lab_die "ha status does not say unclean: $status_text"
lab_log "with a wrong password: $tries failed fence attempts, n$holder unclean, VIP not recovered"

# (2) The right password again: the next retry fences, then recovery.
for i in "${rest[@]}"; do
  printf '%s\n' "$PASSWORD" > "$(lab_root "$i")/ipmi-n$holder.pass"
done
recovered_ms=""
vip_on_survivor() {
  local h
  h=$(lab_holders 10.77.0.100)
  for i in "${rest[@]}"; do
    case " $h " in *" $i "*) recovered_ms=$(lab_now_ms); return 0 ;; esac
  done
  return 1
}
deadline=$(( $(lab_now_ms) + 20000 ))
until vip_on_survivor; do
  [ "$(lab_now_ms)" -lt "$deadline" ] || { lab_show_views; lab_die "the VIP was not recovered after the password was fixed"; }
  sleep 0.05
done
off_ms=$(awk -v n="$holder" '$2 == n && $5 == 0 {print $1; exit}' "$LAB_DIR/bmc.log")
[ -n "$off_ms" ] || lab_die "the VIP moved but the BMC of n$holder never powered it off"
[ "$recovered_ms" -ge "$off_ms" ] || lab_die "VIP up on a survivor at $recovered_ms, before the power-off at $off_ms"
grep -q "fence: confirmed target=n$holder device=ipmi-n$holder" "$LAB_DIR/n$dc.log" \
  || lab_die "the DC did not log the confirmed fence"
lab_wait 5 "n$holder is offline (fenced) on the DC" eval '[ "$(node_state "$dc" "$holder")" = offline ]'
lab_log "powered off through IPMI $((off_ms - cut_ms)) ms after the cut; VIP on a survivor $((recovered_ms - off_ms)) ms after the power-off"
unset "LAB_PID[$holder]"

# (3) `ha fence NODE`: the other survivor, on request, through its BMC.
other=${rest[0]}
[ "$other" != "$dc" ] || other=${rest[1]}
"$LAB_BIN" fence "n$other" -s "$(lab_sock "$dc")" || lab_die "ha fence n$other failed"
lab_wait 15 "ha fence n$other powers it off through its BMC" \
  eval "awk -v n=$other '\$2 == n && \$5 == 0' '$LAB_DIR/bmc.log' | grep -q ."
lab_wait 5 "nothing runs in n$other any more" eval '[ -z "$(ip netns pids "$(lab_ns "$other")")" ]'
unset "LAB_PID[$other]"
lab_wait 10 "the DC confirms the requested fence of n$other" \
  grep -q "fence: confirmed target=n$other device=ipmi-n$other" "$LAB_DIR/n$dc.log"
lab_log "ha fence n$other: powered off through its BMC and confirmed"

for i in 1 2 3; do
  if grep -q -- "$PASSWORD" "$LAB_DIR/n$i.log"; then
    lab_die "the BMC password appears in n$i.log"
  fi
done
lab_log "no password in any node log"
