#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Crash safety (INTERFACE §3): kill -9 the daemon during a write loop, lazily
# unmount the dead mount, restart on the same --data: every key whose write was
# acknowledged (echo exited 0) is there with the right content. Three rounds,
# each on top of the previous one's data.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

: >"$T/acked"
for round in 1 2 3; do
	mkdir -p "$M/r$round" || die "mkdir r$round failed"
	(
		trap - EXIT INT TERM
		for i in $(seq 1 100000); do
			if { echo "round $round value $i" >"$M/r$round/k$i"; } 2>/dev/null; then
				echo "$round $i" >>"$T/acked"
			else
				exit 0
			fi
			# a second kind of change: appends to one key
			if { echo "line $i" >>"$M/r$round/log"; } 2>/dev/null; then
				echo "$round log $i" >>"$T/acked"
			else
				exit 0
			fi
		done
	) &
	wpid=$!
	qfs_helper $wpid
	# Let it run until a few hundred writes were acknowledged (bounded).
	for _ in $(seq 1 200); do
		[ "$(grep -c "^$round " "$T/acked")" -ge $((100 * round)) ] && break
		sleep 0.05
	done
	sleep 0.$((RANDOM % 5))
	qfs_crash
	qfs_wait_exit $wpid 20 || die "writer did not stop after the daemon was killed"
	n=$(grep -c "^$round [0-9]" "$T/acked")
	[ "$n" -gt 0 ] || fail "round $round: no write was acknowledged before the crash"
	qfs_log "round $round: $n acknowledged puts before kill -9"
	qfs_start

	# Check every acknowledged change of every round so far.
	missing=0
	while read -r r i _; do
		[ "$i" = log ] && continue
		got=$(cat "$M/r$r/k$i" 2>&1)
		if [ "$got" != "round $r value $i" ]; then
			missing=$((missing + 1))
			[ $missing -le 5 ] && fail "round $r: acknowledged key r$r/k$i holds '$got' after restart"
		fi
	done <"$T/acked"
	[ $missing -eq 0 ] || fail "$missing acknowledged keys lost or wrong after kill -9"
	for r in $(seq 1 "$round"); do
		nlog=$(grep -c "^$r log " "$T/acked")
		# The log holds every acknowledged line in order, possibly plus the
		# one line whose append was in flight when the daemon died.
		exp=$(for i in $(seq 1 "$nlog"); do echo "line $i"; done)
		got=$(head -n "$nlog" "$M/r$r/log" 2>&1)
		check_eq "$got" "$exp" "round $r: acknowledged appends after restart"
		extra=$(($(wc -l <"$M/r$r/log") - nlog))
		[ "$extra" -le 1 ] || fail "round $r: log has $extra lines more than acknowledged"
	done
	# The restarted daemon accepts writes.
	check_ok "write after restart" -- bash -c "echo after > '$M/after$round'"
done
qfs_stop
qfs_start
check_content "$M/after3" $'after\n' "clean restart after the crash rounds"
qfs_done
