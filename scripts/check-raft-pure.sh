#!/usr/bin/env bash
# Fails when the Raft core includes anything that does I/O, reads a clock,
# spawns threads or links a foreign library (DESIGN.md: the core is pure).
set -u
dir=${1:?usage: check-raft-pure.sh SRC_RAFT_DIR}
bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](lmdb\.h|nng/|fuse|time\.h|sys/time\.h|pthread\.h|threads\.h|unistd\.h|stdio\.h|sys/|fcntl\.h|signal\.h)' \
      "$dir"/*.c "$dir"/*.h 2>/dev/null)
if [ -n "$bad" ]; then
  echo "raft core is not pure; forbidden includes:"
  echo "$bad"
  exit 1
fi
n=$(ls "$dir"/*.c 2>/dev/null | wc -l)
if [ "$n" -eq 0 ]; then
  echo "no sources under $dir"
  exit 1
fi
echo "raft core is pure ($n source files checked)"
