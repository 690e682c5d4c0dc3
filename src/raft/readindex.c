/* ReadIndex: a leader answers "commit index at request time" once a
 * heartbeat round sent after the request is acknowledged by a quorum, which
 * proves no newer leader had been elected when the read was asked. */
#include "raft/internal.h"

static void reply(struct raft *r, const struct raft_read_req *q, uint64_t index)
{
	if (q->from == r->id) {
		push_read_state(r, index, q->ctx);
		return;
	}
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_READ_INDEX_RESP, q->from);
	m.index = index;
	m.context = q->ctx;
	m.reject = index == 0;
	send_msg(r, &m);
}

static void drop_front(struct raft *r, uint32_t k)
{
	for (uint32_t i = k; i < r->n_reads; i++)
		r->reads[i - k] = r->reads[i];
	r->n_reads -= k;
}

/* Releases every read whose heartbeat round a quorum of voters answered. */
void readindex_confirm(struct raft *r)
{
	if (r->role != RAFT_LEADER || r->n_reads == 0)
		return;
	uint64_t acks[RAFT_MAX_NODES];
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->n_prs; i++) {
		const struct raft_progress *pr = &r->prs[i];
		if (!pr->is_learner)
			acks[n++] = pr->id == r->id ? UINT64_MAX : pr->read_seq;
	}
	/* A leader that is no longer a voter still needs a quorum of voters. */
	if (n < conf_quorum(&r->conf))
		return;
	for (uint32_t i = 1; i < n; i++) { /* descending */
		uint64_t x = acks[i];
		uint32_t j = i;
		for (; j > 0 && acks[j - 1] < x; j--)
			acks[j] = acks[j - 1];
		acks[j] = x;
	}
	uint64_t acked = acks[conf_quorum(&r->conf) - 1];
	uint32_t k = 0;
	while (k < r->n_reads && r->reads[k].seq != 0 && r->reads[k].seq <= acked) {
		reply(r, &r->reads[k], r->reads[k].index);
		k++;
	}
	drop_front(r, k);
}

int readindex_request(struct raft *r, uint64_t from, uint64_t ctx)
{
	RAFT_ASSERT(r->role == RAFT_LEADER);
	if (r->n_reads >= RAFT_MAX_PENDING_READS)
		return RAFT_EAGAIN;
	struct raft_read_req *q = &r->reads[r->n_reads++];
	q->ctx = ctx;
	q->from = from;
	q->index = 0;
	q->seq = 0;
	/* Until this leader commits in its term, its commit index may lag what
	 * an earlier leader already acknowledged: wait for the no-op. */
	if (raft_committed_in_term(r)) {
		q->index = r->commit;
		q->seq = r->hb_seq + 1; /* the next round, sent at the next ready */
		r->hb_pending = true;
		readindex_confirm(r);
	}
	return 0;
}

void readindex_on_commit_in_term(struct raft *r)
{
	bool any = false;
	for (uint32_t i = 0; i < r->n_reads; i++) {
		if (r->reads[i].seq == 0) {
			r->reads[i].index = r->commit;
			r->reads[i].seq = r->hb_seq + 1;
			any = true;
		}
	}
	if (any) {
		r->hb_pending = true;
		readindex_confirm(r);
	}
}

void readindex_fail_all(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_reads; i++)
		reply(r, &r->reads[i], 0);
	r->n_reads = 0;
	r->hb_pending = false;
}

int handle_read_index(struct raft *r, const struct raft_msg *m)
{
	struct raft_read_req q = {.ctx = m->context, .from = m->from};
	if (r->role != RAFT_LEADER || readindex_request(r, m->from, m->context) != 0)
		reply(r, &q, 0); /* not forwarded again: no loops */
	return 0;
}

int handle_read_index_response(struct raft *r, const struct raft_msg *m)
{
	push_read_state(r, m->reject ? 0 : m->index, m->context);
	return 0;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role == RAFT_LEADER)
		return readindex_request(r, r->id, ctx);
	if (r->lead == 0)
		return RAFT_ENOLEADER;
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_READ_INDEX, r->lead);
	m.context = ctx;
	send_msg(r, &m);
	return 0;
}
