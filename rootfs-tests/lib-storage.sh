# shellcheck shell=bash
# Shared storage and a client for the lab (source after lib.sh, call after
# lab_init).
#
# The shared disk is one backing file with an ext4 on it and one loop device
# PER NODE over that file, exposed inside every node's root as the block
# device /dev/shared (same path everywhere). Separate loop devices have
# separate superblocks and caches, so two nodes mounting "the disk" at once
# is a real double mount, as with two hosts on one SAN LUN.
#
# The mount watcher polls, every 50 ms, the mount table of every live
# process of every node (a process belongs to node I when its root is
# rootI) and records a violation if two nodes have the disk mounted at the
# same sample. storage_watch_check fails the test on a violation.
#
# The client is a network namespace on the lab bridge (10.77.0.50) from
# which tests connect to the VIP; every node namespace runs a TCP listener on
# 0.0.0.0:$ST_PORT that answers with its node name, so the answer says which
# node holds the VIP.
#
# storage_cleanup (chained before lab_cleanup by storage_init's trap) kills
# the watcher and listeners by PID, unmounts nothing it did not mount (node
# mounts die with their mount namespaces) and detaches the loop devices.

ST_PORT=8080
ST_HOLDER=""
declare -gA ST_LOOP=() ST_LISTENER=() ST_PROC=()
ST_WATCHER=""
ST_CLIENT=""

storage_cleanup() {
  local status=$? i
  set +e
  if [ -n "$ST_WATCHER" ]; then
    kill -9 "$ST_WATCHER" 2>/dev/null || true
    wait "$ST_WATCHER" 2>/dev/null || true
  fi
  for i in "${!ST_LISTENER[@]}"; do
    kill -9 "${ST_LISTENER[$i]}" 2>/dev/null || true
    wait "${ST_LISTENER[$i]}" 2>/dev/null || true
  done
  # The node daemons hold their mounts; they must be gone before the loop
  # devices can be detached, so stop them here rather than in lab_cleanup.
  for i in "${!LAB_PID[@]}"; do
    kill -9 "${LAB_PID[$i]}" 2>/dev/null || true
    wait "${LAB_PID[$i]}" 2>/dev/null || true
  done
  for i in "${!ST_PROC[@]}"; do
    umount -l "${ST_PROC[$i]}" 2>/dev/null || true
  done
  for i in "${!ST_LOOP[@]}"; do
    losetup -d "${ST_LOOP[$i]}" 2>/dev/null || true
  done
  if [ "$status" != 0 ] && [ -s "${LAB_DIR:-/nonexistent}/watch.log" ]; then
    echo "---- mount watcher ----" >&2
    tail -n 5 "$LAB_DIR/watch.log" >&2
  fi
  (exit "$status")
  lab_cleanup
}

# storage_init SIZE_MB: the backing file, its ext4, one loop device per node
# as ROOT/dev/shared, the client namespace; installs the cleanup trap.
storage_init() {
  local size=${1:-64} i dev
  for tool in losetup mkfs.ext4 nsenter; do
    command -v "$tool" >/dev/null || lab_die "$tool is missing (apt-get install util-linux e2fsprogs)"
  done
  trap storage_cleanup EXIT
  truncate -s "${size}M" "$LAB_DIR/disk.img"
  mkfs.ext4 -q -F "$LAB_DIR/disk.img" || lab_die "mkfs.ext4 failed"
  for i in $(seq 1 "$LAB_N"); do
    dev=$(losetup -f --show "$LAB_DIR/disk.img") || lab_die "losetup failed (no free loop device?)"
    ST_LOOP[$i]=$dev
    mkdir -p "$(lab_root "$i")/dev"
    mknod "$(lab_root "$i")/dev/shared" b "$(stat -c '%t' "$dev" | xargs printf '%d')" \
      "$(stat -c '%T' "$dev" | xargs printf '%d')"
    # The filesystem agent reads /proc (mountinfo, holders of a busy mount);
    # mounted here, before the node's mount namespace is copied from ours.
    mkdir -p "$(lab_root "$i")/proc"
    mount -t proc proc "$(lab_root "$i")/proc"
    ST_PROC[$i]=$(lab_root "$i")/proc
  done
  ST_CLIENT="${LAB_P}cl"
  ip netns add "$ST_CLIENT"
  ip link add eth0 netns "$ST_CLIENT" type veth peer name "${LAB_P}pc" netns "$LAB_SW"
  ip -n "$LAB_SW" link set "${LAB_P}pc" master br0 up
  ip -n "$ST_CLIENT" addr add 10.77.0.50/24 dev eth0
  ip -n "$ST_CLIENT" link set eth0 up
  ip -n "$ST_CLIENT" link set lo up
}

# The storage resources appended to lab_config's output: the file system on
# /dev/shared and a group [data, webip] (needs LAB_VIP=1 for webip).
storage_config() {
  cat <<EOF
[resource.data]
agent = "filesystem"
params = { device = "/dev/shared", directory = "/srv/data", fstype = "ext4", run_fsck = "no" }
ops = [ { name = "monitor", interval = "2s", timeout = "10s" } ]

[group.web]
resources = ["data", "webip"]

EOF
}

# listener_start I: the name-answering TCP listener in node I's namespace.
listener_start() {
  ip netns exec "$(lab_ns "$1")" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[2])))
s.listen(64)
while True:
    c, _ = s.accept()
    try:
        c.sendall((sys.argv[1] + "\n").encode())
    except OSError:
        pass
    c.close()
' "n$1" "$ST_PORT" </dev/null >/dev/null 2>&1 &
  ST_LISTENER[$1]=$!
}

listener_stop() {
  local pid=${ST_LISTENER[$1]:-}
  [ -n "$pid" ] || return 0
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "ST_LISTENER[$1]"
}

# client_ask: the name of the node answering on VIP:ST_PORT from the client
# namespace (fails when nothing answers within 0.5 s).
client_ask() {
  ip netns exec "$ST_CLIENT" python3 -c '
import socket, sys
with socket.create_connection(("10.77.0.100", int(sys.argv[1])), timeout=0.5) as s:
    s.settimeout(0.5)
    name = s.recv(64).decode().strip()
if not name:
    sys.exit(1)
print(name)
' "$ST_PORT" 2>/dev/null
}

# client_reaches NAME: the client's connection to the VIP is answered by NAME.
client_reaches() {
  [ "$(client_ask)" = "$1" ]
}

# node_has_disk I: node I's daemon has /dev/shared mounted on /srv/data
# (read from its mount namespace).
node_has_disk() {
  local pid=${LAB_PID[$1]:-}
  [ -n "$pid" ] || return 1
  # /proc/PID/mounts shows paths as seen from the process's (chroot) root.
  grep -q "^/dev/shared /srv/data ext4 " "/proc/$pid/mounts" 2>/dev/null
}

# The nodes that have the disk mounted now, e.g. "2".
disk_holders() {
  local i out=()
  for i in $(seq 1 "$LAB_N"); do
    node_has_disk "$i" && out+=("$i")
  done
  echo "${out[*]}"
}

# node_run I CMD: runs a shell command in node I's mount namespace (paths
# are host paths: node I's /srv/data is $(lab_root I)/srv/data there).
node_run() {
  nsenter -t "${LAB_PID[$1]}" -m -- sh -c "$2"
}

# storage_watch_start: starts the 50 ms mount watcher in the background.
storage_watch_start() {
  python3 - "$LAB_DIR" "$LAB_N" "$LAB_DIR/watch.log" <<'EOF' &
import os, sys, time
lab, n, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
roots = {os.path.join(lab, f"root{i}"): i for i in range(1, n + 1)}
samples = 0
seen = {}
with open(log, "w", buffering=1) as out:
    while True:
        holders = set()
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                node = roots.get(os.readlink(f"/proc/{pid}/root"))
                if node is None or node in holders:
                    continue
                # Paths in /proc/PID/mounts are relative to its (chroot) root.
                with open(f"/proc/{pid}/mounts") as m:
                    if any(line.startswith("/dev/shared /srv/data ext4 ") for line in m):
                        holders.add(node)
            except OSError:
                continue
        samples += 1
        key = " ".join(f"n{i}" for i in sorted(holders)) or "none"
        seen[key] = seen.get(key, 0) + 1
        if len(holders) > 1:
            out.write(f"VIOLATION at sample {samples}: /dev/shared mounted on {key}\n")
        if samples % 20 == 0 or len(holders) > 1:
            out.write(f"samples={samples} " + " ".join(f"{k}:{v}" for k, v in sorted(seen.items())) + "\n")
        time.sleep(0.05)
EOF
  ST_WATCHER=$!
}

# storage_watch_check: the watcher is still running, has taken samples, and
# never saw the disk mounted on two live nodes.
storage_watch_check() {
  [ -n "$ST_WATCHER" ] && kill -0 "$ST_WATCHER" 2>/dev/null || lab_die "the mount watcher died"
  if grep -q VIOLATION "$LAB_DIR/watch.log"; then
    lab_die "double mount: $(grep -m1 VIOLATION "$LAB_DIR/watch.log")"
  fi
  grep -q samples= "$LAB_DIR/watch.log" || lab_die "the mount watcher took no samples"
  lab_log "mount watcher: $(tail -n 1 "$LAB_DIR/watch.log")"
}

# storage_group_up BINARY: the usual start of a group test: a 3-node lab
# with the shared disk, the group web = [data, webip] (extra [group.web]
# keys from ST_GROUP_META, e.g. 'migration_threshold = 1'), listeners, the
# mount watcher; waits until one node runs the whole group and the client
# reaches it there. Sets ST_HOLDER to that node's number.
storage_group_up() {
  LAB_VIP=1
  eval "lab_config_base$(declare -f lab_config | sed 1s/^lab_config//)"
  lab_config() { lab_config_base; storage_config; printf '%s\n\n' "${ST_GROUP_META:-}"; }
  lab_init "$1" 3 udpu
  storage_init 64
  local i
  for i in 1 2 3; do listener_start "$i"; done
  storage_watch_start
  lab_start_all
  lab_wait 15 "n1..n3 agree" lab_agree 1 2 3
  ST_HOLDER=$(group_wait_on "" 20)
  lab_log "group web runs on n$ST_HOLDER; the client reaches it"
}

# group_on: the node running the whole group now (disk mounted, VIP held,
# client answered by it), or fails.
group_on() {
  local d
  d=$(disk_holders)
  [ "$(echo "$d" | wc -w)" = 1 ] || return 1
  [ "$(lab_holders 10.77.0.100)" = "$d" ] || return 1
  client_reaches "n$d" || return 1
  echo "$d"
}

# group_wait_on NOT SECONDS: waits until the group runs, on a node other than
# NOT (when given); prints the node number.
group_wait_on() {
  local not=$1 limit=$2 deadline n
  deadline=$(( $(date +%s) + limit ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if n=$(group_on 2>/dev/null) && [ "$n" != "$not" ]; then
      echo "$n"
      return 0
    fi
    sleep 0.1
  done
  lab_show_views
  lab_die "the group web did not come up$( [ -n "$not" ] && echo " away from n$not") within ${limit}s (disk on: '$(disk_holders)', VIP on: '$(lab_holders 10.77.0.100)')"
}

# ha_cli I ARGS...: runs the ha command line against node I's socket.
ha_cli() {
  local i=$1
  shift
  "$LAB_BIN" "$@" -s "$(lab_sock "$i")"
}
