#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# A `.watch` never skips changes silently (INTERFACE §4; docs/special-entries.md):
# a reader on n3 sees every change while n3 keeps up; then n3 is paused while
# the others commit far past the leader's log (small --snapshot-entries), so
# on SIGCONT n3 installs a snapshot instead of the missing changes. The
# reader must then get ENOBUFS ("No buffer space available") and end, not a
# stream with a hole; a new watch opened afterwards works again.
. "$(dirname "$0")/cluster_lib.sh"
CL_OPTS+=(--snapshot-entries 64)
cl_setup 3
cl_start_all

M1=${CL_MNT[1]} M3=${CL_MNT[3]}
mkdir -p "$M1/app" || die "mkdir failed"
cl_sync 1 10

cat "$M3/app/.watch" >"$T/watch1" 2>"$T/watch1.err" &
w1=$!
qfs_helper $w1
end=$(($(now_ms) + 10000))
until grep -q ' app/ready$' "$T/watch1"; do
	echo r >"$M1/app/ready" || fail "write of app/ready failed"
	[ "$(now_ms)" -lt "$end" ] || die "the watch on n3 showed nothing within 10 s"
	sleep 0.2
done

# Kept up with: every change, in order.
for i in $(seq 1 20); do echo "$i" >"$M1/app/k$i" || fail "write $i failed"; done
cl_sync 1 10 3
sleep 0.3
got=$(grep -c ' put app/k[0-9]*$' "$T/watch1")
# a new key is a create and a write: two puts each
check_eq "$got" 40 "puts seen by the watch on n3 while it keeps up"

# n3 falls behind the leader's log: it will get a snapshot.
cl_pause 3
# The leader keeps 1024 entries behind its snapshot for slow followers.
for i in $(seq 1 2600); do echo "$i" >"$M1/app/gap$((i % 50))" || fail "write gap $i failed"; done
cl_cont 3
cl_sync 1 20 3 || die "n3 did not catch up"
grep -q 'installed snapshot' "${CL_LOG[3]}" || fail "n3 caught up without a snapshot (the leader kept enough log): no gap to detect"
if grep -q 'installed snapshot' "${CL_LOG[3]}"; then
	# The next change after the snapshot ends the stream with ENOBUFS.
	echo after >"$M1/app/after" || fail "write of app/after failed"
	end=$(($(now_ms) + 5000))
	while qfs_alive $w1 && [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
	if qfs_alive $w1; then
		fail "the watch on n3 still runs after n3 skipped changes by a snapshot"
	else
		wait $w1
		check_eq "$?" 1 "exit status of cat on the watch after the gap"
		grep -q 'No buffer space available' "$T/watch1.err" ||
			fail "cat's error after the gap: $(cat "$T/watch1.err") (expected ENOBUFS)"
		grep -q ' app/after$' "$T/watch1" && fail "the watch showed a change past the gap"
	fi
fi

# A new watch works from its open on.
cat "$M3/app/.watch" >"$T/watch2" 2>&1 &
w2=$!
qfs_helper $w2
end=$(($(now_ms) + 10000))
until grep -q ' app/again$' "$T/watch2"; do
	echo a >"$M1/app/again" || fail "write of app/again failed"
	[ "$(now_ms)" -lt "$end" ] || { fail "a new watch on n3 showed nothing within 10 s"; break; }
	sleep 0.2
done
# A watch never ends by itself: stop the readers before unmounting.
qfs_kill_pid $w2 2
qfs_alive $w1 && qfs_kill_pid $w1 2
cl_done
