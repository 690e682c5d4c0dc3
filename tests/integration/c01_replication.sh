#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Replication (INTERFACE §3): a change made on any node is visible on every
# node once that node applied it. Files, directories, chmod, rename (file and
# directory), rm and rm -r are made in turn on each of the three nodes and
# checked on all of them. Then a reader on n2 polls a key while n1 overwrites
# it with 1..300: the values it sees never go down, it never sees a torn or
# empty value (one write() after O_TRUNC is one change, §2), and it ends on 300.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start_all
ALL=(1 2 3)

head -c 100000 /dev/urandom | base64 -w 76 >"$T/big.src"
big_sum=$(sha256sum <"$T/big.src" | cut -d' ' -f1)

# check_everywhere WHAT CMD-producing-output EXPECTED: CMD (a bash snippet with
# M = the node's mount) gives EXPECTED on every node.
check_everywhere() {
	local what=$1 snippet=$2 exp=$3 i got
	for i in "${ALL[@]}"; do
		got=$(M=${CL_MNT[i]} timeout -k 2 10 bash -c "$snippet" 2>&1)
		[ "$got" = "$exp" ] || _fail_at 1 "$what on ${CL_NAME[i]}: expected '$(_qfs_short "$exp")', got '$(_qfs_short "$got")'"
	done
}

for w in 1 2 3; do
	W=${CL_MNT[w]}
	d=from$w
	# --- create: a nested directory, small files, a 130 KB file, a mode
	check_ok "mkdir -p on ${CL_NAME[w]}" -- mkdir -p "$W/$d/a/b/c"
	check_ok "echo > on ${CL_NAME[w]}" -- bash -c "echo 'hello from n$w' > '$W/$d/a/hello'"
	check_ok "printf > on ${CL_NAME[w]}" -- bash -c "printf 'two\nlines\n' > '$W/$d/a/b/c/deep'"
	check_ok "cp of a 135 KB file on ${CL_NAME[w]}" -- cp "$T/big.src" "$W/$d/big"
	check_ok "touch on ${CL_NAME[w]}" -- touch "$W/$d/empty"
	check_ok "chmod on ${CL_NAME[w]}" -- chmod 640 "$W/$d/a/hello"
	check_ok "overwrite on ${CL_NAME[w]}" -- bash -c "echo 'hello again from n$w' > '$W/$d/a/hello'"
	cl_sync "$w" 10
	check_everywhere "[$d create] hello" 'cat "$M/'$d'/a/hello"' "hello again from n$w"
	check_everywhere "[$d create] deep" 'cat "$M/'$d'/a/b/c/deep"' $'two\nlines'
	check_everywhere "[$d create] big" 'sha256sum < "$M/'$d'/big" | cut -d" " -f1' "$big_sum"
	check_everywhere "[$d create] empty key" 'stat -c "%F %s" "$M/'$d'/empty"' "regular empty file 0"
	check_everywhere "[$d create] mode" 'stat -c %a "$M/'$d'/a/hello"' "640"
	check_everywhere "[$d create] listing" 'cd "$M/'$d'" && find . | sort | tr "\n" " "' \
		". ./a ./a/b ./a/b/c ./a/b/c/deep ./a/hello ./big ./empty "

	# --- rename: a file, then a whole directory
	check_ok "mv file on ${CL_NAME[w]}" -- mv "$W/$d/a/hello" "$W/$d/a/hello2"
	check_ok "mv dir on ${CL_NAME[w]}" -- mv "$W/$d/a/b" "$W/$d/bb"
	cl_sync "$w" 10
	check_everywhere "[$d rename] renamed file" 'cat "$M/'$d'/a/hello2"' "hello again from n$w"
	check_everywhere "[$d rename] renamed dir content" 'cat "$M/'$d'/bb/c/deep"' $'two\nlines'
	check_everywhere "[$d rename] listing" 'cd "$M/'$d'" && find . | sort | tr "\n" " "' \
		". ./a ./a/hello2 ./bb ./bb/c ./bb/c/deep ./big ./empty "

	# --- delete: rm, rm -r, rmdir
	check_ok "rm on ${CL_NAME[w]}" -- rm "$W/$d/a/hello2"
	check_ok "rm -r on ${CL_NAME[w]}" -- rm -r "$W/$d/bb"
	check_ok "rmdir on ${CL_NAME[w]}" -- rmdir "$W/$d/a"
	check_ok "rm big on ${CL_NAME[w]}" -- rm "$W/$d/big"
	cl_sync "$w" 10
	check_everywhere "[$d delete] listing" 'cd "$M/'$d'" && find . | sort | tr "\n" " "' ". ./empty "
	check_everywhere "[$d delete] removed key" 'cat "$M/'$d'/a/hello2" 2>&1 | sed "s/.*: //"' "No such file or directory"
done
cl_sync 1 10
cl_check_same_tree "after the file and directory changes" 1 2 3

# --- monotonic reads on n2 while n1 writes 1..300 -----------------------------
K1=${CL_MNT[1]}/counter
K2=${CL_MNT[2]}/counter
echo 0 >"$K1" || die "could not create the counter on n1"
cl_sync 1 10 2
: >"$T/reads"
(
	trap - EXIT INT TERM
	prev="" n=0 end=$(($(now_ms) + 60000))
	while [ "$(now_ms)" -lt "$end" ]; do
		v=""
		IFS= read -r v <"$K2" 2>/dev/null
		n=$((n + 1))
		# record every change of value (and every unexpected one)
		[ "$v" != "$prev" ] && echo "$v" >>"$T/reads"
		prev=$v
		[ "$v" = 300 ] && break
	done
	echo "reads=$n" >"$T/reads.count"
) &
rpid=$!
qfs_helper $rpid
wfail=0
for i in $(seq 1 300); do
	{ echo "$i" >"$K1"; } 2>/dev/null || wfail=$((wfail + 1))
done
[ $wfail = 0 ] || fail "$wfail of 300 writes of the counter on n1 failed"
qfs_wait_exit $rpid 30 || fail "reader on n2 did not see the value 300 within 30 s of the last write"
nreads=$(cat "$T/reads.count" 2>/dev/null)
qfs_log "reader on n2: $nreads, $(wc -l <"$T/reads") distinct values seen"
prev=0 bad=0 last=""
while IFS= read -r v; do
	last=$v
	if ! [[ "$v" =~ ^[0-9]+$ ]] || [ "$v" -gt 300 ]; then
		bad=$((bad + 1))
		[ $bad -le 3 ] && fail "reader on n2 saw a torn or empty value '$(_qfs_short "$v")' (after $prev)"
		continue
	fi
	if [ "$v" -lt "$prev" ]; then
		bad=$((bad + 1))
		[ $bad -le 3 ] && fail "reader on n2 saw the counter go down: $prev then $v"
	fi
	prev=$v
done <"$T/reads"
check_eq "$last" 300 "last value the reader on n2 saw"
check_content "$K2" $'300\n' "counter on n2 at the end"

cl_done
