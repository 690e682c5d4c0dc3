#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# quorumctl snapshot save / verify / restore (INTERFACE §6): a snapshot saved
# on a FOLLOWER while a writer loads the cluster is a consistent point-in-time
# copy: restored into three new data directories and started as a new
# 3-node cluster (new ports, same node names), it serves the same static tree
# byte for byte (names, values, modes, owners, mtimes, a symlink, a binary
# value, a 100 KB value), exactly the load keys whose revision is <= the
# snapshot's revision, revisions that go on from the snapshot's, and takes
# writes; the new cluster has a cluster id of its own. A truncated file, a
# flipped byte, a JSON file and an empty file are refused by verify and by
# restore with a message saying which, and restore leaves no data dir behind.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 6 # 1..3: the original cluster; ports 4..6 for the restored one
cl_start_all
M1=${CL_MNT[1]}

# --- a static tree ------------------------------------------------------------
mkdir -p "$M1/static/d1/d2" "$M1/static/empty" || die "mkdir failed"
printf 'hello world\n' >"$M1/static/a.txt" || die "write failed"
printf 'secret\n' >"$M1/static/d1/private"
printf '#!/bin/sh\necho hi\n' >"$M1/static/d1/run.sh"
printf '\000\001\002\377\376binary\000tail' >"$M1/static/d1/bin"
head -c 102400 /dev/urandom >"$T/big"
cp "$T/big" "$M1/static/d1/d2/big" || die "cp of a 100 KB value failed"
: >"$M1/static/d1/empty-file"
ln -s ../a.txt "$M1/static/d1/link" || die "symlink failed"
chmod 600 "$M1/static/d1/private"
chmod 750 "$M1/static/d1/run.sh"
chmod 444 "$M1/static/a.txt"
chmod 711 "$M1/static/d1/d2"
chmod 2755 "$M1/static/empty"
chown 1234:5678 "$M1/static/d1/bin" || fail "chown failed"
touch -d @1500000000 "$M1/static/d1/private"
mkdir -p "$M1/load"

# tree_of DIR: every entry with type, mode, owner, size, mtime and symlink
# target, then every file's sha256.
tree_of() {
	(cd "$1" && {
		find . -printf '%y %m %U:%G %s %T@ %p -> %l\n' | awk '$1 == "d" { $4 = "-" } { print }' | sort
		find . -type f -print0 | sort -z | xargs -0 -r sha256sum
	}) 2>&1
}
cl_sync 1 10 1 2 3
ORIG=$(tree_of "$M1/static")
grep -q ' ./d1/link -> ../a.txt$' <<<"$ORIG" || fail "the original tree lacks the symlink: $ORIG"

# --- a writer loop on node 1; save on a follower meanwhile ----------------------------
: >"$T/writes"
(
	n=0
	while [ ! -e "$T/stop" ]; do
		n=$((n + 1))
		# one commit: create-if-absent with its value (INTERFACE §4)
		echo "$n" >"$M1/load/.cas/0/k$n" || { echo "write k$n failed" >>"$T/writer.err"; break; }
		r=$(cat "$M1/load/.rev/k$n") || break
		echo "$n $r" >>"$T/writes"
	done
) &
WRITER=$!
qfs_helper "$WRITER"
sleep 1.5
cl_wait_leader 10 || die "no leader"
F=1
for F in 1 2 3; do [ "$F" != "$CL_LEADER" ] && break; done
t0=$(now_ms)
OUT=$(cl_ctl "$F" snapshot save "$T/snap.qfsnap" 2>"$T/save.err")
RC=$?
qfs_log "snapshot save on follower ${CL_NAME[F]}: rc $RC in $(($(now_ms) - t0)) ms: $(tr '\n' ' ' <<<"$OUT")"
check_eq "$RC" 0 "exit status of snapshot save on a follower" || die "save failed: $(cat "$T/save.err")"
for k in revision keys bytes; do
	grep -Eq "^$k=[0-9]+$" <<<"$OUT" || fail "snapshot save does not print $k: $OUT"
done
SREV=$(sed -n 's/^revision=//p' <<<"$OUT")
[ -e "$T/snap.qfsnap.tmp" ] && fail "snapshot save left $T/snap.qfsnap.tmp behind"
sleep 1
touch "$T/stop"
qfs_wait_exit "$WRITER" 20 || fail "the writer did not stop"
[ -s "$T/writer.err" ] && fail "writer: $(cat "$T/writer.err")"
NW=$(wc -l <"$T/writes")
BEFORE=$(awk -v r="$SREV" '$2 <= r' "$T/writes" | wc -l)
AFTER=$(awk -v r="$SREV" '$2 > r' "$T/writes" | wc -l)
qfs_log "$NW writes; snapshot revision $SREV: $BEFORE before it, $AFTER after"
[ "$BEFORE" -gt 0 ] && [ "$AFTER" -gt 0 ] || fail "the snapshot was not taken during the load ($BEFORE writes before it, $AFTER after)"

VOUT=$(timeout -k 2 60 "$QFS_CTL" snapshot verify "$T/snap.qfsnap" 2>&1)
check_eq "$?" 0 "snapshot verify of a fresh snapshot" || qfs_log "$VOUT"
check_eq "$(sed -n 's/^revision=//p' <<<"$VOUT")" "$SREV" "revision printed by verify"
OLD_CID=$(sed -n 's/^cluster_id=//p' <<<"$VOUT")
[ -n "$OLD_CID" ] || fail "verify prints no cluster_id: $VOUT"

# --- stop the cluster; restore into three new data dirs; start them anew ----------
for i in 1 2 3; do cl_stop "$i"; done
for i in 1 2 3; do
	CL_URL[i]=${CL_URL[i + 3]}
	CL_PORT[i]=${CL_PORT[i + 3]}
	CL_DATA[i]=$T/r$i
	CL_MNT[i]=$T/rm$i
	CL_LOG[i]=$T/r-n$i.log
	OUT=$(timeout -k 2 60 "$QFS_CTL" snapshot restore "$T/snap.qfsnap" --data "${CL_DATA[i]}" --name "n$i" 2>"$T/restore.err")
	check_eq "$?" 0 "exit status of snapshot restore into ${CL_DATA[i]}" || qfs_log "$(cat "$T/restore.err")"
	check_eq "$(sed -n 's/^revision=//p' <<<"$OUT")" "$SREV" "revision printed by restore"
done
for i in 1 2 3; do cl_start "$i"; done
cl_wait_leader 15 || die "the restored cluster elected no leader within 15 s"
R1=${CL_MNT[1]}
check_eq "$(tree_of "$R1/static")" "$ORIG" "static tree on the restored cluster (names, modes, owners, sizes, mtimes, symlink, values)"
cmp -s "$T/big" "$R1/static/d1/d2/big" || fail "the 100 KB value differs after the restore"
# load/: exactly the keys written at or before the snapshot's revision
have=$(cd "$R1/load" && ls | sort)
want=$(awk -v r="$SREV" '$2 <= r { print "k" $1 }' "$T/writes" | sort)
if [ "$have" != "$want" ]; then
	fail "load/ keys on the restored cluster differ from those with revision <= $SREV: $(diff <(echo "$want") <(echo "$have") | grep '^[<>]' | head -n 5 | tr '\n' ' ')"
fi
bad=0
while read -r n r; do
	[ "$r" -le "$SREV" ] || continue
	v=$(cat "$R1/load/k$n" 2>/dev/null)
	rv=$(cat "$R1/load/.rev/k$n" 2>/dev/null)
	if [ "$v" != "$n" ] || [ "$rv" != "$r" ]; then
		bad=$((bad + 1))
		[ $bad -le 3 ] && fail "load/k$n on the restored cluster: value '$v' revision '$rv' (expected $n, $r)"
	fi
done <"$T/writes"
STREV=$(sed -n 's/^revision=//p' "$R1/.status")
[ -n "$STREV" ] && [ "$STREV" -ge "$SREV" ] || fail "restored cluster's .status revision '$STREV' < snapshot revision $SREV"
cl_write_retry "$R1/after-restore" "new" 10 || fail "a write on the restored cluster failed"
NREV=$(cat "$R1/.rev/after-restore" 2>/dev/null)
[ -n "$NREV" ] && [ "$NREV" -gt "$SREV" ] || fail "revision of a write after the restore is '$NREV', not above $SREV"
cl_sync 1 10 1 2 3
cl_check_same_tree "restored cluster" 1 2 3
# Its own cluster id: a snapshot of it names another one.
cl_ctl 2 snapshot save "$T/snap2.qfsnap" >/dev/null 2>&1 || fail "snapshot save on the restored cluster failed"
NEW_CID=$(timeout -k 2 60 "$QFS_CTL" snapshot verify "$T/snap2.qfsnap" 2>/dev/null | sed -n 's/^cluster_id=//p')
[ -n "$NEW_CID" ] && [ "$NEW_CID" != "$OLD_CID" ] || fail "the restored cluster's id '$NEW_CID' is not new (old: $OLD_CID)"

# --- refusals ---------------------------------------------------------------------------
SIZE=$(stat -c %s "$T/snap.qfsnap")
head -c $((SIZE / 2)) "$T/snap.qfsnap" >"$T/truncated.qfsnap"
cp "$T/snap.qfsnap" "$T/flipped.qfsnap"
OFF=$((SIZE / 2))
b=$(od -An -tu1 -j "$OFF" -N1 "$T/flipped.qfsnap" | tr -d ' ')
printf "\\x$(printf %02x $((b ^ 0x5a)))" | dd of="$T/flipped.qfsnap" bs=1 seek="$OFF" conv=notrunc 2>/dev/null
cmp -s "$T/snap.qfsnap" "$T/flipped.qfsnap" && fail "the byte was not flipped"
echo '{"format": "quorumfs-export", "version": 1, "keys": []}' >"$T/state.json"
: >"$T/empty.qfsnap"
refuse() { # FILE MESSAGE
	check_fails "$2" "snapshot verify of ${1##*/}" -- "$QFS_CTL" snapshot verify "$1"
	check_fails "$2" "snapshot restore of ${1##*/}" -- "$QFS_CTL" snapshot restore "$1" --data "$T/refused"
	[ -e "$T/refused" ] && fail "snapshot restore of ${1##*/} left $T/refused behind" && rm -rf "$T/refused"
	qfs_log "${1##*/}: $("$QFS_CTL" snapshot verify "$1" 2>&1)"
}
refuse "$T/truncated.qfsnap" "truncated: "
refuse "$T/flipped.qfsnap" "checksum mismatch"
refuse "$T/state.json" "not a quorumfs snapshot"
refuse "$T/empty.qfsnap" "not a quorumfs snapshot"
refuse /etc/passwd "not a quorumfs snapshot"
check_fails "is not empty" "snapshot restore into a data dir in use" -- "$QFS_CTL" snapshot restore "$T/snap.qfsnap" --data "${CL_DATA[2]}"
check_fails "" "snapshot verify of a missing file" -- "$QFS_CTL" snapshot verify "$T/nope.qfsnap"
cl_done
