#!/bin/bash
# A work queue: producers on any node `echo JOB > DIR/.enqueue` (each write()
# is one item, in commit order across the cluster); workers on any node loop
# on `cat DIR/.dequeue`, which takes the oldest item, waiting while there is
# none. Two workers never get the same item; an item is removed in the commit
# that hands it to a worker.
#
# Usage: work-queue.sh MOUNT [JOBS]
# Starts two workers, enqueues JOBS jobs (default 20) into MOUNT/jobs; each
# worker writes MOUNT/results/JOB and stops after IDLE seconds without work.
# Exits 0 when every job has its result and the queue is empty.
set -u
M=${1:?usage: work-queue.sh MOUNT [JOBS]}
JOBS=${2:-20}
IDLE=3
Q=$M/jobs
R=$M/results
mkdir -p "$Q" "$R"

# worker NAME: take jobs until none comes for IDLE seconds (a worker that
# never stops is just `while job=$(cat "$Q/.dequeue"); do ...; done`).
# A signal (here timeout's SIGTERM) ends a waiting `cat` without taking an item.
worker() {
	local job
	while job=$(timeout "$IDLE" cat "$Q/.dequeue"); do
		echo "$job done by $1" >"$R/$job"
	done
}
worker w1 &
w1=$!
worker w2 &
w2=$!

# The producer: one item per write().
for i in $(seq 1 "$JOBS"); do
	echo "job$i" >"$Q/.enqueue" || exit 1
done
wait "$w1" "$w2"

finished=$(find "$R" -name 'job*' | wc -l)
left=$(find "$Q" -mindepth 1 | wc -l)
echo "work-queue: $finished results, $left items left"
[ "$finished" -eq "$JOBS" ] && [ "$left" -eq 0 ]
