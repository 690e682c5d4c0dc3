# cluster_lib.sh — harness for multi-node quorumfs tests (sourced by c*.sh).
# shellcheck shell=bash disable=SC2034
#
# Builds on lib.sh (same $T, watchdog, cleanup traps, fail/note/check_*). A
# test calls `cl_setup N` and then `cl_start I` for each node: node I is named
# nI, mounts $T/mI, keeps its state in $T/dI, logs to $T/nI.log and listens on
# tcp://127.0.0.1:${CL_PORT[I]}. Nodes 1..CL_VOTERS (default 3) are the
# bootstrap voters: each gets the same --peer list. `cl_start_join I J`
# starts node I with --join through node J instead.
#
# Every daemon is a child of the test shell (never start one in a subshell:
# cl_kill/cl_stop wait for it). Cleanup first SIGCONTs every daemon we may have
# SIGSTOPped, then lib.sh's cleanup unmounts and kills only our own PIDs.
#
# Environment: QUORUMFS_BIN, QUORUMCTL_BIN (default ../../build/src/ctl/
# quorumctl), QFS_TEST_TIMEOUT, QFS_KEEP=1 as in lib.sh; QFS_CORES=0 turns
# off core dumps (on by default: a daemon that dies on its own gets its
# backtrace printed when gdb is installed).

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QFS_CTL=${QUORUMCTL_BIN:-$QFS_SRC_DIR/build/src/ctl/quorumctl}
unset QUORUMCTL_BIN

CL_N=0
CL_VOTERS=3
CL_OPTS=(--write-timeout 2s)  # common daemon options (tests may change them before cl_start)
CL_NAME=() CL_PORT=() CL_URL=() CL_MNT=() CL_DATA=() CL_LOG=() CL_PID=()
CL_UP=()     # 1: daemon started and not deliberately killed/stopped
CL_PAUSED=() # 1: SIGSTOPped by the test
CL_LEADER="" # index set by cl_wait_leader

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# ----- setup -----------------------------------------------------------------

# cl_pick_ports N: N consecutive free TCP ports in 20000-32767 (below the
# ephemeral range, so no outgoing connection can be holding one), derived from
# our PID and checked against the listening sockets.
cl_pick_ports() {
	local n=$1 base try p busy listening
	listening=$(ss -Htanl 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
	base=$((20000 + ($$ * 37 + RANDOM) % 12000))
	for try in $(seq 1 200); do
		busy=0
		for p in $(seq "$base" $((base + n - 1))); do
			if grep -qx "$p" <<<"$listening"; then
				busy=1
				break
			fi
		done
		if [ $busy = 0 ]; then
			CL_PORT_BASE=$base
			return 0
		fi
		base=$((20000 + (base - 20000 + n + 17) % 12000))
	done
	die "no $n free ports found"
}

# cl_setup N: lib.sh setup, node tables for N nodes (1..N), cleanup hook.
cl_setup() {
	local n=$1 i
	qfs_setup
	[ -x "$QFS_CTL" ] || die "quorumctl '$QFS_CTL' not found (set QUORUMCTL_BIN)"
	command -v ss >/dev/null || die "ss is missing"
	trap cl_cleanup EXIT
	[ "${QFS_CORES:-1}" = 1 ] && ulimit -c unlimited 2>/dev/null
	CL_N=$n
	cl_pick_ports "$n"
	for i in $(seq 1 "$n"); do
		CL_NAME[i]=n$i
		CL_PORT[i]=$((CL_PORT_BASE + i - 1))
		CL_URL[i]=tcp://127.0.0.1:${CL_PORT[i]}
		CL_MNT[i]=$T/m$i
		CL_DATA[i]=$T/d$i
		CL_LOG[i]=$T/n$i.log
		CL_UP[i]=0
		CL_PAUSED[i]=0
		CL_PID[i]=""
		mkdir -p "${CL_MNT[i]}"
	done
	qfs_log "nodes on ports ${CL_PORT[1]}..${CL_PORT[n]} in $T"
}

# die (lib.sh), plus: say which daemons died on their own, with backtraces.
die() {
	echo "FAIL $(_qfs_at 1): $* (fatal)" >&2
	QFS_FAILS=$((QFS_FAILS + 1))
	cl_check_alive "when the test stopped"
	qfs_dump_log
	exit 1
}

cl_cleanup() {
	local rc=$? p
	if [ -n "$T" ] && [ -f "$T/.pids" ]; then
		while read -r p; do kill -CONT "$p" 2>/dev/null; done <"$T/.pids"
	fi
	(exit $rc)
	qfs_cleanup
}

# Daemon logs in failure reports: the last lines of every node's log.
qfs_dump_log() {
	local i
	[ -n "$T" ] || return 0
	for i in $(seq 1 "$CL_N"); do
		[ -s "${CL_LOG[i]}" ] || continue
		echo "---- last lines of ${CL_NAME[i]}'s log (${CL_LOG[i]}) ----" >&2
		tail -n "${CL_LOG_LINES:-15}" "${CL_LOG[i]}" >&2
	done
	echo "----" >&2
}

cl_peer_args() {
	local i
	for i in $(seq 1 "$CL_VOTERS"); do printf -- '--peer\n%s=%s\n' "${CL_NAME[i]}" "${CL_URL[i]}"; done
}

# _cl_launch I ARGS...: start node I's daemon with ARGS, wait until it serves.
_cl_launch() {
	local i=$1
	shift
	local args=(-f --name "${CL_NAME[i]}" --data "${CL_DATA[i]}" --listen "${CL_URL[i]}" "$@" "${CL_OPTS[@]}")
	mkdir -p "${CL_MNT[i]}"
	# A dead mount left by kill -9 (the daemon also detaches it by itself).
	qfs_is_mounted "${CL_MNT[i]}" && fusermount3 -uz "${CL_MNT[i]}" 2>/dev/null
	_qfs_track_mount "${CL_MNT[i]}"
	echo "=== $(date +%T.%N) start: $QFS_BIN ${args[*]} ${CL_MNT[i]}" >>"${CL_LOG[i]}"
	# Each daemon runs in its own directory: a core dump (core_pattern
	# "core") lands there and cl_check_alive shows its backtrace.
	mkdir -p "$T/cwd-${CL_NAME[i]}"
	(cd "$T/cwd-${CL_NAME[i]}" && exec "$QFS_BIN" "${args[@]}" "${CL_MNT[i]}") </dev/null >>"${CL_LOG[i]}" 2>&1 &
	CL_PID[i]=$!
	_qfs_track_pid "${CL_PID[i]}"
	CL_UP[i]=1
	CL_PAUSED[i]=0
	# CL_NOWAIT=1: do not wait for the mount (with -o linearizable even a
	# stat needs a quorum, so a lone first node cannot answer it yet).
	[ "${CL_NOWAIT:-0}" = 1 ] && return 0
	qfs_wait_serving "${CL_MNT[i]}" "${CL_PID[i]}" || {
		_fail_at 2 "${CL_NAME[i]} did not start serving ${CL_MNT[i]} within 10 s (${args[*]})"
		qfs_dump_log
		exit 1
	}
}

# cl_start I [EXTRA...]: start node I as a bootstrap voter (same --peer list
# for everyone).
cl_start() {
	local i=$1 peers
	shift
	mapfile -t peers < <(cl_peer_args)
	_cl_launch "$i" "${peers[@]}" "$@"
}

# cl_start_join I J [EXTRA...]: start node I joining through node J.
cl_start_join() {
	local i=$1 j=$2
	shift 2
	_cl_launch "$i" --join "${CL_URL[j]}" "$@"
}

# cl_start_all: start nodes 1..CL_VOTERS and wait for a leader.
cl_start_all() {
	local i
	for i in $(seq 1 "$CL_VOTERS"); do cl_start "$i"; done
	cl_wait_leader 15 || die "no leader elected within 15 s of starting $CL_VOTERS nodes"
}

# cl_kill I: kill -9 node I, wait for it, lazily unmount its dead mount.
cl_kill() {
	local i=$1
	kill -KILL "${CL_PID[i]}" 2>/dev/null
	qfs_wait_exit "${CL_PID[i]}" 10 || die "${CL_NAME[i]} (pid ${CL_PID[i]}) survived SIGKILL"
	CL_UP[i]=0
	CL_PAUSED[i]=0
	fusermount3 -uz "${CL_MNT[i]}" 2>/dev/null
	qfs_is_mounted "${CL_MNT[i]}" && umount -l "${CL_MNT[i]}" 2>/dev/null
	qfs_is_mounted "${CL_MNT[i]}" && die "dead mount ${CL_MNT[i]} could not be unmounted"
	return 0
}

# cl_stop I: clean stop (fusermount3 -u); the daemon must exit 0 within 10 s.
cl_stop() {
	local i=$1
	qfs_unmount "${CL_MNT[i]}" || _fail_at 1 "fusermount3 -u ${CL_MNT[i]} failed"
	CL_UP[i]=0
	if ! qfs_wait_exit "${CL_PID[i]}" 10; then
		_fail_at 1 "${CL_NAME[i]} (pid ${CL_PID[i]}) still running 10 s after fusermount3 -u"
		cl_stacks "$i"
		qfs_kill_pid "${CL_PID[i]}"
		return 1
	fi
	if [ "$QFS_EXIT_RC" != 0 ]; then
		_fail_at 1 "${CL_NAME[i]} exited $QFS_EXIT_RC after fusermount3 -u (expected 0)"
		[ "$QFS_EXIT_RC" -gt 128 ] && cl_backtrace "$i"
	fi
	return 0
}

cl_pause() {
	kill -STOP "${CL_PID[$1]}"
	CL_PAUSED[$1]=1
}
cl_cont() {
	kill -CONT "${CL_PID[$1]}"
	CL_PAUSED[$1]=0
}

# cl_live: indices of nodes that are up and not paused.
cl_live() {
	local i
	for i in $(seq 1 "$CL_N"); do
		[ "${CL_UP[i]}" = 1 ] && [ "${CL_PAUSED[i]}" = 0 ] && echo "$i"
	done
}

# cl_check_alive [WHAT]: every node we did not kill/stop must still run.
# A daemon that died by itself is a failure (with its exit status).
cl_check_alive() {
	local i ok=0 sig
	for i in $(seq 1 "$CL_N"); do
		[ "${CL_UP[i]}" = 1 ] || continue
		qfs_alive "${CL_PID[i]}" && continue
		qfs_wait_exit "${CL_PID[i]}" 1
		sig=""
		[ -n "$QFS_EXIT_RC" ] && [ "$QFS_EXIT_RC" -gt 128 ] && sig=" (signal $(kill -l $((QFS_EXIT_RC - 128)) 2>/dev/null))"
		_fail_at 1 "${1:+$1: }${CL_NAME[i]} (pid ${CL_PID[i]}) died on its own: exit status $QFS_EXIT_RC$sig"
		cl_backtrace "$i"
		CL_UP[i]=0
		fusermount3 -uz "${CL_MNT[i]}" 2>/dev/null
		ok=1
	done
	return $ok
}

# cl_done: every node still up must be alive, then stops cleanly
# (fusermount3 -u: exit 0 within 10 s, INTERFACE §1); then lib.sh's verdict.
# cl_backtrace I: the crashing thread's backtrace from node I's core dump
# (when core dumps are on and gdb is installed).
cl_backtrace() {
	local core
	core=$(ls -t "$T/cwd-${CL_NAME[$1]}"/core* 2>/dev/null | head -n 1)
	[ -n "$core" ] && command -v gdb >/dev/null || return 0
	echo "---- backtrace of ${CL_NAME[$1]} ($core) ----" >&2
	timeout -k 2 60 gdb -batch -ex 'bt 12' "$QFS_BIN" "$core" 2>/dev/null | grep '^#' | head -n 14 >&2
	echo "----" >&2
}

# cl_stacks I: the stacks of a running (hung) daemon, frames of our code only.
cl_stacks() {
	command -v gdb >/dev/null || return 0
	echo "---- threads of ${CL_NAME[$1]} (pid ${CL_PID[$1]}) ----" >&2
	timeout -k 2 60 gdb -batch -p "${CL_PID[$1]}" -ex 'thread apply all bt 10' "$QFS_BIN" 2>/dev/null |
		grep -E '^Thread|^#[0-9]+ .* (at|in) .*/(src|main)' | grep -B1 '^#' | grep -v '^--$' | head -n 40 >&2
	echo "----" >&2
}

cl_done() {
	local i
	cl_check_alive "at the end"
	for i in $(seq 1 "$CL_N"); do
		[ "${CL_UP[i]}" = 1 ] || continue
		[ "${CL_PAUSED[i]}" = 1 ] && cl_cont "$i"
		cl_stop "$i"
	done
	qfs_done
}

# ----- quorumctl --------------------------------------------------------------

# cl_ctl I ARGS...: quorumctl on node I (bounded).
cl_ctl() {
	local i=$1
	shift
	timeout -k 2 20 "$QFS_CTL" --data "${CL_DATA[i]}" "$@"
}

# cl_field I KEY: KEY from node I's `quorumctl status` (empty on error).
cl_field() {
	cl_ctl "$1" status 2>/dev/null | sed -n "s/^$2=//p"
}

# cl_metric I NAME{LABELS}: that sample of node I's .metrics (0 when absent).
cl_metric() {
	local v
	v=$(timeout -k 2 10 cat "${CL_MNT[$1]}/.metrics" 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }')
	echo "${v:-0}"
}

# cl_applied I: applied index of node I (0 on error).
cl_applied() {
	local a
	a=$(cl_field "$1" applied)
	echo "${a:-0}"
}

# cl_wait_leader [BOUND] : wait until a live node says role=leader with
# quorum=yes and every live node names it as leader. Sets CL_LEADER.
cl_wait_leader() {
	local bound=${1:-10} end i st name lead agree
	end=$(($(now_ms) + bound * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		lead=""
		for i in $(cl_live); do
			st=$(cl_ctl "$i" status 2>/dev/null) || continue
			if grep -qx 'role=leader' <<<"$st" && grep -qx 'quorum=yes' <<<"$st"; then
				lead=$i
			fi
		done
		if [ -n "$lead" ]; then
			agree=1
			for i in $(cl_live); do
				name=$(cl_field "$i" leader)
				[ "$name" = "${CL_NAME[lead]}" ] || agree=0
			done
			if [ $agree = 1 ]; then
				CL_LEADER=$lead
				return 0
			fi
		fi
		sleep 0.1
	done
	return 1
}

# cl_wait_applied TARGET BOUND NODES...: wait until every listed node's applied
# index is >= TARGET. Returns 1 (and lists the laggards in CL_LAG) on timeout.
cl_wait_applied() {
	local target=$1 bound=$2 end i a
	shift 2
	end=$(($(now_ms) + bound * 1000))
	while :; do
		CL_LAG=""
		for i in "$@"; do
			a=$(cl_applied "$i")
			[ "$a" -ge "$target" ] || CL_LAG+=" ${CL_NAME[i]}(applied=$a)"
		done
		[ -z "$CL_LAG" ] && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# cl_sync FROM BOUND [NODES...]: wait until NODES (default: all live ones)
# applied everything node FROM has applied now. Records a failure on timeout.
cl_sync() {
	local from=$1 bound=$2 target nodes
	shift 2
	if [ $# -gt 0 ]; then nodes=("$@"); else mapfile -t nodes < <(cl_live); fi
	target=$(cl_applied "$from")
	[ "$target" -gt 0 ] || {
		_fail_at 1 "status of ${CL_NAME[from]} unreadable (applied=$target)"
		return 1
	}
	cl_wait_applied "$target" "$bound" "${nodes[@]}" && return 0
	_fail_at 1 "nodes did not apply up to ${CL_NAME[from]}'s index $target within ${bound}s:$CL_LAG"
	cl_check_alive "while waiting for them"
	return 1
}

# ----- trees ------------------------------------------------------------------

# cl_tree I: every entry (type, path) and every file's sha256, sorted
# (bounded: a hung mount gives a timeout line instead of hanging the test).
CL_TREE_SCRIPT='cd "$1" && { find . -mindepth 1 -printf "%y %p\n" | sort; find . -type f -print0 | sort -z | xargs -0 -r sha256sum; }'
cl_tree() {
	timeout -k 5 120 bash -c "$CL_TREE_SCRIPT" _ "${CL_MNT[$1]}" 2>&1 || echo "(listing ${CL_MNT[$1]} failed: $?)"
}

# cl_check_same_tree WHAT NODES...: all listed nodes show the same tree. (Call
# after cl_sync: a node that applied a change must show it.)
cl_check_same_tree() {
	local what=$1 first i ref got nfiles d
	shift
	first=$1
	ref=$(cl_tree "$first")
	nfiles=$(grep -c '^f ' <<<"$ref")
	for i in "${@:2}"; do
		got=$(cl_tree "$i")
		if [ "$got" != "$ref" ]; then
			d=$(diff <(echo "$ref") <(echo "$got") | grep '^[<>]')
			_fail_at 1 "$what: tree of ${CL_NAME[i]} differs from ${CL_NAME[first]}'s ($nfiles files; $(grep -c . <<<"$d") lines differ): $(head -n 6 <<<"$d" | tr '\n' '|')"
			cl_check_alive "during the tree comparison"
			return 1
		fi
	done
	qfs_log "$what: same tree on $(for i in "$@"; do printf '%s ' "${CL_NAME[i]}"; done)($nfiles files)"
	return 0
}

# ----- writes -------------------------------------------------------------------

# cl_write_retry FILE VALUE BOUND: write VALUE (echo) until it succeeds or
# BOUND seconds pass; sets CL_TRIES. Returns 1 on timeout.
cl_write_retry() {
	local f=$1 v=$2 bound=$3 end
	end=$(($(now_ms) + bound * 1000))
	CL_TRIES=0
	while :; do
		CL_TRIES=$((CL_TRIES + 1))
		{ echo "$v" >"$f"; } 2>/dev/null && return 0
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
