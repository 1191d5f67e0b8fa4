# shellcheck shell=bash
# The ha lab: real `ha` binaries as cluster nodes on one machine.
#
# A "switch" network namespace holds a Linux bridge (multicast snooping off,
# so groups flood like on a dumb switch). Each node gets its own network
# namespace with a veth to the bridge, and runs in its own mount namespace,
# chrooted into a minimal root that holds only the static binary, its config
# and key, plus empty /run and /var/lib/ha. The host reaches each node's
# control socket through ROOT/run/ha.sock.
#
# Every name carries a per-run prefix; lab_cleanup (installed as a trap by
# lab_init) kills the node processes by PID, deletes the namespaces (which
# takes the veths and the bridge along) and removes the roots, also after a
# failure or Ctrl-C. Source this file; see rootfs-tests/run.

LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

lab_die() {
  echo "lab: FAIL: $*" >&2
  exit 1
}

lab_log() {
  echo "lab: $*" >&2
}

# lab_init BINARY N [TRANSPORT] [TIMEOUT]: builds the network and the roots
# for N nodes (not started). TRANSPORT is udpu (default) or udp. With
# LAB_LINKS=2 every node also gets eth1 (10.78.0.1I) on a second bridge, br1,
# as a second heartbeat link. With LAB_VIP=1 the config has one resource,
# webip: a vip 10.77.0.100/24 on eth0; LAB_RESOURCES adds config text.
lab_init() {
  LAB_BIN=$(readlink -f "$1")
  LAB_N=$2
  LAB_TRANSPORT=${3:-udpu}
  LAB_TIMEOUT=${4:-1s}
  [ "$(id -u)" = 0 ] || lab_die "needs root (network namespaces, chroot); run as root"
  [ -x "$LAB_BIN" ] || lab_die "no executable ha binary at $1"
  # A short unique prefix: interface names are limited to 15 bytes.
  LAB_P="h$(printf %05d $(( ($$ + RANDOM) % 100000 )))"
  LAB_DIR=$(mktemp -d "/tmp/ha-lab-$LAB_P.XXXX")
  LAB_SW="${LAB_P}sw"
  declare -gA LAB_PID=()
  trap lab_cleanup EXIT
  trap 'lab_log "interrupted"; exit 130' INT TERM
  head -c 32 /dev/urandom > "$LAB_DIR/ha.key"
  chmod 600 "$LAB_DIR/ha.key"
  ip netns add "$LAB_SW"
  ip -n "$LAB_SW" link add br0 type bridge
  ip -n "$LAB_SW" link set br0 type bridge mcast_snooping 0
  ip -n "$LAB_SW" link set br0 up
  if [ "${LAB_LINKS:-1}" = 2 ]; then
    ip -n "$LAB_SW" link add br1 type bridge
    ip -n "$LAB_SW" link set br1 type bridge mcast_snooping 0
    ip -n "$LAB_SW" link set br1 up
  fi
  local i
  for i in $(seq 1 "$LAB_N"); do
    lab_add_netns "$i"
  done
  lab_config > "$LAB_DIR/ha.toml"
  for i in $(seq 1 "$LAB_N"); do
    lab_make_root "$i" "$LAB_DIR/ha.toml" "$LAB_DIR/ha.key"
  done
}

# The address of node I (IPv6 with LAB_IPV6=1).
lab_addr() {
  if [ "${LAB_IPV6:-0}" = 1 ]; then
    echo "fd77::$((10 + $1))"
  else
    echo "10.77.0.$((10 + $1))"
  fi
}

lab_ns() {
  echo "${LAB_P}n$1"
}

lab_root() {
  echo "$LAB_DIR/root$1"
}

lab_sock() {
  echo "$LAB_DIR/root$1/run/ha.sock"
}

# lab_add_netns I: a namespace with eth0 on the bridge (port pI in the switch).
lab_add_netns() {
  local i=$1 ns
  ns=$(lab_ns "$i")
  ip netns add "$ns"
  ip link add eth0 netns "$ns" type veth peer name "${LAB_P}p$i" netns "$LAB_SW"
  ip -n "$LAB_SW" link set "${LAB_P}p$i" master br0 up
  if [ "${LAB_IPV6:-0}" = 1 ]; then
    # nodad: a tentative address cannot be bound yet.
    ip -n "$ns" addr add "$(lab_addr "$i")/64" dev eth0 nodad
  else
    ip -n "$ns" addr add "$(lab_addr "$i")/24" dev eth0
  fi
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  if [ "${LAB_LINKS:-1}" = 2 ]; then
    ip link add eth1 netns "$ns" type veth peer name "${LAB_P}q$i" netns "$LAB_SW"
    ip -n "$LAB_SW" link set "${LAB_P}q$i" master br1 up
    ip -n "$ns" addr add "$(lab_addr2 "$i")/24" dev eth1
    ip -n "$ns" link set eth1 up
  fi
}

# The second-link address of node I (LAB_LINKS=2).
lab_addr2() {
  echo "10.78.0.$((10 + $1))"
}

# The cluster config shared by every node (identical, so config hashes agree).
lab_config() {
  local i
  cat <<EOF
[cluster]
name = "${LAB_CLUSTER:-lab}"
key_file = "/ha.key"
state_dir = "/var/lib/ha"
socket = "/run/ha.sock"
stonith_enabled = false
log = "stderr"
log_level = "${LAB_LOG_LEVEL:-info}"

[heartbeat]
transport = "$LAB_TRANSPORT"
port = 5405
interval = "100ms"
timeout = "$LAB_TIMEOUT"
mcast_group = "$( [ "${LAB_IPV6:-0}" = 1 ] && echo ff15::4841 || echo 239.255.100.1)"
ttl = 1

[[heartbeat.link]]
network = "$( [ "${LAB_IPV6:-0}" = 1 ] && echo fd77::/64 || echo 10.77.0.0/24)"

EOF
  if [ "${LAB_LINKS:-1}" = 2 ]; then
    printf '[[heartbeat.link]]\nnetwork = "10.78.0.0/24"\n\n'
  fi
  if [ "${LAB_VIP:-0}" = 1 ]; then
    cat <<EOF
[resource.webip]
agent = "vip"
params = { ip = "10.77.0.100", cidr_netmask = 24, nic = "eth0" }
ops = [ { name = "monitor", interval = "2s", timeout = "5s" } ]

EOF
  fi
  # LAB_RESOURCES: more config text (resources), as written.
  if [ -n "${LAB_RESOURCES:-}" ]; then
    printf '%s\n' "$LAB_RESOURCES"
  fi
  local addrs
  for i in $(seq 1 "$LAB_N"); do
    addrs="\"$(lab_addr "$i")\""
    if [ "${LAB_LINKS:-1}" = 2 ]; then
      addrs="$addrs, \"$(lab_addr2 "$i")\""
    fi
    cat <<EOF
[[node]]
name = "n$i"
id = $i
addrs = [$addrs]

EOF
  done
}

# lab_make_root I CONFIG KEY: the node's whole file system.
lab_make_root() {
  local root
  root=$(lab_root "$1")
  mkdir -p "$root/run" "$root/var/lib/ha"
  cp "$LAB_BIN" "$root/ha"
  cp "$2" "$root/ha.toml"
  cp "$3" "$root/ha.key"
  chmod 600 "$root/ha.key"
}

# lab_start I: starts node I in the background; its log is $LAB_DIR/nI.log.
lab_start() {
  local i=$1 ns root
  ns=$(lab_ns "$i")
  root=$(lab_root "$i")
  rm -f "$root/run/ha.sock"
  # ip netns exec, unshare and chroot each exec the next, so $! ends up as
  # the ha process itself.
  ip netns exec "$ns" unshare -m chroot "$root" /ha run -c /ha.toml --node "n$i" \
    >>"$LAB_DIR/n$i.log" 2>&1 </dev/null &
  LAB_PID[$i]=$!
}

lab_start_all() {
  local i
  for i in $(seq 1 "$LAB_N"); do
    lab_start "$i"
  done
}

# lab_signal I SIG: signals node I's daemon by PID.
lab_signal() {
  local pid=${LAB_PID[$1]:-}
  [ -n "$pid" ] || lab_die "node $1 was not started"
  kill -s "$2" "$pid"
}

# lab_kill I: SIGKILL node I and reap it.
lab_kill() {
  local pid=${LAB_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "LAB_PID[$1]"
}

lab_alive() {
  local pid=${LAB_PID[$1]:-}
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# lab_status I: node I's `ha status --json` on stdout (fails if unreachable).
lab_status() {
  "$LAB_BIN" status -s "$(lab_sock "$1")" --json
}

# lab_get I EXPR: evaluates a python expression over node I's status
# document `s` (e.g. 's["quorum"]["quorate"]'); prints it as JSON.
lab_get() {
  local json
  json=$(lab_status "$1" 2>/dev/null) || { echo "unreachable"; return 1; }
  python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(json.dumps(eval(sys.argv[2])))' "$json" "$2"
}

# lab_view I: a one-line summary of node I's view, for messages and checks:
# "quorate=true dc=n1 members=n1,n2,n3".
lab_view() {
  local json
  json=$(lab_status "$1" 2>/dev/null) || { echo "unreachable"; return 1; }
  python3 "$LAB_HERE/lib/view.py" "$json"
}

# lab_wait SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.1 s until it
# succeeds; fails the test with DESCRIPTION after SECONDS.
lab_wait() {
  local limit=$1 what=$2
  shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  lab_log "timed out after ${limit}s waiting for: $what"
  lab_show_views
  lab_die "$what"
}

# lab_agree NODES...: every listed node is quorate, sees the same DC (one of
# the listed nodes), and lists exactly the listed nodes as online.
lab_agree() {
  local views=() i
  for i in "$@"; do
    views+=("$(lab_status "$i" 2>/dev/null)") || return 1
  done
  python3 "$LAB_HERE/lib/view.py" --agree "$(printf 'n%s,' "$@")" "${views[@]}"
}

# lab_placed RESOURCE WANT NODES...: every listed node's status says
# RESOURCE is active on node WANT alone.
lab_placed() {
  local i r=$1 want=$2
  shift 2
  for i in "$@"; do
    [ "$(lab_get "$i" "[r['active_on'] for r in s['resources'] if r['id'] == '$r']")" = "[[\"n$want\"]]" ] || return 1
  done
}

# lab_not_quorate I: node I answers and says it has no quorum.
lab_not_quorate() {
  [ "$(lab_get "$1" 's["quorum"]["quorate"]')" = false ]
}

lab_quorate() {
  [ "$(lab_get "$1" 's["quorum"]["quorate"]')" = true ]
}

lab_show_views() {
  local i
  for i in $(seq 1 "$LAB_N"); do
    if lab_alive "$i"; then
      lab_log "n$i: $(lab_view "$i" 2>&1)"
    else
      lab_log "n$i: not running"
    fi
  done
}

# Milliseconds since the epoch.
lab_now_ms() {
  echo $(( $(date +%s%N) / 1000000 ))
}

lab_cleanup() {
  local status=$? i pid
  trap - EXIT INT TERM
  for i in "${!LAB_PID[@]}"; do
    pid=${LAB_PID[$i]}
    kill -9 "$pid" 2>/dev/null || true
  done
  for i in "${!LAB_PID[@]}"; do
    wait "${LAB_PID[$i]}" 2>/dev/null || true
  done
  if [ "$status" != 0 ] && [ -n "${LAB_DIR:-}" ]; then
    for i in $(seq 1 "${LAB_N:-0}"); do
      if [ -s "$LAB_DIR/n$i.log" ]; then
        echo "---- n$i.log (last 15 lines) ----" >&2
        tail -n 15 "$LAB_DIR/n$i.log" >&2
      fi
    done
  fi
  if [ -n "${LAB_P:-}" ]; then
    for ns in $(ip netns list | awk '{print $1}' | grep "^${LAB_P}" || true); do
      ip netns del "$ns" 2>/dev/null || true
    done
  fi
  if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
    rm -rf "$LAB_DIR"
  fi
  exit "$status"
}

# lab_one_side: among the running nodes that answer, at most one quorate
# side exists: the quorate nodes name at most one DC between them.
lab_one_side() {
  local docs=() i doc
  for i in $(seq 1 "$LAB_N"); do
    lab_alive "$i" || continue
    doc=$(lab_status "$i" 2>/dev/null) || continue
    docs+=("$doc")
  done
  python3 "$LAB_HERE/lib/view.py" --one-side "${docs[@]}"
}

# lab_always SECONDS DESCRIPTION COMMAND...: COMMAND must hold at every
# sample (every 0.1 s) for SECONDS.
lab_always() {
  local limit=$1 what=$2
  shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    if ! "$@"; then
      lab_show_views
      lab_die "violated: $what"
    fi
    sleep 0.1
  done
}

# lab_nft I RULES: loads an nftables ruleset into node I's namespace.
lab_nft() {
  printf '%s\n' "$2" | ip netns exec "$(lab_ns "$1")" nft -f -
}

# lab_nft_switch RULES: loads an nftables ruleset into the switch namespace.
lab_nft_switch() {
  printf '%s\n' "$1" | ip netns exec "$LAB_SW" nft -f -
}

# The nodes whose eth0 holds ADDR right now, e.g. "2" or "1 3".
lab_holders() {
  local i out=()
  for i in $(seq 1 "$LAB_N"); do
    if ip -n "$(lab_ns "$i")" -br addr show dev eth0 | grep -qw "$1/[0-9]*"; then
      out+=("$i")
    fi
  done
  echo "${out[*]}"
}

# Total packets node I dropped (all reasons).
lab_drops() {
  lab_get "$1" 'sum(s.get("drops", {}).values())'
}

# Gives every node's root a static busybox as /bin/sh and a real OCF
# script, ocf:hatest:Dummy: it keeps its state in OCF_RESKEY_state (a file
# in the node's own root, so the roots holding it are the nodes running
# it), writes "OCF_RESKEY_color OCF_RESOURCE_INSTANCE" there, and sleeps
# OCF_RESKEY_delay seconds (default 0) before a start completes.
lab_ocf_dummy() {
  local busybox i root app
  busybox=$(command -v busybox) || lab_die "busybox is missing (apt-get install busybox-static)"
  file -L "$busybox" | grep -q "statically linked" \
    || lab_die "$busybox is not statically linked (apt-get install busybox-static)"
  for i in $(seq 1 "$LAB_N"); do
    root=$(lab_root "$i")
    mkdir -p "$root/bin" "$root/usr/lib/ocf/resource.d/hatest"
    cp "$busybox" "$root/bin/busybox"
    for app in sh rm cat sleep; do ln -sf busybox "$root/bin/$app"; done
    cat > "$root/usr/lib/ocf/resource.d/hatest/Dummy" <<'EOF'
#!/bin/sh
state="${OCF_RESKEY_state:?state is required}"
case "$1" in
start) sleep "${OCF_RESKEY_delay:-0}"; echo "$OCF_RESKEY_color $OCF_RESOURCE_INSTANCE" > "$state"; exit 0;;
stop) rm -f "$state"; exit 0;;
monitor) [ -f "$state" ] && exit 0; exit 7;;
validate-all) exit 0;;
*) exit 3;;
esac
EOF
    chmod 755 "$root/usr/lib/ocf/resource.d/hatest/Dummy"
  done
}
