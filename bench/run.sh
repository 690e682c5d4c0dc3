#!/bin/bash
# bench/run.sh — quorumfs beside tmpfs, one run, one table (not in CI).
#
#   bench/run.sh                  # builds build/quorumfs if missing
#   QUORUMFS_BIN=/path/quorumfs bench/run.sh
#   BENCH_OPS=2000 BENCH_DIRENTS=10000 BENCH_MAXSEC=30 bench/run.sh
#
# Measures ops/s of: open-write-close of 100-byte values (1 writer; 16
# writers, distinct keys), open-read-close of unchanged keys, stat, readdir
# of a directory with 10,000 entries (opendir + getdents of all + closedir),
# and a shell loop of 200 `echo v > key`. The load comes from bench/loadgen.c,
# compiled here with cc -O2. quorumfs runs with its defaults (durable: one
# fsync per commit batch); tmpfs is a RAM file system with no durability.
# Every step is bounded (BENCH_MAXSEC per step); mounts and processes this
# script started are removed on exit.
set -u -o pipefail
export LC_ALL=C

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${QUORUMFS_BIN:-$SRC/build/quorumfs}
unset QUORUMFS_BIN
OPS=${BENCH_OPS:-2000}
DIRENTS=${BENCH_DIRENTS:-10000}
MAXSEC=${BENCH_MAXSEC:-30}
WRITERS=16

die() {
	echo "bench: $*" >&2
	exit 1
}

[ -e /dev/fuse ] || die "/dev/fuse is missing"
command -v fusermount3 >/dev/null || die "fusermount3 is missing"
command -v cc >/dev/null || die "cc is missing"
if [ ! -x "$BIN" ]; then
	echo "bench: building quorumfs" >&2
	cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
		make -C "$SRC/build" -j"$(nproc)" quorumfs >/dev/null || die "build failed"
fi
[ -x "$BIN" ] || die "no quorumfs binary at $BIN"

B=$(mktemp -d /tmp/qfs-bench.XXXXXX) || die "mktemp failed"
QPID=""
cleanup() {
	trap - EXIT INT TERM
	for m in "$B/qmnt" "$B/tmpfs"; do
		if awk -v m="$m" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			if [ "$m" = "$B/tmpfs" ]; then
				umount "$m" 2>/dev/null || umount -l "$m"
			else
				fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
			fi
		fi
	done
	if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
		kill -TERM "$QPID" 2>/dev/null
		for _ in $(seq 1 50); do kill -0 "$QPID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$QPID" 2>/dev/null
	fi
	rm -rf --one-file-system "$B"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cc -O2 -pthread -o "$B/loadgen" "$SRC/bench/loadgen.c" || die "cannot compile bench/loadgen.c"
mkdir -p "$B/qmnt" "$B/tmpfs" "$B/data"
mount -t tmpfs -o size=2G tmpfs "$B/tmpfs" || die "cannot mount tmpfs"
"$BIN" -f --data "$B/data" "$B/qmnt" </dev/null >"$B/daemon.log" 2>&1 &
QPID=$!
for _ in $(seq 1 100); do
	kill -0 "$QPID" 2>/dev/null || { cat "$B/daemon.log" >&2; die "quorumfs exited"; }
	timeout 2 stat "$B/qmnt" >/dev/null 2>&1 && mountpoint -q "$B/qmnt" && break
	sleep 0.1
done
mountpoint -q "$B/qmnt" || die "quorumfs did not mount within 10 s"

# lg FS MODE SUBDIR THREADS OPS [SIZE] -> ops/s (or "fail")
lg() {
	local fs=$1 mode=$2 sub=$3 th=$4 ops=$5 size=${6:-100} root out
	[ "$fs" = quorumfs ] && root=$B/qmnt || root=$B/tmpfs
	mkdir -p "$root/$sub"
	out=$(timeout -k 5 $((MAXSEC + 30)) "$B/loadgen" "$mode" "$root/$sub" "$th" "$ops" "$size" "$MAXSEC" 2>"$B/lg.err")
	local rc=$?
	if [ $rc -ne 0 ]; then
		echo "bench: $fs $mode failed (rc $rc): $(head -c 300 "$B/lg.err") $out" >&2
		echo fail
		return
	fi
	local n
	n=$(sed -n 's/.*ops=\([0-9]*\) .*/\1/p' <<<"$out")
	[ "$mode" != mkfiles ] && [ "$mode" != readdir ] && [ "$n" -lt $((th * ops)) ] &&
		echo "bench: $fs $mode stopped at the ${MAXSEC}s bound after $n ops" >&2
	sed -n 's/.*ops_per_sec=\([0-9]*\).*/\1/p' <<<"$out"
}

shell_loop() { # FS -> ops/s of 200 `echo v > key`
	local root i t0 t1
	[ "$1" = quorumfs ] && root=$B/qmnt || root=$B/tmpfs
	mkdir -p "$root/sh"
	t0=$(date +%s%N)
	for i in $(seq 1 200); do echo v >"$root/sh/k$i" || { echo fail; return; }; done
	t1=$(date +%s%N)
	echo $((200 * 1000000000 / (t1 - t0)))
}

declare -A R
tests=("write 100 B, 1 writer" "write 100 B, $WRITERS writers" "read 100 B (unchanged)" "stat" "readdir $DIRENTS entries" "shell: 200 x echo v > key")
for fs in quorumfs tmpfs; do
	echo "bench: running on $fs" >&2
	lg $fs write warmup 1 200 >/dev/null # first commits grow the store: not measured
	R["$fs|${tests[0]}"]=$(lg $fs write w1 1 "$OPS")
	R["$fs|${tests[1]}"]=$(lg $fs write w16 $WRITERS "$OPS")
	R["$fs|${tests[2]}"]=$(lg $fs read w16 $WRITERS "$OPS")
	R["$fs|${tests[3]}"]=$(lg $fs stat w16 $WRITERS "$OPS")
	lg $fs mkfiles big 8 "$DIRENTS" >/dev/null
	R["$fs|${tests[4]}"]=$(lg $fs readdir big 1 20)
	R["$fs|${tests[5]}"]=$(shell_loop $fs)
done
kill -0 "$QPID" 2>/dev/null || echo "bench: quorumfs died during the run" >&2

printf '\n%-30s | %14s | %12s | %7s\n' "test" "quorumfs ops/s" "tmpfs ops/s" "ratio"
printf -- '-------------------------------+----------------+--------------+--------\n'
for t in "${tests[@]}"; do
	q=${R["quorumfs|$t"]:-fail}
	m=${R["tmpfs|$t"]:-fail}
	if [[ "$q" =~ ^[0-9]+$ && "$m" =~ ^[0-9]+$ && "$m" -gt 0 ]]; then
		ratio=$(awk -v a="$q" -v b="$m" 'BEGIN { printf "%.3f", a / b }')
	else
		ratio=-
	fi
	printf '%-30s | %14s | %12s | %7s\n' "$t" "$q" "$m" "$ratio"
done
echo "(ratio = quorumfs / tmpfs; readdir = full listings of $DIRENTS entries per second; $(nproc) CPUs)"
