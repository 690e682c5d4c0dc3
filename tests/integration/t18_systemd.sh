#!/bin/bash
# shellcheck source=tests/integration/lib.sh
# The systemd service (INTERFACE §1, systemd/quorumfs.service): the unit
# passes `systemd-analyze verify`; quorumfs speaks sd_notify(3) as systemd
# expects from Type=notify + WatchdogSec=.  systemd is not PID 1 here, so
# notify_listener.py plays the manager: a datagram socket in $NOTIFY_SOCKET
# (a path, and an '@' abstract name), recording the sender's pid.
#   READY=1 once the mount serves; WATCHDOG=1 every WATCHDOG_USEC/2 from the
#   node loop, and none while the process is stopped (SIGSTOP); STOPPING=1 on
#   SIGTERM, then a clean unmount and exit 0; no fork under $NOTIFY_SOCKET;
#   no pings when $WATCHDOG_PID names another process; a dead socket is not
#   fatal; the unit's ExecStartPre/ExecStart/ExecStopPost command lines work
#   as written (paths substituted), ExecStopPost clearing a killed daemon's
#   mount.
. "$(dirname "$0")/lib.sh"
qfs_setup

UNIT=$QFS_SRC_DIR/systemd/quorumfs.service
CONF=$QFS_SRC_DIR/systemd/quorumfs.conf
LISTENER=$QFS_SRC_DIR/tests/integration/notify_listener.py
[ -f "$UNIT" ] || die "no unit file at $UNIT"

# unit_value KEY: the value of the first KEY= line of the unit.
unit_value() { sed -n "s/^$1=//p" "$UNIT" | head -n 1; }
# unit_cmd KEY: that command line as this test runs it: the leading '-' (ignore
# failure) dropped, ${MOUNTPOINT} -> $M, the installed paths -> ours.
unit_cmd() {
	local c
	c=$(unit_value "$1")
	c=${c#-}
	# shellcheck disable=SC2016 # the literal text ${MOUNTPOINT}
	c=${c//'${MOUNTPOINT}'/$M}
	c=${c//\/usr\/bin\/quorumfs/$QFS_BIN}
	c=${c//\/etc\/quorumfs\/quorumfs.conf/$T/quorumfs.conf}
	echo "$c"
}

# --- the unit: what it says, and systemd-analyze verify ---
check_eq "$(unit_value Type)" notify "Type="
check_eq "$(unit_value Restart)" on-failure "Restart="
[ -n "$(unit_value WatchdogSec)" ] || fail "no WatchdogSec= in the unit"
start_line=$(unit_value ExecStart)
[[ "$start_line" == /usr/bin/quorumfs\ -f\ * ]] || fail "ExecStart does not run /usr/bin/quorumfs -f: $start_line"
[[ "$start_line" == *"--config /etc/quorumfs/quorumfs.conf"* ]] || fail "ExecStart does not read /etc/quorumfs/quorumfs.conf: $start_line"
[[ "$(unit_value Environment)" == MOUNTPOINT=/cluster ]] || fail "MOUNTPOINT is not /cluster: $(unit_value Environment)"

if ! command -v systemd-analyze >/dev/null; then
	fail "systemd-analyze is missing (scripts/deps.sh installs the systemd package)"
else
	# verify insists that ExecStart's binary exists and that the
	# Documentation= man pages are found: a copy of the unit runs the built
	# binary (the installed unit, path and all, is verified by t19_package),
	# and MANPATH points at the pages of the source tree.
	mkdir -p "$T/unit" "$T/man/man8"
	cp "$QFS_SRC_DIR"/man/*.8 "$T/man/man8/" 2>/dev/null
	sed "s|/usr/bin/quorumfs|$QFS_BIN|" "$UNIT" >"$T/unit/quorumfs.service"
	out=$(cd "$T/unit" && MANPATH=$T/man timeout 60 systemd-analyze verify ./quorumfs.service 2>&1)
	rc=$?
	check_eq "$rc" 0 "systemd-analyze verify exit code (output: $out)"
	[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
fi

# The shipped config: every key it shows (uncommented) is one quorumfs knows.
grep -Eq '^# *[a-z-]+ = ' "$CONF" || fail "$CONF shows no commented defaults"
grep -Ev '^# *(join|mountpoint) = ' "$CONF" | sed -E 's/^# *([a-z-]+ = )/\1/' | grep -E '^[a-z-]+ = ' >"$T/all.conf"
check_ok "every key of the shipped quorumfs.conf, uncommented, parses" -- "$QFS_BIN" --config "$T/all.conf" --help
# ... and it shows every setting of --help (not the command-line-only ones).
for opt in $("$QFS_BIN" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' | grep -oE -- '--[a-z-]+'); do
	case $opt in --help | --version | --config | --foreground) continue ;; esac
	grep -qE "^# *${opt#--} = " "$CONF" || fail "the shipped quorumfs.conf does not show ${opt#--} (in --help)"
done
# The shipped file itself, plus a data dir of ours, is what the daemon reads.
{ cat "$CONF"; echo "data = $QFS_DATA"; } >"$T/quorumfs.conf"

# --- the manager's side ---
NOTES=$T/notify.log
# listen SOCKET: (re)start the listener, writing to $NOTES afresh.
LISTENER_PID=""
listen() {
	[ -n "$LISTENER_PID" ] && qfs_kill_pid "$LISTENER_PID" 2
	rm -f "$NOTES" "$NOTES.ready"
	[[ "$1" == @* ]] || rm -f "$1"
	python3 "$LISTENER" "$1" "$NOTES" </dev/null 2>>"$T/listener.err" &
	LISTENER_PID=$!
	qfs_helper "$LISTENER_PID"
	local i
	for i in $(seq 1 50); do
		[ -s "$NOTES.ready" ] && return 0
		sleep 0.1
	done
	die "notify listener did not bind $1: $(cat "$T/listener.err")"
}
# count WHAT [PID]: datagrams containing WHAT (from PID) so far.
count() {
	awk -v w="$1" -v p="${2:-}" '(p == "" || $2 == p) && index($3, w) { n++ } END { print n + 0 }' "$NOTES" 2>/dev/null
}
# wait_for WHAT SECONDS: until a datagram with WHAT arrived.
wait_for() {
	local i
	for i in $(seq 1 $(($2 * 20))); do
		[ "$(count "$1")" -gt 0 ] && return 0
		sleep 0.05
	done
	return 1
}
# start_daemon ENV... -- ARGS...: the daemon as its own pid ($QFS_PID, known
# before exec, for WATCHDOG_PID=self) with extra environment.
start_daemon() {
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	_qfs_track_mount "$M"
	echo "=== systemd-style start: ${envs[*]} $*" >>"$QFS_LOG"
	(
		for e in "${envs[@]}"; do
			[ "$e" = WATCHDOG_PID=self ] && e=WATCHDOG_PID=$BASHPID
			export "${e?}"
		done
		exec "$@" </dev/null >>"$QFS_LOG" 2>&1
	) &
	QFS_PID=$!
	_qfs_track_pid "$QFS_PID"
}

# --- Type=notify with the watchdog, as the unit runs it ---
SOCK=$T/notify.sock
listen "$SOCK"
eval "$(unit_cmd ExecStartPre)" || fail "ExecStartPre failed: $(unit_cmd ExecStartPre)"
[ -d "$M" ] || fail "ExecStartPre did not create the mount point"
read -ra start_argv <<<"$(unit_cmd ExecStart)"
start_daemon NOTIFY_SOCKET="$SOCK" WATCHDOG_USEC=400000 WATCHDOG_PID=self -- "${start_argv[@]}"
if ! wait_for READY=1 10; then
	die "no READY=1 within 10 s (datagrams: $(cat "$NOTES" 2>/dev/null))"
fi
# READY=1 means "serving": the mount answers now, not later.
qfs_is_mounted "$M" || fail "READY=1 arrived before the mount appeared"
timeout 5 stat "$M" >/dev/null 2>&1 || fail "READY=1 arrived but stat of the mount failed"
echo ready >"$M/k" 2>/dev/null || fail "READY=1 arrived but a write failed"
check_content "$M/k" $'ready\n' "read right after READY=1"
check_eq "$(count READY=1 "$QFS_PID")" 1 "READY=1 datagrams from the daemon's own pid ($QFS_PID)"
grep -q "READY=1|STATUS=.*serving $M" "$NOTES" || fail "READY=1 came without a STATUS= naming the mount: $(cat "$NOTES")"
qfs_alive "$QFS_PID" || die "the daemon (pid $QFS_PID) is gone: it forked or exited"

# WATCHDOG_USEC=400000: a ping every 200 ms, from the daemon's pid.
n0=$(count WATCHDOG=1 "$QFS_PID")
sleep 1.5
n1=$(count WATCHDOG=1 "$QFS_PID")
[ $((n1 - n0)) -ge 3 ] || fail "only $((n1 - n0)) WATCHDOG=1 pings in 1.5 s with WATCHDOG_USEC=400000 (expected >= 3)"
others=$(awk -v p="$QFS_PID" '$2 != p' "$NOTES")
[ -z "$others" ] || fail "datagrams from a pid other than the daemon's ($QFS_PID): $others"
qfs_log "$((n1 - n0)) WATCHDOG=1 pings in 1.5 s (WATCHDOG_USEC=400000)"

# A stopped process sends nothing (what lets systemd catch a wedged daemon).
kill -STOP "$QFS_PID"
sleep 0.5 # a datagram already sent may still be read
s0=$(count WATCHDOG=1)
sleep 1.2
s1=$(count WATCHDOG=1)
kill -CONT "$QFS_PID"
check_eq "$((s1 - s0))" 0 "WATCHDOG=1 pings while the daemon was SIGSTOPped"
qfs_log "$((s1 - s0)) pings while SIGSTOPped for 1.2 s"
sleep 1.5
s2=$(count WATCHDOG=1)
[ $((s2 - s1)) -ge 3 ] || fail "only $((s2 - s1)) WATCHDOG=1 pings in 1.5 s after SIGCONT (expected >= 3)"
check_content "$M/k" $'ready\n' "read after SIGSTOP/SIGCONT"

# SIGTERM (systemctl stop): STOPPING=1, unmount, exit 0.
kill -TERM "$QFS_PID"
if qfs_wait_exit "$QFS_PID" 10; then
	check_eq "$QFS_EXIT_RC" 0 "exit code after SIGTERM"
else
	fail "daemon still running 10 s after SIGTERM"
fi
check_eq "$(count STOPPING=1 "$QFS_PID")" 1 "STOPPING=1 datagrams from the daemon after SIGTERM"
awk '/READY=1/ { r = NR } /STOPPING=1/ { s = NR } END { exit !(r && s > r) }' "$NOTES" ||
	fail "STOPPING=1 did not follow READY=1: $(cat "$NOTES")"
qfs_is_mounted "$M" && fail "still mounted after SIGTERM"
eval "$(unit_cmd ExecStopPost)" || fail "ExecStopPost failed after a clean stop: $(unit_cmd ExecStopPost)"

# --- abstract socket, no -f: still no fork; WATCHDOG_PID of another process:
# no pings; then a crash, and ExecStopPost clears the dead mount ---
ABSTRACT=@qfs-t18-$$-$RANDOM
listen "$ABSTRACT"
start_daemon NOTIFY_SOCKET="$ABSTRACT" WATCHDOG_USEC=400000 WATCHDOG_PID=1 -- \
	"$QFS_BIN" --config "$T/quorumfs.conf" "$M"
wait_for READY=1 10 || die "no READY=1 on the abstract socket $ABSTRACT within 10 s"
qfs_serving "$M" || fail "READY=1 on the abstract socket, but the mount does not serve"
check_eq "$(count READY=1 "$QFS_PID")" 1 "READY=1 from the started process itself (no fork without -f under \$NOTIFY_SOCKET)"
qfs_alive "$QFS_PID" || fail "without -f under \$NOTIFY_SOCKET the started process exited (it forked)"
sleep 1
check_eq "$(count WATCHDOG=1)" 0 "WATCHDOG=1 pings although WATCHDOG_PID names another process"
check_content "$M/k" $'ready\n' "data after restart"
kill -KILL "$QFS_PID"
qfs_wait_exit "$QFS_PID" 10 || die "daemon survived SIGKILL"
qfs_is_mounted "$M" || fail "no dead mount left after SIGKILL (nothing for ExecStopPost to do)"
eval "$(unit_cmd ExecStopPost)" || fail "ExecStopPost failed: $(unit_cmd ExecStopPost)"
qfs_is_mounted "$M" && fail "ExecStopPost left the dead mount of a killed daemon"

# --- a manager that is gone ($NOTIFY_SOCKET names no socket) or absent: the
# daemon serves all the same ---
kill -TERM "$LISTENER_PID"
qfs_launch NOTIFY_SOCKET="$T/nobody.sock" WATCHDOG_USEC=200000 -- -f --config "$T/quorumfs.conf" "$M"
check_content "$M/k" $'ready\n' "serving with a dead \$NOTIFY_SOCKET"
sleep 0.5
qfs_alive "$QFS_PID" || fail "the daemon died pinging a dead \$NOTIFY_SOCKET"
qfs_stop
qfs_done
