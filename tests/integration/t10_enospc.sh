#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Store full (INTERFACE §2, §7): with a small LMDB map (--map-size 4M) writes
# eventually fail with ENOSPC ("No space left on device"); then reads of
# existing keys still work, rm works, after deleting a good share writes work
# again, the daemon is alive, and after a restart the data is intact.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start --map-size 4M

mkdir "$M/d" || die "mkdir failed"
full_at=""
err=""
for i in $(seq 1 2000); do
	{ echo "key $i"; head -c 16000 /dev/urandom; } >"$T/v"
	if err=$(cat "$T/v" 2>&1 >"$M/d/k$i"); then
		cp "$T/v" "$T/v$i"
	else
		full_at=$i
		break
	fi
done
[ -n "$full_at" ] || die "2000 writes of 16 KB (32 MB) into a 4 MB map all succeeded: --map-size not honoured?"
[[ "$err" == *"No space left on device"* ]] || fail "write $full_at failed with '$err', expected \"No space left on device\""
last=$((full_at - 1))
qfs_log "store full after $last keys of 16 KB"
[ "$last" -ge 20 ] || fail "only $last 16 KB keys fit in a 4 MB map"
qfs_alive "$QFS_PID" || die "daemon died when the store filled up"

# The failed key: absent, or (written in several calls) a prefix; never more.
if [ -e "$M/d/k$full_at" ]; then
	sz=$(stat -c %s "$M/d/k$full_at")
	cmp -s -n "$sz" "$M/d/k$full_at" "$T/v" || fail "the failed key k$full_at holds bytes that were never written"
fi
# Further writes keep failing cleanly, small ones too, and do not hang.
check_fails "No space left on device" "a second big write when full" -- bash -c "head -c 16000 /dev/urandom > '$M/d/again'"

# Reads of every stored key still work and match.
bad=0
for i in $(seq 1 "$last"); do
	cmp -s "$T/v$i" "$M/d/k$i" || bad=$((bad + 1))
done
[ $bad -eq 0 ] || fail "$bad of $last keys unreadable or wrong while the store is full"
check_ok "ls while full" -- ls -l "$M/d"
check_ok "stat while full" -- stat "$M/d/k1"

# Delete about two thirds (rm must work while full).
check_ok "rm while full" -- rm -f "$M/d/k$full_at" "$M/d/again"
deleted=0
for i in $(seq 1 "$last"); do
	if [ $((i % 3)) -ne 0 ]; then
		rm "$M/d/k$i" 2>"$T/rmerr" || {
			fail "rm of k$i failed while full: $(cat "$T/rmerr")"
			break
		}
		rm -f "$T/v$i"
		deleted=$((deleted + 1))
	fi
done
qfs_log "deleted $deleted keys"

# Writes work again.
wrote=0
for i in $(seq 1 $((deleted / 3))); do
	{ echo "new $i"; head -c 16000 /dev/urandom; } >"$T/n$i"
	if cat "$T/n$i" >"$M/d/n$i" 2>"$T/werr"; then
		wrote=$((wrote + 1))
	else
		fail "write $i after deleting $deleted keys failed: $(cat "$T/werr")"
		break
	fi
done
check_ok "small write after freeing space" -- bash -c "echo small > '$M/small'"
check_ok "mkdir after freeing space" -- mkdir "$M/newdir"
qfs_alive "$QFS_PID" || die "daemon died"

# Fill it up again: ENOSPC again, not a crash, not corruption.
for i in $(seq 1 2000); do
	{ echo "refill $i"; head -c 16000 /dev/urandom; } >"$M/d/r$i" 2>/dev/null || break
done
qfs_alive "$QFS_PID" || die "daemon died when the store filled up a second time"

# Restart: every key that was written (and not deleted) is intact.
qfs_stop
qfs_start --map-size 4M
bad=0
kept=0
for i in $(seq 1 "$last"); do
	[ -e "$T/v$i" ] || continue
	kept=$((kept + 1))
	cmp -s "$T/v$i" "$M/d/k$i" || bad=$((bad + 1))
done
for i in $(seq 1 "$wrote"); do
	cmp -s "$T/n$i" "$M/d/n$i" || bad=$((bad + 1))
done
[ $bad -eq 0 ] || fail "$bad keys wrong after restart of a full store"
for i in $(seq 1 $((deleted / 2))); do
	[ $((i % 3)) -ne 0 ] && [ -e "$M/d/k$i" ] && {
		fail "deleted key k$i is back after restart"
		break
	}
done
check_content "$M/small" $'small\n' "small key after restart"
check_ok "rm after restart of a full store" -- rm -rf "$M/d"
check_ok "write after restart and cleanup" -- bash -c "head -c 16000 /dev/urandom > '$M/fresh'"
qfs_done
