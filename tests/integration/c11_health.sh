#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# /health over --http in a cluster (INTERFACE §5): with three nodes up, every
# node answers 200. After kill -9 of two nodes, the survivor (first the
# leader, whose check-quorum makes it step down; then, after the cluster is
# whole and healthy again, a follower, which loses its leader) answers 503
# with a reason within a few seconds, and its /metrics shows no quorum.
. "$(dirname "$0")/cluster_lib.sh"
BOUND_503=${QFS_HEALTH_MAX_S:-5}
command -v curl >/dev/null || die "curl is missing (scripts/deps.sh installs it)"
cl_setup 3

# HTTP ports: another free range, away from the peer ports.
PEER_BASE=$CL_PORT_BASE
for try in $(seq 1 50); do
	cl_pick_ports 3
	[ $((CL_PORT_BASE - PEER_BASE)) -ge 3 ] || [ $((PEER_BASE - CL_PORT_BASE)) -ge 3 ] && break
done
[ $((CL_PORT_BASE - PEER_BASE)) -ge 3 ] || [ $((PEER_BASE - CL_PORT_BASE)) -ge 3 ] ||
	die "no HTTP ports apart from the peer ports"
declare -a HURL
for i in 1 2 3; do HURL[i]=http://127.0.0.1:$((CL_PORT_BASE + i - 1)); done
qfs_log "HTTP on ${HURL[1]}..${HURL[3]}"

# health I: "CODE BODY" of node I's /health.
health() {
	local body code
	body=$(curl -s --max-time 5 -o - -w '\n%{http_code}' "${HURL[$1]}/health" 2>/dev/null)
	code=${body##*$'\n'}
	body=${body%$'\n'*}
	body=${body%$'\n'}
	echo "$code ${body//$'\n'/ }"
}

# wait_health I CODE BOUND: until node I's /health answers CODE; sets
# WAITED_MS. Returns 1 on timeout (HEALTH has the last answer).
wait_health() {
	local i=$1 want=$2 bound=$3 start end
	start=$(now_ms)
	end=$((start + bound * 1000))
	while :; do
		HEALTH=$(health "$i")
		WAITED_MS=$(($(now_ms) - start))
		[ "${HEALTH%% *}" = "$want" ] && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

start_node() { cl_start "$1" --http "${HURL[$1]}"; }

all_healthy() {
	local i
	cl_wait_leader 15 || die "no leader within 15 s ($1)"
	for i in 1 2 3; do
		wait_health "$i" 200 10 || fail "$1: ${CL_NAME[i]}'s /health is '$HEALTH', expected 200 within 10 s"
	done
}

# role_of I: node I's role from its /metrics.
role_of() {
	curl -s --max-time 5 "${HURL[$1]}/metrics" | sed -n 's/^quorumfs_role{role="\(.*\)"} 1$/\1/p'
}

# survive S: kill -9 the two other nodes; S's /health must turn 503.
survive() {
	local s=$1 role i
	role=$(role_of "$s")
	for i in 1 2 3; do [ "$i" = "$s" ] || cl_kill "$i"; done
	if wait_health "$s" 503 "$BOUND_503"; then
		note "${CL_NAME[s]} (the $role) answered '$HEALTH' ${WAITED_MS} ms after the two others were killed"
		[ -n "${HEALTH#503}" ] && [ "${HEALTH#503 }" != "" ] || fail "503 from ${CL_NAME[s]} without a reason"
	else
		fail "the surviving $role ${CL_NAME[s]} still answers '$HEALTH' ${BOUND_503} s after its two peers were killed"
	fi
	local m
	m=$(curl -s --max-time 5 "${HURL[s]}/metrics")
	grep -qx 'quorumfs_healthy 0' <<<"$m" || fail "${CL_NAME[s]}'s /metrics does not show quorumfs_healthy 0"
	grep -qx 'quorumfs_quorum 0' <<<"$m" || fail "${CL_NAME[s]}'s /metrics does not show quorumfs_quorum 0"
	grep -qx 'quorumfs_role{role="leader"} 0' <<<"$m" || fail "${CL_NAME[s]} still claims to lead in /metrics"
}

for i in 1 2 3; do start_node "$i"; done
all_healthy "three nodes up"

# Round 1: the leader survives alone.
L=$CL_LEADER
survive "$L"
for i in 1 2 3; do [ "$i" = "$L" ] || start_node "$i"; done
all_healthy "after the two killed nodes restarted"

# Round 2: a follower survives alone.
for F in 1 2 3; do [ "$F" != "$CL_LEADER" ] && break; done
survive "$F"
for i in 1 2 3; do [ "$i" = "$F" ] || start_node "$i"; done
all_healthy "after the second restart"

cl_done
