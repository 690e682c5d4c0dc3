#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Minority failures (INTERFACE §3). One node SIGSTOPped (the leader): the other
# two elect a leader and keep writing. Then a second node SIGSTOPped: on the
# remaining one, reads of existing keys work from local state, and a write -
# to an existing key (`echo v > key`) and to a new key - fails with EROFS or
# ETIMEDOUT within --write-timeout + 2 s, the daemon keeps serving, and its
# status says quorum=no. SIGCONT both: the cluster converges (same tree) and
# writes work again on every node.
. "$(dirname "$0")/cluster_lib.sh"
WT=2
CL_OPTS=(--write-timeout ${WT}s)
cl_setup 3
cl_start_all

L=$CL_LEADER
LM=${CL_MNT[L]}
mkdir "$LM/k" || die "mkdir failed"
for i in $(seq 1 50); do echo "v$i" >"$LM/k/key$i" || fail "initial write key$i failed"; done
cl_sync "$L" 10 1 2 3

# --- 1. one node (the leader) stopped: the majority keeps writing -----------
A=$L
cl_pause "$A"
t0=$(now_ms)
mapfile -t rest < <(cl_live)
W=${rest[0]}
cl_write_retry "${CL_MNT[W]}/k/key1" "one stopped" 10 ||
	fail "no write succeeded on ${CL_NAME[W]} within 10 s with ${CL_NAME[A]} stopped"
qfs_log "first write with ${CL_NAME[A]} (leader) stopped succeeded after $(($(now_ms) - t0)) ms ($CL_TRIES tries)"
nfail=0
for i in $(seq 51 150); do
	{ echo "v$i" >"${CL_MNT[W]}/k/key$i"; } 2>/dev/null || nfail=$((nfail + 1))
done
[ $nfail = 0 ] || fail "$nfail of 100 writes on ${CL_NAME[W]} failed with only ${CL_NAME[A]} stopped"
cl_wait_leader 10 || fail "no leader among the two running nodes"
cl_sync "$W" 10 "${rest[@]}"
check_content "${CL_MNT[rest[1]]}/k/key150" $'v150\n' "write with one node stopped, read on the other running node"

# --- 2. two of three stopped: reads work, writes fail in bounded time -------
B=${rest[0]}
C=${rest[1]}
CM=${CL_MNT[C]}
cl_pause "$B"
qfs_log "stopped ${CL_NAME[A]} and ${CL_NAME[B]}; ${CL_NAME[C]} remains"

check_content "$CM/k/key150" $'v150\n' "read of an existing key on ${CL_NAME[C]} without a quorum"
check_content "$CM/k/key1" $'one stopped\n' "read of key1 on ${CL_NAME[C]} without a quorum"
got=$(timeout -k 2 10 ls "$CM/k" 2>&1 | wc -l)
check_eq "$got" 150 "entries listed on ${CL_NAME[C]} without a quorum"

# try_write WHAT FILE: the write must fail with EROFS/ETIMEDOUT within WT+2 s.
try_write() {
	local what=$1 f=$2 t0 err rc dt
	t0=$(now_ms)
	err=$(timeout -k 2 30 bash -c 'echo nope > "$1"' _ "$f" 2>&1)
	rc=$?
	dt=$(($(now_ms) - t0))
	qfs_log "$what without a quorum: exit $rc after $dt ms: ${err##*: }"
	TRY_ERR=$err
	if [ $rc = 0 ]; then
		_fail_at 1 "$what on ${CL_NAME[C]} without a quorum succeeded"
	elif [ $rc = 124 ] || [ $rc = 137 ]; then
		_fail_at 1 "$what on ${CL_NAME[C]} without a quorum hung for 30 s"
	elif [[ "$err" != *"Read-only file system"* && "$err" != *"Connection timed out"* ]]; then
		_fail_at 1 "$what on ${CL_NAME[C]} without a quorum failed with '$err', expected EROFS or ETIMEDOUT"
	fi
	[ $dt -le $(((WT + 2) * 1000)) ] ||
		_fail_at 1 "$what on ${CL_NAME[C]} without a quorum took $dt ms (limit --write-timeout + 2 s = $(((WT + 2) * 1000)) ms)"
}
try_write "echo > existing key" "$CM/k/key2"
key2_err=$TRY_ERR
cl_check_alive "after a failed write to an existing key"
try_write "echo > new key" "$CM/k/new-key"
cl_check_alive "after a failed write to a new key"
t0=$(now_ms)
err=$(timeout -k 2 30 mkdir "$CM/k/newdir" 2>&1)
rc=$?
qfs_log "mkdir without a quorum: exit $rc after $(($(now_ms) - t0)) ms: ${err##*: }"
[ $rc != 0 ] || fail "mkdir on ${CL_NAME[C]} without a quorum succeeded"
sleep 0.5 # the daemon must keep serving after the failures
cl_check_alive "after the failed writes"
if qfs_alive "${CL_PID[C]}"; then
	check_content "$CM/k/key2" $'v2\n' "key2 on ${CL_NAME[C]} after its write failed without a quorum"
	check_eq "$(cl_field "$C" quorum)" no "quorum in ${CL_NAME[C]}'s status with two of three stopped"
fi

# --- 3. SIGCONT both: converge, write again ----------------------------------
cl_cont "$A"
cl_cont "$B"
cl_wait_leader 15 || fail "no leader within 15 s after SIGCONT of ${CL_NAME[A]} and ${CL_NAME[B]}"
mapfile -t live < <(cl_live)
for i in "${live[@]}"; do
	cl_write_retry "${CL_MNT[i]}/k/after-${CL_NAME[i]}" "back from ${CL_NAME[i]}" 10 ||
		fail "no write succeeded on ${CL_NAME[i]} within 10 s after SIGCONT"
done
cl_sync "$CL_LEADER" 15 "${live[@]}"
cl_check_same_tree "after SIGCONT" "${live[@]}"
# The failed `echo nope > key2`: EROFS means nothing was proposed, so key2
# keeps its value; with ETIMEDOUT it may hold either value. Never anything else
# (e.g. the O_TRUNC truncation alone).
for i in "${live[@]}"; do
	v=$(cat "${CL_MNT[i]}/k/key2" 2>&1)
	if [[ "$key2_err" == *"Read-only"* ]]; then
		check_eq "$v" v2 "key2 on ${CL_NAME[i]} after converging (its write failed with EROFS)"
	elif [ "$v" != v2 ] && [ "$v" != nope ]; then
		fail "key2 on ${CL_NAME[i]} after converging is '$v' (its write failed with '$key2_err'): expected v2 or nope"
	fi
	for j in "${live[@]}"; do
		check_content "${CL_MNT[i]}/k/after-${CL_NAME[j]}" "back from ${CL_NAME[j]}"$'\n' "write made on ${CL_NAME[j]} after SIGCONT, read on ${CL_NAME[i]}"
	done
done
cl_done
