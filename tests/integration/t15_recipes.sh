#!/bin/bash
# shellcheck source=tests/integration/lib.sh disable=SC2012
# The recipes of docs/special-entries.md (docs/recipes/*.sh) against a
# single-node mount, each bounded by a timeout:
# - the doc holds each recipe verbatim (the fenced block after its
#   `<!-- recipe: docs/recipes/NAME -->` marker) and each is executable;
# - lock-noclobber.sh and lock-cas.sh: 3 concurrent runs of 10 locked
#   increments each leave the counter at exactly 30 and no lock behind;
# - leader-election.sh: a first participant takes app/leader; a second one
#   stays follower while the first renews; after kill -9 of the first, the
#   second takes over once the lease (3 s) ran out, not before 1 s; it steps
#   down at its end (app/leader deleted) and exits 0;
# - work-queue.sh: 20 jobs give 20 results, each job once, and an empty queue;
# - watch-config.sh: config/applied ends as "REV level=3", REV being the
#   mod_revision of config/app.conf, after reloads in increasing revision order.
. "$(dirname "$0")/lib.sh"
qfs_setup
qfs_start

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
R=$QFS_SRC_DIR/docs/recipes
DOC=$QFS_SRC_DIR/docs/special-entries.md
RECIPES=(lock-noclobber.sh lock-cas.sh leader-election.sh work-queue.sh watch-config.sh)

# --- the doc and the scripts agree ---------------------------------------------
[ -f "$DOC" ] || fail "$DOC is missing"
for r in "${RECIPES[@]}"; do
	[ -x "$R/$r" ] || fail "docs/recipes/$r is missing or not executable"
	block=$(awk -v m="<!-- recipe: docs/recipes/$r -->" '
		$0 == m { found = 1; next }
		found == 1 && /^```/ { found = 2; next }
		found == 2 && /^```/ { exit }
		found == 2 { print }' "$DOC" 2>/dev/null)
	if [ -z "$block" ]; then
		fail "docs/special-entries.md has no block for docs/recipes/$r"
	elif [ "$block" != "$(cat "$R/$r")" ]; then
		fail "docs/special-entries.md and docs/recipes/$r differ: $(diff <(echo "$block") "$R/$r" | grep '^[<>]' | head -n 4 | tr '\n' '|')"
	fi
done

# run NAME ARGS...: the recipe in the foreground, bounded; sets RUN_OUT, RUN_RC.
run() {
	local r=$1
	shift
	# (output to a file: a process the recipe left behind cannot hang us)
	timeout -k 5 60 bash "$R/$r" "$@" >"$T/run.out" 2>&1
	RUN_RC=$?
	RUN_OUT=$(cat "$T/run.out")
	[ $RUN_RC = 0 ] || _fail_at 1 "$r $* exited $RUN_RC: $(_qfs_short "$RUN_OUT")"
}

# --- locks ------------------------------------------------------------------------
for kind in noclobber cas; do
	pids=()
	for i in 1 2 3; do
		timeout -k 5 90 bash "$R/lock-$kind.sh" "$M" 10 >"$T/lock-$kind.$i" 2>&1 &
		pids+=($!)
		qfs_helper $!
	done
	for i in 1 2 3; do
		if qfs_wait_exit "${pids[i - 1]}" 100; then
			check_eq "$QFS_EXIT_RC" 0 "exit status of lock-$kind.sh run $i ($(head -c 200 "$T/lock-$kind.$i"))"
		else
			fail "lock-$kind.sh run $i still running after 100 s"
		fi
	done
	check_content "$M/locks/$kind-counter" $'30\n' "counter after 3 concurrent lock-$kind.sh runs of 10"
	[ -e "$M/locks/$kind" ] && fail "lock-$kind.sh left its lock behind"
done

# --- leader election -----------------------------------------------------------------
leader() { cut -d' ' -f1 "$M/app/leader" 2>/dev/null; }
# wait_leader WANT BOUND: until app/leader names WANT ("" = absent).
wait_leader() {
	local end=$(($(now_ms) + $2 * 1000))
	while [ "$(leader)" != "$1" ]; do
		[ "$(now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}
bash "$R/leader-election.sh" "$M" alpha 60 >"$T/le.alpha" 2>&1 &
pa=$!
qfs_helper $pa
wait_leader alpha 5 || fail "alpha did not take the free lead within 5 s: $(cat "$T/le.alpha")"
bash "$R/leader-election.sh" "$M" beta 14 >"$T/le.beta" 2>&1 &
pb=$!
qfs_helper $pb
sleep 4
check_eq "$(leader)" alpha "leader while alpha renews (beta running for 4 s)"
grep -q '^beta: follower (leader: alpha on ' "$T/le.beta" || fail "beta did not report alpha as leader: $(cat "$T/le.beta")"
kill -KILL $pa
qfs_wait_exit $pa 5
t0=$(now_ms)
if wait_leader beta 8; then
	dt=$(($(now_ms) - t0))
	qfs_log "beta took over $dt ms after kill -9 of alpha"
	[ $dt -ge 1000 ] || fail "beta took over $dt ms after alpha died, before the 3 s lease could run out"
else
	fail "beta did not take over within 8 s of kill -9 of alpha: $(cat "$T/le.beta")"
fi
if qfs_wait_exit $pb 20; then
	check_eq "$QFS_EXIT_RC" 0 "exit status of beta's leader-election.sh"
else
	fail "beta's leader-election.sh still running 20 s after the takeover"
fi
grep -q '^beta: leader (took over from alpha on ' "$T/le.beta" || fail "beta did not report the takeover: $(cat "$T/le.beta")"
grep -q '^beta: stepped down$' "$T/le.beta" || fail "beta did not report stepping down: $(cat "$T/le.beta")"
[ -e "$M/app/leader" ] && fail "app/leader still exists after the last leader stepped down: $(cat "$M/app/leader")"
qfs_log "beta: $(tr '\n' '|' <"$T/le.beta")"

# --- work queue --------------------------------------------------------------------------
run work-queue.sh "$M" 20
check_eq "$(ls "$M/results" 2>&1 | sort | tr '\n' ' ')" "$(printf 'job%d\n' $(seq 1 20) | sort | tr '\n' ' ')" "results of work-queue.sh"
check_eq "$(cat "$M"/results/* 2>&1 | grep -Ec '^job[0-9]+ done by w[12]$')" 20 "result lines of work-queue.sh"
check_eq "$(ls -A "$M/jobs" 2>&1)" "" "the queue after work-queue.sh"

# --- watch-config -------------------------------------------------------------------------
run watch-config.sh "$M" 3
rev=$(cat "$M/config/.rev/app.conf" 2>&1)
check_content "$M/config/applied" "$rev level=3"$'\n' "config/applied after watch-config.sh"
reloads=$(grep '^reloaded app.conf (revision ' <<<"$RUN_OUT")
[ -n "$reloads" ] || fail "watch-config.sh reported no reload: $RUN_OUT"
check_eq "$(tail -n 1 <<<"$reloads")" "reloaded app.conf (revision $rev): level=3" "last reload of watch-config.sh"
bad=$(awk '{ r = $4; sub(/\).*/, "", r); r += 0 } NR > 1 && r <= prev { print } { prev = r }' <<<"$reloads")
check_eq "$bad" "" "reload revisions of watch-config.sh not increasing"
qfs_done
