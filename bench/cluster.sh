#!/bin/bash
# bench/cluster.sh — a 3-node quorumfs cluster beside a 3-member etcd cluster,
# both on this machine (127.0.0.1), one run, one table (not in CI).
#
#   bench/cluster.sh              # (re)builds build-bench/ from the work tree
#   QUORUMFS_BIN=... QUORUMCTL_BIN=... bench/cluster.sh
#   BENCH_SECS=10 BENCH_TRIALS=5 BENCH_KEYS=100000 bench/cluster.sh
#   ETCD_EXTRA='--heartbeat-interval 50 --election-timeout 300' bench/cluster.sh
#   BENCH_LOGS=/tmp/logs bench/cluster.sh   # keep the daemons' logs
#
# Measures, for both systems (each with its defaults; both fsync their log):
#   put     100-byte values, 1 and 64 clients spread over the 3 nodes: ops/s,
#           p50, p99 (quorumfs: open(O_TRUNC)-write-close through the mounts,
#           bench/qfsload.c; etcd: clientv3 Put, bench/etcdload, one gRPC
#           connection per client). Each client replaces its own 10 keys,
#           made before the clock starts.
#   get     64 clients on those keys: local (quorumfs open-read-to-EOF-close;
#           etcd serializable Get) and linearizable (etcd default Get;
#           quorumfs: the nodes restarted with -o linearizable, after the
#           RSS reading; n/a when the daemon refuses that option)
#   shell   200 x `echo v > key` vs 200 x `etcdctl put key v` (new keys),
#           through node 1
#   create  64 clients making new keys: the key load below
#   failover  SIGKILL of the leader, seconds until a write on a survivor
#           succeeds (a new attempt every 5 ms); BENCH_TRIALS trials, the
#           killed member restarted and the cluster healthy between trials
#   RSS     VmRSS of each node after BENCH_KEYS 100-byte keys (64 writers;
#           quorumfs: dirs of 1000 files)
# Every load step is bounded by BENCH_SECS (the key load by 300 s: etcd then
# gets as many keys as quorumfs took, for a like-for-like RSS); every
# process, mount and directory this script made is removed on exit, Ctrl-C
# included. Needs root (FUSE mounts), etcd-server, etcd-client, golang-go and
# golang-etcd-server-dev (installed with apt-get when missing).
set -u -o pipefail
export LC_ALL=C

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -n "${QUORUMFS_BIN:-}" ] && QUORUMFS_BIN_GIVEN=1
QBIN=${QUORUMFS_BIN:-$SRC/build-bench/quorumfs}
QCTL=${QUORUMCTL_BIN:-$SRC/build-bench/src/ctl/quorumctl}
unset QUORUMFS_BIN QUORUMCTL_BIN
SECS=${BENCH_SECS:-10}
TRIALS=${BENCH_TRIALS:-5}
NKEYS=${BENCH_KEYS:-100000}
ETCD_EXTRA=${ETCD_EXTRA:-}
LOGS=${BENCH_LOGS:-} # a directory to copy the daemons' logs to at exit
CLIENTS=64
PUTKEYS=10 # keys per client: put replaces them (made before the clock starts), get reads them

die() {
	echo "bench: $*" >&2
	exit 1
}
say() { echo "bench: $*" >&2; }

[ "$(id -u)" = 0 ] || die "run as root (FUSE mounts, apt-get)"
[ -e /dev/fuse ] || die "/dev/fuse is missing"
command -v fusermount3 >/dev/null || die "fusermount3 is missing"
command -v cc >/dev/null || die "cc is missing"
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null || ! command -v go >/dev/null ||
	[ ! -d /usr/share/gocode/src/go.etcd.io/etcd/clientv3 ]; then
	say "installing etcd-server etcd-client golang-go golang-etcd-server-dev"
	pkgs=(etcd-server etcd-client golang-go golang-etcd-server-dev)
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null 2>&1 ||
		{ apt-get update >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${pkgs[@]}" >/dev/null; } ||
		die "apt-get install ${pkgs[*]} failed"
fi
if [ -z "${QUORUMFS_BIN_GIVEN:-}" ]; then # (make is incremental: cheap when up to date)
	say "building quorumfs in build-bench/"
	cmake -S "$SRC" -B "$SRC/build-bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
		make -C "$SRC/build-bench" -j"$(nproc)" >/dev/null || die "build failed"
fi
[ -x "$QBIN" ] || die "no quorumfs binary at $QBIN"
[ -x "$QCTL" ] || die "no quorumctl binary at $QCTL"

B=$(mktemp -d /tmp/qfs-cluster-bench.XXXXXX) || die "mktemp failed"
declare -A QPID EPID QLOG0
QOPTS=() # extra options for every quorumfs node (the linearizable get test)
LGPID=""
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$LGPID" ]; then kill -TERM "$LGPID" 2>/dev/null; wait "$LGPID" 2>/dev/null; fi
	local i p
	for i in 1 2 3; do
		if awk -v m="$B/m$i" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			fusermount3 -u "$B/m$i" 2>/dev/null || fusermount3 -uz "$B/m$i" 2>/dev/null
		fi
	done
	for p in "${QPID[@]}" "${EPID[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for _ in $(seq 1 50); do
		local alive=0
		for p in "${QPID[@]}" "${EPID[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${QPID[@]}" "${EPID[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$LOGS" ] && mkdir -p "$LOGS" && cp "$B"/*.log "$LOGS"/ 2>/dev/null
	rm -rf --one-file-system "$B"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- load generators ----
cc -O2 -pthread -o "$B/qfsload" "$SRC/bench/qfsload.c" || die "cannot compile bench/qfsload.c"
mkdir -p "$B/gopath/src"
ln -s "$SRC/bench/etcdload" "$B/gopath/src/etcdload"
(cd "$B/gopath/src/etcdload" && GO111MODULE=off GOFLAGS= GOPATH="$B/gopath:/usr/share/gocode" \
	go build -o "$B/etcdload" etcdload) >"$B/gobuild.log" 2>&1 ||
	{ cat "$B/gobuild.log" >&2; die "cannot build bench/etcdload"; }

# ---- ports: 3 quorumfs peer ports, 3 etcd client + 3 etcd peer ports ----
listening=$(ss -Hltn 2>/dev/null | awk '{ n = split($4, a, ":"); print a[n] }')
for _ in $(seq 1 50); do
	base=$((20000 + (RANDOM % 4000) * 10))
	clash=0
	for o in $(seq 0 8); do grep -qx "$((base + o))" <<<"$listening" && clash=1; done
	[ $clash = 0 ] && break
done
QPORT=([1]=$base [2]=$((base + 1)) [3]=$((base + 2)))
ECPORT=([1]=$((base + 3)) [2]=$((base + 4)) [3]=$((base + 5)))
EPPORT=([1]=$((base + 6)) [2]=$((base + 7)) [3]=$((base + 8)))
QPEERS=()
ECLUSTER=""
for i in 1 2 3; do
	QPEERS+=(--peer "n$i=tcp://127.0.0.1:${QPORT[$i]}")
	ECLUSTER+="${ECLUSTER:+,}e$i=http://127.0.0.1:${EPPORT[$i]}"
done
EPS="127.0.0.1:${ECPORT[1]},127.0.0.1:${ECPORT[2]},127.0.0.1:${ECPORT[3]}"
ROOTS="$B/m1:$B/m2:$B/m3"

# ---- quorumfs ----
q_start() { # I
	local i=$1
	mkdir -p "$B/q$i" "$B/m$i"
	QLOG0[$i]=$(cat "$B/q$i.log" 2>/dev/null | wc -l) # where this run's log begins
	"$QBIN" -f --name "n$i" --data "$B/q$i" --listen "tcp://127.0.0.1:${QPORT[$i]}" "${QPEERS[@]}" "${QOPTS[@]}" "$B/m$i" \
		</dev/null >>"$B/q$i.log" 2>&1 &
	QPID[$i]=$!
}
q_mounted() { # I
	awk -v m="$B/m$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo && timeout 2 stat "$B/m$1" >/dev/null 2>&1
}
q_stat() { "$QCTL" --data "$B/q$1" status 2>/dev/null; } # I
q_leader() { q_stat "$1" | sed -n 's/^leader=n\([0-9]\)$/\1/p'; }
q_healthy() { # all mounted, one leader seen by all, quorum, applied equal
	local i s l="" a="" li ai
	for i in 1 2 3; do
		kill -0 "${QPID[$i]}" 2>/dev/null && q_mounted "$i" || return 1
		s=$(q_stat "$i") || return 1
		grep -qx 'quorum=yes' <<<"$s" || return 1
		li=$(sed -n 's/^leader=//p' <<<"$s")
		ai=$(sed -n 's/^applied=//p' <<<"$s")
		[ -n "$li" ] || return 1
		[ -z "$l" ] && l=$li && a=$ai
		[ "$li" = "$l" ] && [ "$ai" = "$a" ] || return 1
	done
}
q_wait_ok() {
	local i
	for _ in $(seq 1 300); do
		q_healthy && return 0
		for i in 1 2 3; do kill -0 "${QPID[$i]}" 2>/dev/null || return 1; done
		sleep 0.1
	done
	return 1
}
q_wait() {
	q_wait_ok && return 0
	for i in 1 2 3; do tail -3 "$B/q$i.log" >&2; done
	die "quorumfs cluster not healthy within 30 s"
}
q_stop() { # I: unmount (the daemon exits), TERM/KILL if it does not
	local i=$1
	fusermount3 -u "$B/m$i" 2>/dev/null || fusermount3 -uz "$B/m$i" 2>/dev/null
	kill -TERM "${QPID[$i]}" 2>/dev/null
	for _ in $(seq 1 100); do kill -0 "${QPID[$i]}" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "${QPID[$i]}" 2>/dev/null
	wait "${QPID[$i]}" 2>/dev/null
}
q_restart_all() { # OPTIONS...: restart every node with these extra options
	local i
	QOPTS=("$@")
	for i in 1 2 3; do q_stop "$i"; done
	for i in 1 2 3; do q_start "$i"; done
	q_wait_ok
}

# ---- etcd ----
e_start() { # I
	local i=$1
	etcd --name "e$i" --data-dir "$B/e$i" \
		--listen-client-urls "http://127.0.0.1:${ECPORT[$i]}" --advertise-client-urls "http://127.0.0.1:${ECPORT[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${EPPORT[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${EPPORT[$i]}" \
		--initial-cluster "$ECLUSTER" --initial-cluster-state new --initial-cluster-token "qfsbench-$$" \
		--logger zap --log-outputs stderr --log-level error $ETCD_EXTRA </dev/null >>"$B/e$i.log" 2>&1 &
	EPID[$i]=$!
}
ectl() { ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=3s "$@"; }
e_wait() {
	for _ in $(seq 1 300); do
		ectl --endpoints="$EPS" endpoint health >/dev/null 2>&1 && "$B/etcdload" leader "$EPS" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	for i in 1 2 3; do tail -3 "$B/e$i.log" >&2; done
	die "etcd cluster not healthy within 30 s"
}

# ---- running a load generator: bounded, killable, output in $B/out ----
lg() { # CMD ARGS... -> the output line in $OUT ("" on failure)
	timeout -k 5 "$LGMAX" "$@" >"$B/out" 2>"$B/err" &
	LGPID=$!
	wait "$LGPID"
	local rc=$?
	LGPID=""
	OUT=$(cat "$B/out")
	[ $rc -eq 0 ] || say "$(basename "$1") $2 failed (rc $rc): $(head -c 300 "$B/err") $OUT"
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; } # NAME LINE

declare -A R # R[sys|metric]
NOTES=()
# q_revive STEP: restart (and report) quorumfs nodes that died during STEP
q_revive() {
	local i dead=0
	for i in 1 2 3; do
		kill -0 "${QPID[$i]}" 2>/dev/null && continue
		dead=1
		wait "${QPID[$i]}" 2>/dev/null
		local rc=$?
		NOTES+=("quorumfs n$i died during $1 (exit $rc$( [ $rc -gt 128 ] && echo ", signal $((rc - 128))")): $(tail -n +$((QLOG0[$i] + 1)) "$B/q$i.log" | grep -v ': info: ' | tail -1 | head -c 200)")
		say "${NOTES[-1]}; restarting it"
		fusermount3 -u "$B/m$i" 2>/dev/null || fusermount3 -uz "$B/m$i" 2>/dev/null
		q_start "$i"
	done
	[ $dead = 0 ] || q_wait
}
record() { # SYS TEST LINE
	local e
	e=$(field errors "$3")
	[ "${e:-0}" = 0 ] || NOTES+=("$1 $2: ${e} failed operations (the numbers count only the successful ones)")
	[ -n "$3" ] || NOTES+=("$1 $2: no result")
	R["$1|$2 ops"]=$(field ops_per_sec "$3")
	R["$1|$2 p50"]=$(field p50_ms "$3")
	R["$1|$2 p99"]=$(field p99_ms "$3")
	say "$1 $2: $3"
}

say "starting 3 quorumfs nodes and 3 etcd members in $B (ports $base-$((base + 8)))"
for i in 1 2 3; do q_start "$i"; e_start "$i"; done
q_wait
e_wait
LGMAX=$((SECS + 60))
lg "$B/qfsload" put "$ROOTS" warm 4 100 100 "$SECS" # first commits grow the stores: not measured
lg "$B/etcdload" put "$EPS" warm 4 100 100 "$SECS"

say "put, 1 and $CLIENTS clients, ${SECS}s each"
lg "$B/qfsload" put "$ROOTS" p1 1 10000000 100 "$SECS" $PUTKEYS
record quorumfs put1 "$OUT"
q_revive "put, 1 client"
lg "$B/etcdload" put "$EPS" p1 1 10000000 100 "$SECS" $PUTKEYS
record etcd put1 "$OUT"
lg "$B/qfsload" put "$ROOTS" p64 $CLIENTS 10000000 100 "$SECS" $PUTKEYS
record quorumfs put64 "$OUT"
q_revive "put, $CLIENTS clients"
lg "$B/etcdload" put "$EPS" p64 $CLIENTS 10000000 100 "$SECS" $PUTKEYS
record etcd put64 "$OUT"

say "get, $CLIENTS clients (the $((CLIENTS * PUTKEYS)) keys of the put test)"
lg "$B/qfsload" get "$ROOTS" p64 $CLIENTS 100000000 $PUTKEYS "$SECS"
record quorumfs getl "$OUT"
q_revive "get, $CLIENTS clients"
lg "$B/etcdload" get "$EPS" p64 $CLIENTS 100000000 $PUTKEYS "$SECS" serializable
record etcd getl "$OUT"
lg "$B/etcdload" get "$EPS" p64 $CLIENTS 100000000 $PUTKEYS "$SECS" linearizable
record etcd getz "$OUT"

say "shell loops of 200 writes through node 1"
mkdir -p "$B/m1/sh"
t0=$(date +%s%N)
ok=1
for i in $(seq 1 200); do echo v >"$B/m1/sh/k$i" || { ok=0; break; }; done
t1=$(date +%s%N)
[ $ok = 1 ] && R["quorumfs|shell secs"]=$(awk -v n=$((t1 - t0)) 'BEGIN { printf "%.3f", n / 1e9 }')
t0=$(date +%s%N)
ok=1
for i in $(seq 1 200); do ectl --endpoints="127.0.0.1:${ECPORT[1]}" put "sh/k$i" v >/dev/null || { ok=0; break; }; done
t1=$(date +%s%N)
[ $ok = 1 ] && R["etcd|shell secs"]=$(awk -v n=$((t1 - t0)) 'BEGIN { printf "%.3f", n / 1e9 }')
say "shell: quorumfs ${R["quorumfs|shell secs"]:-fail} s, etcd ${R["etcd|shell secs"]:-fail} s"
q_revive "the shell loop"

say "loading $NKEYS keys into each system ($CLIENTS writers), then VmRSS"
LGMAX=360
loaded() { # SYS LINE WANTED
	local n
	n=$(field ops "$2")
	say "$1 load: $2"
	[ "${n:-0}" -ge "$3" ] || NOTES+=("$1: only ${n:-0} of $3 keys loaded within the 300 s bound")
	[ "$3" -ge "$NKEYS" ] || NOTES+=("$1: loaded with $3 keys, as many as quorumfs took, not $NKEYS")
	R["$1|loaded"]=${n:-0}
	R["$1|create ops"]=$(field ops_per_sec "$2")
}
lg "$B/qfsload" fill "$ROOTS" rss $CLIENTS "$NKEYS" 100 300
loaded quorumfs "$OUT" "$NKEYS"
q_revive "the key load"
EKEYS=$NKEYS # etcd gets as many keys as quorumfs took within the bound
[ "${R["quorumfs|loaded"]}" -gt 0 ] && [ "${R["quorumfs|loaded"]}" -lt "$NKEYS" ] && EKEYS=${R["quorumfs|loaded"]}
lg "$B/etcdload" fill "$EPS" rss $CLIENTS "$EKEYS" 100 300
loaded etcd "$OUT" "$EKEYS"
sleep 2
rss() { awk -v f="$2" '$1 == f":" { print int($2 / 1024 + 0.5) }' "/proc/$1/status" 2>/dev/null; } # PID FIELD -> MiB
for sys in quorumfs etcd; do
	max=0
	list=""
	for i in 1 2 3; do
		[ $sys = quorumfs ] && p=${QPID[$i]} || p=${EPID[$i]}
		m=$(rss "$p" VmRSS)
		list+="${list:+ }${m:-?}(anon $(rss "$p" RssAnon))"
		[ -n "$m" ] && [ "$m" -gt "$max" ] && max=$m
	done
	R["$sys|rss"]=$max
	R["$sys|rsslist"]=$list
done

say "quorumfs linearizable get: restarting the nodes with -o linearizable"
if q_restart_all -o linearizable; then
	lg "$B/qfsload" get "$ROOTS" p64 $CLIENTS 100000000 $PUTKEYS "$SECS"
	record quorumfs getz "$OUT"
	q_revive "get, linearizable"
	QLIN="quorumfs linearizable get: -o linearizable mounts (run after the key load)"
else
	QLIN="quorumfs linearizable get: n/a (-o linearizable refused: $(tail -n 1 "$B/q1.log" | head -c 150))"
	say "$QLIN"
fi
q_restart_all || q_wait

say "failover: $TRIALS trials each (SIGKILL the leader, write on a survivor)"
LGMAX=40
declare -A FO
for t in $(seq 1 "$TRIALS"); do
	q_wait
	L=$(q_leader 1)
	[ -n "$L" ] || die "quorumfs: no leader"
	S=$((L % 3 + 1))
	lg "$B/qfsload" failover "${QPID[$L]}" "$B/m$S/failover" 30
	out=$OUT
	v=$(field failover_secs "$out")
	FO["quorumfs"]+=" ${v:-fail}"
	say "quorumfs trial $t: killed n$L, wrote on n$S: $out"
	fusermount3 -u "$B/m$L" 2>/dev/null || fusermount3 -uz "$B/m$L" 2>/dev/null
	wait "${QPID[$L]}" 2>/dev/null
	q_start "$L"
	q_revive "failover trial $t (a survivor)"
	q_wait
done
for t in $(seq 1 "$TRIALS"); do
	e_wait
	L=$("$B/etcdload" leader "$EPS") || die "etcd: no leader"
	L=$((L + 1))
	S=$((L % 3 + 1))
	lg "$B/etcdload" failover "${EPID[$L]}" "127.0.0.1:${ECPORT[$S]}" 30
	out=$OUT
	v=$(field failover_secs "$out")
	FO["etcd"]+=" ${v:-fail}"
	say "etcd trial $t: killed e$L, put on e$S: $out"
	wait "${EPID[$L]}" 2>/dev/null
	e_start "$L"
	e_wait
done
for sys in quorumfs etcd; do
	read -r -a v <<<"${FO[$sys]:-}"
	sorted=$(printf '%s\n' "${v[@]}" | grep -E '^[0-9.]+$' | sort -g)
	if [ -n "$sorted" ]; then
		R["$sys|fo med"]=$(awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }' <<<"$sorted")
		R["$sys|fo max"]=$(tail -1 <<<"$sorted")
	fi
	# a trial with no successful write within 30 s is the worst case
	printf '%s\n' "${v[@]}" | grep -qx fail && R["$sys|fo max"]=">30"
	R["$sys|fo list"]=${FO[$sys]:-}
done
q_revive "failover trials"
for i in 1 2 3; do kill -0 "${EPID[$i]}" 2>/dev/null || say "etcd e$i died during the run"; done

# ---- the table ----
num() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]]; }
# row NAME Q E DIR TARGET_RATIO [ABS_TARGET]
#   DIR hi: ratio = q/e, lo: ratio = e/q (>1: quorumfs better either way)
#   TARGET_RATIO: minimum ratio wanted ("" none); ABS_TARGET: "<= X" on the quorumfs value
row() {
	local name=$1 q=${2:-fail} e=${3:-fail} dir=$4 tr=$5 abs=${6:-} ratio=- target="" verdict=""
	if num "$q" && num "$e" && awk -v q="$q" -v e="$e" 'BEGIN { exit !(q > 0 && e > 0) }'; then
		ratio=$(awk -v q="$q" -v e="$e" -v d="$dir" 'BEGIN { printf "%.2f", d == "hi" ? q / e : e / q }')
	fi
	if [ -n "$tr" ]; then
		target=">= ${tr}x"
		if [ "$ratio" = - ]; then verdict=-; else
			awk -v r="$ratio" -v t="$tr" 'BEGIN { exit !(r >= t) }' && verdict=met || verdict=MISSED
		fi
	fi
	if [ -n "$abs" ]; then
		target="q <= $abs"
		if num "$q"; then
			awk -v q="$q" -v t="$abs" 'BEGIN { exit !(q <= t) }' && verdict=met || verdict=MISSED
		elif [[ "$q" == ">"* ]]; then verdict=MISSED; else verdict=-; fi
	fi
	printf '%-36s | %10s | %10s | %7s | %-10s | %s\n' "$name" "$q" "$e" "$ratio" "$target" "$verdict"
}
g() { echo "${R["$1"]:-fail}"; }
ops200() { num "$1" && awk -v s="$1" 'BEGIN { printf "%.0f", 200 / s }' || echo fail; }

echo
echo "quorumfs (3 nodes, FUSE) vs etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p') (3 members), 127.0.0.1, $(nproc) CPUs, ${SECS}s per load step"
printf '%-36s | %10s | %10s | %7s | %-10s | %s\n' "test" "quorumfs" "etcd" "ratio" "target" ""
printf -- '-------------------------------------+------------+------------+---------+------------+-------\n'
row "put 1 client: ops/s" "$(g quorumfs\|put1\ ops)" "$(g etcd\|put1\ ops)" hi 2
row "put 1 client: p50 ms" "$(g quorumfs\|put1\ p50)" "$(g etcd\|put1\ p50)" lo ""
row "put 1 client: p99 ms" "$(g quorumfs\|put1\ p99)" "$(g etcd\|put1\ p99)" lo ""
row "put $CLIENTS clients: ops/s" "$(g quorumfs\|put64\ ops)" "$(g etcd\|put64\ ops)" hi 2
row "put $CLIENTS clients: p50 ms" "$(g quorumfs\|put64\ p50)" "$(g etcd\|put64\ p50)" lo ""
row "put $CLIENTS clients: p99 ms" "$(g quorumfs\|put64\ p99)" "$(g etcd\|put64\ p99)" lo ""
row "create $CLIENTS clients (key load): ops/s" "$(g quorumfs\|create\ ops)" "$(g etcd\|create\ ops)" hi ""
row "get $CLIENTS, local: ops/s" "$(g quorumfs\|getl\ ops)" "$(g etcd\|getl\ ops)" hi 10
row "get $CLIENTS, local: p50 ms" "$(g quorumfs\|getl\ p50)" "$(g etcd\|getl\ p50)" lo ""
row "get $CLIENTS, local: p99 ms" "$(g quorumfs\|getl\ p99)" "$(g etcd\|getl\ p99)" lo ""
row "get $CLIENTS, linearizable: ops/s" "${R["quorumfs|getz ops"]:-n/a}" "$(g etcd\|getz\ ops)" hi 3
row "get $CLIENTS, linearizable: p50 ms" "${R["quorumfs|getz p50"]:-n/a}" "$(g etcd\|getz\ p50)" lo ""
row "get $CLIENTS, linearizable: p99 ms" "${R["quorumfs|getz p99"]:-n/a}" "$(g etcd\|getz\ p99)" lo ""
row "shell 200 writes: wall s" "$(g quorumfs\|shell\ secs)" "$(g etcd\|shell\ secs)" lo ""
row "shell 200 writes: ops/s" "$(ops200 "$(g quorumfs\|shell\ secs)")" "$(ops200 "$(g etcd\|shell\ secs)")" hi 20
row "failover median s ($TRIALS trials)" "$(g quorumfs\|fo\ med)" "$(g etcd\|fo\ med)" lo "" 0.4
row "failover worst s" "$(g quorumfs\|fo\ max)" "$(g etcd\|fo\ max)" lo "" 1
row "VmRSS MiB/node, max of 3" "$(g quorumfs\|rss)" "$(g etcd\|rss)" lo 4
echo "ratio: quorumfs/etcd for ops/s, etcd/quorumfs for latency, seconds and RSS (> 1: quorumfs better)"
echo "$QLIN"
echo "failover trials (s): quorumfs${R["quorumfs|fo list"]:- none}; etcd${R["etcd|fo list"]:- none}"
echo "VmRSS MiB per node 1 2 3: quorumfs $(g quorumfs\|rsslist); etcd $(g etcd\|rsslist)"
echo "keys loaded before the RSS reading: quorumfs $(g quorumfs\|loaded), etcd $(g etcd\|loaded)"
for n in "${NOTES[@]}"; do echo "note: $n"; done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
