/* Writes a seed corpus for fuzz_net_decode: one valid message of every kind
 * and raft message type.  Usage: gen_net_seeds DIR */
#include "net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_seed(const char *dir, int i, const struct net_msg *m)
{
	static uint8_t buf[1 << 16];
	size_t len;
	if (net_encode(m, buf, sizeof buf, &len) != 0)
		return -1;
	char path[4096];
	snprintf(path, sizeof path, "%s/seed-%02d", dir, i);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	static uint8_t bytes[300];
	for (size_t i = 0; i < sizeof bytes; i++)
		bytes[i] = (uint8_t)(i * 7);
	struct raft_entry ents[3] = {
	    {.term = 2, .index = 5, .type = RAFT_ENTRY_NORMAL, .len = 10, .data = bytes},
	    {.term = 2, .index = 6, .type = RAFT_ENTRY_NOOP},
	    {.term = 3, .index = 7, .type = RAFT_ENTRY_CONF_CHANGE, .len = 12, .data = bytes},
	};
	int n = 0;
	for (uint8_t t = RAFT_MSG_APP; t < RAFT_MSG_TYPE_MAX_; t++) {
		struct net_msg m = {.kind = NET_RAFT, .cluster_id = 9, .from = 1, .to = 2};
		struct raft_msg *r = &m.u.raft;
		r->type = t;
		r->from = 1;
		r->to = 2;
		r->term = 3;
		r->index = 4;
		r->commit = 4;
		if (t == RAFT_MSG_APP) {
			r->n_entries = 3;
			r->entries = ents;
		}
		if (t == RAFT_MSG_SNAP) {
			r->snap_conf.n_voters = 2;
			r->snap_conf.voters[0] = 1;
			r->snap_conf.voters[1] = 2;
			r->snap_conf.n_learners = 1;
			r->snap_conf.learners[0] = 3;
			r->snap_len = 100;
			r->snap_data = bytes;
			r->snap_last = 1;
		}
		if (write_seed(argv[1], n++, &m) != 0)
			return 1;
	}
	static const struct net_member_rec live[2] = {
	    {.id = 1, .term = 3, .applied = 4, .load_milli = 250, .uptime_s = 60, .role = NET_ROLE_LEADER,
	     .name = "node-1", .address = "tcp://10.0.0.1:7400", .version = "0.1.0"},
	    {.id = 2, .term = 3, .applied = 4, .last_seen_ms = 40, .role = NET_ROLE_FOLLOWER,
	     .name = "node-2", .address = "", .version = ""},
	};
	struct net_msg o[5] = {
	    {.kind = NET_FORWARD, .from = 1, .to = 2, .u.forward = {7, bytes, 20}},
	    {.kind = NET_FORWARD_NACK, .from = 2, .to = 1, .u.nack = {7, -5}},
	    {.kind = NET_CONF_FORWARD,
	     .from = 1,
	     .to = 2,
	     .u.conf = {8, RAFT_CC_ADD_LEARNER, 4, bytes, 9}},
	    {.kind = NET_JOIN, .from = 4, .to = 0, .u.join = {"node-4", "tcp://10.0.0.4:7400"}},
	    {.kind = NET_LIVENESS, .from = 1, .to = 2, .u.live = {2, live}},
	};
	for (int i = 0; i < 5; i++)
		if (write_seed(argv[1], n++, &o[i]) != 0)
			return 1;
	return 0;
}
