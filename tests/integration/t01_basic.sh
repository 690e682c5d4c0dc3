#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Basic tools on a single-node mount (INTERFACE §2): cat, echo >, printf >, cp,
# mv (file, dir, atomic replace), rm, rm -r, mkdir -p, rmdir, touch, truncate,
# chmod, chown, ls -l (sorted), stat, find, tee, ln -s, revision xattrs.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

# --- echo, printf, cat ---
check_ok "echo > new key" -- bash -c "echo hello > '$M/a'"
check_content "$M/a" $'hello\n' "echo > then cat"
check_ok "printf > key" -- bash -c "printf 'x%sy' 123 > '$M/b'"
check_content "$M/b" "x123y" "printf > then cat"
check_ok "echo > existing key" -- bash -c "echo again > '$M/a'"
check_content "$M/a" $'again\n' "overwrite replaces the whole value"
check_ok "empty value" -- bash -c ": > '$M/empty'"
check_eq "$(stat -c %s "$M/empty" 2>&1)" 0 "size of an empty key"
check_fails "No such file or directory" "cat of a missing key" -- cat "$M/missing"

# --- cp in and out ---
head -c 70000 /dev/urandom >"$T/bin"
check_ok "cp into mount" -- cp "$T/bin" "$M/bin"
check_ok "cp content identical" -- cmp "$T/bin" "$M/bin"
check_ok "cp out of mount" -- cp "$M/bin" "$T/bin.out"
check_ok "cp out identical" -- cmp "$T/bin" "$T/bin.out"
chmod 640 "$T/bin"
touch -d '2021-02-03 04:05:06' "$T/bin"
check_ok "cp -p into mount" -- cp -p "$T/bin" "$M/binp"
check_eq "$(stat -c '%a %s %Y' "$M/binp" 2>&1)" "$(stat -c '%a %s %Y' "$T/bin")" "cp -p keeps mode, size, mtime"

# --- tee ---
check_ok "tee" -- bash -c "echo teed | tee '$M/t' >/dev/null"
check_content "$M/t" $'teed\n' "tee wrote the value"
check_ok "tee -a" -- bash -c "echo more | tee -a '$M/t' >/dev/null"
check_content "$M/t" $'teed\nmore\n' "tee -a appended"

# --- mkdir -p, rmdir ---
check_ok "mkdir -p" -- mkdir -p "$M/d1/d2/d3"
[ -d "$M/d1/d2/d3" ] || fail "mkdir -p: $M/d1/d2/d3 is not a directory"
check_ok "mkdir -p on existing" -- mkdir -p "$M/d1/d2"
check_fails "File exists" "mkdir of an existing dir" -- mkdir "$M/d1"
check_ok "file in nested dir" -- bash -c "echo deep > '$M/d1/d2/d3/f'"
check_content "$M/d1/d2/d3/f" $'deep\n' "nested key"
check_fails "Directory not empty" "rmdir of a non-empty dir" -- rmdir "$M/d1/d2/d3"
check_ok "rm nested key" -- rm "$M/d1/d2/d3/f"
check_ok "rmdir empty dir" -- rmdir "$M/d1/d2/d3"
[ -e "$M/d1/d2/d3" ] && fail "rmdir: d1/d2/d3 still exists"
check_fails "Not a directory" "mkdir under a file" -- mkdir "$M/a/sub"
check_fails "" "rmdir of a file" -- rmdir "$M/a"
check_fails "Is a directory" "echo > a directory" -- bash -c "echo x > '$M/d1'"

# --- rm, rm -r ---
check_ok "rm" -- rm "$M/b"
[ -e "$M/b" ] && fail "rm: b still exists"
check_fails "No such file or directory" "rm of a missing key" -- rm "$M/b"
mkdir -p "$M/tree/x/y" "$M/tree/z"
for i in 1 2 3; do echo $i >"$M/tree/x/y/f$i"; echo $i >"$M/tree/z/g$i"; done
check_ok "rm -r" -- rm -r "$M/tree"
[ -e "$M/tree" ] && fail "rm -r: tree still exists"
check_fails "Is a directory" "rm of a dir without -r" -- rm "$M/d1"

# --- mv ---
echo one >"$M/m1"
ino=$(stat -c %i "$M/m1")
check_ok "mv file" -- mv "$M/m1" "$M/m2"
[ -e "$M/m1" ] && fail "mv: source still exists"
check_content "$M/m2" $'one\n' "mv keeps the value"
check_eq "$(stat -c %i "$M/m2" 2>&1)" "$ino" "inode stable across rename"
echo new >"$M/tmp.new"
echo old >"$M/target"
check_ok "mv onto existing (atomic replace)" -- mv "$M/tmp.new" "$M/target"
check_content "$M/target" $'new\n' "mv replaced the target"
[ -e "$M/tmp.new" ] && fail "mv replace: source still exists"
mkdir -p "$M/src/in/deeper"
echo s1 >"$M/src/in/deeper/k"
echo s2 >"$M/src/k2"
dino=$(stat -c %i "$M/src")
check_ok "mv dir" -- mv "$M/src" "$M/dst"
[ -e "$M/src" ] && fail "mv dir: source still exists"
check_content "$M/dst/in/deeper/k" $'s1\n' "mv dir keeps nested keys"
check_content "$M/dst/k2" $'s2\n' "mv dir keeps keys"
check_eq "$(stat -c %i "$M/dst" 2>&1)" "$dino" "dir inode stable across rename"
mkdir "$M/emptydir"
check_ok "mv dir onto empty dir" -- mv -T "$M/dst" "$M/emptydir"
check_content "$M/emptydir/k2" $'s2\n' "dir replaced an empty dir"
mkdir -p "$M/full/x"
check_fails "" "mv dir onto non-empty dir" -- mv -T "$M/emptydir" "$M/full"
check_ok "mv dir into other dir" -- mv "$M/emptydir" "$M/full/"
check_content "$M/full/emptydir/in/deeper/k" $'s1\n' "mv into dir"

# --- touch, truncate ---
check_ok "touch new" -- touch "$M/touched"
check_eq "$(stat -c %s "$M/touched" 2>&1)" 0 "touch creates an empty key"
check_ok "touch -d" -- touch -d '2020-01-02 03:04:05' "$M/touched"
check_eq "$(stat -c %Y "$M/touched" 2>&1)" "$(date -d '2020-01-02 03:04:05' +%s)" "touch -d sets mtime"
check_ok "touch existing keeps content" -- touch "$M/a"
check_content "$M/a" $'again\n' "touch does not change content"
printf 'abcdefgh' >"$M/tr"
check_ok "truncate shrink" -- truncate -s 3 "$M/tr"
check_content "$M/tr" "abc" "truncate -s 3"
check_ok "truncate grow" -- truncate -s 6 "$M/tr"
check_eq "$(od -An -c "$M/tr" | tr -s ' ')" "$(printf 'abc\0\0\0' | od -An -c | tr -s ' ')" "truncate -s 6 pads with zeros"
check_ok "truncate to 0" -- truncate -s 0 "$M/tr"
check_eq "$(stat -c %s "$M/tr" 2>&1)" 0 "size after truncate -s 0"

# --- chmod, chown, stat ---
check_ok "chmod" -- chmod 640 "$M/a"
check_eq "$(stat -c %a "$M/a" 2>&1)" 640 "mode after chmod 640"
check_ok "chmod dir" -- chmod 711 "$M/d1"
check_eq "$(stat -c %a "$M/d1" 2>&1)" 711 "dir mode after chmod 711"
check_ok "chown" -- chown 1234:5678 "$M/a"
check_eq "$(stat -c '%u %g' "$M/a" 2>&1)" "1234 5678" "uid gid after chown"
check_eq "$(stat -c '%F' "$M/a" 2>&1)" "regular file" "file type"
check_eq "$(stat -c '%F' "$M/d1" 2>&1)" "directory" "dir type"
echo v >"$M/own"
check_eq "$(stat -c '%u %g' "$M/own" 2>&1)" "0 0" "a new key belongs to its creator (root)"
umask 022
echo v >"$M/umask"
check_eq "$(stat -c '%a' "$M/umask" 2>&1)" 644 "mode of a new key honours umask 022"
printf '12345' >"$M/sz"
check_eq "$(stat -c %s "$M/sz" 2>&1)" 5 "size"
m1=$(stat -c %.9Y "$M/sz")
sleep 0.05
printf '1234567' >"$M/sz"
m2=$(stat -c %.9Y "$M/sz")
[ "$m1" != "$m2" ] && awk -v a="$m1" -v b="$m2" 'BEGIN{exit !(b > a)}' ||
	fail "mtime did not increase on write ($m1 -> $m2)"
now=$(date +%s)
mt=$(stat -c %Y "$M/sz")
[ $((now - mt)) -le 5 ] && [ $((mt - now)) -le 5 ] || fail "mtime $mt is not close to now $now"
ino=$(stat -c %i "$M/sz")
printf 'x' >"$M/sz"
check_eq "$(stat -c %i "$M/sz" 2>&1)" "$ino" "inode stable across overwrite"
inos=$(stat -c %i "$M/a" "$M/sz" "$M/t" "$M/d1" | sort -u | wc -l)
check_eq "$inos" 4 "distinct keys have distinct inodes"

# --- ls -l sorted by name, readdir order ---
mkdir "$M/ls"
for n in zeta alpha Mid 10 9 _u beta.txt beta; do echo "$n" >"$M/ls/$n"; done
mkdir "$M/ls/dirB"
expected=$(printf '%s\n' zeta alpha Mid 10 9 _u beta.txt beta dirB | sort)
check_eq "$(ls "$M/ls" 2>&1)" "$expected" "ls lists every key"
raw=$(ls -f "$M/ls" 2>&1 | grep -vxF -e . -e ..)
check_eq "$raw" "$expected" "readdir order (ls -f) is sorted by name"
check_eq "$(ls -l "$M/ls" | tail -n +2 | awk '{print $NF}')" "$expected" "ls -l lists keys by name"
check_eq "$(ls -l "$M/ls" | head -1 | cut -d' ' -f1)" "total" "ls -l header"
check_eq "$(ls -ld "$M/ls/alpha" | cut -c1)" "-" "ls -l type of a file"
check_eq "$(ls -ld "$M/ls/dirB" | cut -c1)" "d" "ls -l type of a dir"
hidden=$(ls -a "$M" "$M/ls" | grep -E '^\.(rev|cas|enqueue|dequeue|watch|status|metrics)$')
[ -n "$hidden" ] && fail "ls -a shows special entries: $hidden"
many=$(for i in $(seq 1 300); do printf 'k%04d\n' $((RANDOM % 10000)); done | sort -u)
mkdir "$M/many"
for n in $many; do : >"$M/many/$n"; done
check_eq "$(ls -f "$M/many" | grep -vxF -e . -e ..)" "$many" "readdir of ~300 keys: complete and sorted"

# --- find ---
mkdir -p "$M/f/a/b" "$M/f/c"
echo 1 >"$M/f/a/b/x"
echo 2 >"$M/f/c/y"
echo 3 >"$M/f/z"
check_eq "$(cd "$M/f" && find . | sort)" "$(printf '%s\n' . ./a ./a/b ./a/b/x ./c ./c/y ./z)" "find lists the tree"
check_eq "$(cd "$M/f" && find . -type f -name y)" "./c/y" "find -type f -name"

# --- symlinks ---
if err=$(ln -s a "$M/link" 2>&1); then
	check_eq "$(readlink "$M/link" 2>&1)" "a" "readlink"
	check_content "$M/link" $'again\n' "cat through a symlink"
	check_eq "$(stat -c %F "$M/link" 2>&1)" "symbolic link" "lstat type of a symlink"
	ln -s /nonexistent/target "$M/dangling" && check_eq "$(readlink "$M/dangling")" /nonexistent/target "dangling symlink"
	rm -f "$M/link" || fail "rm of a symlink"
else
	note "symlinks not supported: ln -s failed: $err"
fi

# --- hard links are not part of the contract; just must not corrupt ---
ln "$M/a" "$M/hard" 2>/dev/null && note "hard links supported"

# --- revision xattrs ---
echo r1 >"$M/rev"
c1=$(qfs_xattr "$M/rev" create_revision)
m1=$(qfs_xattr "$M/rev" mod_revision)
v1=$(qfs_xattr "$M/rev" version)
if [ -z "$c1$m1$v1" ]; then
	fail "xattrs user.quorumfs.{create_revision,mod_revision,version} not readable: $(getfattr -d -m - "$M/rev" 2>&1)"
else
	[[ "$m1" =~ ^[0-9]+$ && "$c1" =~ ^[0-9]+$ && "$v1" =~ ^[0-9]+$ ]] ||
		fail "revision xattrs are not decimal numbers: create=$c1 mod=$m1 version=$v1"
	[ "${v1:-0}" -ge 1 ] 2>/dev/null || fail "version of a new key is $v1 (expected >= 1)"
	echo r2 >"$M/rev"
	m2=$(qfs_xattr "$M/rev" mod_revision)
	v2=$(qfs_xattr "$M/rev" version)
	c2=$(qfs_xattr "$M/rev" create_revision)
	echo r3 >>"$M/rev"
	chmod 600 "$M/rev"
	m3=$(qfs_xattr "$M/rev" mod_revision)
	v3=$(qfs_xattr "$M/rev" version)
	c3=$(qfs_xattr "$M/rev" create_revision)
	[ "${m2:-0}" -gt "${m1:-0}" ] 2>/dev/null || fail "mod_revision did not increase on overwrite: $m1 -> $m2"
	[ "${m3:-0}" -gt "${m2:-0}" ] 2>/dev/null || fail "mod_revision did not increase on append+chmod: $m2 -> $m3"
	check_eq "$v2" $((v1 + 1)) "version counts the overwrite"
	[ "${v3:-0}" -gt "${v2:-0}" ] 2>/dev/null || fail "version did not increase on append+chmod: $v2 -> $v3"
	check_eq "$c2" "$c1" "create_revision stays on overwrite"
	check_eq "$c3" "$c1" "create_revision stays on append/chmod"
	[ "$c1" -le "$m1" ] 2>/dev/null || fail "create_revision $c1 > mod_revision $m1"
	echo other >"$M/rev-other"
	mo=$(qfs_xattr "$M/rev-other" mod_revision)
	[ "${mo:-0}" -gt "${m3:-0}" ] 2>/dev/null || fail "revision is not cluster-wide increasing: other key got $mo after $m3"
	m4=$(qfs_xattr "$M/rev" mod_revision)
	check_eq "$m4" "$m3" "mod_revision unchanged by a change to another key"
	mv "$M/rev" "$M/rev2"
	check_eq "$(qfs_xattr "$M/rev2" create_revision)" "$c1" "create_revision stays across rename"
	listed=$(getfattr -d -m 'user.quorumfs' "$M/rev2" 2>/dev/null | grep -c '^user.quorumfs')
	[ "$listed" -eq 3 ] || note "listxattr shows $listed user.quorumfs.* attributes (expected 3 if listed)"
	check_fails "" "getfattr of an unknown attribute" -- getfattr -n user.quorumfs.nonsense "$M/rev2"
fi

qfs_done
