#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2016,SC2010,SC2012
# The container case (INTERFACE §1 -o allow_other, §4 "special entries exist in
# every directory, so they work inside a container that mounts only a
# subtree"), as far as a machine without a container engine allows:
# one node mounted with -o allow_other; a "container" is a process in new
# mount and PID namespaces, chrooted into a root file system that holds only
# busybox (static), with ONLY the subtree $M/jobs bind-mounted at /jobs (what
# `docker run -v /cluster/jobs:/jobs` does). Checks:
# - inside: PID 1, `/` is the small root file system, /jobs is the quorumfs
#   mount with root /jobs, the rest of the tree (other/, .status) is out of
#   reach;
# - as root inside: read a key (`read <`, busybox `cat`), write a key and create one
#   (`echo >`), enqueue (`echo > /jobs/.enqueue`), dequeue (`read <
#   /jobs/.dequeue` pops the oldest item), `.rev/KEY` equals the xattr
#   outside, `ls -a /jobs` shows no special entry and equals `ls -a` outside;
#   every effect is seen outside on the mount;
# - a worker loop inside (the docker/compose.yaml consumer) drains the queue,
#   blocks on an empty one and takes items a producer outside enqueues later,
#   each exactly once and in order;
# - as uid 1000 inside (chroot --userspec): allow_other lets it in and the
#   stored modes decide (default_permissions): a 644 root key reads but does
#   not write (EACCES), a 666 key writes, a 600 root key does not read, in a
#   directory it owns it creates keys (owned by 1000 outside) and uses the
#   queue; a second mount without allow_other refuses uid 1000 (EACCES);
# - busybox `cat` (sendfile, i.e. splice) of `.rev/KEY` and `.dequeue` returns
#   the value, and a dequeued item is not lost. (Kernels whose FUSE splice
#   read ignores FOPEN_DIRECT_IO serve sendfile from the page cache, clamped at
#   st_size: a special entry that reports size 0 then reads as empty.)
. "$(dirname "$0")/lib.sh"
qfs_setup

for c in unshare chroot setpriv mount; do
	command -v "$c" >/dev/null || die "$c is missing (util-linux/coreutils)"
done
BB=$(command -v busybox) || die "busybox is missing (scripts/deps.sh installs busybox-static)"
ldd "$BB" >/dev/null 2>&1 && die "$BB is dynamically linked; install busybox-static"

qfs_start -o allow_other
awk -v m="$M" '$5 == m' /proc/self/mountinfo | grep -q allow_other ||
	fail "the mount does not show allow_other in /proc/self/mountinfo"

# --- the cluster state; the container will see only jobs/ --------------------
mkdir -p "$M/jobs/sub" "$M/other" || die "mkdir on the mount failed"
echo v1 >"$M/jobs/config" || die "write jobs/config failed"
echo secret >"$M/other/secret" || die "write other/secret failed"
for i in 1 2 3; do
	echo "item$i" >"$M/jobs/.enqueue" || die "enqueue item$i failed"
done
items() { (cd "$M/jobs" && ls | grep '^[0-9]\{20\}$' | xargs -r cat) 2>&1 | tr '\n' ' '; }
check_eq "$(items)" "item1 item2 item3 " "queue before the container"

# --- a root file system with busybox only ------------------------------------
ROOTFS=$T/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/jobs" "$ROOTFS/proc"
cp "$BB" "$ROOTFS/bin/busybox" || die "cannot copy busybox"
for a in sh cat ls id awk grep tr sleep head wc; do ln -s busybox "$ROOTFS/bin/$a"; done

# ctr USERSPEC SCRIPT: run SCRIPT with busybox sh as USERSPEC (uid:gid) in new
# mount and PID namespaces, chrooted into $ROOTFS, with only $M/jobs bound at
# /jobs and the new namespace's /proc. Bounded by CTR_TIMEOUT (default 60 s).
ctr() {
	timeout -k 5 "${CTR_TIMEOUT:-60}" unshare --mount --pid --fork --kill-child --propagation private \
		/bin/sh -c 'mount --bind "$1" "$2/jobs" && mount -t proc proc "$2/proc" &&
			exec chroot --userspec="$3" "$2" /bin/busybox sh -c "$4"' \
		ctr "$M/jobs" "$ROOTFS" "$1" "$2"
}
# field NAME OUTPUT: the value of the line "NAME=..." of OUTPUT.
field() { sed -n "s/^$1=//p" <<<"$2" | head -n 1; }

# --- 1. root inside: isolation, keys, queue, .rev, listing --------------------
read -r -d '' S_ROOT <<'EOF'
echo "pid=$$"
echo "root=$(ls / | tr '\n' ' ')"
echo "mnt=$(awk '$5 == "/jobs" { for (i = 7; $i != "-"; i++); print $4, $(i + 1) }' /proc/self/mountinfo)"
read -r v </jobs/config && echo "config=$v"
echo "catconfig=$(cat /jobs/config)"
echo v2 >/jobs/config && echo "write=ok"
echo fromctr >/jobs/newkey && echo "create=ok"
echo item4 >/jobs/.enqueue && echo "enqueue=ok"
read -r it </jobs/.dequeue && echo "dequeue=$it"
read -r r </jobs/.rev/config && echo "rev=$r"
echo "ls=$(ls -a /jobs | tr '\n' ' ')"
if [ -e /jobs/.status ] || [ -e /.status ]; then echo status=visible; else echo status=absent; fi
if [ -e /jobs/../other ] || [ -e /other ]; then echo other=visible; else echo other=absent; fi
echo finished=yes
EOF
out=$(ctr 0:0 "$S_ROOT" 2>&1)
[ "$(field finished "$out")" = yes ] || fail "the container script did not finish: $(_qfs_short "$out")"
check_eq "$(field pid "$out")" 1 "PID of the shell in the new PID namespace"
check_eq "$(field root "$out")" "bin jobs proc " "ls / inside: only the container's root file system"
check_eq "$(field mnt "$out")" "/jobs fuse.quorumfs" "/jobs inside: root and type of the bind mount"
check_eq "$(field config "$out")" v1 "read jobs/config inside"
check_eq "$(field catconfig "$out")" v1 "busybox cat /jobs/config inside (a key reads fine with sendfile)"
check_eq "$(field write "$out")" ok "echo v2 > /jobs/config inside"
check_eq "$(field create "$out")" ok "echo > /jobs/newkey inside"
check_eq "$(field enqueue "$out")" ok "echo item4 > /jobs/.enqueue inside"
check_eq "$(field dequeue "$out")" item1 "read < /jobs/.dequeue inside: the oldest item"
check_eq "$(field rev "$out")" "$(qfs_xattr "$M/jobs/config" mod_revision)" \
	"/jobs/.rev/config inside vs user.quorumfs.mod_revision outside"
check_eq "$(field ls "$out")" "$(ls -a "$M/jobs" | tr '\n' ' ')" "ls -a /jobs inside vs ls -a outside"
case "$(field ls "$out")" in
*.rev* | *.cas* | *.enqueue* | *.dequeue* | *.watch*) fail "ls -a /jobs inside lists a special entry: $(field ls "$out")" ;;
esac
check_eq "$(field status "$out")" absent "root-only entries and the root are out of reach inside"
check_eq "$(field other "$out")" absent "other/ (outside the subtree) is out of reach inside"
# ... and outside:
check_content "$M/jobs/config" $'v2\n' "jobs/config outside after the container wrote it"
check_content "$M/jobs/newkey" $'fromctr\n' "jobs/newkey outside"
check_eq "$(items)" "item2 item3 item4 " "queue outside: item1 popped, item4 appended"

# --- 2. a worker loop inside, a producer outside -------------------------------
read -r -d '' S_WORKER <<'EOF'
n=0
while [ $n -lt 5 ] && read -r it </jobs/.dequeue; do
	echo "$it" >>/jobs/done
	n=$((n + 1))
done
echo "worked=$n"
EOF
CTR_TIMEOUT=40 ctr 0:0 "$S_WORKER" >"$T/worker.out" 2>&1 &
wpid=$!
qfs_helper "$wpid"
for _ in $(seq 1 100); do
	[ -z "$(items)" ] && break
	sleep 0.1
done
check_eq "$(items)" "" "queue after the worker drained it"
sleep 1
qfs_alive "$wpid" || fail "the worker exited instead of blocking on an empty queue: $(cat "$T/worker.out")"
echo item5 >"$M/jobs/.enqueue" || fail "producer: enqueue item5 failed"
sleep 0.5
echo item6 >"$M/jobs/.enqueue" || fail "producer: enqueue item6 failed"
for _ in $(seq 1 100); do
	qfs_alive "$wpid" || break
	sleep 0.1
done
if qfs_alive "$wpid"; then
	fail "the worker is still running 10 s after the last item: $(cat "$T/worker.out")"
else
	wait "$wpid" 2>/dev/null
	wrc=$?
	check_eq "$wrc" 0 "worker exit status"
fi
check_eq "$(sed -n 's/^worked=//p' "$T/worker.out")" 5 "items the worker took"
check_content "$M/jobs/done" $'item2\nitem3\nitem4\nitem5\nitem6\n' "jobs/done: every item once, in order"
check_eq "$(items)" "" "queue after the worker"

# --- 3. another uid inside: allow_other lets it in, the modes decide ----------
chown 1000:1000 "$M/jobs" || fail "chown 1000:1000 jobs failed"
{ echo s0 >"$M/jobs/shared" && chmod 666 "$M/jobs/shared"; } || fail "setting up jobs/shared failed"
{ echo p0 >"$M/jobs/private" && chmod 600 "$M/jobs/private"; } || fail "setting up jobs/private failed"
read -r -d '' S_USER <<'EOF'
echo "id=$(id -u):$(id -g)"
read -r v </jobs/config && echo "config=$v"
echo "cfgwrite=$( (echo x >/jobs/config) 2>&1)"
echo u1 >/jobs/shared && echo "shared=ok"
echo "private=$(cat /jobs/private 2>&1)"
echo mine >/jobs/mine && echo "create=ok"
echo uitem >/jobs/.enqueue && echo "enqueue=ok"
read -r it </jobs/.dequeue && echo "dequeue=$it"
echo finished=yes
EOF
out=$(ctr 1000:1000 "$S_USER" 2>&1)
[ "$(field finished "$out")" = yes ] || fail "the uid 1000 script did not finish: $(_qfs_short "$out")"
check_eq "$(field id "$out")" 1000:1000 "uid:gid inside"
check_eq "$(field config "$out")" v2 "uid 1000 reads a 644 root key"
[[ "$(field cfgwrite "$out")" == *"Permission denied"* ]] ||
	fail "uid 1000 writing a 644 root key: expected Permission denied, got '$(field cfgwrite "$out")'"
check_content "$M/jobs/config" $'v2\n' "jobs/config unchanged by uid 1000"
check_eq "$(field shared "$out")" ok "uid 1000 writes a 666 key"
check_content "$M/jobs/shared" $'u1\n' "jobs/shared outside"
[[ "$(field private "$out")" == *"Permission denied"* ]] ||
	fail "uid 1000 reading a 600 root key: expected Permission denied, got '$(field private "$out")'"
check_eq "$(field create "$out")" ok "uid 1000 creates a key in a directory it owns"
check_eq "$(stat -c %u:%g "$M/jobs/mine" 2>&1)" 1000:1000 "owner of jobs/mine outside"
check_eq "$(field enqueue "$out")" ok "uid 1000 enqueues"
check_eq "$(field dequeue "$out")" uitem "uid 1000 dequeues"
check_eq "$(items)" "" "queue after uid 1000"

# Without allow_other, the kernel keeps every other uid out of a FUSE mount.
chmod 711 "$T"
check_ok "uid 1000 lists the allow_other mount" -- setpriv --reuid=1000 --regid=1000 --clear-groups ls "$M/jobs"
main_mnt=$QFS_MNT main_data=$QFS_DATA main_pid=$QFS_PID
QFS_MNT=$T/mnt2 QFS_DATA=$T/data2
qfs_start
check_fails "Permission denied" "uid 1000 on a mount without allow_other" -- \
	setpriv --reuid=1000 --regid=1000 --clear-groups ls "$T/mnt2"
qfs_stop
QFS_MNT=$main_mnt QFS_DATA=$main_data QFS_PID=$main_pid

# --- 4. busybox cat: sendfile on special entries ---------------------------------
echo catme >"$M/jobs/sub/.enqueue" || fail "enqueue into jobs/sub failed"
read -r -d '' S_CAT <<'EOF'
echo "catrev=$(cat /jobs/.rev/config)"
echo "catdeq=$(cat /jobs/sub/.dequeue)"
echo finished=yes
EOF
out=$(ctr 0:0 "$S_CAT" 2>&1)
[ "$(field finished "$out")" = yes ] || fail "the cat script did not finish: $(_qfs_short "$out")"
check_eq "$(field catrev "$out")" "$(qfs_xattr "$M/jobs/config" mod_revision)" \
	"busybox cat /jobs/.rev/config (sendfile)"
catdeq=$(field catdeq "$out")
left=$(cd "$M/jobs/sub" && ls | grep -c '^[0-9]\{20\}$')
if [ "$catdeq" != catme ]; then
	if [ "$left" = 0 ]; then
		fail "busybox cat /jobs/sub/.dequeue (sendfile) returned '$catdeq' and the item is gone: LOST"
	else
		fail "busybox cat /jobs/sub/.dequeue (sendfile) returned '$catdeq', expected 'catme'"
	fi
fi

qfs_stop
qfs_done
