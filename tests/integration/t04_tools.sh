#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Tools that write through temp + rename: rsync -a (in, out, incremental
# update), sed -i, and vim's write.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

qfs_make_tree "$T/src" 300 11
check_ok "rsync -a into the mount" -- rsync -a "$T/src/" "$M/r/"
check_ok "rsync -a out of the mount" -- rsync -a "$M/r/" "$T/out/"
check_ok "diff -r source vs mount" -- diff -r "$T/src" "$M/r"
check_ok "diff -r source vs round-trip" -- diff -r "$T/src" "$T/out"
check_eq "$(qfs_tree_meta_files "$M/r")" "$(qfs_tree_meta_files "$T/src")" "modes, sizes, mtimes after rsync -a"
check_eq "$(qfs_tree_meta_files "$T/out")" "$(qfs_tree_meta_files "$T/src")" "modes, sizes, mtimes after rsync round trip"
# rsync itself sees nothing to do (compares size, mtime, perms and checksums).
diffs=$(rsync -anci "$T/src/" "$M/r/" 2>&1 | grep -v '^\.d')
check_eq "$diffs" "" "rsync -anci reports no difference"

# Incremental update: change, add and delete files; rsync replaces by temp+rename.
n=0
for f in $(cd "$T/src" && find . -type f -name '*.dat' | sort | head -40); do
	n=$((n + 1))
	if [ $((n % 4)) -eq 0 ]; then rm "$T/src/$f"; else head -c $((n * 333)) /dev/urandom >"$T/src/$f"; fi
done
mkdir -p "$T/src/newdir/sub"
echo added >"$T/src/newdir/sub/new"
inode_before=$(stat -c %i "$M/r/d1" 2>/dev/null)
check_ok "rsync -a --delete update" -- rsync -a --delete "$T/src/" "$M/r/"
check_ok "diff -r after incremental rsync" -- diff -r "$T/src" "$M/r"
check_eq "$(qfs_tree_meta_files "$M/r")" "$(qfs_tree_meta_files "$T/src")" "metadata after incremental rsync"
check_eq "$(rsync -anci --delete "$T/src/" "$M/r/" 2>&1 | grep -v '^\.d')" "" "nothing left to sync"
ls -a "$M/r" | grep -q '^\..*\.[A-Za-z0-9]\{6\}$' && fail "rsync temp files left behind: $(ls -a "$M/r")"
[ -n "$inode_before" ] && check_eq "$(stat -c %i "$M/r/d1" 2>&1)" "$inode_before" "dir inode unchanged by rsync"

# sed -i: writes a temp file in the same dir, then renames it over the key.
printf 'hello world\nsecond line\n' >"$M/s"
chmod 640 "$M/s"
check_ok "sed -i" -- sed -i 's/world/there/' "$M/s"
check_content "$M/s" $'hello there\nsecond line\n' "sed -i changed the key"
check_eq "$(stat -c %a "$M/s" 2>&1)" 640 "sed -i keeps the mode"
check_eq "$(ls -a "$M" | grep -c '^sed')" 0 "sed left no temp file"
mkdir -p "$M/cfg/sub"
printf 'a=1\nb=2\n' >"$M/cfg/sub/k"
check_ok "sed -i in a subdir" -- sed -i -e 's/b=2/b=3/' -e '1i# header' "$M/cfg/sub/k"
check_content "$M/cfg/sub/k" $'# header\na=1\nb=3\n' "sed -i in a subdir"
check_ok "sed -i.bak" -- sed -i.bak 's/a=1/a=9/' "$M/cfg/sub/k"
check_content "$M/cfg/sub/k.bak" $'# header\na=1\nb=3\n' "sed -i.bak kept the backup"
check_content "$M/cfg/sub/k" $'# header\na=9\nb=3\n' "sed -i.bak changed the key"

# vim's write (backup + write or rename, whatever it picks on this fs).
VIM=$(command -v vim || command -v vim.tiny || command -v vi)
if [ -z "$VIM" ]; then
	fail "no vim / vim.tiny / vi installed (apt package vim-tiny)"
else
	printf 'banana\nalpha\n' >"$M/v"
	check_ok "vim write" -- "$VIM" -u NONE -i NONE -n -es -c '%s/a/b/' -c 'wq' "$M/v"
	check_content "$M/v" $'bbnana\nblpha\n' "vim changed the key"
	ls -a "$M" | grep -E '^(\.v\.sw.|v~|4913)$' && fail "vim left files behind: $(ls -a "$M")"
	mkdir -p "$M/vd"
	printf 'x = a\n' >"$M/vd/conf"
	check_ok "vim write in a subdir with writebackup" -- "$VIM" -u NONE -i NONE -n -es -c 'set backup writebackup' -c '%s/a/b/' -c 'wq' "$M/vd/conf"
	check_content "$M/vd/conf" $'x = b\n' "vim (backup on) changed the key"
	check_ok "vim :w to a new key" -- "$VIM" -u NONE -i NONE -n -es -c 'call setline(1, "fresh")' -c "w $M/vd/new" -c 'q!'
	check_content "$M/vd/new" $'fresh\n' "vim wrote a new key"
fi
qfs_done
