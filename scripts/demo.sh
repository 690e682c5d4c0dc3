#!/usr/bin/env bash
# Installs what is needed, builds, and starts quorumfs on this machine with its
# mount, then prints what to try.  `scripts/demo.sh stop` stops it again.
#   DEMO_DIR   where data and mounts live (default /var/tmp/quorumfs-demo)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
demo=${DEMO_DIR:-/var/tmp/quorumfs-demo}
nodes=(n1)  # one node until replication lands; then n1 n2 n3

stop() {
  for n in "${nodes[@]}"; do
    local mnt=$demo/$n/mnt pidf=$demo/$n/pid
    if mountpoint -q "$mnt" 2>/dev/null; then fusermount3 -u "$mnt" || fusermount3 -uz "$mnt" || true; fi
    if [ -f "$pidf" ]; then
      pid=$(cat "$pidf")
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null || true
      rm -f "$pidf"
    fi
  done
  echo "quorumfs demo stopped (data kept in $demo; rm -rf it to start afresh)"
}

if [ "${1:-}" = stop ]; then stop; exit 0; fi

bash "$top/scripts/deps.sh"
BUILD_DIR=$top/build bash "$top/scripts/build.sh" >/dev/null
bin=$top/build/quorumfs
for n in "${nodes[@]}"; do
  mkdir -p "$demo/$n/mnt"
  if mountpoint -q "$demo/$n/mnt"; then echo "$n already mounted at $demo/$n/mnt"; continue; fi
  "$bin" --name "$n" --data "$demo/$n/data" "$demo/$n/mnt" &
  wait $!   # the daemon detaches once its mount is serving
  pgrep -n -f "^$bin --name $n " > "$demo/$n/pid" || true
done
m=$demo/n1/mnt
cat <<MSG
quorumfs is running: node n1 mounted at $m (data in $demo/n1/data).
Try:
  mkdir -p $m/app/config && echo v1 > $m/app/config/version
  cat $m/app/config/version; ls -l $m/app/config
  getfattr -d -m user.quorumfs $m/app/config/version
  set -o noclobber; echo me > $m/lock; echo again > $m/lock   # second one fails: exists
Stop it with:  bash $top/scripts/demo.sh stop
MSG
