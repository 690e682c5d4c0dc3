/* Outputs: the two message queues, read states, and the ready/advance
 * handshake that lends the host pointers into the core until advance. */
#include "raft/internal.h"

#include <stdlib.h>
#include <string.h>

#define MSGQ_MIN_CAP 16u

void msg_init(struct raft *r, struct raft_msg *m, uint8_t type, uint64_t to)
{
	memset(m, 0, sizeof *m);
	m->type = type;
	m->from = r->id;
	m->to = to;
	m->term = r->term;
}

/* Messages whose promise depends on durable local state (votes, acks, a
 * candidate's self-vote) wait until the host persisted the ready. */
static bool needs_persist(uint8_t type)
{
	switch (type) {
	case RAFT_MSG_APP_RESP:
#ifdef RAFT_BUG_ACK_BEFORE_PERSIST
		return false;
#else
		return true;
#endif
	case RAFT_MSG_VOTE:
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_HEARTBEAT_RESP:
		return true;
	default:
		return false;
	}
}

static void msgq_push(struct raft *r, struct raft_msgq *q, const struct raft_msg *m)
{
	if (q->n >= RAFT_MAX_READY_MSGS)
		goto drop;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : MSGQ_MIN_CAP;
		struct raft_msg *v = realloc(q->v, cap * sizeof *v);
		if (!v)
			goto drop;
		q->v = v;
		q->cap = cap;
	}
	q->v[q->n++] = *m;
	return;
drop:
	/* Like a lossy network: the protocol retries. */
	r->dropped_msgs++;
}

void send_msg(struct raft *r, struct raft_msg *m)
{
	RAFT_ASSERT(m->to != 0 && m->to != r->id);
	msgq_push(r, needs_persist(m->type) ? &r->msgs_after : &r->msgs, m);
}

static void msgq_drop_from(struct raft_msgq *q, uint64_t from)
{
	size_t k = 0;
	for (size_t i = 0; i < q->n; i++) {
		const struct raft_msg *m = &q->v[i];
		if (m->type == RAFT_MSG_APP && m->n_entries > 0 && m->index + m->n_entries >= from)
			continue;
		if (m->type == RAFT_MSG_APP_RESP && !m->reject && m->index >= from)
			continue;
		q->v[k++] = q->v[i];
	}
	q->n = k;
}

/* The log is about to lose entries >= from (truncation, snapshot install).
 * Queued messages that speak for them must not go out: APPs would carry
 * entries that are no longer ours, and acknowledgements not yet sent would
 * promise entries that will never be persisted. */
void msgs_drop_from(struct raft *r, uint64_t from)
{
	msgq_drop_from(&r->msgs, from);
	msgq_drop_from(&r->msgs_after, from);
}

void push_read_state(struct raft *r, uint64_t index, uint64_t ctx)
{
	if (r->n_read_states >= RAFT_MAX_READ_STATES) {
		r->dropped_msgs++;
		return;
	}
	r->read_states[r->n_read_states++] = (struct raft_read_state){.index = index, .ctx = ctx};
}

static struct raft_hard_state hard_state(const struct raft *r)
{
	return (struct raft_hard_state){.term = r->term, .vote = r->vote, .commit = r->commit};
}

static bool hs_equal(struct raft_hard_state a, struct raft_hard_state b)
{
	return a.term == b.term && a.vote == b.vote && a.commit == b.commit;
}

/* First index not yet handed to the host for applying. */
static uint64_t apply_from(const struct raft *r)
{
	uint64_t a = r->applied;
	if (r->snap_pending && r->snap.index > a)
		a = r->snap.index;
	return a + 1;
}

static bool has_committed(const struct raft *r)
{
	uint64_t hi = r->commit < log_last(&r->log) ? r->commit : log_last(&r->log);
	return hi >= apply_from(r);
}

bool raft_has_ready(const struct raft *r)
{
	if (r->in_ready)
		return false;
	if (r->msgs.n || r->msgs_after.n || r->n_read_states || r->snap_pending ||
	    r->bcast_pending || r->hb_pending)
		return true;
	if (log_last(&r->log) > r->log.stable)
		return true;
	if (!hs_equal(hard_state(r), r->prev_hs))
		return true;
	if (r->lead != r->prev_ss.leader || r->role != r->prev_ss.role)
		return true;
	return has_committed(r);
}

/* Lends APP messages their entries, now that the log will not move until
 * raft_advance.  APPs whose range was compacted meanwhile are dropped. */
static void materialize(struct raft *r, struct raft_msgq *q)
{
	size_t k = 0;
	for (size_t i = 0; i < q->n; i++) {
		struct raft_msg *m = &q->v[i];
		if (m->type == RAFT_MSG_APP && m->n_entries > 0) {
			const struct raft_entry *e = log_get(&r->log, m->index + 1);
			if (!e || m->index + m->n_entries > log_last(&r->log)) {
				r->dropped_msgs++;
				continue;
			}
			m->entries = e;
		}
		q->v[k++] = *m;
	}
	q->n = k;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->bcast_pending) {
		r->bcast_pending = false;
		if (r->role == RAFT_LEADER)
			bcast_append(r);
	}
	if (r->hb_pending) {
		r->hb_pending = false;
		if (r->role == RAFT_LEADER)
			bcast_heartbeat(r);
	}
	memset(rd, 0, sizeof *rd);
	struct raft_soft_state ss = {.leader = r->lead, .role = r->role};
	if (ss.leader != r->prev_ss.leader || ss.role != r->prev_ss.role) {
		rd->soft_state_changed = true;
		rd->soft_state = ss;
	}
	struct raft_hard_state hs = hard_state(r);
	if (!hs_equal(hs, r->prev_hs)) {
		rd->hard_state_changed = true;
		rd->hard_state = hs;
	}
	r->rd_snapshot = r->snap_pending;
	r->rd_snap_index = r->snap.index;
	if (r->snap_pending) {
		rd->has_snapshot = true;
		rd->snapshot = r->snap;
	}
	uint64_t last = log_last(&r->log);
	r->rd_stable = last;
	if (last > r->log.stable) {
		rd->entries = log_get(&r->log, r->log.stable + 1);
		rd->n_entries = (size_t)(last - r->log.stable);
	}
	materialize(r, &r->msgs);
	materialize(r, &r->msgs_after);
	rd->msgs = r->msgs.v;
	rd->n_msgs = r->msgs.n;
	rd->msgs_after_persist = r->msgs_after.v;
	rd->n_msgs_after_persist = r->msgs_after.n;

	/* Everything up to `last` is persisted in step 2, before step 4 applies. */
	uint64_t from = apply_from(r);
	uint64_t hi = r->commit < last ? r->commit : last;
	r->rd_applied = from - 1;
	if (hi >= from) {
		if (hi - from + 1 > RAFT_MAX_READY_COMMITTED)
			hi = from + RAFT_MAX_READY_COMMITTED - 1;
		rd->committed = log_get(&r->log, from);
		rd->n_committed = (size_t)(hi - from + 1);
		r->rd_applied = hi;
	}
	rd->read_states = r->read_states;
	rd->n_read_states = r->n_read_states;
	r->in_ready = true;
	r->prev_hs = hs;
	r->prev_ss = ss;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
	RAFT_ASSERT(r->in_ready);
	RAFT_ASSERT(rd->n_msgs == r->msgs.n && rd->n_read_states == r->n_read_states);
	r->in_ready = false;
	if (r->rd_snapshot) {
		/* A newer snapshot may have replaced it only after this ready. */
		if (r->snap.index == r->rd_snap_index)
			r->snap_pending = false;
		if (r->applied < r->rd_snap_index)
			r->applied = r->rd_snap_index;
	}
	if (r->rd_stable > r->log.stable)
		r->log.stable = r->rd_stable;
	if (r->rd_applied > r->applied)
		r->applied = r->rd_applied;
	r->msgs.n = 0;
	r->msgs_after.n = 0;
	r->n_read_states = 0;
	/* Our own log now counts toward the quorum. */
	if (r->role == RAFT_LEADER)
		maybe_commit(r);
	raft_check_invariants(r);
}

void raft_status(const struct raft *r, struct raft_status *st)
{
	memset(st, 0, sizeof *st);
	st->id = r->id;
	st->role = r->role;
	st->is_voter = raft_conf_is_voter(&r->conf, r->id);
	st->is_learner = raft_conf_is_learner(&r->conf, r->id);
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->lead;
	st->commit = r->commit;
	st->applied = r->applied;
	st->first_index = log_first(&r->log);
	st->last_index = log_last(&r->log);
	st->last_term = log_last_term(&r->log);
	st->snap_index = r->snap.index;
	st->snap_term = r->snap.term;
	st->transferee = r->transferee;
	st->conf_index = r->conf_index;
	st->conf = r->conf;
	st->dropped_msgs = r->dropped_msgs;
	if (r->role != RAFT_LEADER)
		return;
	for (uint32_t i = 0; i < r->n_prs; i++) {
		const struct raft_progress *pr = &r->prs[i];
		struct raft_progress_status *ps = &st->progress[st->n_progress++];
		ps->id = pr->id;
		ps->match = pr->id == r->id ? raft_self_match(r) : pr->match;
		ps->next = pr->id == r->id ? log_last(&r->log) + 1 : pr->next;
		ps->state = pr->id == r->id ? RAFT_PROGRESS_REPLICATE : pr->state;
		ps->recent_active = pr->id == r->id || pr->recent_active;
		ps->is_learner = pr->is_learner;
		ps->inflight = pr->infl_count;
		ps->snap_offset = pr->snap_offset;
	}
}
