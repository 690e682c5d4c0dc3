#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010,SC2012
# Special entries on one node (INTERFACE §4, §5, §7):
# - never listed: `ls -a`, `find`, `tar -c`, `cp -r`, `rsync -a` of a tree that
#   holds a queue show no special name and pop no item (3 items before and
#   after; the copies hold the 3 values in sequence order); nor does a stat of
#   each special entry;
# - reserved names: `.rev .cas .enqueue .dequeue .watch` in the root and in a
#   subdirectory, and `members .status .metrics` at the root, cannot be created
#   by touch, mkdir or `mv -T` onto them (EPERM; mkdir may get EEXIST from the
#   kernel itself where the special entry resolves); `members .status
#   .metrics` are ordinary names in a subdirectory;
# - bad input: `.cas/abc/x`, `.cas/-1/x`, `.cas/+1/x`, a 20-digit revision
#   above 2^64-1 and a 30-digit one: EINVAL (write and rm); writes to
#   members/NAME, .status, .metrics and creating files in members/: EACCES;
#   `.rev/` of a missing key: ENOENT. After all of them the tree
#   (`find -printf '%p %s %m'`) and the `revision=` of .status are unchanged;
# - a CAS mismatch (ECANCELED) or `.cas/0/` of an existing key (EEXIST)
#   changes neither the key nor its counters;
# - xattrs user.quorumfs.{mod_revision,create_revision,version} follow a key
#   through write, chmod, mv, rm and re-creation; `.rev/NAME` is
#   `<mod_revision>\n` and equals the xattr; the .status revision is the
#   mod_revision of the last change.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

SPECIAL=(.rev .cas .enqueue .dequeue .watch)
ROOTONLY=(members .status .metrics)
SPECIAL_RE='(^|/)(\.rev|\.cas|\.enqueue|\.dequeue|\.watch|members|\.status|\.metrics)(/|$)'

# check_fails_with "ERR1|ERR2" WHAT -- CMD...: CMD fails and its stderr holds
# one of the error texts.
check_fails_with() {
	local errs=$1 what=$2 err rc e
	shift 2
	[ "$1" = "--" ] && shift
	err=$(timeout -k 5 60 "$@" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -eq 0 ]; then
		_fail_at 1 "$what: '$(_qfs_short "$*")' succeeded, expected failure with \"$errs\""
		return 1
	fi
	local IFS='|'
	for e in $errs; do
		[[ "$err" == *"$e"* ]] && return 0
	done
	_fail_at 1 "$what: '$(_qfs_short "$*")' failed (rc $rc) with '$(_qfs_short "$err")', expected \"$errs\""
	return 1
}

# --- a tree with a queue of 3 items --------------------------------------------
mkdir -p "$M/tree/sub/deep" "$M/tree/q" || die "mkdir failed"
echo a >"$M/tree/a"
echo b >"$M/tree/sub/b"
echo c >"$M/tree/sub/deep/c"
for i in 1 2 3; do
	{ echo "item$i" >"$M/tree/q/.enqueue"; } 2>/dev/null || fail "echo item$i > tree/q/.enqueue failed"
done
items() { ls "$M/tree/q" 2>/dev/null | grep -c '^[0-9]\{20\}$'; }
item_values() { (cd "$M/tree/q" && ls | grep '^[0-9]\{20\}$' | xargs -r cat) 2>&1 | tr '\n' ' '; }
check_eq "$(items)" 3 "items in tree/q after 3 enqueues"
check_eq "$(item_values)" "item1 item2 item3 " "item values in name order"
tree_list=$'tree\ntree/a\ntree/q\ntree/sub\ntree/sub/b\ntree/sub/deep\ntree/sub/deep/c'

# --- never listed, never popped --------------------------------------------------
check_eq "$(ls -a "$M" 2>&1 | tr '\n' ' ')" ". .. tree " "ls -a of the root"
check_eq "$(ls -a "$M/tree/sub" 2>&1 | tr '\n' ' ')" ". .. b deep " "ls -a of tree/sub"
check_eq "$(ls -a "$M/tree/q" 2>&1 | grep -v '^[0-9]\{20\}$' | tr '\n' ' ')" ". .. " "ls -a of the queue: only items"
check_eq "$(ls -A "$M/tree/q" 2>&1 | grep -c .)" 3 "ls -A of the queue: 3 entries"
found=$(timeout -k 5 30 find "$M" -mindepth 1 -printf '%P\n' 2>&1 | sort)
check_eq "$(grep -Ev '^tree/q/[0-9]{20}$' <<<"$found")" "$tree_list" "find of the mount (items left out)"
check_eq "$(grep -Ec '^tree/q/[0-9]{20}$' <<<"$found")" 3 "items listed by find"
check_eq "$(timeout -k 5 30 find "$M" -mindepth 1 -name '.*' 2>&1)" "" "find -name '.*'"
check_eq "$(items)" 3 "items after ls and find"

check_ok "tar -c of the tree" -- tar -cf "$T/tree.tar" -C "$M" tree
tarlist=$(tar -tf "$T/tree.tar" 2>&1 | sed 's,/$,,' | sort)
check_eq "$(grep -Ec "$SPECIAL_RE" <<<"$tarlist")" 0 "special names in the tar archive"
check_eq "$(grep -Ev '^tree/q/[0-9]{20}$' <<<"$tarlist")" "$tree_list" "tar listing (items left out)"
check_eq "$(grep -Ec '^tree/q/[0-9]{20}$' <<<"$tarlist")" 3 "items in the tar archive"
check_eq "$(items)" 3 "items after tar -c"

check_ok "cp -r of the tree" -- cp -r "$M/tree" "$T/cp"
check_eq "$(cd "$T/cp" && find . -mindepth 1 | sort | grep -Ec "$SPECIAL_RE")" 0 "special names in the cp -r copy"
check_eq "$(cd "$T/cp/q" && ls | grep -c '^[0-9]\{20\}$')" 3 "items in the cp -r copy"
check_eq "$(cd "$T/cp/q" && cat ./* | tr '\n' ' ')" "item1 item2 item3 " "item values in the cp -r copy"
check_eq "$(items)" 3 "items after cp -r"

check_ok "rsync -a of the tree" -- rsync -a "$M/tree/" "$T/rs/"
check_eq "$(cd "$T/rs" && find . -mindepth 1 | grep -Ec "$SPECIAL_RE")" 0 "special names in the rsync -a copy"
check_ok "diff -r of the mount and the rsync copy" -- diff -r "$M/tree" "$T/rs"
check_eq "$(rsync -anci "$M/tree/" "$T/rs/" 2>&1 | grep -v '^\.d')" "" "rsync -anci: nothing left to copy"
check_eq "$(items)" 3 "items after rsync -a"

for n in "${SPECIAL[@]}"; do stat "$M/tree/q/$n" >/dev/null 2>&1; done
check_eq "$(items)" 3 "items after a stat of each special entry"
check_eq "$(item_values)" "item1 item2 item3 " "item values after all the listings"

# --- ordinary names in a subdirectory; sources for mv ---------------------------
mkdir -p "$M/free"
check_ok "mkdir free/members" -- mkdir "$M/free/members"
check_ok "echo > free/members/x" -- bash -c "echo m > '$M/free/members/x'"
check_ok "echo > free/.status" -- bash -c "echo s > '$M/free/.status'"
check_ok "touch free/.metrics" -- touch "$M/free/.metrics"
check_content "$M/free/members/x" $'m\n' "free/members/x"
check_content "$M/free/.status" $'s\n' "free/.status is an ordinary key"
check_eq "$(ls -A "$M/free" 2>&1 | tr '\n' ' ')" ".metrics .status members " "ordinary keys named members, .status, .metrics are listed in a subdirectory"
echo src >"$M/mvsrc-file"
mkdir "$M/mvsrc-dir"
node=$(ls "$M/members" 2>/dev/null | head -n 1)
[ -n "$node" ] || fail "members/ lists no node"
node=${node:-nonode}

snapshot() {
	(cd "$M" && timeout -k 5 30 find . -printf '%p %s %m\n' | sort) 2>&1
	echo "revision=$(sed -n 's/^revision=//p' "$M/.status" 2>&1)"
}
before=$(snapshot)
rev_before=$(sed -n 's/^revision=//p' "$M/.status" 2>/dev/null)
[[ "$rev_before" =~ ^[0-9]+$ ]] || fail "revision= of .status is '$rev_before', expected a number"

# --- reserved names ------------------------------------------------------------
# mv_src NAME: a source of the same type as what NAME resolves to (mv -T of a
# file onto a directory is refused by mv itself).
mv_src() { if [ -d "$1" ]; then echo "$M/mvsrc-dir"; else echo "$M/mvsrc-file"; fi; }
for d in "$M" "$M/tree/sub"; do
	where=${d#"$M"}
	where=${where:-/}
	for n in "${SPECIAL[@]}"; do
		check_fails "Operation not permitted" "touch $n in $where" -- touch "$d/$n"
		check_fails_with "Operation not permitted|File exists" "mkdir $n in $where" -- mkdir "$d/$n"
		check_fails "Operation not permitted" "mv -T onto $n in $where" -- mv -T "$(mv_src "$d/$n")" "$d/$n"
	done
done
for n in "${ROOTONLY[@]}"; do
	# touch of an existing read-only view is a write: EACCES (§5) is right too.
	check_fails_with "Operation not permitted|Permission denied" "touch $n at the root" -- touch "$M/$n"
	check_fails_with "Operation not permitted|File exists" "mkdir $n at the root" -- mkdir "$M/$n"
	check_fails "Operation not permitted" "mv -T onto $n at the root" -- mv -T "$(mv_src "$M/$n")" "$M/$n"
done

# --- malformed .cas revisions: EINVAL ---------------------------------------------
for rev in abc -1 +1 1x 0x10 18446744073709551616 99999999999999999999 \
	"$(rep 1 30)"; do
	check_fails "Invalid argument" "write to tree/.cas/$rev/a" -- bash -c "echo x > '$M/tree/.cas/$rev/a'"
	check_fails "Invalid argument" "rm tree/.cas/$rev/a" -- rm "$M/tree/.cas/$rev/a"
	check_fails "Invalid argument" "write to tree/.cas/$rev/new (absent key)" -- bash -c "echo x > '$M/tree/.cas/$rev/new'"
done

# --- read-only cluster views: EACCES ----------------------------------------------
check_fails "Permission denied" "write to members/$node" -- bash -c "echo x > '$M/members/$node'"
check_fails "Permission denied" "append to members/$node" -- bash -c "echo x >> '$M/members/$node'"
check_fails "Permission denied" "write to .status" -- bash -c "echo x > '$M/.status'"
check_fails "Permission denied" "truncate of .status" -- truncate -s 0 "$M/.status"
check_fails "Permission denied" "write to .metrics" -- bash -c "echo x > '$M/.metrics'"
check_fails "Permission denied" "create members/new by echo" -- bash -c "echo x > '$M/members/new'"
check_fails "Permission denied" "create members/new by touch" -- touch "$M/members/new"

# --- .rev of missing keys: ENOENT ---------------------------------------------------
check_fails "No such file or directory" ".rev of a missing key" -- cat "$M/tree/.rev/missing"
check_fails "No such file or directory" ".rev of a missing key at the root" -- cat "$M/.rev/missing"
check_fails "No such file or directory" ".rev in a missing directory" -- cat "$M/nodir/.rev/a"
check_fails "No such file or directory" "compare-and-delete of a missing key" -- rm "$M/tree/.cas/5/missing"
check_fails "" "write to tree/.rev/a (read-only)" -- bash -c "echo 1 > '$M/tree/.rev/a'"

after=$(snapshot)
if [ "$after" != "$before" ]; then
	fail "the refused operations changed the tree or the revision: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -n 8 | tr '\n' '|')"
fi
check_eq "$(items)" 3 "items after the refused operations"

# --- CAS mismatch and EEXIST change nothing ---------------------------------------
read_xattrs() { echo "$(qfs_xattr "$1" mod_revision) $(qfs_xattr "$1" create_revision) $(qfs_xattr "$1" version)"; }
ra=$(cat "$M/tree/.rev/a" 2>/dev/null)
[[ "$ra" =~ ^[1-9][0-9]*$ ]] || {
	fail "tree/.rev/a is '$ra', expected a number"
	ra=1000
}
xa=$(read_xattrs "$M/tree/a")
check_fails "Operation canceled" "CAS write with a stale revision" -- bash -c "echo z > '$M/tree/.cas/$((ra - 1))/a'"
check_fails "Operation canceled" "CAS write with a future revision" -- bash -c "echo z > '$M/tree/.cas/$((ra + 1000))/a'"
check_fails "Operation canceled" "compare-and-delete with a wrong revision" -- rm "$M/tree/.cas/$((ra + 1))/a"
check_fails "File exists" "CAS create (.cas/0) of an existing key" -- bash -c "echo z > '$M/tree/.cas/0/a'"
check_content "$M/tree/a" $'a\n' "tree/a after the refused CAS writes"
check_eq "$(read_xattrs "$M/tree/a")" "$xa" "xattrs of tree/a after the refused CAS writes"
check_eq "$(ls -A "$M/tree" 2>&1 | tr '\n' ' ')" "a q sub " "tree/ after the refused CAS writes"

# --- xattrs and .rev follow a key ---------------------------------------------------
mkdir -p "$M/x/sub"
K=$M/x/sub/k
# revs_of F: "mod create version", checking .rev against the xattr.
revs_of() {
	local f=$1 mod rv
	mod=$(qfs_xattr "$f" mod_revision)
	rv=$(cat "$(dirname "$f")/.rev/$(basename "$f")" 2>&1)
	[ "$rv" = "$mod" ] || _fail_at 1 ".rev/$(basename "$f") is '$rv', the xattr mod_revision '$mod'"
	REV_MOD=$mod
	REV_CREATE=$(qfs_xattr "$f" create_revision)
	REV_VERSION=$(qfs_xattr "$f" version)
	[[ "$REV_MOD $REV_CREATE $REV_VERSION" =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]] ||
		_fail_at 1 "xattrs of ${f#"$M"/} not numeric: mod='$REV_MOD' create='$REV_CREATE' version='$REV_VERSION'"
}
status_rev() { sed -n 's/^revision=//p' "$M/.status" 2>/dev/null; }

echo 1 >"$K"
revs_of "$K"
m1=$REV_MOD c1=$REV_CREATE v1=$REV_VERSION
check_content "$M/x/sub/.rev/k" "$m1"$'\n' ".rev/k is '<mod_revision>\\n'"
check_eq "$(status_rev)" "$m1" ".status revision after creating x/sub/k"
[ "${c1:-0}" -le "${m1:-0}" ] || fail "create_revision $c1 above mod_revision $m1"
[ "${v1:-0}" -ge 1 ] || fail "version of a new key is '$v1', expected >= 1"

echo 2 >"$K"
revs_of "$K"
check_eq "$REV_MOD" "$(status_rev)" "mod_revision after an overwrite is the .status revision"
[ "${REV_MOD:-0}" -gt "${m1:-0}" ] || fail "mod_revision did not grow on overwrite: $m1 -> $REV_MOD"
check_eq "$REV_CREATE" "$c1" "create_revision after an overwrite"
check_eq "$REV_VERSION" "$((v1 + 1))" "version after an overwrite"
m2=$REV_MOD

chmod 600 "$K"
revs_of "$K"
[ "${REV_MOD:-0}" -gt "${m2:-0}" ] || fail "mod_revision did not grow on chmod: $m2 -> $REV_MOD"
check_eq "$REV_CREATE" "$c1" "create_revision after chmod"
check_eq "$REV_VERSION" "$((v1 + 2))" "version after chmod"
check_eq "$REV_MOD" "$(status_rev)" "mod_revision after chmod is the .status revision"
m3=$REV_MOD

# A key elsewhere changes the cluster revision, not this key's counters.
echo other >"$M/x/other"
revs_of "$K"
check_eq "$REV_MOD $REV_CREATE $REV_VERSION" "$m3 $c1 $((v1 + 2))" "counters of k after a change to another key"
sr=$(status_rev)
[ "${sr:-0}" -gt "${m3:-0}" ] || fail ".status revision did not grow with a change to another key"

mv "$K" "$M/x/sub/k2"
revs_of "$M/x/sub/k2"
[ "${REV_MOD:-0}" -gt "${m3:-0}" ] || fail "mod_revision of the renamed key ($REV_MOD) not above $m3"
check_eq "$REV_MOD" "$(status_rev)" "mod_revision after mv is the .status revision"
check_fails "No such file or directory" ".rev of the old name after mv" -- cat "$M/x/sub/.rev/k"

rm "$M/x/sub/k2"
check_fails "No such file or directory" ".rev after rm" -- cat "$M/x/sub/.rev/k2"
check_eq "$(qfs_xattr "$M/x/sub/k2" mod_revision)" "" "xattr of a removed key"
r_rm=$(status_rev)

echo again >"$K"
revs_of "$K"
[ "${REV_CREATE:-0}" -gt "${r_rm:-0}" ] || fail "create_revision of a re-created key ($REV_CREATE) not above the rm ($r_rm)"
check_eq "$REV_VERSION" "$v1" "version of a re-created key starts over"
check_eq "$REV_MOD" "$(status_rev)" "mod_revision after re-creation is the .status revision"
qfs_done
