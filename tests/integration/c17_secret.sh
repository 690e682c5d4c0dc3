#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# --secret-file (INTERFACE §1, §7; docs/usage.md "Securing peer traffic"):
# - a missing, empty or short secret, or a tls+tcp:// URL without --tls-*,
#   refuses the start with a message naming the problem;
# - three voters with the same secret replicate; n2 is reached through a
#   man in the middle (peer_garbage.py proxy) that records its traffic;
# - replaying recorded authentic messages to n2 drops them as replays, and
#   forgeries made from them (a flipped body bit, a random tag, the MAC
#   stripped, a made-up FORWARD proposal) as auth;
# - a node with no secret and one with a wrong secret, started with --join,
#   are not let in: not in members/ or `quorumctl members`, their mounts stay
#   empty, what they write reaches nobody;
# - impostors with the real --peer list and the real names n3 (no secret)
#   and n1 (wrong secret) campaign for 5 s: the leader and term stay the
#   same and writes keep succeeding;
# - the refusals are counted in .metrics (reason "auth", "replay") and
#   logged a few times at most, not per message; the replicas agree.
. "$(dirname "$0")/cluster_lib.sh"
command -v python3 >/dev/null || skip "python3 is missing"
GARBAGE=$(dirname "$0")/peer_garbage.py
cl_setup 8

SECRET=$T/secret WRONG=$T/wrong
head -c 32 /dev/urandom >"$SECRET"
head -c 48 /dev/urandom >"$WRONG"
chmod 600 "$SECRET" "$WRONG"

# ---- bad secrets and URLs refuse the start ------------------------------------
refused() { # WHAT TEXT ARGS...: the daemon exits non-zero at once, saying TEXT
	local what=$1 text=$2 out rc
	shift 2
	mkdir -p "$T/bad"
	out=$(timeout -k 2 20 "$QFS_BIN" -f --name bad --data "$T/bad/d" --listen "tcp://127.0.0.1:${CL_PORT[7]}" "$@" "$T/bad/m" 2>&1 </dev/null)
	rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] || fail "$what: the daemon exited $rc (expected a refusal)"
	[[ $out == *"$text"* ]] || fail "$what: no '$text' in: $(tail -n 2 <<<"$out" | tr '\n' '|')"
	qfs_is_mounted "$T/bad/m" && fusermount3 -uz "$T/bad/m"
}
mkdir -p "$T/bad/m"
: >"$T/empty"
printf 'too short\n' >"$T/short"
chmod 600 "$T/empty" "$T/short"
refused "empty secret" "is empty" --secret-file "$T/empty"
refused "short secret" "too short" --secret-file "$T/short"
refused "missing secret" "No such file" --secret-file "$T/none"
refused "tls URL without certificates" "needs --tls-cert" --listen "tls+tcp://127.0.0.1:${CL_PORT[7]}"

# ---- three voters with a secret; n2 behind a recording proxy ------------------
PROXY_PORT=${CL_PORT[8]}
timeout -k 5 170 python3 "$GARBAGE" proxy 127.0.0.1 "$PROXY_PORT" --upstream "127.0.0.1:${CL_PORT[2]}" \
	--capture "$T/capture.bin" --hold 160 >"$T/proxy.out" 2>&1 &
PROXY_PID=$!
qfs_helper $PROXY_PID
for _ in $(seq 1 50); do
	ss -Htanl | awk '{print $4}' | grep -q ":$PROXY_PORT\$" && break
	sleep 0.1
done
CL_URL[2]=tcp://127.0.0.1:$PROXY_PORT # what everyone dials (and n2 advertises)
cl_start 1 --secret-file "$SECRET"
cl_start 2 --secret-file "$SECRET" --listen "tcp://127.0.0.1:${CL_PORT[2]}"
cl_start 3 --secret-file "$SECRET"
cl_wait_leader 15 || die "no leader among 3 nodes with a secret within 15 s"
qfs_log "leader ${CL_NAME[CL_LEADER]}; n2 reached through the proxy on port $PROXY_PORT"

for i in 1 2 3; do
	cl_write_retry "${CL_MNT[i]}/from-${CL_NAME[i]}" "v${CL_NAME[i]}" 10 ||
		fail "a write on ${CL_NAME[i]} (with the secret) did not succeed"
done
for i in 1 2 3; do cl_sync "$i" 10 1 2 3; done
for i in 1 2 3; do
	for j in 1 2 3; do
		check_content "${CL_MNT[i]}/from-${CL_NAME[j]}" "v${CL_NAME[j]}"$'\n' "write on ${CL_NAME[j]} read on ${CL_NAME[i]}"
	done
done
grep -q "listening on .* beyond loopback" "${CL_LOG[1]}" &&
	fail "n1 warned about an unauthenticated listener although it has a secret"

AUTH='quorumfs_peer_messages_dropped_total{reason="auth"}'
REPLAY='quorumfs_peer_messages_dropped_total{reason="replay"}'
for i in 1 2 3; do
	check_eq "$(cl_metric "$i" "$AUTH")" 0 "auth drops on ${CL_NAME[i]} before any intruder"
done

# ---- replays and forgeries to n2 ------------------------------------------------
sleep 1 # some traffic through the proxy
a0=$(cl_metric 2 "$AUTH") r0=$(cl_metric 2 "$REPLAY")
out=$(timeout -k 5 60 python3 "$GARBAGE" replay 127.0.0.1 "${CL_PORT[2]}" --capture "$T/capture.bin" --last 40 2>&1)
rc=$?
echo "$out" >"$T/replay.out"
[ $rc = 0 ] || fail "replay sender failed (rc $rc): $(tail -n 3 <<<"$out" | tr '\n' '|')"
qfs_log "replay: $(tr -s ' ' <<<"$out" | tr '\n' ';')"
nrep=$(awk '/^replayed as captured/ { print $NF }' <<<"$out")
nforged=$(grep -E 'bad MAC|no MAC' <<<"$out" | awk '{ s += $NF } END { print s + 0 }')
[ "${nrep:-0}" -ge 20 ] || fail "the replay sender sent only '${nrep:-0}' recorded messages"
end=$(($(now_ms) + 10000))
while :; do
	a1=$(cl_metric 2 "$AUTH") r1=$(cl_metric 2 "$REPLAY")
	[ $((r1 - r0)) -ge "${nrep:-1}" ] && [ $((a1 - a0)) -ge "$nforged" ] && break
	[ "$(now_ms)" -lt "$end" ] || break
	sleep 0.2
done
[ $((r1 - r0)) -ge "${nrep:-1}" ] ||
	fail "n2 counted $((r1 - r0)) replays for $nrep recorded messages sent again"
[ $((a1 - a0)) -ge "$nforged" ] ||
	fail "n2 counted $((a1 - a0)) auth drops for $nforged forged messages"
grep -q 'net: dropped .*: replay: seen before' "${CL_LOG[2]}" ||
	fail "n2's log does not say it dropped a replay"
ls "${CL_MNT[1]}" | grep -q inject && fail "a forged FORWARD became a key"

# ---- intruders ask to join: no secret (n4), a wrong secret (n5) ---------------
cl_start_join 4 1
cl_start_join 5 1 --secret-file "$WRONG"
for k in $(seq 1 10); do
	cl_write_retry "${CL_MNT[1]}/during-join-$k" "$k" 5 || fail "write $k on n1 failed while intruders ask to join"
	sleep 0.4
done
for i in 4 5; do
	{ echo inject >"${CL_MNT[i]}/inject-${CL_NAME[i]}"; } 2>/dev/null &&
		fail "a write on ${CL_NAME[i]} (not a member) succeeded"
done
cl_sync 1 10 1 2 3
for i in 1 2 3; do
	members=$(cl_ctl "$i" members 2>&1)
	for j in 4 5; do
		grep -qw "${CL_NAME[j]}" <<<"$members" && fail "quorumctl members on ${CL_NAME[i]} lists ${CL_NAME[j]}: $(tr '\n' '|' <<<"$members")"
		[ -e "${CL_MNT[i]}/members/${CL_NAME[j]}" ] && fail "members/ on ${CL_NAME[i]} lists ${CL_NAME[j]}"
		[ -e "${CL_MNT[i]}/inject-${CL_NAME[j]}" ] && fail "${CL_NAME[j]}'s write reached ${CL_NAME[i]}"
	done
done
for i in 4 5; do
	got=$(ls "${CL_MNT[i]}" 2>&1 | tr '\n' ' ')
	[ -z "$got" ] || fail "${CL_NAME[i]} (not let in) shows cluster data: $got"
done
cl_stop 4
cl_stop 5

# ---- impostors campaign with the real names and --peer list --------------------
cl_wait_leader 10 || fail "no stable leader before the impostors"
L=$CL_LEADER LNAME=${CL_NAME[CL_LEADER]}
TERM0=$(cl_field "$L" term)
CL_NAME[6]=n3 # no secret
CL_NAME[7]=n1 # a wrong secret
cl_start 6
cl_start 7 --secret-file "$WRONG"
end=$(($(now_ms) + 5000))
k=0
while [ "$(now_ms)" -lt "$end" ]; do
	k=$((k + 1))
	for i in 1 2 3; do
		st=$(cl_ctl "$i" status 2>/dev/null)
		lead=$(sed -n 's/^leader=//p' <<<"$st")
		term=$(sed -n 's/^term=//p' <<<"$st")
		[ "$lead" = "$LNAME" ] && [ "$term" = "$TERM0" ] ||
			fail "with impostors running, ${CL_NAME[i]} says leader '$lead' term '$term' (was $LNAME, term $TERM0)"
	done
	{ echo "$k" >"${CL_MNT[L]}/during-impostors-$k"; } 2>/dev/null || fail "write $k on the leader failed with impostors running"
	sleep 0.5
done
qfs_log "impostors: n3 says role=$(cl_field 6 role) term=$(cl_field 6 term), n1 says role=$(cl_field 7 role) term=$(cl_field 7 term); $k rounds of checks"
for i in 6 7; do
	got=$(ls "${CL_MNT[i]}" 2>&1 | tr '\n' ' ')
	[ -z "$got" ] || fail "impostor ${CL_NAME[i]} (slot $i) shows cluster data: $got"
done
cl_stop 6
cl_stop 7

# ---- counted, and logged only a few times ----------------------------------------
total=0
for i in 1 2 3; do
	a=$(cl_metric "$i" "$AUTH")
	total=$((total + a))
	lines=$(grep -c 'net: dropped .*: auth' "${CL_LOG[i]}")
	rlines=$(grep -c 'net: dropped .*: replay' "${CL_LOG[i]}")
	qfs_log "${CL_NAME[i]}: $a auth drops, $(cl_metric "$i" "$REPLAY") replay drops; $lines auth and $rlines replay log lines"
	[ "$lines" -le 3 ] || fail "${CL_NAME[i]} logged $lines lines for auth drops (at most one a minute)"
	[ "$rlines" -le 3 ] || fail "${CL_NAME[i]} logged $rlines lines for replay drops (at most one a minute)"
done
a1=$(cl_metric 1 "$AUTH")
[ "$a1" -ge 10 ] || fail "n1 counted only $a1 auth drops (joins and impostors talk to it)"
grep -q 'net: dropped .*: auth' "${CL_LOG[1]}" || fail "n1 logged no auth drop"
[ "$total" -ge 50 ] || fail "only $total auth drops counted on the real nodes"

cl_wait_leader 10 || fail "no stable leader at the end"
cl_sync "$CL_LEADER" 10 1 2 3
cl_check_same_tree "after the intruders" 1 2 3
ls "${CL_MNT[1]}" | grep -q inject && fail "an intruder's write reached the cluster"
cl_done
