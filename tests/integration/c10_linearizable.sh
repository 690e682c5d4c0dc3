#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# -o linearizable (INTERFACE §3): a read that starts after a write returned on
# any node sees that write, on every node, with no waiting for apply. Without
# a quorum such a read fails (ETIMEDOUT) instead of serving possibly stale
# state; once the quorum is back, reads work again.
. "$(dirname "$0")/cluster_lib.sh"
WT=2
CL_OPTS=(--write-timeout ${WT}s -o linearizable)
CL_NOWAIT=1
cl_setup 3
cl_start_all
for i in 1 2 3; do
	qfs_wait_serving "${CL_MNT[i]}" "${CL_PID[i]}" || die "n$i does not serve with a quorum up"
done

M1=${CL_MNT[1]} M2=${CL_MNT[2]} M3=${CL_MNT[3]}
echo v0 >"$M1/k" || die "first write failed"
stale=0
for i in $(seq 1 100); do
	w=$(((i % 3) + 1))
	echo "v$i" >"${CL_MNT[w]}/k" || fail "write $i on n$w failed"
	for r in 1 2 3; do
		got=$(cat "${CL_MNT[r]}/k" 2>&1)
		[ "$got" = "v$i" ] || {
			stale=$((stale + 1))
			[ $stale -le 5 ] && fail "read on n$r after write $i on n$w returned '$got'"
		}
	done
done
[ $stale = 0 ] || fail "$stale stale reads in 300"
# New keys are visible at once too (no cached negative lookup).
for i in $(seq 1 20); do
	echo "n$i" >"$M2/new$i" || fail "create new$i failed"
	[ "$(cat "$M3/new$i" 2>&1)" = "n$i" ] || fail "new$i not visible on n3 right after its create on n2"
done

# No quorum: a linearizable read fails in bounded time rather than guess.
cl_pause 2
cl_pause 3
t0=$(now_ms)
if out=$(timeout 20 cat "$M1/k" 2>&1); then
	fail "linearizable read without a quorum returned '$out'"
else
	took=$(($(now_ms) - t0))
	[[ "$out" == *"timed out"* ]] || fail "read without quorum: expected 'timed out', got '$out'"
	[ $took -le $(((WT + 3) * 1000)) ] || fail "read without quorum took $took ms"
	qfs_log "linearizable read without quorum failed after $took ms: $out"
fi
cl_cont 2
cl_cont 3
cl_wait_leader 10 || fail "no leader after SIGCONT"
for _ in $(seq 50); do cat "$M1/k" >/dev/null 2>&1 && break; sleep 0.2; done
check_content "$M1/k" $'v100\n' "linearizable read after the quorum is back"
cl_done
