#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Concurrent appends: two processes each append 1,000 distinct lines with `>>`
# at the same time. The key ends with exactly 2,000 lines: none lost, none
# torn, each process's lines in its own order.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

: >"$M/log"
appender() { # TAG
	local i
	while [ ! -e "$T/go" ]; do sleep 0.01; done
	for i in $(seq 1 1000); do
		echo "$1 line $i of writer $1 padding-$(rep "$1" $((i % 37)))" >>"$M/log" || {
			echo "append $i failed" >"$T/err.$1"
			return 1
		}
	done
}
appender A &
pa=$!
qfs_helper $pa
appender B &
pb=$!
qfs_helper $pb
touch "$T/go"
wait $pa || fail "writer A failed: $(cat "$T/err.A" 2>/dev/null)"
wait $pb || fail "writer B failed: $(cat "$T/err.B" 2>/dev/null)"

cp "$M/log" "$T/log" || die "cannot read the log back"
check_eq "$(wc -l <"$T/log")" 2000 "number of lines"
check_eq "$(stat -c %s "$M/log")" "$(stat -c %s "$T/log")" "stat size equals bytes read"
for w in A B; do
	exp=$(for i in $(seq 1 1000); do echo "$w line $i of writer $w padding-$(rep "$w" $((i % 37)))"; done)
	check_eq "$(grep "^$w line " "$T/log")" "$exp" "writer $w: all lines, untorn, in order"
done
bad=$(grep -v -E '^(A line [0-9]+ of writer A padding-A*|B line [0-9]+ of writer B padding-B*)$' "$T/log" | head -3)
[ -n "$bad" ] && fail "torn or foreign lines: $bad"
interleaved=$(cut -c1 "$T/log" | uniq | wc -l)
[ "$interleaved" -gt 2 ] || note "the two writers did not interleave ($interleaved runs): weak race"

# Appends from several short-lived processes to a fresh key, single bytes.
pids=()
for i in $(seq 1 50); do
	printf 'x' >>"$M/bytes" &
	pids+=($!)
done
wait "${pids[@]}"
check_eq "$(stat -c %s "$M/bytes" 2>&1)" 50 "50 concurrent one-byte appends"
qfs_done
