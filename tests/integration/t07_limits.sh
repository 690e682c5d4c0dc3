#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Limits and bad input (INTERFACE §2, §7): value size (default 1 MiB → EFBIG),
# name 255 bytes and path 4096 bytes (ENAMETOOLONG), reserved names (EPERM).
. "$(dirname "$0")/lib.sh"
qfs_setup
# QFS_VALUE_MAX below 1 MiB: run the daemon with that limit (the strict case).
if [ "$QFS_VALUE_MAX" -ne 1048576 ]; then qfs_start --value-max "$QFS_VALUE_MAX"; else qfs_start; fi

N=$QFS_VALUE_MAX
head -c "$N" /dev/urandom >"$T/max"
head -c $((N + 1)) /dev/urandom >"$T/over"

# --- a value of exactly the limit ---
check_ok "cp of a max-size value" -- cp "$T/max" "$M/kcp"
check_ok "max-size value via cp reads back" -- cmp "$T/max" "$M/kcp"
check_ok "dd bs=N count=1 (one write() of the limit)" -- dd if="$T/max" of="$M/kdd" bs="$N" count=1 status=none
check_ok "max-size value via dd reads back" -- cmp "$T/max" "$M/kdd"
check_eq "$(stat -c %s "$M/kdd" 2>&1)" "$N" "stat size of a max-size value"
check_ok "cat > of a max-size value" -- bash -c "cat '$T/max' > '$M/kcat'"
check_ok "max-size value via cat reads back" -- cmp "$T/max" "$M/kcat"
rep x "$N" >"$T/max_txt"
check_ok "bash printf of a max-size value" -- bash -c "printf '%s' \"\$(cat '$T/max_txt')\" > '$M/kprintf'"
check_eq "$(stat -c %s "$M/kprintf" 2>&1)" "$N" "size after printf of a max-size value"
blk=$(stat -c %o "$M/kdd")
[ "${blk:-0}" -ge 65536 ] 2>/dev/null || note "st_blksize is $blk: tools will split values into $blk-byte writes"

# --- one byte over: every tool must report the failure ---
# check_over WHAT CMD...: CMD writes N+1 bytes to $M/$key (pre-filled with "old").
# It must exit non-zero with "File too large"; the key must hold its old value,
# nothing, or (for tools that write in several calls) a prefix of the attempt.
check_over() {
	local key=$1 what=$2 attempt=$3
	shift 3
	printf 'old\n' >"$M/$key" || fail "$what: could not prepare $key"
	local err rc
	err=$(timeout -k 5 60 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 0 ]; then
		_fail_at 1 "$what: writing $((N + 1)) bytes succeeded (expected EFBIG \"File too large\"); key size now $(stat -c %s "$M/$key" 2>&1)"
	elif [[ "$err" != *"File too large"* ]]; then
		_fail_at 1 "$what: failed (rc $rc) but not with \"File too large\": $(_qfs_short "$err")"
	fi
	local size
	size=$(stat -c %s "$M/$key" 2>/dev/null || echo missing)
	if cmp -s "$M/$key" <(printf 'old\n'); then
		:
	elif [ "$size" = 0 ] || [ "$size" = missing ]; then
		note "$what: failed write left the key ${size/0/empty} (old value gone)"
	elif [ "$size" -gt "$N" ] 2>/dev/null; then
		_fail_at 1 "$what: key holds $size bytes, more than the limit $N"
	elif cmp -s -n "$size" "$M/$key" "$attempt"; then
		note "$what: failed write left a $size-byte prefix of the attempt (written in several calls)"
	else
		_fail_at 1 "$what: key holds $size bytes that are neither the old value nor a prefix of the attempt (torn)"
	fi
}
rep y $((N + 1)) >"$T/over_txt"
check_over k1 "cat > (N+1 bytes)" "$T/over" bash -c "cat '$T/over' > '$M/k1'"
check_over k2 "cp (N+1 bytes)" "$T/over" cp "$T/over" "$M/k2"
check_over k3 "bash printf (N+1 bytes)" "$T/over_txt" bash -c "printf '%s' \"\$(cat '$T/over_txt')\" > '$M/k3'"
check_over k4 "bash builtin echo (N+1 bytes)" "$T/over_txt" bash -c "s=\$(cat '$T/over_txt'); echo \"\${s:1}\" > '$M/k4'"
check_over k5 "tee (N+1 bytes)" "$T/over" bash -c "tee '$M/k5' < '$T/over' > /dev/null"
check_over k6 "dd one write() of N+1 bytes" "$T/over" dd if="$T/over" of="$M/k6" bs=$((N + 1)) count=1 status=none
# A single over-limit write changes nothing (§7): the old value stays.
printf 'old\n' >"$M/k7"
check_fails "File too large" "dd conv=notrunc single N+1 write" -- dd if="$T/over" of="$M/k7" bs=$((N + 1)) count=1 conv=notrunc status=none
# The kernel cuts a write() into requests of at most 1 MiB (FUSE's max_write),
# so at a 1 MiB value limit the first MiB of a larger write() arrives, and is
# committed, before the rest is refused (docs/usage.md, "Limits").  Below
# that limit one write() is one request and is refused whole.
if [ "$N" -lt 1048576 ]; then
	check_ok "over-limit single write without O_TRUNC changed nothing" -- cmp "$M/k7" <(printf 'old\n')
elif ! cmp -s "$M/k7" <(printf 'old\n'); then
	note "a single write() over the 1 MiB hard limit left its first MiB (the kernel splits it)"
fi
# Growing a max-size key by appending or truncating.
cp "$T/max" "$M/kfull"
check_fails "File too large" "append to a max-size key" -- bash -c "echo x >> '$M/kfull'"
check_ok "max-size key unchanged after failed append" -- cmp "$T/max" "$M/kfull"
check_fails "File too large" "truncate -s N+1" -- truncate -s $((N + 1)) "$M/kfull"
check_eq "$(stat -c %s "$M/kfull" 2>&1)" "$N" "size unchanged after failed truncate"
check_fails "File too large" "dd seek past the limit" -- dd if=/dev/zero of="$M/kseek" bs=1 count=1 seek="$N" status=none

# --- names ---
n255=$(rep n 255)
n256=$(rep n 256)
check_ok "touch a 255-byte name" -- touch "$M/$n255"
check_ok "echo > a 255-byte name" -- bash -c "echo v > '$M/$n255'"
check_content "$M/$n255" $'v\n' "255-byte name reads back"
check_ok "mkdir a 255-byte name" -- mkdir "$M/d$(rep n 254)"
ls "$M" | grep -qx "$n255" || fail "255-byte name not listed"
check_fails "File name too long" "touch a 256-byte name" -- touch "$M/$n256"
check_fails "File name too long" "echo > a 256-byte name" -- bash -c "echo v > '$M/$n256'"
check_fails "File name too long" "mkdir a 256-byte name" -- mkdir "$M/$n256"
echo v >"$M/short"
check_fails "File name too long" "mv onto a 256-byte name" -- mv "$M/short" "$M/$n256"
[ -e "$M/short" ] || fail "failed mv removed the source"
ls "$M" | grep -q "$n256" && fail "a 256-byte name was created"

# Path limit 4096: nest 250-byte directory names until the path is too long.
seg=$(rep p 250)
depth_fail=""
(
	cd "$M" || exit 3
	path=""
	for d in $(seq 1 20); do
		newpath=$path/$seg
		if ! err=$(mkdir "$seg" 2>&1); then
			echo "$d ${#newpath} $err"
			exit 0
		fi
		cd "$seg" || exit 3
		path=$newpath
	done
	echo "none ${#path}"
) >"$T/deep" 2>&1
read -r depth_fail plen deeperr <"$T/deep"
if [ "$depth_fail" = none ]; then
	fail "a key path of $plen bytes (> 4096) was created: no path limit"
elif [ -z "$depth_fail" ] || [ "$depth_fail" = 3 ]; then
	fail "deep path test broke: $(cat "$T/deep")"
else
	[[ "$deeperr" == *"File name too long"* ]] || fail "over-long path failed with '$deeperr', expected \"File name too long\""
	[ "$plen" -gt 4096 ] || fail "mkdir failed at path length $plen (<= 4096): $deeperr"
	[ "$plen" -le $((4096 + 251)) ] || fail "path limit enforced only at length $plen"
fi
rm -rf "${M:?}/$seg" || fail "rm -rf of a deep tree"

# --- reserved names ---
# They resolve to the special entries (INTERFACE §4-5), so making a key of
# that name fails in the way the entry's kind dictates: touch with EPERM
# (EACCES for the read-only cluster views), mkdir with EEXIST (the kernel
# answers before asking us), mv onto it with EPERM (or mv's own refusal to
# put a file over a directory). t14_special covers the entries themselves.
mkdir -p "$M/sub/deeper"
mv_refused() { # NAME: mv -T onto NAME failed the right way, source kept
	local base=$1 name=$2 err
	echo x >"$base/mvsrc"
	if err=$(mv -T "$base/mvsrc" "$base/$name" 2>&1); then
		fail "mv onto $name succeeded"
	elif [[ "$err" != *"Operation not permitted"* && "$err" != *"cannot overwrite directory"* ]]; then
		fail "mv onto $name failed with '$err'"
	fi
	[ -e "$base/mvsrc" ] || fail "failed mv onto $name removed the source"
}
for dir in "" sub sub/deeper; do
	base=$M${dir:+/$dir}
	for name in .rev .cas .enqueue .dequeue .watch; do
		check_fails "Operation not permitted" "touch ${dir:-.}/$name" -- touch "$base/$name"
		check_fails "File exists" "mkdir ${dir:-.}/$name" -- mkdir "$base/$name"
		mv_refused "$base" "$name"
		ls -a "$base" | grep -qxF "$name" && fail "reserved name ${dir:-.}/$name is listed"
	done
done
for name in members .status .metrics; do
	check_fails "Permission denied" "touch /$name" -- touch "$M/$name"
	check_fails "File exists" "mkdir /$name" -- mkdir "$M/$name"
	check_fails "" "echo > /$name" -- bash -c "echo x > '$M/$name'"
	mv_refused "$M" "$name"
	ls -a "$M" | grep -qxF "$name" && fail "reserved name /$name is listed"
	check_ok "echo > sub/$name (allowed below the root)" -- bash -c "echo x > '$M/sub/$name'"
	check_content "$M/sub/$name" $'x\n' "sub/$name holds its value"
	check_ok "mkdir sub/deeper/$name" -- mkdir "$M/sub/deeper/$name"
done
check_ok "similar names are not reserved" -- bash -c "echo x > '$M/.revs' && echo x > '$M/rev' && echo x > '$M/.watcher' && echo x > '$M/member'"

# --- the --value-max option is honoured ---
qfs_stop
qfs_start --value-max 4096
check_ok "value of --value-max bytes" -- bash -c "head -c 4096 /dev/urandom > '$M/small'"
check_fails "File too large" "value of --value-max + 1 bytes" -- dd if=/dev/zero of="$M/small2" bs=4097 count=1 status=none
qfs_done
