#!/usr/bin/env bash
# Soak the Raft core in the deterministic simulator: N seeds (default 100000)
# split across the cores, then totals and elapsed time.  Every violating seed
# is listed; replay one with: sim --seed S -v
#
#   tests/sim/soak.sh [N] [START]     (SIM=path/to/sim, JOBS=n to override)
set -u
n=${1:-100000}
start=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sim=${SIM:-}
if [ -z "$sim" ]; then
  for c in "$root/build-sim/tests/sim/sim" "$root/build/tests/sim/sim"; do
    [ -x "$c" ] && sim=$c && break
  done
fi
if [ -z "$sim" ] || [ ! -x "$sim" ]; then
  echo "soak: no sim binary (build it, or set SIM=...)" >&2
  exit 2
fi
jobs=${JOBS:-$(nproc)}
[ "$jobs" -ge 1 ] || jobs=1
out=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$out"; }
trap cleanup EXIT INT TERM

t0=$(date +%s.%N)
per=$(( (n + jobs - 1) / jobs ))
for ((j = 0; j < jobs; j++)); do
  s=$(( start + j * per ))
  cnt=$(( n - j * per )); [ "$cnt" -gt "$per" ] && cnt=$per
  [ "$cnt" -le 0 ] && break
  "$sim" --soak "$cnt" --start "$s" > "$out/$j.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
pids=()
t1=$(date +%s.%N)

awk -v t0="$t0" -v t1="$t1" '
  /^summary:/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[2] ~ /^[0-9]+$/) tot[kv[1]] += kv[2] } }
  /^VIOLATION seed=/ { v = $2; sub(/seed=/, "", v); bad = bad " " v }
  /^ABORT/ { bad = bad " " $0 }
  END {
    el = t1 - t0; if (el <= 0) el = 0.001
    printf "soak: seeds=%d steps=%d ticks=%d elections=%d commits=%d acked_writes=%d reads=%d snapshots=%d violations=%d\n",
      tot["seeds"], tot["steps"], tot["ticks"], tot["elections"], tot["commits"], tot["acked_writes"],
      tot["reads"], tot["snapshots"], tot["violations"]
    printf "soak: elapsed %.1f s, %.0f seeds/s, %.0f steps/seed\n", el, tot["seeds"] / el,
      tot["seeds"] ? tot["steps"] / tot["seeds"] : 0
    if (bad != "") printf "soak: violating seeds:%s\n", bad
  }' "$out"/*.log
if [ "$rc" -ne 0 ]; then
  echo "soak: FAILED (first reports below; replay with: $sim --seed S -v)"
  grep -h -A2 '^VIOLATION seed=[0-9]* step=' "$out"/*.log | head -40
  grep -h -A3 '^ABORT' "$out"/*.log | head -20
fi
exit $rc
