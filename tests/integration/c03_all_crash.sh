#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# All nodes crash at once (INTERFACE §3: "All nodes killed at once and
# restarted: nothing acknowledged is lost"). A client on every node writes new
# keys c<n>/k<i> and overwrites c<n>/last with i, recording each acknowledged
# write. kill -9 of all three daemons in one kill(1), restart all on their data
# dirs: every acknowledged key holds its content on every node, and each
# c<n>/last holds the last acknowledged value or a later attempted one.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start_all

for n in 1 2 3; do mkdir "${CL_MNT[n]}/c$n" || die "mkdir c$n on ${CL_NAME[n]} failed"; done
cl_sync "$CL_LEADER" 10 1 2 3
wpids=()
for n in 1 2 3; do
	: >"$T/acked$n"
	(
		trap - EXIT INT TERM
		D=${CL_MNT[n]}/c$n
		for i in $(seq 1 100000); do
			echo "a $i" >>"$T/acked$n" # attempted
			v="client $n value $i $RANDOM"
			{ echo "$v" >"$D/k$i.tmp" && mv "$D/k$i.tmp" "$D/k$i"; } 2>/dev/null || exit 0
			echo "k $i $v" >>"$T/acked$n" # acknowledged: k$i must hold $v
			{ echo "$i" >"$D/last"; } 2>/dev/null || exit 0
			echo "l $i" >>"$T/acked$n"
		done
	) &
	wpids[n]=$!
	qfs_helper "${wpids[n]}"
done

# Let every client get some writes acknowledged (bounded), then crash all.
end=$(($(now_ms) + 30000))
while :; do
	low=0
	for n in 1 2 3; do [ "$(grep -c '^l ' "$T/acked$n")" -ge 40 ] || low=1; done
	[ $low = 0 ] && break
	[ "$(now_ms)" -lt "$end" ] || die "clients did not get 40 writes each acknowledged within 30 s"
	sleep 0.05
done
sleep 0.$((RANDOM % 5))
kill -KILL "${CL_PID[1]}" "${CL_PID[2]}" "${CL_PID[3]}"
for n in 1 2 3; do cl_kill "$n"; done
for n in 1 2 3; do qfs_wait_exit "${wpids[n]}" 20 || die "client $n did not stop after the crash"; done
for n in 1 2 3; do qfs_log "client $n: $(grep -c '^k ' "$T/acked$n") keys and $(grep -c '^l ' "$T/acked$n") overwrites acknowledged"; done

for n in 1 2 3; do cl_start "$n"; done
cl_wait_leader 20 || die "no leader within 20 s after restarting all three"
qfs_log "leader after restart: ${CL_NAME[CL_LEADER]}"
# A change proposed through the new leader commits only after everything
# before it: then every node applying up to the leader's index has it all.
cl_write_retry "${CL_MNT[CL_LEADER]}/after" "after restart" 10 || fail "no write succeeded within 10 s after restarting all three"
cl_sync "$CL_LEADER" 20 1 2 3

for r in 1 2 3; do # reader node
	R=${CL_MNT[r]}
	for n in 1 2 3; do
		bad=0
		while read -r kind i content; do
			[ "$kind" = k ] || continue
			v=""
			IFS= read -r v <"$R/c$n/k$i" 2>/dev/null
			if [ "$v" != "$content" ]; then
				bad=$((bad + 1))
				[ $bad -le 3 ] && fail "${CL_NAME[r]}: acknowledged key c$n/k$i holds '$v', expected '$content'"
			fi
		done <"$T/acked$n"
		[ $bad = 0 ] || fail "${CL_NAME[r]}: $bad acknowledged keys of client $n lost or wrong"
		lastack=$(awk '$1 == "l" { v = $2 } END { print v + 0 }' "$T/acked$n")
		lastatt=$(awk '$1 == "a" { v = $2 } END { print v + 0 }' "$T/acked$n")
		v=""
		IFS= read -r v <"$R/c$n/last" 2>/dev/null
		if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -lt "$lastack" ] || [ "$v" -gt "$lastatt" ]; then
			fail "${CL_NAME[r]}: c$n/last is '$v', expected from $lastack (last acknowledged) to $lastatt (last attempted)"
		fi
	done
done
cl_check_same_tree "after restarting all three" 1 2 3
cl_done
