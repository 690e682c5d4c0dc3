#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Membership (INTERFACE §1 --join, §6 promote/remove). A 4th node joins a
# 3-voter cluster with --join as a learner and receives all data; `quorumctl
# promote n4` (run on a follower) makes it a voter: members lists 4 voters.
# `quorumctl remove n3`, then n3 is stopped: the cluster keeps writing; with
# one more of the remaining three voters stopped (the leader) it still has a
# quorum (2 of 3) and writes; with two of the three stopped, writes fail
# (EROFS or ETIMEDOUT) within --write-timeout + 2 s.
. "$(dirname "$0")/cluster_lib.sh"
WT=2
CL_OPTS=(--write-timeout ${WT}s)
cl_setup 4
cl_start_all

# members_voters I: names of the voters in node I's `quorumctl members`
members_voters() {
	cl_ctl "$1" members 2>/dev/null | awk 'NR > 1 && ($2 == "voter" || $2 == "leader") { print $1 }' | sort | tr '\n' ' '
}
members_role() { # I NAME
	cl_ctl "$1" members 2>/dev/null | awk -v n="$2" 'NR > 1 && $1 == n { print $2 }'
}

# Some data before the join, including a 600 KB value.
M1=${CL_MNT[1]}
mkdir -p "$M1/data/sub" || die "mkdir failed"
for i in $(seq 1 200); do echo "before join $i" >"$M1/data/sub/k$i" || fail "write k$i failed"; done
head -c 600000 /dev/urandom >"$T/big"
cp "$T/big" "$M1/data/big" || fail "cp of a 600 KB value failed"

# --- join ------------------------------------------------------------------
cl_start_join 4 2
end=$(($(now_ms) + 20000))
until [ "$(cl_field 4 role)" = learner ] && [ "$(cl_field 4 leader)" != "" ]; do
	[ "$(now_ms)" -lt "$end" ] || {
		fail "n4 is not a learner with a leader 20 s after --join: $(cl_ctl 4 status 2>&1 | tr '\n' ' ')"
		break
	}
	sleep 0.2
done
check_eq "$(members_role "$CL_LEADER" n4)" learner "n4's role in the leader's members table after --join"
check_eq "$(cl_field "$CL_LEADER" learners)" 1 "learners in the leader's status after --join"
for i in $(seq 201 300); do echo "after join $i" >"$M1/data/sub/k$i" || fail "write k$i failed"; done
cl_sync 1 30 1 2 3 4
cl_check_same_tree "n4 after --join" 1 4 2 3

# --- promote (on a follower) -------------------------------------------------
for P in 1 2 3; do [ "$P" != "$CL_LEADER" ] && break; done
out=$(cl_ctl "$P" promote n4 2>&1)
rc=$?
[ $rc = 0 ] || fail "quorumctl promote n4 on ${CL_NAME[P]} exited $rc: $out"
end=$(($(now_ms) + 10000))
while [ "$(members_voters "$CL_LEADER")" != "n1 n2 n3 n4 " ]; do
	[ "$(now_ms)" -lt "$end" ] || break
	sleep 0.2
done
check_eq "$(members_voters "$CL_LEADER")" "n1 n2 n3 n4 " "voters in members on the leader after promote"
for i in 1 2 3 4; do
	check_eq "$(cl_field "$i" voters)/$(cl_field "$i" learners)" "4/0" "voters/learners in ${CL_NAME[i]}'s status after promote"
done
check_ok "write on n4 as a voter" -- bash -c "echo voter > '${CL_MNT[4]}/data/n4-voter'"
cl_sync 4 10 1 2 3 4
check_content "$M1/data/n4-voter" $'voter\n' "n4's write, read on n1"

# --- remove n3 ---------------------------------------------------------------
if [ "$CL_LEADER" = 3 ]; then # keep the test deterministic: n3 a follower
	cl_ctl 3 transfer-leader n1 >/dev/null 2>&1 || fail "transfer-leader n1 on n3 failed"
	cl_wait_leader 10 || die "no leader after transfer-leader"
fi
R=1
[ "$CL_LEADER" = 1 ] && R=2 # run it on a follower other than n3
out=$(cl_ctl "$R" remove n3 2>&1)
rc=$?
[ $rc = 0 ] || fail "quorumctl remove n3 on ${CL_NAME[R]} exited $rc: $out"
end=$(($(now_ms) + 10000))
while [ "$(members_voters "$CL_LEADER")" != "n1 n2 n4 " ]; do
	[ "$(now_ms)" -lt "$end" ] || break
	sleep 0.2
done
check_eq "$(members_voters "$CL_LEADER")" "n1 n2 n4 " "voters in members after remove n3"
check_eq "$(cl_ctl "$CL_LEADER" members 2>/dev/null | awk '$1 == "n3"')" "" "n3's row in members after remove"
cl_stop 3
for i in 1 2 4; do
	check_eq "$(cl_field "$i" voters)" 3 "voters in ${CL_NAME[i]}'s status after remove n3"
done
check_ok "write on n1 with n3 removed and stopped" -- bash -c "echo gone > '$M1/data/n3-gone'"
cl_sync 1 10 1 2 4
check_content "${CL_MNT[4]}/data/n3-gone" $'gone\n' "write after remove, read on n4"

# --- one of the three remaining voters stopped (the leader): 2 of 3 --------
cl_wait_leader 10 || fail "no leader among n1 n2 n4"
S=$CL_LEADER
qfs_log "stopping the leader ${CL_NAME[S]}: 2 of 3 voters remain"
cl_stop "$S"
mapfile -t rest < <(cl_live)
cl_wait_leader 10 || fail "no leader elected among ${CL_NAME[rest[0]]} and ${CL_NAME[rest[1]]} (2 of 3 voters) within 10 s: $(cl_ctl "${rest[0]}" status 2>&1 | tr '\n' ' ')"
W=${rest[0]}
cl_write_retry "${CL_MNT[W]}/data/two-of-three" "quorum" 10 ||
	fail "no write succeeded on ${CL_NAME[W]} within 10 s with 2 of 3 voters up"
[ "$CL_TRIES" -gt 1 ] && qfs_log "the write with 2 of 3 voters took $CL_TRIES tries"
cl_sync "$W" 10 "${rest[@]}"
check_content "${CL_MNT[rest[1]]}/data/two-of-three" $'quorum\n' "write with 2 of 3 voters, read on the other"
check_eq "$(cl_field "$W" quorum)" yes "quorum in ${CL_NAME[W]}'s status with 2 of 3 voters"

# --- two of the three stopped: no quorum -------------------------------------
cl_stop "${rest[1]}"
sleep 1 # let the survivor notice (not needed for correctness: the write is bounded either way)
t0=$(now_ms)
err=$({ echo nope >"${CL_MNT[W]}/data/one-of-three"; } 2>&1)
rc=$?
dt=$(($(now_ms) - t0))
qfs_log "write with 1 of 3 voters: rc $rc after $dt ms: $err"
[ $rc != 0 ] || fail "a write with 1 of 3 voters up succeeded"
[[ "$err" == *"Read-only file system"* || "$err" == *"Connection timed out"* ]] ||
	fail "write with 1 of 3 voters failed with '$err', expected EROFS or ETIMEDOUT"
[ $dt -le $(((WT + 2) * 1000)) ] || fail "write with 1 of 3 voters took $dt ms to fail (limit $(((WT + 2) * 1000)) ms)"
check_eq "$(cl_field "$W" quorum)" no "quorum in ${CL_NAME[W]}'s status with 1 of 3 voters"
check_content "${CL_MNT[W]}/data/sub/k7" $'before join 7\n' "read on ${CL_NAME[W]} without a quorum"

cl_done
