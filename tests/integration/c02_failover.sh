#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Failover (INTERFACE §3): a writer loop on a follower writes k1..kN and records
# every acknowledged write; the leader is killed with -9 in the middle. Writes
# must continue on the two others: the gap between the kill and the end of the
# first successful write that started after it must be < 2 s (target: 1 s;
# the measured value is printed). The killed node restarts on its data dir and
# catches up (same tree on all three) and every acknowledged write is there,
# with its content, on every node; the survivors renewed their links to it.
. "$(dirname "$0")/cluster_lib.sh"
GAP_MAX_MS=${QFS_FAILOVER_MAX_MS:-2000}
cl_setup 3
cl_start_all
L=$CL_LEADER
for F in 1 2 3; do [ "$F" != "$L" ] && break; done
qfs_log "leader ${CL_NAME[L]}, writer on ${CL_NAME[F]}"
FM=${CL_MNT[F]}
mkdir "$FM/w" || die "mkdir on ${CL_NAME[F]} failed"

# Writer: one line per write: "<i> <ok|fail> <start_ms> <end_ms> [error]".
: >"$T/log"
(
	trap - EXIT INT TERM
	for i in $(seq 1 100000); do
		s=$(now_ms)
		if err=$({ echo "value $i" >"$FM/w/k$i"; } 2>&1); then
			echo "$i ok $s $(now_ms)" >>"$T/log"
		else
			echo "$i fail $s $(now_ms) ${err##*: }" >>"$T/log"
		fi
		[ -e "$T/stop" ] && exit 0
	done
) &
wpid=$!
qfs_helper $wpid

# acked_count: acknowledged writes so far
acked_count() { grep -c ' ok ' "$T/log"; }
wait_acked() { # N BOUND: until N writes acknowledged
	local end=$(($(now_ms) + $2 * 1000))
	while [ "$(acked_count)" -lt "$1" ]; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		qfs_alive $wpid || return 1
		sleep 0.05
	done
}
wait_acked 200 30 || die "the writer on ${CL_NAME[F]} did not get 200 writes acknowledged within 30 s ($(acked_count) acked)"

t_kill=$(now_ms)
cl_kill "$L"
qfs_log "killed the leader ${CL_NAME[L]} at $t_kill"
before=$(acked_count)
wait_acked $((before + 200)) 30 || fail "writes did not resume on ${CL_NAME[F]}: $(($(acked_count) - before)) acknowledged in the 30 s after the kill"
cl_wait_leader 10 || fail "no leader among the two survivors within 10 s"
qfs_log "new leader: ${CL_NAME[CL_LEADER]}"

# Failover gap: kill -> end of the first successful write started after it.
gap=$(awk -v t="$t_kill" '$2 == "ok" && $3 >= t { print $4 - t; exit }' "$T/log")
inflight=$(awk -v t="$t_kill" '$3 < t && $4 >= t { print $1 " " $2 " after " $4 - t " ms" }' "$T/log")
nfail=$(awk '$2 == "fail"' "$T/log" | wc -l)
if [ -z "$gap" ]; then
	fail "no successful write started after the kill"
else
	note "failover gap: ${gap} ms from kill -9 of the leader to the first acknowledged write started after it (limit ${GAP_MAX_MS} ms, target 1000 ms); in-flight write at the kill: ${inflight:-none}; failed writes: $nfail"
	[ "$gap" -lt "$GAP_MAX_MS" ] || fail "failover took ${gap} ms (>= ${GAP_MAX_MS} ms) between kill -9 of the leader and the next acknowledged write"
fi
[ "$nfail" -gt 0 ] && qfs_log "failed writes: $(awk '$2 == "fail" { printf "k%s(%s) ", $1, $5 }' "$T/log" | head -c 400)"

# Restart the killed node on its data dir while the writer still runs.
cl_start "$L"
before=$(acked_count)
wait_acked $((before + 100)) 20 || fail "writes stalled after ${CL_NAME[L]} restarted ($(($(acked_count) - before)) acked in 20 s)"
touch "$T/stop"
qfs_wait_exit $wpid 20 || fail "writer did not stop"
cl_check_alive "after the restart"
# The survivors' links to the killed node lost their connection: each got a
# fresh socket (src/net/link.c, nng 1.5.2's push0 must not reuse one).
for n in 1 2 3; do
	[ "$n" = "$L" ] && continue
	r=$(cl_metric "$n" quorumfs_peer_links_renewed_total)
	[ "$r" -ge 1 ] || fail "${CL_NAME[n]}: quorumfs_peer_links_renewed_total is $r after its peer ${CL_NAME[L]} was killed and restarted"
done
cl_sync "$F" 20 1 2 3
cl_check_same_tree "after ${CL_NAME[L]} restarted" 1 2 3

# Every acknowledged write is present with its content on every node.
nacked=$(acked_count)
for n in 1 2 3; do
	bad=0
	while read -r i st _; do
		[ "$st" = ok ] || continue
		v=""
		IFS= read -r v <"${CL_MNT[n]}/w/k$i" 2>/dev/null
		if [ "$v" != "value $i" ]; then
			bad=$((bad + 1))
			[ $bad -le 3 ] && fail "acknowledged write k$i is '$v' on ${CL_NAME[n]}"
		fi
	done <"$T/log"
	[ $bad = 0 ] || fail "${CL_NAME[n]}: $bad of $nacked acknowledged writes missing or wrong"
done
qfs_log "$nacked acknowledged writes checked on all nodes"

cl_done
