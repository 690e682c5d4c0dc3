# lib.sh — harness for quorumfs integration tests (sourced by every t*.sh).
# shellcheck shell=bash disable=SC2034
#
# Each test gets its own temp dir $T (mktemp -d under /tmp), starts daemons in
# the foreground in the background (remembering their PIDs), and on EXIT/INT/TERM
# always unmounts what it mounted, kills only the PIDs it started and removes $T.
# A watchdog bounds the whole test: on timeout it SIGKILLs our daemons (which
# aborts the FUSE connection, so any request stuck in the kernel returns) and
# then SIGTERMs the test shell so the cleanup trap runs.
#
# Exit codes: 0 pass, 1 fail, 77 skip (only when /dev/fuse or fusermount3 is
# missing). Checks record a failure and go on; `die` stops the test at once.
#
# Environment: QUORUMFS_BIN (the daemon; default ../../build/quorumfs),
# QFS_TEST_TIMEOUT (seconds, default 110), QFS_KEEP=1 keeps $T for debugging
# (mounts and processes are still cleaned up).
# Never use a bare `wait` in a test: it would wait for the watchdog too.

set -u -o pipefail
export LC_ALL=C

QFS_TEST=$(basename "$0" .sh)
QFS_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QFS_BIN=${QUORUMFS_BIN:-$QFS_SRC_DIR/build/quorumfs}
# The daemon reads QUORUMFS_<OPTION> from its environment: never hand it ours.
unset QUORUMFS_BIN
for _v in $(compgen -e | grep '^QUORUMFS_' || true); do unset "$_v"; done
# Nor a service manager's: under $NOTIFY_SOCKET the daemon never forks.
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
QFS_FAILS=0
QFS_MOUNTS=()
T=""
QFS_WATCHDOG=""
# Default value limit (INTERFACE §2, --value-max default).
QFS_VALUE_MAX=${QFS_VALUE_MAX:-1048576}

qfs_log() { echo "[$QFS_TEST] $*" >&2; }

# ----- results -------------------------------------------------------------

# Location of the caller's caller: "file:line".
_qfs_at() {
	local depth=${1:-1}
	echo "${BASH_SOURCE[$((depth + 1))]##*/}:${BASH_LINENO[$depth]}"
}

# fail MSG: record a failure at the caller's line and go on.
fail() {
	echo "FAIL $(_qfs_at 1): $*" >&2
	QFS_FAILS=$((QFS_FAILS + 1))
}
_fail_at() { # depth msg
	local d=$(($1 + 1))
	shift
	echo "FAIL $(_qfs_at $d): $*" >&2
	QFS_FAILS=$((QFS_FAILS + 1))
}

# die MSG: record a failure and stop the test now.
die() {
	echo "FAIL $(_qfs_at 1): $* (fatal)" >&2
	QFS_FAILS=$((QFS_FAILS + 1))
	qfs_dump_log
	exit 1
}

skip() {
	echo "SKIP [$QFS_TEST]: $*" >&2
	exit 77
}

note() { echo "NOTE [$QFS_TEST] $(_qfs_at 1): $*" >&2; }

# check_eq ACTUAL EXPECTED WHAT
check_eq() {
	if [ "$1" != "$2" ]; then
		_fail_at 1 "$3: expected '$(_qfs_short "$2")', got '$(_qfs_short "$1")'"
		return 1
	fi
}

_qfs_short() {
	local s=$1
	if [ ${#s} -gt 200 ]; then
		echo "${s:0:200}...(${#s} bytes)"
	else
		echo "$s"
	fi
}

# check_ok WHAT -- CMD...: CMD must exit 0 (within 60 s).
check_ok() {
	local what=$1
	shift
	[ "$1" = "--" ] && shift
	local err rc
	err=$(timeout -k 5 60 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 0 ]; then
		_fail_at 1 "$what: '$(_qfs_short "$*")' exited $rc: $(_qfs_short "$err")"
		return 1
	fi
}

# check_fails ERRTEXT WHAT -- CMD...: CMD must exit non-zero and its stderr
# must contain ERRTEXT (e.g. "File too large"); ERRTEXT "" accepts any message.
check_fails() {
	local errtext=$1 what=$2
	shift 2
	[ "$1" = "--" ] && shift
	local err rc
	err=$(timeout -k 5 60 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 0 ]; then
		_fail_at 1 "$what: '$(_qfs_short "$*")' succeeded, expected failure${errtext:+ with \"$errtext\"}"
		return 1
	fi
	if [ -n "$errtext" ] && [[ "$err" != *"$errtext"* ]]; then
		_fail_at 1 "$what: '$(_qfs_short "$*")' failed (rc $rc) but with '$(_qfs_short "$err")', expected \"$errtext\""
		return 1
	fi
}

# check_content FILE EXPECTED WHAT (compares the exact bytes, trailing newlines too)
check_content() {
	local got
	got=$(timeout -k 5 30 cat -v "$1" 2>&1; echo x)
	got=${got%x}
	if [ "$got" != "$2" ]; then
		_fail_at 1 "$3: content of ${1#"$T"/} is '$(_qfs_short "$got")', expected '$(_qfs_short "$2")'"
		return 1
	fi
}

qfs_done() {
	if [ "$QFS_FAILS" -gt 0 ]; then
		echo "[$QFS_TEST] FAILED: $QFS_FAILS check(s)" >&2
		qfs_dump_log
		exit 1
	fi
	echo "[$QFS_TEST] PASS" >&2
	exit 0
}

qfs_dump_log() {
	[ -n "$T" ] && [ -s "$T/daemon.log" ] || return 0
	echo "---- last lines of daemon log ($T/daemon.log) ----" >&2
	tail -n 30 "$T/daemon.log" >&2
	echo "----" >&2
}

# ----- processes and mounts ------------------------------------------------

qfs_alive() { # PID: running and not a zombie
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Is DIR a mount point in our mount table (also when its daemon is dead)?
qfs_is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# Mounted and answering: the mount is in the table and a stat of the root works.
qfs_serving() {
	qfs_is_mounted "$1" && timeout -k 2 5 mountpoint -q "$1" && timeout -k 2 5 stat "$1" >/dev/null 2>&1
}

_qfs_track_pid() { echo "$1" >>"$T/.pids"; }
_qfs_track_mount() {
	local m
	for m in "${QFS_MOUNTS[@]}"; do [ "$m" = "$1" ] && return 0; done
	QFS_MOUNTS+=("$1")
	echo "$1" >>"$T/.mounts"
}

# Unmount DIR: fusermount3 -u (retried while busy), then -uz as a last resort.
qfs_unmount() {
	local m=$1 i
	qfs_is_mounted "$m" || return 0
	for i in $(seq 1 20); do
		fusermount3 -u "$m" 2>/dev/null && return 0
		qfs_is_mounted "$m" || return 0
		sleep 0.25
	done
	fusermount3 -uz "$m" 2>/dev/null
	qfs_is_mounted "$m" && umount -l "$m" 2>/dev/null
	! qfs_is_mounted "$m"
}

# Stop PID: SIGTERM, then SIGKILL after BOUND seconds (default 5).
qfs_kill_pid() {
	local pid=$1 bound=${2:-5} i
	qfs_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 $((bound * 10))); do
		qfs_alive "$pid" || return 0
		sleep 0.1
	done
	qfs_log "pid $pid ignored SIGTERM for ${bound}s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		qfs_alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}

qfs_cleanup() {
	local rc=$? m p
	trap - EXIT INT TERM
	[ -n "$QFS_WATCHDOG" ] && kill -TERM "$QFS_WATCHDOG" 2>/dev/null
	[ -n "$T" ] && [ -d "$T" ] || exit $rc
	# Background helpers of the test (writers, readers) first, then daemons.
	if [ -f "$T/.helpers" ]; then
		while read -r p; do qfs_kill_pid "$p" 2; done <"$T/.helpers"
	fi
	if [ -f "$T/.mounts" ]; then
		while read -r m; do qfs_unmount "$m" || qfs_log "could not unmount $m"; done <"$T/.mounts"
	fi
	if [ -f "$T/.pids" ]; then
		while read -r p; do qfs_kill_pid "$p" 5; done <"$T/.pids"
	fi
	if [ -f "$T/.mounts" ]; then # a killed daemon leaves a dead mount
		while read -r m; do qfs_unmount "$m" || qfs_log "could not unmount $m"; done <"$T/.mounts"
	fi
	if [ "${QFS_KEEP:-0}" = 1 ]; then
		qfs_log "kept $T"
	else
		rm -rf --one-file-system "$T" 2>/dev/null
	fi
	exit $rc
}

# Remember a background helper (e.g. a writer loop) so cleanup stops it.
qfs_helper() { echo "$1" >>"$T/.helpers"; }

# qfs_setup: check prerequisites, make $T, arm the traps and the watchdog.
qfs_setup() {
	[ -e /dev/fuse ] || skip "/dev/fuse is missing"
	command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 is missing"
	[ -x "$QFS_BIN" ] || {
		echo "FAIL [$QFS_TEST]: daemon binary '$QFS_BIN' not found (set QUORUMFS_BIN)" >&2
		exit 1
	}
	T=$(mktemp -d /tmp/qfs-it-"$QFS_TEST".XXXXXX) || exit 1
	: >"$T/.pids"
	: >"$T/.mounts"
	: >"$T/.helpers"
	QFS_MNT=$T/mnt
	QFS_DATA=$T/data
	QFS_LOG=$T/daemon.log
	M=$QFS_MNT
	mkdir -p "$QFS_MNT"
	trap qfs_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	local limit=${QFS_TEST_TIMEOUT:-110} main=$$
	(
		trap - EXIT INT TERM
		end=$((SECONDS + limit))
		while [ $SECONDS -lt $end ]; do
			sleep 0.5
			kill -0 "$main" 2>/dev/null || exit 0
		done
		echo "FAIL [$QFS_TEST]: test timed out after ${limit}s; killing its daemons" >&2
		while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$T/.helpers"
		while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$T/.pids"
		kill -TERM "$main" 2>/dev/null
	) &
	QFS_WATCHDOG=$!
}

# qfs_start [DAEMON OPTIONS...]: start the daemon in the foreground (in the
# background of this shell) with --data $QFS_DATA on $QFS_MNT, wait (bounded)
# until the mount serves. Sets QFS_PID.
qfs_start() {
	mkdir -p "$QFS_MNT"
	_qfs_track_mount "$QFS_MNT"
	echo "=== start: $QFS_BIN -f --data $QFS_DATA $* $QFS_MNT" >>"$QFS_LOG"
	"$QFS_BIN" -f --data "$QFS_DATA" "$@" "$QFS_MNT" </dev/null >>"$QFS_LOG" 2>&1 &
	QFS_PID=$!
	_qfs_track_pid "$QFS_PID"
	qfs_wait_serving "$QFS_MNT" "$QFS_PID" || {
		_fail_at 1 "daemon did not start serving $QFS_MNT within 10 s (options: $*)"
		qfs_dump_log
		exit 1
	}
}

# qfs_wait_serving MNT PID: up to 10 s for the mount to serve while PID lives.
qfs_wait_serving() {
	local m=$1 pid=$2 i
	for i in $(seq 1 100); do
		if ! qfs_alive "$pid"; then
			qfs_log "daemon pid $pid exited before serving $m"
			return 1
		fi
		qfs_serving "$m" && return 0
		sleep 0.1
	done
	return 1
}

# qfs_wait_exit PID [BOUND]: wait (bounded) until our child PID exits; sets
# QFS_EXIT_RC to its exit status. Returns 1 if it is still running after BOUND
# s (default 10). Must not run in a subshell (wait needs the parent).
qfs_wait_exit() {
	local pid=$1 bound=${2:-10} i
	QFS_EXIT_RC=""
	for i in $(seq 1 $((bound * 10))); do
		qfs_alive "$pid" || break
		sleep 0.1
	done
	qfs_alive "$pid" && return 1
	wait "$pid" 2>/dev/null
	QFS_EXIT_RC=$?
	return 0
}

# qfs_stop: unmount with fusermount3 -u and check the daemon exits 0.
qfs_stop() {
	qfs_unmount "$QFS_MNT" || _fail_at 1 "fusermount3 -u $QFS_MNT failed"
	qfs_wait_exit "$QFS_PID" 10 || {
		_fail_at 1 "daemon pid $QFS_PID still running 10 s after fusermount3 -u"
		qfs_kill_pid "$QFS_PID"
		return 1
	}
	[ "$QFS_EXIT_RC" = 0 ] || _fail_at 1 "daemon exited $QFS_EXIT_RC after fusermount3 -u (expected 0)"
	qfs_is_mounted "$QFS_MNT" && _fail_at 1 "$QFS_MNT still mounted after stop"
	return 0
}

# qfs_crash: kill -9 the daemon, lazily unmount its dead mount.
qfs_crash() {
	kill -KILL "$QFS_PID" 2>/dev/null
	qfs_wait_exit "$QFS_PID" 10 || die "daemon $QFS_PID survived SIGKILL"
	fusermount3 -uz "$QFS_MNT" 2>/dev/null
	qfs_is_mounted "$QFS_MNT" && umount -l "$QFS_MNT" 2>/dev/null
	qfs_is_mounted "$QFS_MNT" && die "dead mount $QFS_MNT could not be unmounted"
	return 0
}

qfs_restart() {
	qfs_stop
	qfs_start "$@"
}

# ----- data helpers ---------------------------------------------------------

# rep CHAR N: a string of N copies of CHAR.
rep() {
	head -c "$2" /dev/zero | tr '\0' "$1"
}

# xattr FILE NAME: value of user.quorumfs.NAME (empty on error)
qfs_xattr() {
	getfattr --only-values -n "user.quorumfs.$2" "$1" 2>/dev/null
}

# qfs_make_tree DIR NFILES [SEED]: a local tree of NFILES files with random
# sizes (mostly small, some up to 300 KB), random contents, nested dirs
# (up to 4 levels), assorted modes and some old mtimes. Deterministic names
# and sizes for a given SEED.
qfs_make_tree() {
	local dir=$1 n=$2 i d sz r
	RANDOM=${3:-42}
	mkdir -p "$dir"
	local dirs=(".")
	for i in $(seq 1 40); do
		d=${dirs[$((RANDOM % ${#dirs[@]}))]}/d$i
		mkdir -p "$dir/$d"
		dirs+=("$d")
	done
	for i in $(seq 1 "$n"); do
		d=${dirs[$((RANDOM % ${#dirs[@]}))]}
		r=$((RANDOM % 100))
		if [ $r -lt 5 ]; then
			sz=$((RANDOM * 9 % 300000))
		elif [ $r -lt 30 ]; then
			sz=$((RANDOM * 2 % 65536))
		elif [ $r -lt 33 ]; then
			sz=0
		else
			sz=$((RANDOM % 2000))
		fi
		head -c "$sz" /dev/urandom >"$dir/$d/f$i.dat"
		case $((i % 5)) in
		0) chmod 600 "$dir/$d/f$i.dat" ;;
		1) chmod 755 "$dir/$d/f$i.dat" ;;
		2) chmod 640 "$dir/$d/f$i.dat" ;;
		*) chmod 644 "$dir/$d/f$i.dat" ;;
		esac
		[ $((i % 10)) -eq 0 ] && touch -d "@$((1500000000 + i * 1000))" "$dir/$d/f$i.dat"
	done
	chmod 700 "$dir/d3" 2>/dev/null
	return 0
}

# qfs_tree_meta DIR: one line per entry: path type mode size mtime(seconds)
# (directory sizes differ between file systems: not compared)
qfs_tree_meta() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %T@\n' |
		awk '{ sub(/\..*/, "", $5); if ($2 == "d") $4 = "-"; print }' | sort) 2>&1
}
# mtime of files only (directory mtimes change when entries are added after them)
qfs_tree_meta_files() {
	(cd "$1" && find . -mindepth 1 -type f -printf '%p %m %s %T@\n' | awk '{ sub(/\..*/, "", $4); print }' | sort) 2>&1
}
qfs_tree_sums() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) 2>&1
}

# qfs_launch [VAR=VALUE...] -- ARGS...: start "$QFS_BIN" ARGS... in the
# background with extra environment, on $QFS_MNT (which the caller includes in
# ARGS where it wants it); waits until the mount serves. Sets QFS_PID.
qfs_launch() {
	local envs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && shift
	mkdir -p "$QFS_MNT"
	_qfs_track_mount "$QFS_MNT"
	echo "=== launch: ${envs[*]} $QFS_BIN $*" >>"$QFS_LOG"
	env "${envs[@]}" "$QFS_BIN" "$@" </dev/null >>"$QFS_LOG" 2>&1 &
	QFS_PID=$!
	_qfs_track_pid "$QFS_PID"
	qfs_wait_serving "$QFS_MNT" "$QFS_PID" || {
		_fail_at 1 "daemon did not start serving $QFS_MNT within 10 s (${envs[*]} $*)"
		qfs_dump_log
		exit 1
	}
}
