/* Names for traces, error strings and the always-on assertion. */
#include "raft/internal.h"

#include <stdlib.h>

void raft_assert_fail_(const char *expr, const char *file, int line)
{
	/* No stdio in the core: keep the facts where a debugger or core dump
	 * finds them, then stop before a replica can diverge. */
	volatile const char *volatile e = expr;
	volatile const char *volatile f = file;
	volatile int l = line;
	(void)e;
	(void)f;
	(void)l;
	abort();
}

const char *raft_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
#define RAFT_X_STR_(name, val, msg)                                                                \
	case name:                                                                                 \
		return msg;
		RAFT_ERRORS(RAFT_X_STR_)
#undef RAFT_X_STR_
	}
	return "unknown raft error";
}

const char *raft_msg_type_name(int type)
{
	static const char *const names[RAFT_MSG_TYPE_MAX_] = {
	    [RAFT_MSG_APP] = "APP",
	    [RAFT_MSG_APP_RESP] = "APP_RESP",
	    [RAFT_MSG_VOTE] = "VOTE",
	    [RAFT_MSG_VOTE_RESP] = "VOTE_RESP",
	    [RAFT_MSG_PRE_VOTE] = "PRE_VOTE",
	    [RAFT_MSG_PRE_VOTE_RESP] = "PRE_VOTE_RESP",
	    [RAFT_MSG_HEARTBEAT] = "HEARTBEAT",
	    [RAFT_MSG_HEARTBEAT_RESP] = "HEARTBEAT_RESP",
	    [RAFT_MSG_SNAP] = "SNAP",
	    [RAFT_MSG_SNAP_RESP] = "SNAP_RESP",
	    [RAFT_MSG_TIMEOUT_NOW] = "TIMEOUT_NOW",
	    [RAFT_MSG_READ_INDEX] = "READ_INDEX",
	    [RAFT_MSG_READ_INDEX_RESP] = "READ_INDEX_RESP",
	};
	if (type <= 0 || type >= RAFT_MSG_TYPE_MAX_)
		return "UNKNOWN";
	return names[type];
}

const char *raft_role_name(int role)
{
	switch (role) {
	case RAFT_FOLLOWER:
		return "follower";
	case RAFT_PRE_CANDIDATE:
		return "pre-candidate";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_LEADER:
		return "leader";
	}
	return "unknown";
}

const char *raft_entry_type_name(int type)
{
	switch (type) {
	case RAFT_ENTRY_NORMAL:
		return "NORMAL";
	case RAFT_ENTRY_NOOP:
		return "NOOP";
	case RAFT_ENTRY_CONF:
		return "CONF";
	case RAFT_ENTRY_CONF_CHANGE:
		return "CONF_CHANGE";
	}
	return "UNKNOWN";
}

const char *raft_cc_type_name(int type)
{
	switch (type) {
	case RAFT_CC_ADD_LEARNER:
		return "ADD_LEARNER";
	case RAFT_CC_PROMOTE:
		return "PROMOTE";
	case RAFT_CC_DEMOTE:
		return "DEMOTE";
	case RAFT_CC_REMOVE:
		return "REMOVE";
	}
	return "UNKNOWN";
}

const char *raft_progress_state_name(int state)
{
	switch (state) {
	case RAFT_PROGRESS_PROBE:
		return "probe";
	case RAFT_PROGRESS_REPLICATE:
		return "replicate";
	case RAFT_PROGRESS_SNAPSHOT:
		return "snapshot";
	}
	return "unknown";
}
