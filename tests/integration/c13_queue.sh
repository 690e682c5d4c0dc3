#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh disable=SC2010,SC2012
# Queues across the cluster (INTERFACE §4, `.enqueue` and `.dequeue`):
# 1. Items: 20 enqueues spread over the three nodes make 20 keys named by 20
#    digits, strictly increasing in enqueue order, each equal to its own
#    mod_revision (the sequence is the commit's revision), the same on every
#    node; 20 dequeues on n3 return them oldest first, and every node then
#    shows an empty queue.
# 2. O_NONBLOCK on an empty queue: EAGAIN on every node (python os.open and
#    dd iflag=nonblock); on a non-empty one it returns the item. Reading one
#    open .dequeue again from offset 0 gives the same bytes.
# 3. A `cat .dequeue` blocked on an empty queue on n3 returns the item within
#    2 s of `echo x > .enqueue` on n1.
# 4. SIGINT to a blocked `cat .dequeue` (and SIGTERM to another) ends it within
#    1 s; an item enqueued afterwards is not taken by the interrupted
#    consumers: it is still there 0.5 s later and a dequeue gets it.
# 5. 3 producers (n1, n2, n3) enqueue 500 items each (`p$i-$seq`) while 3
#    consumers (n1, n2, n3) dequeue concurrently with `cat .dequeue` in a loop
#    until they took 1500: every item exactly once, none lost or doubled, each
#    producer's items in its order within each consumer's sequence, the queue
#    empty on every node at the end, and no consumer error.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start_all

for i in 1 2 3; do Q[i]=${CL_MNT[i]}/q; done
mkdir "${Q[1]}" || die "mkdir q failed"
cl_sync 1 10

# items I: number of 20-digit keys in q on node I
items() { ls "${Q[$1]}" 2>/dev/null | grep -c '^[0-9]\{20\}$'; }
# nb_dequeue I: an O_NONBLOCK open+read of q/.dequeue on node I; prints
# the errno name (EAGAIN) or "OK:<value>" with newlines as \n.
nb_dequeue() {
	timeout -k 2 10 python3 -c '
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
    sys.exit(0)
data = b""
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    data += b
print("OK:" + data.decode(errors="replace").replace("\n", "\\n"))
' "${Q[$1]}/.dequeue" 2>&1
}

# --- 1. item names ---------------------------------------------------------------------
for k in $(seq 1 20); do
	n=$(((k - 1) % 3 + 1))
	{ echo "i$k" >"${Q[n]}/.enqueue"; } 2>/dev/null || fail "enqueue of i$k on ${CL_NAME[n]} failed"
done
cl_sync 3 10
names=$(ls "${Q[2]}" 2>&1)
check_eq "$(grep -c . <<<"$names")" 20 "keys in q after 20 enqueues"
check_eq "$(grep -vc '^[0-9]\{20\}$' <<<"$names")" 0 "keys in q not named by 20 digits ($(grep -v '^[0-9]\{20\}$' <<<"$names" | head -n 3 | tr '\n' ' '))"
prev=0 k=0 vals=""
while read -r name; do
	[[ "$name" =~ ^[0-9]{20}$ ]] || continue
	k=$((k + 1))
	num=$((10#$name))
	[ "$num" -gt "$prev" ] || fail "item names not strictly increasing: $prev then $num"
	prev=$num
	vals+="$(cat "${Q[2]}/$name" 2>&1) "
	check_eq "$(cat "${Q[2]}/.rev/$name" 2>&1)" "$num" "mod_revision of item $name (the sequence is the commit's revision)"
done <<<"$names"
check_eq "$vals" "$(printf 'i%d ' $(seq 1 20))" "item values in name order (= enqueue order)"
for i in 1 3; do
	check_eq "$(ls "${Q[i]}" 2>&1)" "$names" "item names on ${CL_NAME[i]} equal n2's"
done
got=""
for k in $(seq 1 20); do
	got+="$(timeout -k 2 10 cat "${Q[3]}/.dequeue" 2>&1) "
done
check_eq "$got" "$(printf 'i%d ' $(seq 1 20))" "20 dequeues on n3, oldest first"
cl_sync 3 10
for i in 1 2 3; do
	check_eq "$(ls -A "${Q[i]}" 2>&1)" "" "q on ${CL_NAME[i]} after dequeuing every item"
done

# --- 2. O_NONBLOCK ------------------------------------------------------------------------
for i in 1 2 3; do
	check_eq "$(nb_dequeue "$i")" EAGAIN "O_NONBLOCK open of an empty q/.dequeue on ${CL_NAME[i]}"
	check_fails "Resource temporarily unavailable" "dd iflag=nonblock of an empty queue on ${CL_NAME[i]}" -- \
		dd if="${Q[i]}/.dequeue" iflag=nonblock status=none
done
echo nb >"${Q[1]}/.enqueue" || fail "enqueue of nb failed"
cl_sync 1 10
check_eq "$(nb_dequeue 2)" 'OK:nb\n' "O_NONBLOCK dequeue of a queue with one item on n2"
cl_sync 2 10
check_eq "$(items 1)" 0 "items on n1 after the O_NONBLOCK dequeue"
# Reading the same open .dequeue again (from offset 0) gives the same item.
echo twice >"${Q[2]}/.enqueue" || fail "enqueue of twice failed"
got=$(timeout -k 2 10 python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
a = os.read(fd, 65536)
os.lseek(fd, 0, os.SEEK_SET)
b = os.read(fd, 65536)
c = os.pread(fd, 65536, 0)
print(repr(a), repr(b), repr(c))
' "${Q[3]}/.dequeue" 2>&1)
check_eq "$got" "b'twice\\n' b'twice\\n' b'twice\\n'" "three reads of one open .dequeue on n3"
cl_sync 3 10
check_eq "$(items 1)" 0 "items on n1 after the re-read dequeue"

# --- 3. a blocked consumer wakes up ------------------------------------------------------------
cat "${Q[3]}/.dequeue" >"$T/wake.out" 2>"$T/wake.err" &
wpid=$!
qfs_helper $wpid
sleep 1
qfs_alive $wpid || fail "cat .dequeue of an empty queue on n3 returned at once: '$(cat "$T/wake.out" "$T/wake.err")'"
t0=$(now_ms)
echo x >"${Q[1]}/.enqueue" || fail "enqueue of x on n1 failed"
if qfs_wait_exit $wpid 10; then
	dt=$(($(now_ms) - t0))
	qfs_log "blocked consumer on n3 returned $dt ms after the enqueue on n1"
	[ $dt -le 2000 ] || fail "blocked consumer on n3 returned $dt ms after the enqueue on n1 (limit 2000)"
	check_eq "$QFS_EXIT_RC" 0 "exit status of the woken cat ($(cat "$T/wake.err"))"
	check_content "$T/wake.out" $'x\n' "item the woken consumer got"
else
	fail "blocked consumer on n3 still blocked 10 s after the enqueue on n1"
	kill -KILL $wpid 2>/dev/null
fi
cl_sync 1 10
for i in 1 2 3; do check_eq "$(items "$i")" 0 "items on ${CL_NAME[i]} after the woken dequeue"; done

# --- 4. interrupting a blocked consumer ------------------------------------------------------------
# A background job of a script starts with SIGINT ignored: reset it for cat.
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("cat", ["cat", sys.argv[1]])' "${Q[2]}/.dequeue" >"$T/int.out" 2>"$T/int.err" &
ipid=$!
qfs_helper $ipid
cat "${Q[3]}/.dequeue" >"$T/term.out" 2>"$T/term.err" &
tpid=$!
qfs_helper $tpid
sleep 1
# interrupt SIG PID WHAT
interrupt() {
	local sig=$1 pid=$2 what=$3 t0 dt
	qfs_alive "$pid" || {
		_fail_at 1 "$what: returned before the signal"
		return 1
	}
	t0=$(now_ms)
	kill "-$sig" "$pid"
	if qfs_wait_exit "$pid" 5; then
		dt=$(($(now_ms) - t0))
		qfs_log "$what ended $dt ms after SIG$sig (exit status $QFS_EXIT_RC)"
		[ $dt -le 1000 ] || _fail_at 1 "$what ended $dt ms after SIG$sig (limit 1000)"
		[ "$QFS_EXIT_RC" != 0 ] || _fail_at 1 "$what exited 0 after SIG$sig"
	else
		_fail_at 1 "$what still blocked 5 s after SIG$sig"
		kill -KILL "$pid" 2>/dev/null
	fi
}
interrupt INT $ipid "blocked cat .dequeue on n2"
interrupt TERM $tpid "blocked cat .dequeue on n3"
check_eq "$(cat "$T/int.out" "$T/term.out")" "" "output of the interrupted consumers"
echo kept >"${Q[1]}/.enqueue" || fail "enqueue of kept failed"
sleep 0.5
cl_sync 1 10
for i in 1 2 3; do check_eq "$(items "$i")" 1 "items on ${CL_NAME[i]} after an enqueue following the interrupted consumers"; done
check_eq "$(nb_dequeue 2)" 'OK:kept\n' "the item enqueued after the interruptions, dequeued on n2"

# --- 5. concurrent producers and consumers ------------------------------------------------------------
NP=500
TOTAL=$((3 * NP))
rm -f "$T/stop"
ppids=() cpids=()
t0=$(now_ms)
for c in 1 2 3; do
	: >"$T/cons.$c"
	(
		trap - EXIT INT TERM
		d=${Q[c]}
		while :; do
			v=$(timeout -k 2 5 cat "$d/.dequeue" 2>>"$T/cons.$c.err")
			rc=$?
			if [ $rc = 0 ]; then
				echo "$v" >>"$T/cons.$c"
			elif [ $rc != 124 ]; then
				echo "cat .dequeue exited $rc" >>"$T/cons.$c.err"
				sleep 0.1
			fi
			[ -e "$T/stop" ] && break
		done
	) &
	cpids+=($!)
	qfs_helper $!
done
for p in 1 2 3; do
	(
		trap - EXIT INT TERM
		d=${Q[p]} nf=0
		for s in $(seq 1 $NP); do
			{ echo "p$p-$s" >"$d/.enqueue"; } 2>>"$T/prod.$p.err" || nf=$((nf + 1))
		done
		echo "$nf" >"$T/prod.$p"
	) &
	ppids+=($!)
	qfs_helper $!
done
for p in "${ppids[@]}"; do
	qfs_wait_exit "$p" 150 || fail "producer pid $p still running after 150 s"
done
qfs_log "producers done after $(($(now_ms) - t0)) ms"
for p in 1 2 3; do
	check_eq "$(cat "$T/prod.$p" 2>&1)" 0 "failed enqueues of producer $p ($(head -n 2 "$T/prod.$p.err" | tr '\n' '|'))"
done
end=$(($(now_ms) + 60000))
while [ "$(cat "$T"/cons.[123] | wc -l)" -lt $TOTAL ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.2; done
qfs_log "consumers took $(cat "$T"/cons.[123] | wc -l) items after $(($(now_ms) - t0)) ms"
touch "$T/stop"
for p in "${cpids[@]}"; do
	qfs_wait_exit "$p" 15 || fail "consumer pid $p still running 15 s after the stop"
done
for c in 1 2 3; do
	qfs_log "consumer $c on ${CL_NAME[c]}: $(wc -l <"$T/cons.$c") items"
	check_eq "$(head -c 300 "$T/cons.$c.err" 2>/dev/null)" "" "errors of consumer $c"
done
all=$(cat "$T"/cons.[123])
check_eq "$(grep -c . <<<"$all")" $TOTAL "items consumed in all"
dups=$(sort <<<"$all" | uniq -d)
check_eq "$(grep -c . <<<"$dups")" 0 "items consumed more than once ($(head -n 5 <<<"$dups" | tr '\n' ' '))"
missing=$(comm -23 <(for p in 1 2 3; do for s in $(seq 1 $NP); do echo "p$p-$s"; done; done | sort) <(sort -u <<<"$all"))
check_eq "$(grep -c . <<<"$missing")" 0 "items never consumed ($(head -n 5 <<<"$missing" | tr '\n' ' '))"
extra=$(grep -Ev '^p[123]-[0-9]+$' <<<"$all")
check_eq "$(grep -c . <<<"$extra")" 0 "consumed values that no producer wrote ($(head -n 3 <<<"$extra" | tr '\n' '|'))"
for c in 1 2 3; do
	bad=$(awk -F- '/^p[123]-[0-9]+$/ { if ($2 + 0 <= last[$1]) { print $1 "-" $2 " after " $1 "-" last[$1] }; last[$1] = $2 + 0 }' "$T/cons.$c")
	check_eq "$(grep -c . <<<"$bad")" 0 "items of a producer out of order in consumer $c's sequence ($(head -n 3 <<<"$bad" | tr '\n' '|'))"
done
cl_sync 1 10
for i in 1 2 3; do check_eq "$(ls -A "${Q[i]}" 2>&1)" "" "q on ${CL_NAME[i]} after the concurrent run"; done
cl_done
