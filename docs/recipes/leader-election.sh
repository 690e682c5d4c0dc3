#!/bin/bash
# Leader election for an application, with `.cas` and `members/`.
# The key MOUNT/app/leader holds "ID NODE" of the current leader.
# - Nobody leads (no key): a candidate takes it with `.cas/0/leader`; of
#   several candidates exactly one succeeds.
# - The leader renews every second with a CAS on its own revision
#   (`.cas/REV/leader`): the renewal fails at once if someone took over.
# - The others watch the holder: when its node is gone from members/ (dead
#   for --dead-after), or it has not renewed for LEASE seconds (the process
#   died but its node lives), they take over with `.cas/REV/leader`, REV being
#   the revision they saw: only one of them succeeds, and never if the holder
#   renewed in between.
# - A leader that stops (end of RUN, SIGINT, SIGTERM) releases with a
#   compare-and-delete, so that a successor need not wait for the lease.
#
# Usage: leader-election.sh MOUNT [ID] [RUN]
# Takes part for RUN seconds (default 10) as ID (default NODE-PID), printing
# "ID: leader (...)" or "ID: follower (leader: ID2 on NODE2)" on every change
# of role, then steps down and exits 0.
set -u
M=${1:?usage: leader-election.sh MOUNT [ID] [RUN]}
NODE=$(sed -n 's/^name=//p' "$M/.status")
ID=${2:-$NODE-$$}
RUN=${3:-10}
LEASE=3 # seconds without a renewal after which a holder counts as dead
A=$M/app
mkdir -p "$A"

# read_leader: sets REV ("" when nobody leads), HOLDER and HNODE; the value
# and the revision are read again until they match.
read_leader() {
	local again
	while :; do
		REV="" HOLDER="" HNODE=""
		read -r REV <"$A/.rev/leader" 2>/dev/null || return 0
		read -r HOLDER HNODE <"$A/leader" 2>/dev/null
		again=""
		read -r again <"$A/.rev/leader" 2>/dev/null
		[ "$again" = "$REV" ] && return 0
	done
}
# try REV: write "ID NODE" to app/leader if its revision is still REV.
try() {
	{ echo "$ID $NODE" >"$A/.cas/$1/leader"; } 2>/dev/null
}
role() {
	[ "$1" = "$ROLE" ] && return 0
	ROLE=$1
	echo "$ID: $1 ($2)"
}

ROLE=none
seen="" seen_at=$SECONDS renewed=0
end=$((SECONDS + RUN))
trap 'end=0' INT TERM
while [ $SECONDS -lt $end ]; do
	read_leader
	if [ -z "$REV" ]; then
		try 0 && role leader "took the free lead"
	elif [ "$HOLDER" = "$ID" ]; then
		if [ $SECONDS -ge $((renewed + 1)) ]; then
			if try "$REV"; then
				renewed=$SECONDS
				role leader "renewed"
			else
				role follower "lost the lead"
			fi
		fi
	else
		role follower "leader: $HOLDER on $HNODE"
		[ "$REV" != "$seen" ] && seen=$REV seen_at=$SECONDS
		if [ ! -e "$M/members/$HNODE" ] || [ $((SECONDS - seen_at)) -ge $LEASE ]; then
			try "$REV" && role leader "took over from $HOLDER on $HNODE"
		fi
	fi
	sleep 0.5
done
# Step down: delete the key only if it is still ours at the revision we read.
read_leader
if [ "$HOLDER" = "$ID" ]; then
	rm "$A/.cas/$REV/leader" 2>/dev/null && echo "$ID: stepped down"
fi
exit 0
