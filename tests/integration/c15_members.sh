#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh disable=SC2012
# Cluster views (INTERFACE §5) on 3 nodes with --dead-after 1s:
# - members/ lists n1 n2 n3 on every node; each file has exactly the keys
#   name address role term last_seen_ms applied load uptime_s version, name is
#   the file name, address the node's URL, role leader or follower, term,
#   applied, last_seen_ms, uptime_s numbers, load a float; every view names
#   exactly one leader, the one quorumctl reports, with the same term;
# - .status on each node: name, role, leader, term, commit, applied,
#   quorum=yes, voters=3, learners=0, revision, version;
# - kill -9 of a follower (n3 unless it leads): it vanishes from members/ on
#   both survivors within dead-after + 1 s; restarted, it reappears on both
#   (and on itself) with a fresh uptime_s;
# - a fourth node joining with --join is listed everywhere with role=learner.
. "$(dirname "$0")/cluster_lib.sh"
DEAD=1
CL_OPTS=(--write-timeout 2s --dead-after "${DEAD}s")
cl_setup 4 # n4 joins as a learner at the end
cl_start_all
echo x >"${CL_MNT[1]}/k" || fail "write failed"
cl_sync 1 10

# listing I: members/ names on node I, space-separated
listing() { ls "${CL_MNT[$1]}/members" 2>&1 | tr '\n' ' '; }
# field I NAME KEY: KEY from members/NAME on node I
field() { sed -n "s/^$3=//p" "${CL_MNT[$1]}/members/$2" 2>/dev/null; }
sfield() { sed -n "s/^$2=//p" "${CL_MNT[$1]}/.status" 2>/dev/null; }

# wait_listing WANT BOUND NODES...: until every listed node shows WANT.
wait_listing() {
	local want=$1 bound=$2 end i ok
	shift 2
	end=$(($(now_ms) + bound * 1000))
	while :; do
		ok=1
		for i in "$@"; do [ "$(listing "$i")" = "$want" ] || ok=0; done
		[ $ok = 1 ] && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

wait_listing "n1 n2 n3 " 5 1 2 3 || fail "members/ does not list n1 n2 n3 everywhere within 5 s: $(for i in 1 2 3; do printf '%s: %s| ' "${CL_NAME[i]}" "$(listing "$i")"; done)"
LN=${CL_NAME[CL_LEADER]}
lterm=$(cl_field "$CL_LEADER" term)
for i in 1 2 3; do
	leaders=()
	for j in 1 2 3; do
		f=${CL_MNT[i]}/members/${CL_NAME[j]}
		what="members/${CL_NAME[j]} on ${CL_NAME[i]}"
		keys=$(sed 's/=.*//' "$f" 2>&1 | sort | tr '\n' ' ')
		check_eq "$keys" "address applied last_seen_ms load name role term uptime_s version " "$what: keys"
		check_eq "$(field "$i" "${CL_NAME[j]}" name)" "${CL_NAME[j]}" "$what: name"
		check_eq "$(field "$i" "${CL_NAME[j]}" address)" "${CL_URL[j]}" "$what: address"
		role=$(field "$i" "${CL_NAME[j]}" role)
		case $role in
		leader) leaders+=("${CL_NAME[j]}") ;;
		follower) ;;
		*) fail "$what: role '$role', expected leader or follower" ;;
		esac
		for k in term applied last_seen_ms uptime_s; do
			v=$(field "$i" "${CL_NAME[j]}" $k)
			[[ "$v" =~ ^[0-9]+$ ]] || fail "$what: $k '$v' is not a number"
		done
		check_eq "$(field "$i" "${CL_NAME[j]}" term)" "$lterm" "$what: term"
		v=$(field "$i" "${CL_NAME[j]}" load)
		[[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || fail "$what: load '$v' is not a float"
		[ -n "$(field "$i" "${CL_NAME[j]}" version)" ] || fail "$what: empty version"
		v=$(field "$i" "${CL_NAME[j]}" applied)
		[ "${v:-0}" -gt 0 ] || fail "$what: applied '$v', expected > 0 after writes"
	done
	check_eq "${leaders[*]}" "$LN" "leaders named in members/ on ${CL_NAME[i]}"

	what=".status on ${CL_NAME[i]}"
	keys=$(sed 's/=.*//' "${CL_MNT[i]}/.status" 2>&1 | sort | tr '\n' ' ')
	check_eq "$keys" "applied commit leader learners name quorum revision role term version voters " "$what: keys"
	check_eq "$(sfield "$i" name)" "${CL_NAME[i]}" "$what: name"
	if [ "$i" = "$CL_LEADER" ]; then want=leader; else want=follower; fi
	check_eq "$(sfield "$i" role)" "$want" "$what: role"
	check_eq "$(sfield "$i" leader)" "$LN" "$what: leader"
	check_eq "$(sfield "$i" term)" "$lterm" "$what: term"
	check_eq "$(sfield "$i" quorum)" yes "$what: quorum"
	check_eq "$(sfield "$i" voters)" 3 "$what: voters"
	check_eq "$(sfield "$i" learners)" 0 "$what: learners"
	for k in commit applied revision; do
		v=$(sfield "$i" $k)
		[[ "$v" =~ ^[1-9][0-9]*$ ]] || fail "$what: $k '$v' is not a positive number"
	done
	[ -n "$(sfield "$i" version)" ] || fail "$what: empty version"
	check_eq "$(sfield "$i" revision)" "$(cat "${CL_MNT[i]}/.rev/k" 2>&1)" "$what: revision is the last change's (k)"
done

# --- a node dies and comes back ------------------------------------------------
V=3
[ "$CL_LEADER" = 3 ] && V=2
mapfile -t S < <(for i in 1 2 3; do [ "$i" != "$V" ] && echo "$i"; done)
VN=${CL_NAME[V]}
want_after=$(for i in 1 2 3; do [ "$i" != "$V" ] && printf '%s ' "${CL_NAME[i]}"; done)
t0=$(now_ms)
cl_kill "$V"
if wait_listing "$want_after" 5 "${S[@]}"; then
	dt=$(($(now_ms) - t0))
	qfs_log "$VN left members/ on both survivors $dt ms after kill -9"
	[ $dt -le $(((DEAD + 1) * 1000)) ] || fail "$VN left members/ $dt ms after kill -9 (limit --dead-after + 1 s = $(((DEAD + 1) * 1000)) ms)"
else
	fail "$VN still in members/ 5 s after kill -9: $(for i in "${S[@]}"; do printf '%s: %s| ' "${CL_NAME[i]}" "$(listing "$i")"; done)"
fi
for i in "${S[@]}"; do
	check_eq "$(sfield "$i" quorum)" yes ".status quorum on ${CL_NAME[i]} with $VN down"
done
sleep 1
for i in "${S[@]}"; do
	check_eq "$(listing "$i")" "$want_after" "members/ on ${CL_NAME[i]} stays without $VN"
done

cl_start "$V"
t0=$(now_ms)
if wait_listing "n1 n2 n3 " 10 1 2 3; then
	qfs_log "$VN back in members/ everywhere $(($(now_ms) - t0)) ms after it served again"
else
	fail "$VN not back in members/ everywhere 10 s after its restart: $(for i in 1 2 3; do printf '%s: %s| ' "${CL_NAME[i]}" "$(listing "$i")"; done)"
fi
for i in "${S[@]}"; do
	up=$(field "$i" "$VN" uptime_s)
	[[ "$up" =~ ^([0-9]|1[0-5])$ ]] || fail "uptime_s of the restarted $VN on ${CL_NAME[i]} is '$up', expected <= 15"
	check_eq "$(field "$i" "$VN" role)" follower "role of the restarted $VN on ${CL_NAME[i]}"
done
# A learner (joined, not promoted) is a member too.
cl_start_join 4 1
t0=$(now_ms)
if wait_listing "n1 n2 n3 n4 " 10 1 2 3 4; then
	qfs_log "learner n4 in members/ everywhere $(($(now_ms) - t0)) ms after it served"
else
	fail "learner n4 not in members/ everywhere 10 s after joining: $(for i in 1 2 3 4; do printf '%s: %s| ' "${CL_NAME[i]}" "$(listing "$i")"; done)"
fi
# n4 calls itself a follower until it has applied its own admission.
end=$(($(now_ms) + 3000))
for i in 1 2 3 4; do
	while [ "$(field "$i" n4 role)" != learner ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.1; done
	check_eq "$(field "$i" n4 role)" learner "role of n4 in members/ on ${CL_NAME[i]}"
done
check_eq "$(sfield 4 role)" learner ".status role on n4"
check_eq "$(sfield 1 learners)" 1 ".status learners on n1 with n4 joined"
cl_done
