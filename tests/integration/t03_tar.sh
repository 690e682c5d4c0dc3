#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# tar round-trip: a tree of 1,000 files (random sizes and contents, nested dirs,
# assorted modes) extracted into the mount and archived back out compares equal
# byte for byte (diff -r, sha256) with the same modes and mtimes.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

qfs_make_tree "$T/src" 1000 7
mkdir "$M/tree" "$T/out"
check_ok "tar extract into the mount" -- bash -c "tar -C '$T/src' -cf - . | tar -C '$M/tree' -xpf -"
check_ok "tar archive out of the mount" -- bash -c "tar -C '$M/tree' -cf - . | tar -C '$T/out' -xpf -"

check_ok "diff -r source vs mount" -- diff -r "$T/src" "$M/tree"
check_ok "diff -r source vs round-trip" -- diff -r "$T/src" "$T/out"
check_eq "$(qfs_tree_sums "$M/tree")" "$(qfs_tree_sums "$T/src")" "sha256 of every file in the mount"
check_eq "$(qfs_tree_sums "$T/out")" "$(qfs_tree_sums "$T/src")" "sha256 of every file after the round trip"
check_eq "$(qfs_tree_meta "$M/tree")" "$(qfs_tree_meta "$T/src")" "types, modes, sizes, mtimes in the mount"
check_eq "$(qfs_tree_meta "$T/out")" "$(qfs_tree_meta "$T/src")" "types, modes, sizes, mtimes after the round trip"
check_eq "$(find "$M/tree" -type f | wc -l)" 1000 "number of files in the mount"

# tar -d (compare archive against the file system) sees no difference either.
tar -C "$T/src" -cf "$T/src.tar" . || die "tar of the source failed"
check_ok "tar -d against the mount" -- tar -C "$M/tree" -df "$T/src.tar"

# Re-extracting over existing files replaces them (tar unlinks + creates).
check_ok "tar extract over existing tree" -- tar -C "$M/tree" -xpf "$T/src.tar"
check_ok "diff -r after re-extract" -- diff -r "$T/src" "$M/tree"
qfs_done
