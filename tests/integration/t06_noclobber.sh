#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# noclobber (O_CREAT|O_EXCL) is create-if-absent: 8 processes race
# `set -o noclobber; echo $i > lock`; exactly one succeeds, the others get
# "File exists", and the key holds the winner's value. 20 rounds.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

mkdir "$M/locks"
for round in $(seq 1 20); do
	rm -f "$T"/rc.* "$T"/err.* "$T/go"
	pids=()
	for i in $(seq 1 8); do
		(
			while [ ! -e "$T/go" ]; do sleep 0.005; done
			set -o noclobber
			if { echo "$i" >"$M/locks/lock$round"; } 2>"$T/err.$i"; then
				echo 0 >"$T/rc.$i"
			else
				echo 1 >"$T/rc.$i"
			fi
		) &
		pids+=($!)
	done
	touch "$T/go"
	wait "${pids[@]}"
	winners=()
	for i in $(seq 1 8); do
		rc=$(cat "$T/rc.$i" 2>/dev/null)
		if [ "$rc" = 0 ]; then
			winners+=("$i")
		elif ! grep -q -e "File exists" -e "cannot overwrite existing file" "$T/err.$i"; then
			# bash says "cannot overwrite" when its own stat finds the key; in the
			# race its O_CREAT|O_EXCL open must fail with EEXIST.
			fail "round $round: contender $i failed (rc ${rc:-none}) without \"File exists\": $(cat "$T/err.$i" 2>/dev/null)"
		fi
	done
	if [ ${#winners[@]} -ne 1 ]; then
		fail "round $round: ${#winners[@]} contenders succeeded (${winners[*]:-none}), expected exactly 1"
		continue
	fi
	check_content "$M/locks/lock$round" "${winners[0]}"$'\n' "round $round: the lock holds the winner's value"
done
# An existing key, also an empty one, refuses noclobber creation.
: >"$M/locks/empty"
check_fails "" "noclobber onto an existing empty key" -- bash -c "set -o noclobber; echo x > '$M/locks/empty'"
check_content "$M/locks/empty" "" "failed noclobber changed nothing"
# O_CREAT|O_EXCL itself (dd conv=excl) on an existing key: EEXIST.
check_fails "File exists" "O_EXCL create of an existing key" -- bash -c "echo x | dd of='$M/locks/empty' conv=excl status=none"
check_content "$M/locks/empty" "" "failed O_EXCL create changed nothing"
mkdir "$M/locks/dir"
check_fails "File exists" "O_EXCL create over a directory" -- bash -c "echo x | dd of='$M/locks/dir' conv=excl status=none"
# After the lock is removed, the next contender wins again.
rm -f "$M/locks/lock1"
check_ok "noclobber after rm" -- bash -c "set -o noclobber; echo again > '$M/locks/lock1'"
check_content "$M/locks/lock1" $'again\n' "relocked"
qfs_done
