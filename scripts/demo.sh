#!/usr/bin/env bash
# Installs what is needed, builds, and starts a 3-node quorumfs cluster on
# loopback with one mount per node, then prints what to try.
#   bash scripts/demo.sh          start (idempotent)
#   bash scripts/demo.sh stop     unmount all three (each daemon exits)
#   DEMO_DIR   where data and mounts live (default /var/tmp/quorumfs-demo)
#   DEMO_PORT  first peer port (default 7401; nodes use 7401..7403)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${DEMO_DIR:-/var/tmp/quorumfs-demo}
port=${DEMO_PORT:-7401}
nodes=(n1 n2 n3)

stop() {
  for n in "${nodes[@]}"; do
    local mnt=$demo/$n/mnt
    if grep -qs " $mnt fuse" /proc/mounts; then
      fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" || true
    fi
  done
  echo "quorumfs demo stopped (data kept in $demo; rm -rf it to start afresh)"
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi

bash "$top/scripts/deps.sh"
BUILD_DIR=$top/build bash "$top/scripts/build.sh" >/dev/null
bin=$top/build/quorumfs
ctl=$top/build/src/ctl/quorumctl
peers=()
for i in "${!nodes[@]}"; do peers+=(--peer "${nodes[$i]}=tcp://127.0.0.1:$((port + i))"); done
for i in "${!nodes[@]}"; do
  n=${nodes[$i]}
  mkdir -p "$demo/$n/mnt"
  if grep -qs " $demo/$n/mnt fuse" /proc/mounts; then echo "$n already running"; continue; fi
  # Detaches once its mount serves; fusermount3 -u stops it.
  "$bin" --name "$n" --data "$demo/$n/data" --listen "tcp://127.0.0.1:$((port + i))" \
    "${peers[@]}" "$demo/$n/mnt"
done
for _ in $(seq 50); do
  "$ctl" --data "$demo/n1/data" status 2>/dev/null | grep -q '^quorum=yes' && break
  sleep 0.1
done
m=$demo
cat <<MSG
quorumfs is running: a 3-node cluster on 127.0.0.1:$port-$((port + 2)),
mounted at $m/n1/mnt, $m/n2/mnt and $m/n3/mnt.
Try:
  mkdir -p $m/n1/mnt/app/config && echo v1 > $m/n1/mnt/app/config/version
  cat $m/n3/mnt/app/config/version                  # replicated: v1
  $ctl --data $m/n1/data status
  $ctl --data $m/n1/data members
  set -o noclobber; echo me > $m/n2/mnt/lock; echo you > $m/n3/mnt/lock   # one wins
  getfattr -d -m user.quorumfs $m/n1/mnt/app/config/version
  rev=\$(cat $m/n1/mnt/app/config/.rev/version)          # compare-and-swap:
  echo v2 > $m/n2/mnt/app/config/.cas/\$rev/version     # wins once; again: ECANCELED
  mkdir $m/n1/mnt/jobs; echo job1 > $m/n1/mnt/jobs/.enqueue
  cat $m/n3/mnt/jobs/.dequeue                       # job1 (blocks when empty)
  cat $m/n2/mnt/app/.watch                          # one line per change (Ctrl-C)
  ls $m/n1/mnt/members; cat $m/n1/mnt/.status
Kill the leader (see 'leader=' in status) with fusermount3 -u on its mount and
keep writing on the others; start it again with this command.
Stop the cluster:  bash $top/scripts/demo.sh stop
MSG
