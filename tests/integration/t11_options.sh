#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# The command line (INTERFACE §1): --version, --help, unknown options, --config,
# QUORUMFS_* environment, -o, data dir creation, SIGTERM and fusermount3 -u
# (clean unmount, exit 0), and daemonizing (without -f the parent exits 0 only
# once the mount serves; the daemon stops on SIGTERM).
. "$(dirname "$0")/lib.sh"
qfs_setup

# --- --version, --help, bad usage ---
out=$(timeout 10 "$QFS_BIN" --version 2>&1)
rc=$?
check_eq "$rc" 0 "--version exit code"
[[ "$out" =~ [0-9]+\.[0-9]+ ]] || fail "--version printed no version number: '$out'"
out=$(timeout 10 "$QFS_BIN" --help 2>&1)
rc=$?
check_eq "$rc" 0 "--help exit code"
for opt in --data --name --config --foreground; do
	[[ "$out" == *"$opt"* ]] || fail "--help does not mention $opt"
done
# bad_usage WHAT ARGS...: the daemon must exit non-zero within 5 s with a
# message on stderr and mount nothing.
bad_usage() {
	local what=$1 pid
	shift
	_qfs_track_mount "$QFS_MNT"
	"$QFS_BIN" "$@" </dev/null >/dev/null 2>"$T/bad.err" &
	pid=$!
	_qfs_track_pid $pid
	if ! qfs_wait_exit $pid 5; then
		_fail_at 1 "$what: daemon still running 5 s later (expected a prompt non-zero exit)"
		qfs_unmount "$QFS_MNT"
		qfs_kill_pid $pid
		return 1
	fi
	[ "$QFS_EXIT_RC" -ne 0 ] || _fail_at 1 "$what: exit code 0 (expected non-zero)"
	[ -s "$T/bad.err" ] || _fail_at 1 "$what: no message on stderr"
	if qfs_is_mounted "$QFS_MNT"; then
		_fail_at 1 "$what: a mount appeared"
		qfs_unmount "$QFS_MNT"
	fi
	BAD_ERR=$(cat "$T/bad.err")
}
bad_usage "unknown option" -f --no-such-option "$QFS_MNT"
[[ "$BAD_ERR" == *no-such-option* ]] || note "unknown option message does not name the option: $BAD_ERR"
bad_usage "missing MOUNTPOINT" -f --data "$T/x"
bad_usage "non-existent MOUNTPOINT" -f --data "$T/x" "$T/does/not/exist"
bad_usage "--map-size bogus" -f --data "$T/x" --map-size bogus "$QFS_MNT"
bad_usage "--value-max above the 1 MiB hard limit" -f --data "$T/x" --value-max 2G "$QFS_MNT"
bad_usage "--config of a missing file" -f --config "$T/missing.conf" "$QFS_MNT"
printf 'no-such-key = 1\n' >"$T/bad.conf"
bad_usage "unknown key in --config" -f --data "$T/x" --config "$T/bad.conf" "$QFS_MNT"

# --- SIGTERM: unmount, exit 0 ---
QFS_DATA=$T/new-data-dir # does not exist yet: must be created
qfs_start
[ -d "$QFS_DATA" ] || fail "--data dir was not created"
echo persisted >"$M/k" || fail "write failed"
kill -TERM "$QFS_PID"
if qfs_wait_exit "$QFS_PID" 10; then
	check_eq "$QFS_EXIT_RC" 0 "exit code after SIGTERM"
else
	fail "daemon still running 10 s after SIGTERM"
fi
qfs_is_mounted "$QFS_MNT" && fail "still mounted after SIGTERM"
[ -z "$(ls -A "$QFS_MNT" 2>&1)" ] || fail "mount point not empty after SIGTERM: $(ls -A "$QFS_MNT" 2>&1)"

# --- fusermount3 -u: the daemon exits 0 (qfs_stop checks) ---
qfs_start
check_content "$M/k" $'persisted\n' "data after SIGTERM + restart"
qfs_stop

# --- a data dir belongs to the node name it was first started with: another
# --name is refused with a message (its Raft identity would change) ---
"$QFS_BIN" -f --data "$QFS_DATA" --name node-a "$QFS_MNT" </dev/null >"$T/other-name.log" 2>&1 &
other_pid=$!
_qfs_track_pid "$other_pid"
if qfs_wait_exit "$other_pid" 10; then
	[ "$QFS_EXIT_RC" -ne 0 ] || fail "--name node-a on another node's data dir exited 0"
	grep -q "belongs to node" "$T/other-name.log" || fail "no message about the data dir's node name: $(cat "$T/other-name.log")"
else
	fail "--name node-a on another node's data dir still running after 10 s"
fi
qfs_is_mounted "$QFS_MNT" && fusermount3 -u "$QFS_MNT"

# --- --foreground (long form) and -o allow_other ---
qfs_launch -- --foreground --data "$QFS_DATA" -o allow_other "$QFS_MNT"
opts=$(awk -v m="$QFS_MNT" '$5 == m { print $6, $NF }' /proc/self/mountinfo)
[[ "$opts" == *allow_other* ]] || fail "-o allow_other not in the mount options: $opts"
check_content "$M/k" $'persisted\n' "data with --foreground"
qfs_stop

# --- --config FILE ---
printf 'data = %s\nname = cfgnode\nvalue-max = 4096\n' "$T/cfgdata" >"$T/quorumfs.conf"
qfs_launch -- -f --config "$T/quorumfs.conf" "$QFS_MNT"
echo from-config >"$M/cfgkey" || fail "write with --config failed"
check_fails "File too large" "value-max from the config file" -- dd if=/dev/zero of="$M/big" bs=4097 count=1 status=none
qfs_stop
[ -d "$T/cfgdata" ] && [ -n "$(ls -A "$T/cfgdata")" ] || fail "data dir from --config ($T/cfgdata) not created or empty"
QFS_DATA=$T/cfgdata
qfs_start
check_content "$M/cfgkey" $'from-config\n' "key written with --config lives in the configured data dir"
qfs_stop

# --- QUORUMFS_<OPTION> environment ---
qfs_launch QUORUMFS_DATA="$T/envdata" QUORUMFS_VALUE_MAX=4096 -- -f "$QFS_MNT"
echo from-env >"$M/envkey" || fail "write with QUORUMFS_DATA failed"
check_fails "File too large" "QUORUMFS_VALUE_MAX" -- dd if=/dev/zero of="$M/big" bs=4097 count=1 status=none
qfs_stop
[ -d "$T/envdata" ] && [ -n "$(ls -A "$T/envdata")" ] || fail "QUORUMFS_DATA dir ($T/envdata) not created or empty"
QFS_DATA=$T/envdata
qfs_start
check_content "$M/envkey" $'from-env\n' "key written with QUORUMFS_DATA lives in that data dir"
[ -e "$M/cfgkey" ] && fail "QUORUMFS_DATA ignored: the key from the config data dir is visible"
qfs_stop
# The command line wins over the environment.
qfs_launch QUORUMFS_DATA="$T/envdata" -- -f --data "$T/cfgdata" "$QFS_MNT"
[ -e "$M/cfgkey" ] || fail "--data did not override QUORUMFS_DATA"
qfs_stop

# --- daemonizing (no -f) ---
bin_real=$(readlink -f "$QFS_BIN")
start=$SECONDS
timeout 20 "$QFS_BIN" --data "$T/cfgdata" "$QFS_MNT" </dev/null >>"$QFS_LOG" 2>&1
rc=$?
_qfs_track_mount "$QFS_MNT"
# Find the daemon: a process started with this binary and this mountpoint
# argument (or holding /dev/fuse); by PID only.
dpid=""
for p in /proc/[0-9]*; do
	p=${p#/proc/}
	[ "$p" = $$ ] && continue
	{ tr '\0' '\n' <"/proc/$p/cmdline"; } 2>/dev/null | grep -qxF "$QFS_MNT" || continue
	exe=$(readlink "/proc/$p/exe" 2>/dev/null)
	fuse_fd=$(ls -l "/proc/$p/fd" 2>/dev/null | grep -c '/dev/fuse')
	if [ "$exe" = "$bin_real" ] || [ "$fuse_fd" -gt 0 ]; then
		dpid=$p
		_qfs_track_pid "$p"
	fi
done
check_eq "$rc" 0 "exit code of the daemonizing parent"
if ! timeout 5 stat "$QFS_MNT/cfgkey" >/dev/null 2>&1; then
	fail "the parent exited (after $((SECONDS - start)) s) but the mount is not serving yet"
fi
check_content "$M/cfgkey" $'from-config\n' "data through the daemonized mount"
if [ -z "$dpid" ]; then
	fail "no daemon process found for $QFS_MNT after daemonizing"
else
	[ "$(awk '{print $4}' "/proc/$dpid/stat")" = $$ ] && fail "the daemon is still a child of the shell (did not detach)"
	echo k2 >"$M/k2" || fail "write through the daemonized mount failed"
	kill -TERM "$dpid"
	for _ in $(seq 1 100); do
		qfs_alive "$dpid" || break
		sleep 0.1
	done
	qfs_alive "$dpid" && fail "daemonized quorumfs still running 10 s after SIGTERM"
	qfs_is_mounted "$QFS_MNT" && fail "still mounted after SIGTERM to the daemonized quorumfs"
fi
# Daemonizing with an unusable data dir: the parent reports the failure.
touch "$T/not-a-dir"
timeout 20 "$QFS_BIN" --data "$T/not-a-dir" "$QFS_MNT" </dev/null >>"$QFS_LOG" 2>&1
rc=$?
[ $rc -ne 0 ] || fail "daemonizing with --data pointing at a file exited 0"
if qfs_is_mounted "$QFS_MNT"; then
	fail "mounted although --data is a regular file"
fi
qfs_done
