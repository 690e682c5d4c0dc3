#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Kernel cache freshness (INTERFACE §3): a read that starts after a change was
# applied returns the new content and attributes: no stale page cache, attr
# cache or dentry cache — also when another process still holds the key open.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

for i in $(seq 1 20); do
	echo a >"$M/k"
	check_content "$M/k" $'a\n' "iteration $i: first value" || break
	echo bb >"$M/k"
	check_content "$M/k" $'bb\n' "iteration $i: echo a; cat; echo bb; cat prints bb" || break
	check_eq "$(stat -c %s "$M/k")" 3 "iteration $i: stat size right after the write" || break
	printf 'ccccc' >"$M/k"
	check_eq "$(stat -c %s "$M/k")" 5 "iteration $i: stat size after a longer write" || break
	printf 'd' >"$M/k"
	check_eq "$(stat -c %s "$M/k")" 1 "iteration $i: stat size after a shorter write" || break
	check_content "$M/k" "d" "iteration $i: content after a shorter write" || break
done

# Appends by one process seen by a cat right after.
: >"$M/log"
exp=""
for i in $(seq 1 50); do
	(echo "line $i" >>"$M/log")
	exp+="line $i"$'\n'
	check_content "$M/log" "$exp" "append $i seen by the next cat" || break
done
check_eq "$(stat -c %s "$M/log")" "${#exp}" "size after appends"

# A reader holding the key open does not make later opens stale.
echo first >"$M/held"
exec 7<"$M/held"
read -r _ <&7
echo second >"$M/held"
check_content "$M/held" $'second\n' "new content while another fd is open"
exec 7<&-

# mmap-style readers (tail, head read with different sizes) see the new value.
head -c 200000 /dev/urandom >"$T/big1"
head -c 150000 /dev/urandom >"$T/big2"
cp "$T/big1" "$M/big"
check_ok "first big value" -- cmp "$T/big1" "$M/big"
cp "$T/big2" "$M/big"
check_ok "second (shorter) big value replaces the first in the page cache" -- cmp "$T/big2" "$M/big"
check_eq "$(tail -c 100 "$M/big" | od -An -tx1)" "$(tail -c 100 "$T/big2" | od -An -tx1)" "tail of the new value"

# truncate, chmod, touch seen right away.
echo 123456789 >"$M/t"
cat "$M/t" >/dev/null
truncate -s 4 "$M/t"
check_content "$M/t" "1234" "content right after truncate"
chmod 604 "$M/t"
check_eq "$(stat -c %a "$M/t")" 604 "mode right after chmod"
touch -d @1600000000 "$M/t"
check_eq "$(stat -c %Y "$M/t")" 1600000000 "mtime right after touch -d"

# Names: gone after rm, visible after create, moved after mv.
echo x >"$M/n1"
cat "$M/n1" >/dev/null
rm "$M/n1"
check_fails "No such file or directory" "cat right after rm" -- cat "$M/n1"
ls "$M" | grep -qx n1 && fail "ls right after rm still lists n1"
stat "$M/n2" >/dev/null 2>&1 # negative lookup cached?
echo y >"$M/n2"
check_content "$M/n2" $'y\n' "create right after a failed lookup"
mv "$M/n2" "$M/n3"
check_fails "No such file or directory" "old name right after mv" -- cat "$M/n2"
check_content "$M/n3" $'y\n' "new name right after mv"
echo z >"$M/n4"
mv "$M/n4" "$M/n3"
check_content "$M/n3" $'z\n' "replaced name right after mv onto it"
mkdir -p "$M/dd/sub"
echo w >"$M/dd/sub/f"
ls -R "$M/dd" >/dev/null
mv "$M/dd" "$M/ee"
check_content "$M/ee/sub/f" $'w\n' "key under a moved dir"
check_fails "No such file or directory" "old dir path right after mv" -- cat "$M/dd/sub/f"
# Attributes through xattrs are fresh too.
r1=$(qfs_xattr "$M/n3" mod_revision)
echo again >"$M/n3"
r2=$(qfs_xattr "$M/n3" mod_revision)
[ -n "$r1" ] && [ "$r1" = "$r2" ] && fail "mod_revision xattr stale after a write ($r1)"
qfs_done
