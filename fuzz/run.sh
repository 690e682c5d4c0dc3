#!/usr/bin/env bash
# Runs one libFuzzer target for a while, by hand (not CI):
#   fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
# TARGET: net_decode, cmd_decode, snapshot or backup.  Builds build-fuzz (clang) if
# needed, makes the seed corpora from real traffic (fuzz/seeds.sh) once, and
# keeps the growing corpus in fuzz/corpus-TARGET/ and crashes in
# fuzz/crashes-TARGET/ (both ignored by git).  A crash found becomes a
# regression test: copy it to tests/unit/fuzz-regress/TARGET/ (see README).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?target: net_decode, cmd_decode or snapshot}
secs=${2:?seconds}
shift 2
fb=$top/build-fuzz
if [ ! -x "$fb/fuzz/fuzz_$target" ]; then
	cmake -S "$top" -B "$fb" -DCMAKE_C_COMPILER=clang -DQFS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$fb" -j2 --target "fuzz_$target" gen_net_seeds >/dev/null
fi
seeds=$top/fuzz/corpus-seed
if [ ! -d "$seeds/cmd" ]; then
	[ -x "$top/build/quorumfs" ] || bash "$top/scripts/build.sh" >/dev/null
	bash "$top/fuzz/seeds.sh" "$top/build" "$seeds" "$fb"
fi
case $target in
net_decode) sd=$seeds/net ;;
cmd_decode) sd=$seeds/cmd ;;
snapshot) sd=$seeds/snapshot ;;
backup) sd=$seeds/backup ;;
*) echo "unknown target $target" >&2; exit 2 ;;
esac
corpus=$top/fuzz/corpus-$target
crashes=$top/fuzz/crashes-$target
mkdir -p "$corpus" "$crashes"
"$fb/fuzz/fuzz_$target" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
	-rss_limit_mb=2048 -artifact_prefix="$crashes/" "$@" "$corpus" "$sd"
