#!/bin/bash
# shellcheck source=tests/integration/lib.sh
# Scheduled backups (INTERFACE §6): --backup-dir DIR --backup-every 1s
# --backup-keep 3 writes snapshot files named so they sort by time, every one
# passes `quorumctl snapshot verify`, the directory is pruned to 3 and holds
# no temporary files; the newest backup restores into a working node. The
# metrics count backups and give the last success time. A backup directory
# that cannot be created (a path below a regular file) makes backups fail:
# counted in /.metrics and logged, while the daemon keeps serving. The daemon
# stops promptly at unmount with backups running.
. "$(dirname "$0")/lib.sh"
QFS_CTL=${QUORUMCTL_BIN:-$QFS_SRC_DIR/build/src/ctl/quorumctl}
qfs_setup
[ -x "$QFS_CTL" ] || die "quorumctl '$QFS_CTL' not found (set QUORUMCTL_BIN)"
BK=$T/backups

metric() { # NAME: its value in .metrics (empty when absent)
	awk -v n="$1" '$1 == n { print $2 }' "$M/.metrics" 2>/dev/null
}
wait_metric() { # NAME MIN BOUND_S: until NAME >= MIN
	local end=$((SECONDS + $3)) v
	while [ $SECONDS -lt $end ]; do
		v=$(metric "$1")
		[ -n "$v" ] && [ "${v%.*}" -ge "$2" ] && return 0
		sleep 0.2
	done
	return 1
}

qfs_start --backup-dir "$BK" --backup-every 1s --backup-keep 3
mkdir -p "$M/cfg" && printf 'v1\n' >"$M/cfg/a" || die "write failed"
head -c 50000 /dev/urandom >"$M/cfg/blob"
check_eq "$(metric quorumfs_backups_total)" 0 "backups counted before the first period"
for i in $(seq 1 12); do
	printf 'v%s\n' "$i" >"$M/cfg/a"
	sleep 0.4
done
wait_metric quorumfs_backups_total 5 15 || fail "fewer than 5 backups within ~20 s: $(metric quorumfs_backups_total)"
check_eq "$(metric quorumfs_backup_failures_total)" 0 "backup failures with a writable directory"
last=$(metric quorumfs_backup_last_success_timestamp_seconds)
now=$(date +%s)
[ -n "$last" ] && [ $((now - ${last%.*})) -le 5 ] || fail "last backup success time '$last' is not recent (now $now)"
REV=$(sed -n 's/^revision=//p' "$M/.status")
sleep 1.5 # one more backup holds REV
s0=$SECONDS
qfs_stop
[ $((SECONDS - s0)) -le 3 ] || fail "the daemon took $((SECONDS - s0)) s to stop with backups running"

mapfile -t files < <(cd "$BK" && ls)
qfs_log "backup dir after stop: ${files[*]}"
check_eq "${#files[@]}" 3 "files in the backup dir after pruning to --backup-keep 3"
for f in "${files[@]}"; do
	[[ "$f" =~ ^quorumfs-[A-Za-z0-9._-]+-[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-r[0-9]+\.qfsnap$ ]] ||
		fail "backup file name '$f' is not quorumfs-NAME-UTCTIME-rREV.qfsnap"
	check_ok "snapshot verify $f" -- "$QFS_CTL" snapshot verify "$BK/$f"
done
sorted=$(printf '%s\n' "${files[@]}" | sort)
revs=$(sed 's/.*-r\([0-9]*\)\.qfsnap/\1/' <<<"$sorted")
check_eq "$(sort -n <<<"$revs")" "$revs" "backup revisions in name (time) order"
NEWEST=$(tail -n 1 <<<"$sorted")
NREV=$(sed 's/.*-r\([0-9]*\)\.qfsnap/\1/' <<<"$NEWEST")
[ "$NREV" -ge "$REV" ] || fail "newest backup $NEWEST has revision $NREV < $REV written 1.5 s before the stop"
check_eq "$("$QFS_CTL" snapshot verify "$BK/$NEWEST" | sed -n 's/^revision=//p')" "$NREV" "revision in the file vs its name"

# The newest backup restores into a working node.
QFS_DATA=$T/restored
check_ok "snapshot restore of the newest backup" -- "$QFS_CTL" snapshot restore "$BK/$NEWEST" --data "$QFS_DATA"
qfs_start
check_content "$M/cfg/a" "v12
" "value in the restored node"
cmp -s "$M/cfg/blob" <(head -c 50000 /dev/zero) && fail "blob restored as zeros"
[ "$(stat -c %s "$M/cfg/blob")" = 50000 ] || fail "blob size after restore: $(stat -c %s "$M/cfg/blob")"
printf 'after\n' >"$M/cfg/new" || fail "write on the restored node failed"
qfs_stop

# A backup directory below a regular file: failures counted and logged.
: >"$T/plainfile"
QFS_DATA=$T/data
qfs_start --backup-dir "$T/plainfile/backups" --backup-every 1s
wait_metric quorumfs_backup_failures_total 2 10 || fail "backup failures not counted within 10 s: $(metric quorumfs_backup_failures_total)"
check_eq "$(metric quorumfs_backups_total)" 0 "backups counted into an impossible directory"
grep -q "backup: cannot create the directory $T/plainfile/backups" "$QFS_LOG" || fail "failed backups are not logged"
printf 'still\n' >"$M/cfg/still" || fail "write failed while backups fail"
check_content "$M/cfg/still" "still
" "read while backups fail"
qfs_stop
# Bad option combinations are refused at start.
check_fails "--backup-dir" "--backup-every without --backup-dir" -- "$QFS_BIN" -f --data "$T/data" --backup-every 1s "$M"
check_fails "backup-every" "--backup-every 0" -- "$QFS_BIN" -f --data "$T/data" --backup-dir "$BK" --backup-every 0 "$M"
qfs_done
