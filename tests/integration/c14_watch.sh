#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Watches across the cluster (INTERFACE §4, `.watch`): `cat app/.watch` runs
# on n3 and `cat app/deep/.watch` on n2 while writers on n1 and n2 make 100
# changes each under app/ (mkdir of app/deep/dW, a write in it, 70 new keys,
# 15 overwrites, 10 rm, one mv, one chmod, rm of the subdir's key), each
# recording the revision it observed through `.rev` on its own node right
# after each change (deletes: by their order). Meanwhile a third writer
# changes other/, appx/ (a sibling whose name starts with "app") and root
# keys. Then:
# - every line is `<revision> <put|delete> <path>`, the path relative to the
#   mount root, under the watched directory; nothing from other/, appx/,
#   the root, or from before the open (app/before);
# - revisions never go down and only a rename's delete+put pair shares one
#   (in either order);
# - each writer's changes appear in its order, none missing or extra (a new
#   key's create and first write may be two puts), and every put has the
#   revision the writer observed; a rename is `delete OLD` + `put NEW` with
#   the rename's revision;
# - app/deep/.watch on n2 holds exactly the changes under app/deep.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start_all

M1=${CL_MNT[1]}
mkdir -p "$M1/app/deep" "$M1/other" "$M1/appx" || die "mkdir failed"
echo before >"$M1/app/before" || die "write of app/before failed"
cl_sync 1 10

cat "${CL_MNT[3]}/app/.watch" >"$T/watch.app" 2>"$T/watch.app.err" &
wapp=$!
qfs_helper $wapp
cat "${CL_MNT[2]}/app/deep/.watch" >"$T/watch.deep" 2>"$T/watch.deep.err" &
wdeep=$!
qfs_helper $wdeep
# Both watches are open once they show a change made after starting them.
end=$(($(now_ms) + 10000))
while :; do
	echo ready >"$M1/app/deep/ready" || fail "write of app/deep/ready failed"
	sleep 0.3
	grep -q ' put app/deep/ready$' "$T/watch.app" && grep -q ' put app/deep/ready$' "$T/watch.deep" && break
	[ "$(now_ms)" -lt "$end" ] || die "the watches showed no change within 10 s (app: '$(head -c 200 "$T/watch.app" "$T/watch.app.err")', deep: '$(head -c 200 "$T/watch.deep" "$T/watch.deep.err")')"
done

# writer W: 100 changes through node W's mount; logs "REV op path" ("-" for
# a revision read from the stream order only) to $T/wr.W.
writer() {
	local w=$1 d=${CL_MNT[$1]}/app j r
	local log=$T/wr.$w
	: >"$log"
	# rev_of FILE: the revision in a .rev file, into r
	rev_of() {
		r=""
		IFS= read -r r <"$1"
		[[ "$r" =~ ^[0-9]+$ ]] || echo "unreadable revision in $1: '$r'" >&2
	}
	mkdir "$d/deep/d$w" && echo "- put app/deep/d$w" >>"$log"
	echo f >"$d/deep/d$w/f" && rev_of "$d/deep/d$w/.rev/f" && echo "$r put app/deep/d$w/f" >>"$log"
	for j in $(seq 1 70); do
		echo "v$j" >"$d/w$w-k$j" && rev_of "$d/.rev/w$w-k$j" && echo "$r put app/w$w-k$j" >>"$log"
	done
	for j in $(seq 1 15); do
		echo "v$j again" >"$d/w$w-k$j" && rev_of "$d/.rev/w$w-k$j" && echo "$r put app/w$w-k$j" >>"$log"
	done
	for j in $(seq 61 70); do
		rm "$d/w$w-k$j" && echo "- delete app/w$w-k$j" >>"$log"
	done
	mv "$d/w$w-k50" "$d/w$w-moved" && rev_of "$d/.rev/w$w-moved" &&
		printf '%s delete app/w%s-k50\n%s put app/w%s-moved\n' "$r" "$w" "$r" "$w" >>"$log"
	chmod 600 "$d/w$w-k40" && rev_of "$d/.rev/w$w-k40" && echo "$r put app/w$w-k40" >>"$log"
	rm "$d/deep/d$w/f" && echo "- delete app/deep/d$w/f" >>"$log"
}
wpids=()
for w in 1 2; do
	(
		trap - EXIT INT TERM
		writer "$w" 2>"$T/wr.$w.err"
	) &
	wpids+=($!)
	qfs_helper $!
done
(
	trap - EXIT INT TERM
	for j in $(seq 1 25); do
		echo "o$j" >"$M1/other/k$j"
		echo "x$j" >"$M1/appx/k$j"
		echo "r$j" >"$M1/apple"
		[ $((j % 5)) = 0 ] && rm "$M1/other/k$j"
	done 2>"$T/other.err"
) &
opid=$!
qfs_helper $opid
for p in "${wpids[@]}" "$opid"; do
	qfs_wait_exit "$p" 120 || fail "writer pid $p still running after 120 s"
done
for w in 1 2; do
	check_eq "$(head -c 300 "$T/wr.$w.err")" "" "errors of writer $w"
	check_eq "$(wc -l <"$T/wr.$w")" 101 "changes logged by writer $w (100, the mv counting twice)"
done
check_eq "$(head -c 300 "$T/other.err")" "" "errors of the writer outside app/"
cl_sync 1 10
# The last change of each writer reaches both watches.
end=$(($(now_ms) + 10000))
for w in 1 2; do
	while ! grep -q " delete app/deep/d$w/f\$" "$T/watch.app" || ! grep -q " delete app/deep/d$w/f\$" "$T/watch.deep"; do
		[ "$(now_ms)" -lt "$end" ] || break
		sleep 0.1
	done
done
sleep 0.5
for p in $wapp $wdeep; do
	qfs_alive "$p" || fail "a cat .watch (pid $p) ended: $(cat "$T/watch.app.err" "$T/watch.deep.err")"
	qfs_kill_pid "$p" 2
done
qfs_log "app/.watch on n3: $(wc -l <"$T/watch.app") lines; app/deep/.watch on n2: $(wc -l <"$T/watch.deep") lines"

# check_format FILE WHAT DIR: line syntax, paths under DIR, revision order.
check_format() {
	local f=$1 what=$2 dir=$3 bad
	bad=$(grep -Ev "^[0-9]+ (put|delete) $dir/[^ /][^ ]*\$" "$f")
	check_eq "$(grep -c . <<<"$bad")" 0 "$what: lines not '<revision> <put|delete> $dir/...' ($(head -n 3 <<<"$bad" | tr '\n' '|'))"
	bad=$(awk 'NR > 1 && ($1 + 0 < prev || ($1 + 0 == prev && pop == $2)) { print "line " NR ": " $0 " after " pline }
		{ prev = $1 + 0; pop = $2; pline = $0 }' "$f")
	check_eq "$(grep -c . <<<"$bad")" 0 "$what: revisions going down or shared by lines that are not a rename pair ($(head -n 3 <<<"$bad" | tr '\n' '|'))"
	check_eq "$(grep -c ' app/before$' "$f")" 0 "$what: lines for app/before, changed before the open"
}
# check_writer FILE WHAT W PATTERN: the lines of FILE whose path matches
# PATTERN are writer W's logged changes that match it, in order, with the
# logged revisions (consecutive puts of one path collapse into the last).
check_writer() {
	local f=$1 what=$2 w=$3 pat=$4 got exp bad
	got=$(awk -v pat="$pat" '$3 ~ pat' "$f" | sort -s -k1,1n -k2,2 |
		awk '{ if (n && $2 == "put" && lop == "put" && $3 == lpath) { line[n] = $0 } else { line[++n] = $0 }; lop = $2; lpath = $3 }
			END { for (i = 1; i <= n; i++) print line[i] }')
	exp=$(awk -v pat="$pat" '$3 ~ pat' "$T/wr.$w")
	check_eq "$(cut -d' ' -f2- <<<"$got")" "$(cut -d' ' -f2- <<<"$exp")" "$what: writer $w's changes (op path) in order" || {
		diff <(cut -d' ' -f2- <<<"$exp") <(cut -d' ' -f2- <<<"$got") | grep '^[<>]' | head -n 6 >&2
		return 1
	}
	bad=$(paste -d' ' <(cut -d' ' -f1 <<<"$exp") <(echo "$got") | awk '$1 != "-" && $1 != $2 { print "logged " $1 ": " $2 " " $3 " " $4 }')
	check_eq "$(grep -c . <<<"$bad")" 0 "$what: writer $w's puts with a revision other than the one it observed ($(head -n 3 <<<"$bad" | tr '\n' '|'))"
}

grep -v ' app/deep/ready$' "$T/watch.app" >"$T/app.lines"
grep -v ' app/deep/ready$' "$T/watch.deep" >"$T/deep.lines"
check_format "$T/watch.app" "app/.watch on n3" app
check_format "$T/watch.deep" "app/deep/.watch on n2" app/deep
for w in 1 2; do
	check_writer "$T/app.lines" "app/.watch on n3" "$w" "^app/(w$w-|deep/d$w(/|\$))"
	check_writer "$T/deep.lines" "app/deep/.watch on n2" "$w" "^app/deep/d$w(/|\$)"
done
stray=$(grep -Ev ' app/(w[12]-|deep/d[12](/|$))' "$T/app.lines")
check_eq "$(grep -c . <<<"$stray")" 0 "app/.watch on n3: lines for no writer's change ($(head -n 3 <<<"$stray" | tr '\n' '|'))"
renames=$(awk 'NR > 1 && $1 == prev { n++ } { prev = $1 } END { print n + 0 }' "$T/app.lines")
check_eq "$renames" 2 "app/.watch on n3: line pairs sharing a revision (the two renames)"
cl_done
