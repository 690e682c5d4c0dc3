#!/bin/bash
# A lock with compare-and-swap: `DIR/.cas/0/lock` creates the lock only if it
# is absent (EEXIST otherwise), and the holder releases it with a
# compare-and-delete, `rm DIR/.cas/REV/lock`, where REV is the mod_revision
# it got when it took the lock (`cat DIR/.rev/lock`). Unlike a plain rm, the
# release fails with ECANCELED when the lock is no longer the one this holder
# took (someone broke it and another process holds it now), and removes
# nothing.
#
# Usage: lock-cas.sh MOUNT [COUNT]
# Takes the lock COUNT times (default 10), each time adding 1 to
# MOUNT/locks/cas-counter. Exits 0 when all its increments were done.
set -u
M=${1:?usage: lock-cas.sh MOUNT [COUNT]}
COUNT=${2:-10}
D=$M/locks
mkdir -p "$D"

# lock: create-if-absent until it succeeds (give up after 30 s); sets
# LOCK_REV, the lock's revision, which only this holder knows to be its own.
lock() {
	local end=$((SECONDS + 30))
	until { echo "$HOSTNAME $$" >"$D/.cas/0/cas"; } 2>/dev/null; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
	read -r LOCK_REV <"$D/.rev/cas"
}
# unlock: compare-and-delete; fails (ECANCELED) if the lock changed hands.
unlock() {
	rm "$D/.cas/$LOCK_REV/cas"
}

for _ in $(seq 1 "$COUNT"); do
	lock || {
		echo "lock-cas: lock not acquired within 30 s" >&2
		exit 1
	}
	n=$(cat "$D/cas-counter" 2>/dev/null) || n=0
	echo $((n + 1)) >"$D/cas-counter"
	unlock || {
		echo "lock-cas: lost the lock before releasing it" >&2
		exit 1
	}
done
