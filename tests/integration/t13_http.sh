#!/bin/bash
# shellcheck source=tests/integration/lib.sh
# --http URL on a single node (INTERFACE §5, docs/usage.md "Monitoring"):
# GET /metrics is 200 Prometheus text (valid names, counters end in _total,
# the latency histogram's _count grows with writes and equals its +Inf
# bucket), the same series as /cluster/.metrics; GET /health is 200 "ok" on
# a single node; other paths 404; a busy --http port makes the daemon exit
# non-zero with a message (in the foreground and daemonized) and mount nothing.
. "$(dirname "$0")/lib.sh"
qfs_setup
command -v curl >/dev/null || die "curl is missing (scripts/deps.sh installs it)"
command -v ss >/dev/null || die "ss is missing"

# A free port in 20000-32767 (below the ephemeral range), as cluster_lib.sh.
pick_port() {
	local listening p try
	listening=$(ss -Htanl 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
	p=$((20000 + ($$ * 37 + RANDOM) % 12000))
	for try in $(seq 1 200); do
		grep -qx "$p" <<<"$listening" || {
			echo "$p"
			return 0
		}
		p=$((20000 + (p - 20000 + 17) % 12000))
	done
	return 1
}
PORT=$(pick_port) || die "no free port found"
URL=http://127.0.0.1:$PORT

# fetch PATH OUT: body to OUT, headers to OUT.h; prints the status code.
fetch() {
	curl -s --max-time 10 -D "$2.h" -o "$2" -w '%{http_code}' "$URL$1" 2>/dev/null
}
# metric FILE SERIES: the value of the line "SERIES value" (empty if none).
metric() {
	awk -v s="$2" '$1 == s { print $2; exit }' "$1"
}

qfs_start --http "$URL"
# The mount serves before the node has elected itself: /health says when.
for i in $(seq 1 100); do
	[ "$(fetch /health "$T/h0")" = 200 ] && break
	sleep 0.1
done
check_eq "$(fetch /health "$T/h0")" 200 "GET /health on a single node within 10 s of the mount"

# --- /metrics ---
code=$(fetch /metrics "$T/m1")
check_eq "$code" 200 "GET /metrics status"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$T/m1.h" ||
	fail "GET /metrics Content-Type is '$(grep -i '^content-type' "$T/m1.h" | tr -d '\r')', expected text/plain; version=0.0.4"
for s in quorumfs_term quorumfs_applied_index quorumfs_commit_index quorumfs_quorum \
	quorumfs_voters quorumfs_proposals_total quorumfs_commit_latency_seconds_count \
	quorumfs_store_keys 'quorumfs_role{role="leader"}'; do
	[[ "$(metric "$T/m1" "$s")" =~ ^[0-9]+$ ]] || fail "/metrics has no numeric $s"
done
check_eq "$(metric "$T/m1" 'quorumfs_role{role="leader"}')" 1 "a single node leads (quorumfs_role)"
check_eq "$(metric "$T/m1" quorumfs_quorum)" 1 "a single node has quorum (quorumfs_quorum)"
check_eq "$(metric "$T/m1" quorumfs_voters)" 1 "quorumfs_voters of a single node"

# The text format: every sample line is NAME[{LABELS}] VALUE, every TYPE'd
# name is valid and unique, counters end in _total, each sample belongs to
# a TYPE'd family.
bad=$(awk '
	/^# TYPE / {
		if ($3 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*$/) print "bad name: " $0
		if ($4 !~ /^(counter|gauge|histogram)$/) print "bad type: " $0
		if ($4 == "counter" && $3 !~ /_total$/) print "counter without _total: " $3
		if (seen[$3]++) print "TYPE twice: " $3
		type[$3] = $4
		next
	}
	/^# HELP / { next }
	/^#/ || /^$/ { print "stray line: " $0; next }
	{
		if ($0 !~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [-+0-9.eE]+$|NaN$|Inf$/)
			print "bad sample: " $0
		name = $0; sub(/[{ ].*/, "", name)
		fam = name; sub(/_(bucket|sum|count)$/, "", fam)
		if (!(name in type) && !(type[fam] == "histogram")) print "sample without TYPE: " name
	}' "$T/m1")
[ -z "$bad" ] || fail "/metrics is not valid Prometheus text: $(head -n 5 <<<"$bad" | tr '\n' '|')"

# --- the latency histogram and the indexes move with writes ---
c1=$(metric "$T/m1" quorumfs_commit_latency_seconds_count)
a1=$(metric "$T/m1" quorumfs_applied_index)
p1=$(metric "$T/m1" quorumfs_proposals_total)
for i in 1 2 3 4 5; do echo v >"$M/k$i" || fail "write k$i"; done
code=$(fetch /metrics "$T/m2")
check_eq "$code" 200 "GET /metrics after writes"
c2=$(metric "$T/m2" quorumfs_commit_latency_seconds_count)
a2=$(metric "$T/m2" quorumfs_applied_index)
p2=$(metric "$T/m2" quorumfs_proposals_total)
[ "${c2:-0}" -ge $((${c1:-0} + 5)) ] || fail "commit latency _count did not grow by 5 writes: $c1 -> $c2"
[ "${a2:-0}" -ge $((${a1:-0} + 5)) ] || fail "quorumfs_applied_index did not grow by 5 writes: $a1 -> $a2"
[ "${p2:-0}" -ge $((${p1:-0} + 5)) ] || fail "quorumfs_proposals_total did not grow by 5 writes: $p1 -> $p2"
check_eq "$(metric "$T/m2" 'quorumfs_commit_latency_seconds_bucket{le="+Inf"}')" "$c2" \
	"latency +Inf bucket equals _count"
[ "$(metric "$T/m2" quorumfs_commit_latency_seconds_sum)" != "" ] || fail "no latency _sum"

# --- the same series as /cluster/.metrics ---
if timeout 10 cat "$M/.metrics" >"$T/fm" 2>"$T/fm.err"; then
	check_eq "$(grep '^# TYPE' "$T/fm" | sort)" "$(grep '^# TYPE' "$T/m2" | sort)" \
		"/cluster/.metrics and HTTP /metrics list the same metrics"
else
	note "/cluster/.metrics not readable yet ($(cat "$T/fm.err")): not compared"
fi

# --- /health, other paths ---
code=$(fetch /health "$T/h")
check_eq "$code" 200 "GET /health on a single node"
check_eq "$(cat "$T/h")" ok "GET /health body"
code=$(fetch /nope "$T/n")
check_eq "$code" 404 "GET of an unknown path"
code=$(fetch / "$T/n")
check_eq "$code" 404 "GET /"

# --- a busy port: the daemon refuses to start, mounts nothing ---
# busy_start WHAT ARGS...: a second daemon with --http on the same port.
busy_start() {
	local what=$1 pid
	shift
	mkdir -p "$T/mnt2"
	_qfs_track_mount "$T/mnt2"
	"$QFS_BIN" --data "$T/data2" --http "$URL" "$@" "$T/mnt2" </dev/null >/dev/null 2>"$T/busy.err" &
	pid=$!
	_qfs_track_pid $pid
	if ! qfs_wait_exit $pid 10; then
		_fail_at 1 "$what: daemon with a busy --http port still running 10 s later"
		qfs_unmount "$T/mnt2"
		qfs_kill_pid $pid
		return 1
	fi
	[ "$QFS_EXIT_RC" -ne 0 ] || _fail_at 1 "$what: exit code 0 with a busy --http port"
	grep -q -- "--http $URL" "$T/busy.err" && grep -qi "address already in use" "$T/busy.err" ||
		_fail_at 1 "$what: message is '$(tr '\n' '|' <"$T/busy.err")', expected the URL and 'address already in use'"
	if qfs_is_mounted "$T/mnt2"; then
		_fail_at 1 "$what: a mount is left on $T/mnt2"
		qfs_unmount "$T/mnt2"
	fi
}
busy_start "foreground" -f
busy_start "daemonized"
code=$(fetch /health "$T/h")
check_eq "$code" 200 "the first daemon still serves /health"

# --- a bad URL ---
mkdir -p "$T/mnt3"
_qfs_track_mount "$T/mnt3"
"$QFS_BIN" -f --data "$T/data3" --http "tcp://127.0.0.1:$PORT" "$T/mnt3" </dev/null >/dev/null 2>"$T/bad.err" &
pid=$!
_qfs_track_pid $pid
if qfs_wait_exit $pid 10; then
	[ "$QFS_EXIT_RC" -ne 0 ] || fail "exit code 0 with --http tcp://..."
	grep -q "http://HOST:PORT" "$T/bad.err" || fail "--http tcp://...: message is '$(cat "$T/bad.err")'"
else
	fail "daemon with --http tcp://... still running 10 s later"
	qfs_kill_pid $pid
fi

# --- a clean stop also stops the server ---
qfs_stop
curl -s --max-time 5 -o /dev/null "$URL/health" && fail "/health still answers after the daemon stopped"

qfs_done
