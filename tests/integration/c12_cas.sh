#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Compare-and-swap across the cluster (INTERFACE §4, `.rev` and `.cas`):
# 1. A CAS counter: 4 processes (on n1, n2, n3, n1) each add 1 to c/cnt 200
#    times (read `.rev/cnt`, read the value, write `.cas/REV/cnt`, retry on
#    ECANCELED): the final value is exactly 800 on all three nodes, the key's
#    version grew by exactly 800, no error other than ECANCELED; the retries
#    are printed.
# 2. Errnos: a stale revision gets ECANCELED, `.cas/0/` of an existing key
#    EEXIST, `.cas/0/new` creates; a revision read on one node works on
#    another and only once; compare-and-delete with a wrong revision gets
#    ECANCELED (the key stays), with the right one deletes it, and on an
#    absent key gets ENOENT.
# 3. Locks: 6 contenders (2 per node) start together on
#    `set -o noclobber; echo $me > lock` (5 rounds) and on
#    `echo $me > .cas/0/lock` (5 rounds): exactly one wins each round, the
#    others get EEXIST, every node holds the winner's value. The last CAS lock
#    is renewed by its holder; a non-winner's `rm .cas/OLDREV/lock` gets
#    ECANCELED and the lock stays; the holder's `rm .cas/REV/lock` releases it
#    and a loser then takes it.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start_all

for i in 1 2 3; do C[i]=${CL_MNT[i]}/c; done
mkdir "${C[1]}" || die "mkdir c failed"
echo 0 >"${C[1]}/cnt" || die "could not create c/cnt"
cl_sync 1 10
v0=$(qfs_xattr "${C[1]}/cnt" version)
[[ "$v0" =~ ^[0-9]+$ ]] || fail "version xattr of c/cnt is '$v0'"

# --- 1. CAS counter ---------------------------------------------------------------
PER=200
WORKER_NODES=(1 2 3 1)
DEADLINE_MS=180000
# cas_worker W NODE: PER increments of c/cnt through NODE's mount; writes
# "done retries errors" to $T/w.W and unexpected errors to $T/w.W.errors.
cas_worker() {
	local w=$1 d=${C[$2]} n=0 retries=0 errors=0 rev v err end
	end=$(($(now_ms) + DEADLINE_MS))
	: >"$T/w.$w.errors"
	while [ $n -lt $PER ] && [ "$(now_ms)" -lt "$end" ]; do
		rev="" v=""
		IFS= read -r rev <"$d/.rev/cnt"
		IFS= read -r v <"$d/cnt"
		if ! [[ "$rev" =~ ^[0-9]+$ && "$v" =~ ^[0-9]+$ ]]; then
			errors=$((errors + 1))
			echo "unreadable: rev='$rev' value='$v'" >>"$T/w.$w.errors"
			sleep 0.05
			continue
		fi
		if { echo $((v + 1)) >"$d/.cas/$rev/cnt"; } 2>"$T/w.$w.err"; then
			n=$((n + 1))
			continue
		fi
		err=""
		IFS= read -r err <"$T/w.$w.err"
		if [[ "$err" == *"Operation canceled"* ]]; then
			retries=$((retries + 1))
		else
			errors=$((errors + 1))
			echo "rev $rev value $v: $err" >>"$T/w.$w.errors"
		fi
	done 2>>"$T/w.$w.errors"
	echo "$n $retries $errors" >"$T/w.$w"
}
pids=()
t0=$(now_ms)
for w in 1 2 3 4; do
	(
		trap - EXIT INT TERM
		cas_worker "$w" "${WORKER_NODES[w - 1]}"
	) &
	pids+=($!)
	qfs_helper $!
done
for p in "${pids[@]}"; do
	qfs_wait_exit "$p" 200 || fail "CAS worker pid $p still running after 200 s"
done
total_retries=0
for w in 1 2 3 4; do
	read -r n retries errors <"$T/w.$w" 2>/dev/null || {
		fail "CAS worker $w left no result"
		continue
	}
	qfs_log "CAS worker $w on ${CL_NAME[WORKER_NODES[w - 1]]}: $n increments, $retries retries (ECANCELED), $errors other errors"
	total_retries=$((total_retries + retries))
	check_eq "$n" "$PER" "increments done by CAS worker $w"
	check_eq "$errors" 0 "errors other than ECANCELED in CAS worker $w ($(head -n 3 "$T/w.$w.errors" | tr '\n' '|'))"
done
qfs_log "CAS counter: 800 increments in $(($(now_ms) - t0)) ms with $total_retries retries in all"
echo "CAS counter retries: $total_retries"
cl_sync 1 10
for i in 1 2 3; do
	check_content "${C[i]}/cnt" $'800\n' "CAS counter on ${CL_NAME[i]}"
	check_eq "$(qfs_xattr "${C[i]}/cnt" version)" "$((v0 + 800))" "version of c/cnt on ${CL_NAME[i]} (one change per successful CAS)"
done
r1=$(cat "${C[1]}/.rev/cnt" 2>&1)
for i in 2 3; do
	check_eq "$(cat "${C[i]}/.rev/cnt" 2>&1)" "$r1" ".rev/cnt on ${CL_NAME[i]} equals n1's"
done

# --- 2. errnos ------------------------------------------------------------------------
rev=$(cat "${C[1]}/.rev/cnt" 2>/dev/null)
[[ "$rev" =~ ^[0-9]+$ ]] || die "c/.rev/cnt unreadable: '$rev'"
check_fails "Operation canceled" "CAS write with a stale revision on n2" -- bash -c "echo 0 > '${C[2]}/.cas/$((rev - 1))/cnt'"
check_fails "Operation canceled" "CAS write with a newer revision on n3" -- bash -c "echo 0 > '${C[3]}/.cas/$((rev + 1))/cnt'"
check_fails "File exists" "CAS create (.cas/0) of an existing key on n3" -- bash -c "echo 0 > '${C[3]}/.cas/0/cnt'"
check_ok "CAS create (.cas/0) of a new key on n2" -- bash -c "echo created > '${C[2]}/.cas/0/new'"
check_fails "File exists" "second CAS create of the same key on n3" -- bash -c "echo again > '${C[3]}/.cas/0/new'"
cl_sync 2 10
for i in 1 2 3; do
	check_content "${C[i]}/cnt" $'800\n' "c/cnt on ${CL_NAME[i]} after the refused CAS writes"
	check_content "${C[i]}/new" $'created\n' "c/new (CAS-created on n2) on ${CL_NAME[i]}"
done
rn=$(cat "${C[1]}/.rev/new" 2>/dev/null)
[[ "$rn" =~ ^[0-9]+$ ]] || die "c/.rev/new unreadable on n1: '$rn'"
check_ok "CAS write on n3 with the revision read on n1" -- bash -c "echo replaced > '${C[3]}/.cas/$rn/new'"
check_fails "Operation canceled" "the same revision used again on n2" -- bash -c "echo twice > '${C[2]}/.cas/$rn/new'"
check_content "${C[3]}/new" $'replaced\n' "c/new after one CAS succeeded and one failed"
rn2=$(cat "${C[3]}/.rev/new" 2>/dev/null)
[ "${rn2:-0}" -gt "$rn" ] || fail "mod_revision of c/new did not grow with the CAS write: $rn -> $rn2"
check_fails "Operation canceled" "compare-and-delete with the old revision on n1" -- rm "${C[1]}/.cas/$rn/new"
cl_sync 3 10
check_content "${C[1]}/new" $'replaced\n' "c/new is still there after a refused compare-and-delete"
check_ok "compare-and-delete with the right revision on n1" -- rm "${C[1]}/.cas/$rn2/new"
cl_sync 1 10
for i in 1 2 3; do
	[ -e "${C[i]}/new" ] && fail "c/new still exists on ${CL_NAME[i]} after compare-and-delete"
done
check_fails "No such file or directory" "compare-and-delete of an absent key on n2" -- rm "${C[2]}/.cas/$rn2/new"

# --- 3. locks ------------------------------------------------------------------------
CONT_NODES=(1 1 2 2 3 3)
# race KIND ROUND: 6 contenders start together; KIND noclobber or cas.
# Sets WINNERS (contender numbers) and records failures of the losers.
race() {
	local kind=$1 r=$2 c pids=() rc p name
	name=lock-$kind-$r
	rm -f "$T"/lk.* "$T/go"
	for c in 1 2 3 4 5 6; do
		(
			trap - EXIT INT TERM
			d=${CL_MNT[CONT_NODES[c - 1]]}/locks
			while [ ! -e "$T/go" ]; do sleep 0.005; done
			if [ "$kind" = noclobber ]; then
				set -o noclobber
				target=$d/$name
			else
				target=$d/.cas/0/$name
			fi
			if { echo "c$c" >"$target"; } 2>"$T/lk.err.$c"; then
				echo 0 >"$T/lk.rc.$c"
			else
				echo 1 >"$T/lk.rc.$c"
			fi
		) &
		pids+=($!)
		qfs_helper $!
	done
	sleep 0.2
	touch "$T/go"
	for p in "${pids[@]}"; do
		qfs_wait_exit "$p" 30 || _fail_at 1 "$kind round $r: contender pid $p still running after 30 s"
	done
	WINNERS=()
	for c in 1 2 3 4 5 6; do
		rc=$(cat "$T/lk.rc.$c" 2>/dev/null)
		if [ "$rc" = 0 ]; then
			WINNERS+=("$c")
		elif ! grep -q -e "File exists" -e "cannot overwrite existing file" "$T/lk.err.$c"; then
			_fail_at 1 "$kind round $r: contender $c on ${CL_NAME[CONT_NODES[c - 1]]} failed (rc ${rc:-none}) without \"File exists\": $(cat "$T/lk.err.$c" 2>/dev/null)"
		fi
	done
	if [ ${#WINNERS[@]} -ne 1 ]; then
		_fail_at 1 "$kind round $r: ${#WINNERS[@]} contenders won (${WINNERS[*]:-none}), expected exactly 1"
		return 1
	fi
	cl_sync "${CONT_NODES[WINNERS[0] - 1]}" 10
	for i in 1 2 3; do
		check_content "${CL_MNT[i]}/locks/$name" "c${WINNERS[0]}"$'\n' "$kind round $r: the lock on ${CL_NAME[i]} holds the winner's value"
	done
	qfs_log "$kind round $r: contender ${WINNERS[0]} on ${CL_NAME[CONT_NODES[WINNERS[0] - 1]]} won"
}
mkdir "${CL_MNT[1]}/locks" || die "mkdir locks failed"
cl_sync 1 10
for r in 1 2 3 4 5; do race noclobber "$r"; done
for r in 1 2 3 4 5; do race cas "$r"; done

# Release of the last CAS lock by compare-and-delete.
if [ ${#WINNERS[@]} = 1 ]; then
	wc=${WINNERS[0]}
	wn=${CONT_NODES[wc - 1]}
	ln=$((wn % 3 + 1)) # a loser's node
	L=locks/lock-cas-5
	old=$(cat "${CL_MNT[ln]}/locks/.rev/lock-cas-5" 2>/dev/null)
	[[ "$old" =~ ^[0-9]+$ ]] || fail "locks/.rev/lock-cas-5 unreadable on ${CL_NAME[ln]}: '$old'"
	# The holder renews its lock: a CAS on its own revision.
	hr=$(cat "${CL_MNT[wn]}/locks/.rev/lock-cas-5" 2>/dev/null)
	check_ok "the holder renews the lock on ${CL_NAME[wn]}" -- bash -c "echo 'c$wc renewed' > '${CL_MNT[wn]}/locks/.cas/$hr/lock-cas-5'"
	cl_sync "$wn" 10
	check_fails "Operation canceled" "a non-winner's compare-and-delete with a stale revision on ${CL_NAME[ln]}" -- rm "${CL_MNT[ln]}/locks/.cas/$old/lock-cas-5"
	cl_sync "$ln" 10
	for i in 1 2 3; do
		check_content "${CL_MNT[i]}/$L" "c$wc renewed"$'\n' "the lock on ${CL_NAME[i]} after a non-winner's refused release"
	done
	hr=$(cat "${CL_MNT[wn]}/locks/.rev/lock-cas-5" 2>/dev/null)
	check_ok "the holder's compare-and-delete on ${CL_NAME[wn]}" -- rm "${CL_MNT[wn]}/locks/.cas/$hr/lock-cas-5"
	cl_sync "$wn" 10
	for i in 1 2 3; do
		[ -e "${CL_MNT[i]}/$L" ] && fail "the lock still exists on ${CL_NAME[i]} after the holder released it"
	done
	check_ok "a loser takes the released lock on ${CL_NAME[ln]}" -- bash -c "echo taken > '${CL_MNT[ln]}/locks/.cas/0/lock-cas-5'"
	check_content "${CL_MNT[ln]}/$L" $'taken\n' "the lock after a loser took it"
fi
cl_done
