#!/bin/bash
# soak.sh — many fault runs with successive seeds, then one summary.
#
#   tests/fault/soak.sh [RUNS] [CYCLES]        (defaults: 10 runs of 50 cycles)
#
# Environment:
#   SOAK_SEED=S      seed of the first run (default: random); run k uses S+k-1
#   SOAK_NODES=3,5   node counts, used in turn (default 3,5)
#   SOAK_STOP=1      stop at the first failing run
#   SOAK_ARGS="..."  more options for run.py (e.g. "--faults kill,wipe")
#   QUORUMFS_BIN, QUORUMCTL_BIN: the binaries (as for run.py)
# Failed runs keep their temp dir (history, logs, trees): the summary lists
# them with the command that replays each. Exit status: 0 when every run
# passed, 1 otherwise, 130 when interrupted.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${1:-10}
CYCLES=${2:-50}
SEED=${SOAK_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) % 1000000000 ))}
IFS=, read -r -a NODES <<<"${SOAK_NODES:-3,5}"
OUT=$(mktemp -d /tmp/qfs-soak.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
trap 'echo "soak: interrupted"; INTERRUPTED=1' INT TERM
INTERRUPTED=0
start=$SECONDS
echo "soak: $RUNS runs of $CYCLES cycles, seeds $SEED..$((SEED + RUNS - 1)), nodes ${NODES[*]}"
for k in $(seq 1 "$RUNS"); do
	s=$((SEED + k - 1))
	n=${NODES[$(((k - 1) % ${#NODES[@]}))]}
	t=$SECONDS
	# shellcheck disable=SC2086
	python3 "$HERE/run.py" --nodes "$n" --cycles "$CYCLES" --seed "$s" --keep-failed \
		--summary-json "$OUT/run-$k.json" ${SOAK_ARGS:-} >"$OUT/run-$k.log" 2>&1
	rc=$?
	res=$(sed -n 's/^RESULT: *//p' "$OUT/run-$k.log" | tail -n 1)
	printf 'run %3d/%d  seed %-10s %d nodes  %-11s %4ds  %s\n' "$k" "$RUNS" "$s" "$n" "${res:-rc=$rc}" \
		$((SECONDS - t)) "$(grep -m1 '^ops:' "$OUT/run-$k.log" | sed 's/^ops: *//; s/;.*//')"
	if [ "$rc" != 0 ]; then
		grep -E '^(FAILURE|kept):' "$OUT/run-$k.log" | sed 's/^/      /'
		grep -E '^\s+\| \[.*\] (ANOMALY|UNKNOWN)' "$OUT/run-$k.log" | head -n 5 | sed 's/^/      /'
	fi
	[ "$INTERRUPTED" = 1 ] || [ "$rc" = 130 ] && { INTERRUPTED=1; break; }
	[ "$rc" != 0 ] && [ "${SOAK_STOP:-0}" = 1 ] && break
done
python3 - "$OUT" "$((SECONDS - start))" <<'EOF'
import glob, json, os, sys
out, elapsed = sys.argv[1], int(sys.argv[2])
runs = []
for p in sorted(glob.glob(os.path.join(out, "run-*.json")), key=lambda p: int(p.split("-")[-1][:-5])):
    with open(p) as f:
        runs.append(json.load(f))
cycles = sum(r.get("cycles_done", 0) for r in runs)
ops = sum(r.get("ops", 0) for r in runs)
bad = [r for r in runs if r.get("result") != "PASS"]
anom = [r for r in runs if r.get("anomalies")]
faults = {}
for r in runs:
    for f, n in (r.get("faults") or {}).items():
        faults[f] = faults.get(f, 0) + n
print("=== soak summary ===")
print("runs:      %d (%d passed, %d failed)" % (len(runs), len(runs) - len(bad), len(bad)))
print("cycles:    %d (%s)" % (cycles, ", ".join("%s %d" % kv for kv in sorted(faults.items()))))
print("ops:       %d" % ops)
print("anomalies: %d run(s) with checker anomalies" % len(anom))
print("time:      %d s%s" % (elapsed, ", %.2f s per cycle" % (elapsed / cycles) if cycles else ""))
for r in bad:
    print("FAILED:    seed %s (%d nodes): %s" % (r["seed"], r["nodes"], "; ".join(r.get("failures", []))[:300]))
    print("           replay: %s" % r.get("replay"))
    print("           kept:   %s" % r.get("run_dir"))
EOF
[ "$INTERRUPTED" = 1 ] && exit 130
for f in "$OUT"/run-*.json; do
	grep -q '"result": "PASS"' "$f" || exit 1
done
exit 0
