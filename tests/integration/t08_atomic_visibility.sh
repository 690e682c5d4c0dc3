#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2010
# Whole-value atomicity (INTERFACE §2): a writer replaces a key 200 times with
# values of ~100 KB that each consist of one repeated character, while a reader
# loops `cat k`. The reader must never see a mix of two values, a truncated
# value, or an empty value (the O_TRUNC open and the write are one change).
#  - dd bs=SIZE count=1: exactly one O_TRUNC open + one write(): strict.
#  - bash `printf '%s' "$v" > k`: glibc stdio caps its buffer at BUFSIZ (8 KiB)
#    whatever st_blksize says, so bash writes 98304 + 1696 bytes in two calls,
#    and the kernel may split a write() further (at a page boundary, when its
#    buffer is not resident).  A multi-write value becomes visible as it is
#    written (INTERFACE §2): any prefix of the value is allowed (a note);
#    mixed letters, empty values and a wrong final value are not.
#  - dd with 1 MiB values (the limit), strict.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

letters=(a b c d e f g h i j k l m n o p q r s t u v w x y z)

# run_round HOW SIZE WRITES  (HOW: dd | printf)
run_round() {
	local how=$1 size=$2 writes=$3 i allowed=""
	local -a vals
	for i in "${!letters[@]}"; do
		if [ "$how" = printf ]; then
			vals[$i]=$(rep "${letters[$i]}" "$size")
		else
			rep "${letters[$i]}" "$size" >"$T/val$i"
		fi
	done
	# bash printf: a prefix of the value may be seen while it is written
	[ "$how" = printf ] && allowed=prefix
	[ "$how" = dd ] && vals[0]=$(cat "$T/val0")
	printf '%s' "${vals[0]}" >"$M/k" || {
		fail "initial write of $size bytes failed"
		return
	}
	rm -f "$T/wdone" "$T/rstats" "$T/rbad"
	# Reader: a separate process reading through the mount with cat.
	(
		trap - EXIT INT TERM
		reads=0 bad=0 empty=0 partial=0 end=$((SECONDS + 60))
		while [ ! -e "$T/wdone" ] && [ $SECONDS -lt $end ]; do
			cat "$M/k" >"$T/snap" 2>"$T/snaperr" || {
				echo "cat failed: $(cat "$T/snaperr")" >>"$T/rbad"
				bad=$((bad + 1))
				continue
			}
			reads=$((reads + 1))
			sz=$(stat -c %s "$T/snap")
			if [ "$sz" = 0 ]; then
				empty=$((empty + 1))
				[ $empty -le 3 ] && echo "read $reads: empty value" >>"$T/rbad"
				continue
			fi
			squeezed=$(tr -s 'a-z' <"$T/snap" | head -c 100)
			if [ ${#squeezed} -eq 1 ] && [ "$allowed" = prefix ] && [ "$sz" -lt "$size" ]; then
				partial=$((partial + 1))
			elif [ "$sz" != "$size" ] || [ ${#squeezed} -ne 1 ]; then
				bad=$((bad + 1))
				[ $bad -le 5 ] && echo "read $reads: $sz bytes, runs: $(tr -s 'a-z' <"$T/snap" | head -c 60)" >>"$T/rbad"
			fi
		done
		echo "$reads $bad $empty $partial" >"$T/rstats"
	) &
	local rpid=$!
	qfs_helper $rpid
	local werr=0
	for i in $(seq 1 "$writes"); do
		if [ "$how" = printf ]; then
			printf '%s' "${vals[$((i % 26))]}" >"$M/k" || werr=$((werr + 1))
		else
			dd if="$T/val$((i % 26))" of="$M/k" bs="$size" count=1 status=none || werr=$((werr + 1))
		fi
	done
	touch "$T/wdone"
	qfs_wait_exit $rpid 70 || fail "reader did not finish"
	[ $werr -eq 0 ] || fail "$size-byte values: $werr of $writes writes failed"
	local reads bad empty partial
	read -r reads bad empty partial <"$T/rstats" || {
		fail "reader left no statistics"
		return
	}
	local what="$how, $size-byte values"
	qfs_log "$what: $writes writes, $reads reads, $bad torn/mixed, $empty empty, $partial first-write-only"
	[ "$reads" -ge 10 ] || note "$what: only $reads reads overlapped the writes"
	[ "$bad" -eq 0 ] || fail "$what: reader saw $bad mixed or truncated values: $(head -5 "$T/rbad" | tr '\n' ';')"
	[ "$empty" -eq 0 ] || fail "$what: reader saw $empty empty values (O_TRUNC open + write must be one change)"
	[ "$partial" -eq 0 ] || note "$what: reader saw $partial prefixes of a value being written in several write() calls"
	local last
	if [ "$how" = printf ]; then last=${vals[$((writes % 26))]}; else last=$(cat "$T/val$((writes % 26))"); fi
	check_eq "$(cat "$M/k")" "$last" "$what: final value is the last written"
}

run_round dd 100000 200
run_round printf 100000 200
run_round dd "$QFS_VALUE_MAX" 40

# One open reads one value: a reader that got the whole value and reads
# again for EOF must get EOF, not the tail of a newer, longer value (this
# mixed "w2-680" + "9" of "w9-1019" into "w2-6809" in the fault soak).
printf 'w2-680' >"$M/reg" || fail "write of reg failed"
out=$(python3 - "$M/reg" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
first = os.read(fd, 1 << 20)
w = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(w, b"w9-1019")
os.close(w)
rest = os.read(fd, 1 << 20)
again = os.pread(fd, 1 << 20, 0)
print(first.decode(), rest.decode() or "EOF", again.decode())
PY
)
check_eq "$out" "w2-680 EOF w2-680" "reads of one open across a longer value's write (first, next, pread at 0)"
check_content "$M/reg" "w9-1019" "the new value, read by a new open"
qfs_done
