#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Catch-up (INTERFACE §1, §3: "a restarted node resumes from its data directory
# and catches up"; "any minority may ... lose its disk"). With
# --snapshot-entries 1000:
#  1. a follower is SIGSTOPped while 10,000 small writes (1,000 keys, ten
#     rounds) commit through the leader; SIGCONT: it catches up (same tree),
#     which needs a snapshot since the leader compacted its log;
#  2. the same follower is killed, its data dir wiped (rm -rf), 2,000 more
#     writes commit, and it restarts with the same --peer flags: it is rebuilt
#     from a snapshot (same tree) and serves and accepts writes again (its
#     earlier self had written 200 keys: its new request ids must not be
#     taken for those).
. "$(dirname "$0")/cluster_lib.sh"
CL_OPTS=(--write-timeout 5s --snapshot-entries 1000)
NWRITERS=5
cl_setup 3
cl_start_all
L=$CL_LEADER
for F in 1 2 3; do [ "$F" != "$L" ] && break; done
LM=${CL_MNT[L]}
qfs_log "leader ${CL_NAME[L]}, lagging follower ${CL_NAME[F]}"
for d in 0 1 2 3 4 5 6 7 8 9; do mkdir "$LM/d$d" || die "mkdir d$d failed"; done

# write_rounds FIRST LAST TAG: NWRITERS parallel writers, each owning two of
# the ten directories, write every key of them once per round. Failed writes
# are counted in $T/fail.TAG.
write_rounds() {
	local first=$1 last=$2 tag=$3 w pids=() t0 p
	t0=$(now_ms)
	for w in $(seq 0 $((NWRITERS - 1))); do
		(
			trap - EXIT INT TERM
			nf=0
			for r in $(seq "$first" "$last"); do
				for d in $((w * 2)) $((w * 2 + 1)); do
					for j in $(seq 0 99); do
						{ echo "round $r key d$d/k$j" >"$LM/d$d/k$j"; } 2>/dev/null || nf=$((nf + 1))
					done
				done
			done
			echo $nf >"$T/fail.$tag.$w"
		) &
		pids+=($!)
		qfs_helper $!
	done
	for p in "${pids[@]}"; do qfs_wait_exit "$p" 150 || die "writer $p of $tag did not finish within 150 s"; done
	nfail=$(cat "$T"/fail."$tag".* | awk '{ s += $1 } END { print s + 0 }')
	[ "$nfail" = 0 ] || fail "$tag: $nfail writes failed on the leader ${CL_NAME[L]}"
	qfs_log "$tag: $((NWRITERS * 200 * (last - first + 1))) writes in $(($(now_ms) - t0)) ms"
}

# --- 1. SIGSTOP / SIGCONT --------------------------------------------------
cl_pause "$F"
write_rounds 1 10 stopped
cl_check_alive "while ${CL_NAME[F]} was stopped"
cl_cont "$F"
t0=$(now_ms)
cl_sync "$L" 60 1 2 3 && qfs_log "${CL_NAME[F]} caught up in $(($(now_ms) - t0)) ms after SIGCONT"
cl_check_same_tree "after SIGCONT of ${CL_NAME[F]}" "$L" "$F" $((6 - L - F))
check_content "${CL_MNT[F]}/d7/k42" $'round 10 key d7/k42\n' "a key on ${CL_NAME[F]} after SIGCONT"

# --- 2. killed, data dir wiped, restarted ----------------------------------
# Writes made on F first: the replicated session table then remembers F's
# request ids, which a rebuilt F must not reuse (they would be skipped as
# duplicates and its writes would never apply).
for i in $(seq 1 200); do echo "$i" >"${CL_MNT[F]}/from-old-$i" || fail "write $i on ${CL_NAME[F]} failed"; done
cl_kill "$F"
rm -rf "${CL_DATA[F]}" || die "could not wipe ${CL_DATA[F]}"
write_rounds 11 12 wiped
cl_start "$F"
t0=$(now_ms)
cl_sync "$L" 60 1 2 3 && qfs_log "${CL_NAME[F]} rebuilt in $(($(now_ms) - t0)) ms after restart on an empty data dir"
cl_check_same_tree "after ${CL_NAME[F]} restarted on an empty data dir" "$L" "$F" $((6 - L - F))
check_content "${CL_MNT[F]}/d3/k99" $'round 12 key d3/k99\n' "a key on the rebuilt ${CL_NAME[F]}"
st=$(cl_ctl "$F" status 2>&1)
grep -qx "role=follower" <<<"$st" || fail "rebuilt ${CL_NAME[F]} is not a follower: $(tr '\n' ' ' <<<"$st")"
grep -qx "leader=${CL_NAME[L]}" <<<"$st" || fail "rebuilt ${CL_NAME[F]} does not name ${CL_NAME[L]} as leader: $(tr '\n' ' ' <<<"$st")"
# It takes part again: a write made on it commits and is seen by the others.
cl_write_retry "${CL_MNT[F]}/from-rebuilt" "hello" 10 || fail "a write on the rebuilt ${CL_NAME[F]} failed for 10 s"
cl_sync "$F" 10 1 2 3
check_content "$LM/from-rebuilt" $'hello\n' "write made on the rebuilt node, read on the leader"
grep -qi snapshot "${CL_LOG[F]}" && qfs_log "${CL_NAME[F]} log: $(grep -i snapshot "${CL_LOG[F]}" | tail -n 2 | tr '\n' '|')"

cl_done
