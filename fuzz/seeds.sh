#!/usr/bin/env bash
# Seed corpora from real traffic for the fuzz targets:
#   fuzz/seeds.sh BUILD_DIR OUT_DIR [FUZZ_BUILD_DIR]
# Runs a single-node daemon on a scratch mount, drives every kind of change
# through it (keys, directories, symlinks, appends, renames, chmod, CAS,
# queues), unmounts, and takes:
#   OUT/cmd/      every command of the Raft log (log record header and node
#                 envelope stripped: what qfs_cmd_decode sees), plus REVs;
#   OUT/snapshot/ the snapshot files the node wrote;
#   OUT/backup/   a backup made with quorumctl snapshot save;
#   OUT/net/      peer messages from gen_net_seeds (when built).
set -euo pipefail
build=$(cd "${1:?build dir}" && pwd)
out=${2:?out dir}
mkdir -p "$out/cmd" "$out/snapshot" "$out/net" "$out/backup"
out=$(cd "$out" && pwd)
bin=$build/quorumfs
[ -x "$bin" ] || bin=$build/src/quorumfs
t=$(mktemp -d /tmp/qfs-seeds.XXXXXX)
cleanup() {
	fusermount3 -u "$t/m" 2>/dev/null || true
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
mkdir -p "$t/m" "$t/d"
start() { # SNAPSHOT_ENTRIES
	"$bin" -f --name seed --data "$t/d" --snapshot-entries "$1" "$t/m" 2>>"$t/log" &
	pid=$!
	for _ in $(seq 1 100); do mountpoint -q "$t/m" && break; sleep 0.1; done
}
# The whole log stays (no snapshot) until the second start.
start 100000
m=$t/m
mkdir -p "$m/app/sub" "$m/jobs"
echo v1 >"$m/app/k"
echo more >>"$m/app/k"
printf 'a\0b\377' >"$m/app/bin"
ln -s ../app/k "$m/app/link"
chmod 600 "$m/app/k"
mv "$m/app/bin" "$m/app/sub/bin"
head -c 5000 /dev/urandom >"$m/app/big"
truncate -s 100 "$m/app/big"
rev=$(cat "$m/app/.rev/k")
echo cas >"$m/app/.cas/$rev/k"
echo lock >"$m/app/.cas/0/lock"
rm "$m/app/.cas/$(cat "$m/app/.rev/lock")/lock"
for i in 1 2 3; do echo "job $i" >"$m/jobs/.enqueue"; done
cat "$m/jobs/.dequeue" >/dev/null
touch -d 2020-01-01 "$m/app/k"
rm "$m/app/link"
rmdir "$m/app/sub" 2>/dev/null || rm -r "$m/app/sub"
for i in $(seq 1 20); do echo "$i" >"$m/app/n$i"; done
ctl=$build/src/ctl/quorumctl
if [ -x "$ctl" ]; then
	QUORUMFS_DATA=$t/d "$ctl" snapshot save "$out/backup/backup.qfsnap" >/dev/null ||
		"$ctl" --data "$t/d" snapshot save "$out/backup/backup.qfsnap" >/dev/null || true
fi
fusermount3 -u "$m"
wait "$pid" || true
pid=
# Log values: 32-byte record header + 18-byte envelope, then the command.
mdb_dump -s log "$t/d" | awk 'f && /^ / { n++; if (n % 2 == 0) print substr($1, 1 + 2 * 50) } /^HEADER=END/ { f = 1 }' |
	while read -r hex; do
		[ -n "$hex" ] || continue
		f=$out/cmd/log-$(printf '%s' "$hex" | md5sum | cut -c1-12)
		printf '%s' "$hex" | xxd -r -p >"$f"
	done
for r in 0 17 18446744073709551615 00042; do printf '%s' "$r" >"$out/cmd/rev-$r"; done
# Now snapshots of that state.
start 16
for i in $(seq 1 40); do echo "$i" >"$m/app/s$i"; done
fusermount3 -u "$m"
wait "$pid" || true
pid=
cp "$t"/d/snap/* "$out/snapshot/" 2>/dev/null || true
gen=${3:-$build}/fuzz/gen_net_seeds
if [ -x "$gen" ]; then "$gen" "$out/net" >/dev/null; fi
echo "seeds: $(ls "$out/cmd" | wc -l) commands, $(ls "$out/snapshot" | wc -l) snapshots, $(ls "$out/backup" | wc -l) backups, $(ls "$out/net" | wc -l) messages in $out"
