#!/bin/bash
# shellcheck source=tests/integration/lib.sh
# -o allow_other: another uid gets exactly the access the stored modes grant
# (the kernel checks them: default_permissions), for keys and for the special
# entries, whose modes follow what the equivalent plain operation needs:
# - a world-readable key reads, a 0600 one and anything under a 0700
#   directory does not; a 0644 key cannot be written, a 0666 one can;
#   nothing is created in or deleted from a root-owned 0755 directory;
#   chmod/chown of root's key are refused;
# - in a directory the user owns: create, write, mkdir, rm work, and new
#   keys belong to the user;
# - .rev/KEY reads like KEY; .cas/REV/KEY writes like KEY; .enqueue and
#   .dequeue need write access to the directory; .status and members/ read.
. "$(dirname "$0")/lib.sh"
qfs_setup
command -v setpriv >/dev/null || skip "setpriv is missing"
chmod 755 "$T" # the other uid must reach the mount point
qfs_start -o allow_other
USR=4242
as_user() { setpriv --reuid "$USR" --regid "$USR" --clear-groups -- "$@"; }
# ok_user CMD...: must succeed as the user; denied_user ERR CMD...: must fail with ERR
ok_user() { as_user "$@" >"$T/out" 2>"$T/err" || fail "as uid $USR: '$*' failed: $(cat "$T/err")"; }
denied_user() {
	local want=$1
	shift
	if as_user "$@" >"$T/out" 2>"$T/err"; then
		fail "as uid $USR: '$*' succeeded, expected '$want'"
	else
		grep -q "$want" "$T/err" || fail "as uid $USR: '$*' failed with '$(cat "$T/err")', expected '$want'"
	fi
}

cd "$M" || die "cd $M"
mkdir pub priv mine
chmod 755 pub
chmod 700 priv
chown "$USR:$USR" mine
echo s >pub/ro
echo n >pub/none && chmod 600 pub/none
echo w >pub/ww && chmod 666 pub/ww
echo p >priv/secret
echo j1 >pub/.enqueue

# Plain keys.
ok_user cat pub/ro
check_eq "$(cat "$T/out")" s "a 0644 key read by another uid"
denied_user "Permission denied" sh -c 'echo x > pub/ro'
check_eq "$(cat pub/ro)" s "a 0644 key after another uid's write attempt"
denied_user "Permission denied" cat pub/none
denied_user "Permission denied" ls priv
denied_user "Permission denied" cat priv/secret
ok_user sh -c 'echo x > pub/ww'
check_eq "$(cat pub/ww)" x "a 0666 key written by another uid"
denied_user "Permission denied" touch pub/newkey
denied_user "Permission denied" mkdir pub/newdir
denied_user "Permission denied" rm -f pub/ro
denied_user "Operation not permitted" chmod 777 pub/ro
denied_user "Operation not permitted" chown "$USR" pub/ro
check_eq "$(stat -c %a pub/ro)" 644 "mode of root's key after chmod attempts"
[ -e pub/newkey ] && fail "pub/newkey exists after a refused create"

# A directory the user owns.
ok_user sh -c 'echo m > mine/k'
check_eq "$(stat -c %u:%g mine/k)" "$USR:$USR" "owner of a key another uid created"
ok_user mkdir mine/d
ok_user sh -c 'echo z > mine/d/z && rm mine/d/z && rmdir mine/d'
ok_user chmod 600 mine/k
check_eq "$(stat -c %a mine/k)" 600 "mode set by the key's owner"

# Special entries.
ok_user cat pub/.rev/ro
check_eq "$(cat "$T/out")" "$(getfattr --only-values -n user.quorumfs.mod_revision pub/ro)" ".rev of a readable key"
denied_user "Permission denied" cat pub/.rev/none
rev=$(cat pub/.rev/ro)
denied_user "Permission denied" sh -c "echo c > pub/.cas/$rev/ro"
check_eq "$(cat pub/ro)" s "a 0644 key after another uid's CAS attempt"
rev=$(cat pub/.rev/ww)
ok_user sh -c "echo c > pub/.cas/$rev/ww"
check_eq "$(cat pub/ww)" c "a 0666 key replaced by another uid's CAS"
denied_user "Permission denied" sh -c 'echo c > pub/.cas/0/fresh'
denied_user "Permission denied" sh -c 'echo j > pub/.enqueue'
denied_user "Permission denied" cat pub/.dequeue
check_eq "$(ls pub | grep -c '^[0-9]\{20\}$')" 1 "items in pub/ after another uid's dequeue attempt"
ok_user sh -c 'echo j2 > mine/.enqueue'
ok_user cat mine/.dequeue
check_eq "$(cat "$T/out")" j2 "item dequeued by the directory's owner"
rev=$(cat mine/.rev/k)
ok_user rm "mine/.cas/$rev/k"
[ -e mine/k ] && fail "mine/k still exists after its owner's compare-and-delete"
ok_user cat .status
grep -q '^role=leader$' "$T/out" || fail ".status read by another uid: $(cat "$T/out")"
ok_user ls members
denied_user "Permission denied" sh -c 'echo x > .status'
qfs_done
