#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Persistence: a tree written through the mount is all there after unmount and
# remount on the same --data (contents, modes, owners, mtimes, inodes) — twice,
# and a change made after the first remount survives the second.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

mkdir -p "$M/etc/app/conf.d" "$M/var/empty" "$M/a/b/c/d"
printf 'port = 80\n' >"$M/etc/app/main.conf"
printf '' >"$M/etc/app/empty"
head -c 300000 /dev/urandom >"$T/big"
cp "$T/big" "$M/a/b/c/d/big"
for i in $(seq 1 50); do echo "value $i" >"$M/etc/app/conf.d/k$i"; done
chmod 600 "$M/etc/app/main.conf"
chmod 750 "$M/etc/app/conf.d"
chmod 1777 "$M/var/empty" 2>/dev/null || chmod 777 "$M/var/empty"
chown 1000:1001 "$M/etc/app/conf.d/k7"
touch -d '2019-05-06 07:08:09' "$M/etc/app/conf.d/k8"
echo old >"$M/renamed.tmp"
mv "$M/renamed.tmp" "$M/renamed"
echo gone >"$M/deleted"
rm "$M/deleted"
printf 'abc' >>"$M/etc/app/empty"
printf 'def' >>"$M/etc/app/empty"
if ln -s etc/app/main.conf "$M/sym" 2>/dev/null; then has_sym=1; else has_sym=0; fi

# Everything a user sees of the tree: path, type, mode, uid, gid, size, mtime, inode.
snapshot() {
	(cd "$M" && find . -printf '%p %y %m %U %G %s %T@ %i\n' | sort) 2>&1
}
sums() {
	(cd "$M" && find . -type f -exec sha256sum {} + | sort -k2) 2>&1
}
before=$(snapshot)
before_sums=$(sums)
[ "$(echo "$before" | wc -l)" -ge 60 ] || fail "tree incomplete before remount: $before"

qfs_stop
ls -A "$M" | grep -q . && fail "mount point not empty after unmount: $(ls -A "$M" | head)"
[ -d "$QFS_DATA" ] || die "data dir $QFS_DATA missing after stop"
qfs_start

check_eq "$(snapshot)" "$before" "tree (types, modes, owners, sizes, mtimes, inodes) after remount"
check_eq "$(sums)" "$before_sums" "contents after remount"
check_ok "big value identical after remount" -- cmp "$T/big" "$M/a/b/c/d/big"
check_content "$M/etc/app/empty" "abcdef" "appends survive remount"
check_content "$M/renamed" $'old\n' "renamed key survives remount"
[ -e "$M/renamed.tmp" ] && fail "rename source reappeared after remount"
[ -e "$M/deleted" ] && fail "deleted key reappeared after remount"
[ "$has_sym" = 1 ] && check_eq "$(readlink "$M/sym" 2>&1)" etc/app/main.conf "symlink target after remount"

# Changes after a remount: revision numbers keep increasing, new inodes are new.
r1=$(qfs_xattr "$M/etc/app/main.conf" mod_revision)
echo changed >"$M/etc/app/main.conf"
echo fresh >"$M/fresh"
r2=$(qfs_xattr "$M/etc/app/main.conf" mod_revision)
if [ -n "$r1" ] && [ -n "$r2" ]; then
	[ "$r2" -gt "$r1" ] 2>/dev/null || fail "mod_revision did not increase after remount: $r1 -> $r2"
fi
fresh_ino=$(stat -c %i "$M/fresh")
echo "$before" | awk '{print $NF}' | grep -qx "$fresh_ino" &&
	fail "a new key after remount reused inode $fresh_ino of an existing key"
before2=$(snapshot)
sums2=$(sums)

qfs_stop
qfs_start
check_eq "$(snapshot)" "$before2" "tree after second remount"
check_eq "$(sums)" "$sums2" "contents after second remount"
check_content "$M/etc/app/main.conf" $'changed\n' "change made after first remount"
r3=$(qfs_xattr "$M/etc/app/main.conf" mod_revision)
check_eq "$r3" "$r2" "mod_revision persisted"

qfs_done
