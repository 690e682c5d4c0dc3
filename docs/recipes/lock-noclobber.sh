#!/bin/bash
# A lock with noclobber: `set -o noclobber; echo me > lock` is an
# O_CREAT|O_EXCL create, which quorumfs makes create-if-absent across the
# cluster: of all the processes on all the nodes that try at once, exactly one
# succeeds and the others get EEXIST. Release is `rm lock`.
#
# Usage: lock-noclobber.sh MOUNT [COUNT]
# Takes the lock COUNT times (default 10), each time adding 1 to
# MOUNT/locks/noclobber-counter: a read-modify-write that is only safe under
# the lock. Run it on several nodes at once: the counter grows by exactly
# COUNT per run. Exits 0 when all its increments were done.
set -u
M=${1:?usage: lock-noclobber.sh MOUNT [COUNT]}
COUNT=${2:-10}
D=$M/locks
mkdir -p "$D"

# lock: retry the create-if-absent until it succeeds (give up after 30 s).
lock() {
	local end=$((SECONDS + 30))
	until (set -o noclobber && echo "$HOSTNAME $$" >"$D/noclobber") 2>/dev/null; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}
unlock() {
	rm -f "$D/noclobber"
}

for _ in $(seq 1 "$COUNT"); do
	lock || {
		echo "lock-noclobber: lock not acquired within 30 s" >&2
		exit 1
	}
	n=$(cat "$D/noclobber-counter" 2>/dev/null) || n=0
	echo $((n + 1)) >"$D/noclobber-counter"
	unlock
done
