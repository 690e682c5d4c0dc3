#!/bin/bash
# shellcheck source=tests/integration/cluster_lib.sh
# Replicas agree whatever a node's local limits (INTERFACE §2 limits are
# configurable; §3 a committed change is visible on every node). n3 runs with
# --value-max 512K, n1 and n2 with the default 1 MiB. An 800 KB value written
# on n1 is either refused (EFBIG) or committed - and then every node that
# applied the change must show it: the replicas must not diverge silently.
. "$(dirname "$0")/cluster_lib.sh"
cl_setup 3
cl_start 1
cl_start 2
cl_start 3 --value-max 512K
cl_wait_leader 15 || die "no leader"
head -c 800000 /dev/urandom >"$T/big"
err=$(cp "$T/big" "${CL_MNT[1]}/big" 2>&1)
rc=$?
qfs_log "cp of 800 KB on n1 (n3 has --value-max 512K): rc $rc $err"
echo after >"${CL_MNT[1]}/after" || fail "a small write on n1 failed"
cl_sync 1 10 1 2 3
for i in 1 2 3; do
	qfs_log "${CL_NAME[i]}: big is $(stat -c %s "${CL_MNT[i]}/big" 2>&1) bytes, applied $(cl_applied "$i")"
done
cl_check_same_tree "with different --value-max" 1 2 3
if [ $rc = 0 ]; then
	for i in 1 2 3; do
		check_eq "$(stat -c %s "${CL_MNT[i]}/big" 2>&1)" 800000 "size of the acknowledged 800 KB value on ${CL_NAME[i]}"
	done
fi
cl_done
