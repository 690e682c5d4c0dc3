#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Garbage on the peer port (INTERFACE §7: garbage or unauthenticated peer
# traffic is dropped). peer_garbage.py sends, to every node's --listen port:
# raw TCP garbage and truncated / oversized nng frames; after a valid nng
# SP-over-TCP push0 handshake, framed messages the quorumfs decoder must
# refuse (bad magic, version, checksum, lengths, kinds, ids, cluster,
# destination, truncated bodies, a flood of 3000); stale RAFT messages from a
# non-member; and 50 connections left hanging mid-handshake. Meanwhile a
# writer keeps writing through a follower. After every phase every daemon is
# alive, writes succeed on every node, and the replicas hold the same tree.
# (Counting drops in metrics is not checked yet.)
. "$(dirname "$0")/cluster_lib.sh"
command -v python3 >/dev/null || skip "python3 is missing"
GARBAGE=$(dirname "$0")/peer_garbage.py
cl_setup 3
cl_start_all
PEERLIST=$(for i in 1 2 3; do printf '%s=%s,' "${CL_NAME[i]}" "${CL_URL[i]}"; done)
PEERLIST=${PEERLIST%,}

for F in 1 2 3; do [ "$F" != "$CL_LEADER" ] && break; done
mkdir "${CL_MNT[F]}/w" || die "mkdir failed"
: >"$T/acked"
(
	trap - EXIT INT TERM
	for i in $(seq 1 100000); do
		if { echo "w$i" >"${CL_MNT[F]}/w/k$((i % 200))"; } 2>/dev/null; then
			echo "$i ok $(now_ms)" >>"$T/acked"
		else
			echo "$i fail $(now_ms)" >>"$T/acked"
		fi
		[ -e "$T/stop" ] && exit 0
		sleep 0.01
	done
) &
wpid=$!
qfs_helper $wpid

# check_cluster WHAT: all alive, a write on every node commits and is seen
# on every node, and the background writer made progress.
check_cluster() {
	local what=$1 i j before
	cl_check_alive "$what" || return 1
	for i in 1 2 3; do
		cl_write_retry "${CL_MNT[i]}/after-$what-${CL_NAME[i]}" "$what" 10 ||
			_fail_at 1 "$what: a write on ${CL_NAME[i]} did not succeed within 10 s"
		[ "$CL_TRIES" -gt 1 ] && qfs_log "$what: write on ${CL_NAME[i]} needed $CL_TRIES tries"
	done
	for i in 1 2 3; do cl_sync "$i" 10 1 2 3; done
	for i in 1 2 3; do
		for j in 1 2 3; do
			check_content "${CL_MNT[i]}/after-$what-${CL_NAME[j]}" "$what"$'\n' "$what: write from ${CL_NAME[j]} read on ${CL_NAME[i]}"
		done
	done
	before=$(grep -c ' ok ' "$T/acked")
	end=$(($(now_ms) + 10000))
	while [ "$(grep -c ' ok ' "$T/acked")" -le "$before" ]; do
		[ "$(now_ms)" -lt "$end" ] || {
			_fail_at 1 "$what: the background writer on ${CL_NAME[F]} made no progress for 10 s"
			break
		}
		sleep 0.1
	done
}

# run PHASE NODE [ARGS]: run the sender against NODE (bounded), log its output.
run() {
	local phase=$1 n=$2 out rc
	shift 2
	out=$(timeout -k 5 90 python3 "$GARBAGE" "$phase" 127.0.0.1 "${CL_PORT[n]}" --peers "$PEERLIST" --to "${CL_NAME[n]}" --seed "$n" "$@" 2>&1)
	rc=$?
	echo "--- $phase -> ${CL_NAME[n]} (rc $rc)" >>"$T/garbage.out"
	echo "$out" >>"$T/garbage.out"
	[ $rc = 0 ] || _fail_at 1 "garbage sender ($phase -> ${CL_NAME[n]}) failed (rc $rc): $(tail -n 3 <<<"$out" | tr '\n' '|')"
}

for phase in raw framed spoof; do
	for n in 1 2 3; do run "$phase" "$n"; done
	check_cluster "$phase"
done
qfs_log "framed cases sent: $(grep -c '^push0: ' "$T/garbage.out") lines; e.g. $(grep -m1 'flood' "$T/garbage.out")"

# Connections hanging mid-handshake on every node while the cluster works.
for n in 1 2 3; do
	timeout -k 5 60 python3 "$GARBAGE" idle 127.0.0.1 "${CL_PORT[n]}" --peers "$PEERLIST" --to "${CL_NAME[n]}" --hold 8 >>"$T/idle.out" 2>&1 &
	qfs_helper $!
done
sleep 1
check_cluster "idle"
qfs_log "$(sort "$T/idle.out" | uniq -c | tr '\n' ' ')"

touch "$T/stop"
qfs_wait_exit $wpid 20 || fail "writer did not stop"
nfail=$(grep -c ' fail ' "$T/acked")
qfs_log "background writer: $(grep -c ' ok ' "$T/acked") ok, $nfail failed"
[ "$nfail" = 0 ] || fail "$nfail writes of the background writer on ${CL_NAME[F]} failed during the garbage"
cl_wait_leader 10 || fail "no stable leader at the end"
cl_sync "$CL_LEADER" 10 1 2 3
cl_check_same_tree "after the garbage" 1 2 3
for n in 1 2 3; do
	c=$(grep -c 'net: dropped' "${CL_LOG[n]}")
	qfs_log "${CL_NAME[n]}: $c 'net: dropped' log lines; $(grep -o 'dropped [^:]*: [a-z ]*' "${CL_LOG[n]}" | sed 's/.*: //' | sort | uniq -c | tr '\n' ',' | tr -s ' ')"
done
cl_done
