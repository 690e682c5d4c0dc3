#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# quorumctl (INTERFACE §6): `status` prints the key=value fields name, role,
# leader, term, commit, applied, quorum, voters, learners, revision, version
# with consistent values on every node; `members` prints the table NAME ROLE
# MATCH ACTIVE ADDRESS with one row per member. Exit codes: promote of a
# non-member 1 (with a message), no daemon 3, unknown command / bad usage 2.
# transfer-leader NAME on the leader: NAME reports role=leader within 3 s;
# transfer-leader with no NAME moves leadership to some other voter.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start_all
L=$CL_LEADER
LN=${CL_NAME[L]}
echo hello >"${CL_MNT[1]}/k" || fail "write failed"
cl_sync 1 10 1 2 3

# ctl_rc I ARGS...: run quorumctl, set OUT / ERR / RC.
ctl_rc() {
	local i=$1
	shift
	OUT=$(cl_ctl "$i" "$@" 2>"$T/ctl.err")
	RC=$?
	ERR=$(cat "$T/ctl.err")
}

# --- status -------------------------------------------------------------------
terms=()
want_keys="name role leader term commit applied quorum voters learners revision version"
for i in 1 2 3; do
	ctl_rc "$i" status
	check_eq "$RC" 0 "exit status of quorumctl status on ${CL_NAME[i]}"
	[ -z "$ERR" ] || fail "quorumctl status on ${CL_NAME[i]} wrote to stderr: $ERR"
	for k in $want_keys; do
		grep -q "^$k=" <<<"$OUT" || fail "status of ${CL_NAME[i]} lacks '$k=': $(tr '\n' ' ' <<<"$OUT")"
	done
	bad=$(grep -v '^[a-z_]*=' <<<"$OUT")
	[ -z "$bad" ] || fail "status of ${CL_NAME[i]} has lines that are not key=value: $bad"
	f() { sed -n "s/^$1=//p" <<<"$OUT"; }
	check_eq "$(f name)" "${CL_NAME[i]}" "status name on ${CL_NAME[i]}"
	if [ "$i" = "$L" ]; then
		check_eq "$(f role)" leader "status role on the leader ${CL_NAME[i]}"
	else
		check_eq "$(f role)" follower "status role on ${CL_NAME[i]}"
	fi
	check_eq "$(f leader)" "$LN" "status leader on ${CL_NAME[i]}"
	check_eq "$(f quorum)" yes "status quorum on ${CL_NAME[i]}"
	check_eq "$(f voters)" 3 "status voters on ${CL_NAME[i]}"
	check_eq "$(f learners)" 0 "status learners on ${CL_NAME[i]}"
	for k in term commit applied revision; do
		[[ "$(f $k)" =~ ^[0-9]+$ ]] || fail "status $k on ${CL_NAME[i]} is not a number: '$(f $k)'"
	done
	[ "$(f term)" -ge 1 ] || fail "status term on ${CL_NAME[i]} is $(f term)"
	[ "$(f applied)" -le "$(f commit)" ] || fail "status on ${CL_NAME[i]}: applied $(f applied) > commit $(f commit)"
	[ "$(f revision)" -ge 1 ] || fail "status revision on ${CL_NAME[i]} is $(f revision) after a write"
	[ "$(f revision)" -le "$(f applied)" ] || fail "status on ${CL_NAME[i]}: revision $(f revision) > applied $(f applied)"
	[[ "$(f version)" =~ ^[0-9]+\.[0-9]+ ]] || fail "status version on ${CL_NAME[i]}: '$(f version)'"
	terms+=("$(f term)")
done
[ "${terms[0]}" = "${terms[1]}" ] && [ "${terms[1]}" = "${terms[2]}" ] || fail "terms differ across nodes: ${terms[*]}"

# --- members --------------------------------------------------------------------
for i in 1 2 3; do
	ctl_rc "$i" members
	check_eq "$RC" 0 "exit status of quorumctl members on ${CL_NAME[i]}"
	check_eq "$(head -n 1 <<<"$OUT" | tr -s ' ' | sed 's/ *$//')" "NAME ROLE MATCH ACTIVE ADDRESS" "members header on ${CL_NAME[i]}"
	rows=$(tail -n +2 <<<"$OUT" | awk 'NF' | sort)
	check_eq "$(awk '{ print $1 }' <<<"$rows" | tr '\n' ' ')" "n1 n2 n3 " "member names on ${CL_NAME[i]}"
	for j in 1 2 3; do
		row=$(awk -v n="${CL_NAME[j]}" '$1 == n' <<<"$rows")
		read -r _ role match active addr <<<"$row"
		if [ "$j" = "$L" ]; then
			check_eq "$role" leader "members role of ${CL_NAME[j]} on ${CL_NAME[i]}"
		else
			check_eq "$role" voter "members role of ${CL_NAME[j]} on ${CL_NAME[i]}"
		fi
		check_eq "$addr" "${CL_URL[j]}" "members address of ${CL_NAME[j]} on ${CL_NAME[i]}"
		# MATCH and ACTIVE are the leader's view of replication
		if [ "$i" = "$L" ]; then
			[[ "$match" =~ ^[0-9]+$ ]] && [ "$match" -ge 1 ] || fail "members MATCH of ${CL_NAME[j]} on the leader: '$match'"
			check_eq "$active" yes "members ACTIVE of ${CL_NAME[j]} on the leader"
		fi
	done
done

# --- exit codes -----------------------------------------------------------------
ctl_rc 1 promote nosuchnode
check_eq "$RC" 1 "exit status of promote of a non-member"
[ -n "$ERR" ] || fail "promote of a non-member printed no message"
[[ "$ERR" == *nosuchnode* ]] || fail "promote of a non-member: message does not name it: '$ERR'"
qfs_log "promote nosuchnode: rc $RC: $ERR"
ctl_rc 1 remove nosuchnode
[ "$RC" = 1 ] || fail "remove of a non-member exited $RC (expected 1): $ERR"
ctl_rc 1 frobnicate
check_eq "$RC" 2 "exit status of an unknown command"
[ -n "$ERR" ] || fail "an unknown command printed no message"
ctl_rc 1 promote
check_eq "$RC" 2 "exit status of promote without a NAME"
ctl_rc 1 status extra
check_eq "$RC" 2 "exit status of status with an extra argument"
ctl_rc 1
check_eq "$RC" 2 "exit status of quorumctl without a command"
OUT=$(timeout -k 2 20 "$QFS_CTL" --data "$T/no-such-dir" status 2>"$T/ctl.err")
RC=$?
check_eq "$RC" 3 "exit status of quorumctl status without a daemon"
[ -s "$T/ctl.err" ] || fail "quorumctl without a daemon printed no message"
mkdir -p "$T/empty-data"
OUT=$(timeout -k 2 20 "$QFS_CTL" --data "$T/empty-data" members 2>/dev/null)
check_eq "$?" 3 "exit status of quorumctl members with a data dir but no daemon"
OUT=$(timeout -k 2 20 "$QFS_CTL" --data "$T/no-such-dir" frobnicate 2>/dev/null)
check_eq "$?" 2 "exit status of an unknown command without a daemon (usage first)"

# --- transfer-leader --------------------------------------------------------------
# wait_role I ROLE BOUND_MS: until node I's status says role=ROLE; sets WAITED.
wait_role() {
	local t0 end
	t0=$(now_ms)
	end=$((t0 + $3))
	while :; do
		[ "$(cl_field "$1" role)" = "$2" ] && WAITED=$(($(now_ms) - t0)) && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}
for round in 1 2; do
	cl_wait_leader 10 || die "no leader before transfer round $round"
	L=$CL_LEADER
	T2=$((L % 3 + 1)) # another node
	t0=$(now_ms)
	ctl_rc "$L" transfer-leader "${CL_NAME[T2]}"
	[ "$RC" = 0 ] || fail "transfer-leader ${CL_NAME[T2]} on the leader ${CL_NAME[L]} exited $RC: $ERR"
	if wait_role "$T2" leader 3000; then
		qfs_log "transfer-leader ${CL_NAME[L]} -> ${CL_NAME[T2]}: ${CL_NAME[T2]} is leader $(($(now_ms) - t0)) ms after the command started"
	else
		fail "transfer-leader ${CL_NAME[T2]}: ${CL_NAME[T2]} is not leader 3 s after the command returned: $(cl_ctl "$T2" status 2>&1 | tr '\n' ' ')"
	fi
	cl_wait_leader 5 || fail "nodes do not agree on the leader after transfer-leader"
	check_eq "${CL_NAME[CL_LEADER]}" "${CL_NAME[T2]}" "leader everyone agrees on after transfer-leader"
	cl_write_retry "${CL_MNT[L]}/after-transfer-$round" "t$round" 5 || fail "write on ${CL_NAME[L]} failed after transfer-leader"
done
# On a follower: refused (exit 1) with a message naming the leader.
cl_wait_leader 10 || die "no leader"
L=$CL_LEADER
for N in 1 2 3; do [ "$N" != "$L" ] && break; done
ctl_rc "$N" transfer-leader
check_eq "$RC" 1 "exit status of transfer-leader on a follower"
[[ "$ERR" == *"${CL_NAME[L]}"* ]] || fail "transfer-leader on a follower: message does not name the leader ${CL_NAME[L]}: '$ERR'"
# Without a NAME, on the leader: some other voter takes over.
ctl_rc "$L" transfer-leader
[ "$RC" = 0 ] || fail "transfer-leader (no NAME) on the leader exited $RC: $ERR"
end=$(($(now_ms) + 3000))
moved=0
while [ "$(now_ms)" -lt "$end" ]; do
	for j in 1 2 3; do
		[ "$j" != "$L" ] && [ "$(cl_field "$j" role)" = leader ] && moved=1
	done
	[ $moved = 1 ] && break
	sleep 0.05
done
[ $moved = 1 ] || fail "transfer-leader without a NAME: no other node became leader within 3 s"
# Its output names the node that took over (looked up in the address book).
cl_wait_leader 5 || fail "nodes do not agree on the leader after transfer-leader without a NAME"
[[ "$OUT" == *"leader is now ${CL_NAME[CL_LEADER]}"* ]] || fail "transfer-leader without a NAME printed '$OUT', not the new leader ${CL_NAME[CL_LEADER]}"
ctl_rc "$L" transfer-leader nosuchnode
[ "$RC" != 0 ] || fail "transfer-leader to a non-member succeeded"
cl_done
