/* Log replication: the leader's appends, heartbeats and commit rule; the
 * follower's consistency check, truncation and fast back-off hints. */
#include "raft/internal.h"

int leader_append(struct raft *r, uint8_t type, const void *data, uint32_t len, uint64_t *index_out)
{
	RAFT_ASSERT(r->role == RAFT_LEADER);
	struct raft_entry e = {.term = r->term,
	                       .index = log_last(&r->log) + 1,
	                       .type = type,
	                       .len = len,
	                       .data = len ? data : NULL};
	int rc = log_append(&r->log, &e, 1);
	if (rc != 0)
		return rc;
	r->uncommitted_bytes += len;
	if (conf_apply_entry(&r->conf, log_get(&r->log, e.index))) {
		r->conf_index = e.index;
		raft_conf_changed(r);
	}
	/* Sent at the next raft_ready, so proposals made together share APPs. */
	r->bcast_pending = true;
	if (index_out)
		*index_out = e.index;
	return 0;
}

/* Sends one APP (or starts a snapshot) to pr.  True when something was sent. */
bool send_append(struct raft *r, struct raft_progress *pr, bool send_if_empty)
{
	if (pr->id == r->id || progress_paused(r, pr))
		return false;
	uint64_t last = log_last(&r->log);
	RAFT_ASSERT(pr->next >= 1 && pr->next <= last + 1);
	uint64_t prev = pr->next - 1, prev_term = 0;
	if (!log_term(&r->log, prev, &prev_term)) {
		/* The entries it needs were compacted: send the snapshot. */
		progress_become_snapshot(pr, r->snap.index);
		send_snapshot_chunk(r, pr);
		return true;
	}
	uint32_t n = 0;
	uint64_t bytes = 0;
	while (prev + n < last && n < r->max_msg_entries) {
		uint32_t len = log_get(&r->log, prev + n + 1)->len;
		if (n > 0 && bytes + len > r->max_msg_bytes)
			break;
		bytes += len;
		n++;
	}
	if (n == 0 && !send_if_empty)
		return false;
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_APP, pr->id);
	m.index = prev;
	m.log_term = prev_term;
	m.commit = r->commit;
	m.n_entries = n; /* entries are lent at raft_ready */
	send_msg(r, &m);
	if (pr->state == RAFT_PROGRESS_REPLICATE) {
		if (n > 0) {
			pr->next = prev + n + 1;
			infl_add(pr, prev + n);
		}
	} else {
		pr->probe_sent = true;
	}
	return true;
}

void bcast_append(struct raft *r)
{
	RAFT_ASSERT(r->role == RAFT_LEADER);
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (send_append(r, pr, true))
			while (send_append(r, pr, false))
				;
	}
}

void bcast_heartbeat(struct raft *r)
{
	r->hb_seq++;
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->id == r->id)
			continue;
		struct raft_msg m;
		msg_init(r, &m, RAFT_MSG_HEARTBEAT, pr->id);
		/* Never more than it is known to hold: its entries up to match
		 * are ours, so it can commit them safely. */
		m.commit = pr->match < r->commit ? pr->match : r->commit;
		m.seq = r->hb_seq;
		send_msg(r, &m);
	}
}

/* A leader removed or demoted by a committed change hands over (to the most
 * up-to-date voter) and steps down. */
static void step_down_if_removed(struct raft *r)
{
	if (raft_is_voter(r) || r->commit < r->conf_index)
		return;
	struct raft_progress *best = NULL;
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (!pr->is_learner && pr->id != r->id && (!best || pr->match > best->match))
			best = pr;
	}
	if (best && best->match == log_last(&r->log))
		send_timeout_now(r, best->id);
	become_follower(r, r->term, 0);
}

void commit_advanced(struct raft *r, uint64_t old_commit)
{
	RAFT_ASSERT(r->commit <= log_last(&r->log));
	for (uint64_t i = old_commit + 1; i <= r->commit; i++) {
		const struct raft_entry *e = log_get(&r->log, i);
		if (e && i >= r->term_start_index)
			r->uncommitted_bytes -=
			    e->len <= r->uncommitted_bytes ? e->len : r->uncommitted_bytes;
	}
	if (raft_committed_in_term(r))
		readindex_on_commit_in_term(r);
	bcast_append(r);
	step_down_if_removed(r);
}

/* Commits the highest index a quorum of voters holds, if it is from this
 * term (§5.4.2): counting replicas of older entries is not enough. */
bool maybe_commit(struct raft *r)
{
	RAFT_ASSERT(r->role == RAFT_LEADER);
	uint64_t m[RAFT_MAX_NODES];
	uint32_t n = 0;
	for (uint32_t i = 0; i < r->n_prs; i++) {
		const struct raft_progress *pr = &r->prs[i];
		if (!pr->is_learner)
			m[n++] = pr->id == r->id ? raft_self_match(r) : pr->match;
	}
	if (n == 0)
		return false;
	for (uint32_t i = 1; i < n; i++) { /* descending */
		uint64_t x = m[i];
		uint32_t j = i;
		for (; j > 0 && m[j - 1] < x; j--)
			m[j] = m[j - 1];
		m[j] = x;
	}
	uint64_t mci = m[conf_quorum(&r->conf) - 1];
	if (mci <= r->commit)
		return false;
#ifndef RAFT_BUG_COMMIT_OLD_TERM
	if (log_term_or0(&r->log, mci) != r->term)
		return false;
#endif
	uint64_t old = r->commit;
	r->commit = mci;
	commit_advanced(r, old);
	return true;
}

void follower_commit_to(struct raft *r, uint64_t index)
{
	if (index <= r->commit)
		return;
	RAFT_ASSERT(index <= log_last(&r->log));
	r->commit = index;
}

static void send_append_resp(struct raft *r, const struct raft_msg *m, uint64_t index)
{
	struct raft_msg resp;
	msg_init(r, &resp, RAFT_MSG_APP_RESP, m->from);
	resp.index = index;
	resp.commit = r->commit;
	send_msg(r, &resp);
}

/* Appends entries[from..) after truncating any conflicting suffix. */
static int follower_store(struct raft *r, const struct raft_msg *m, uint32_t from)
{
	uint64_t first_new = m->entries[from].index;
	if (first_new <= log_last(&r->log)) {
		msgs_drop_from(r, first_new);
		log_truncate(&r->log, first_new);
		if (r->conf_index >= first_new)
			raft_conf_recompute(r);
	}
	int rc = log_append(&r->log, &m->entries[from], m->n_entries - from);
	if (rc != 0)
		return rc;
	for (uint32_t i = from; i < m->n_entries; i++) {
		uint64_t idx = m->entries[i].index;
		if (conf_apply_entry(&r->conf, log_get(&r->log, idx)))
			r->conf_index = idx;
	}
	return 0;
}

int handle_append(struct raft *r, const struct raft_msg *m)
{
	if (m->index < r->commit) {
		/* Old news: tell the leader how far we are committed. */
		send_append_resp(r, m, r->commit);
		return 0;
	}
	uint64_t last = log_last(&r->log), t = 0;
	if (m->index > last || !log_term(&r->log, m->index, &t) || t != m->log_term) {
		/* Hint: the last index whose term is <= the leader's term at
		 * m->index; entries after it cannot match. */
		uint64_t hint = log_find_conflict_by_term(
		    &r->log, m->index < last ? m->index : last, m->log_term);
		struct raft_msg resp;
		msg_init(r, &resp, RAFT_MSG_APP_RESP, m->from);
		resp.reject = 1;
		resp.index = m->index;
		resp.reject_hint = hint;
		resp.reject_hint_term = log_term_or0(&r->log, hint);
		resp.commit = r->commit;
		send_msg(r, &resp);
		return 0;
	}
	uint32_t i;
	for (i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->index > last || log_term_or0(&r->log, e->index) != e->term)
			break;
	}
	if (i < m->n_entries) {
		if (m->entries[i].index <= r->commit)
			return RAFT_EINVAL; /* would rewrite committed history */
		int rc = follower_store(r, m, i);
		if (rc != 0)
			return rc;
	}
	uint64_t last_new = m->index + m->n_entries;
	follower_commit_to(r, m->commit < last_new ? m->commit : last_new);
	send_append_resp(r, m, last_new);
	return 0;
}

int handle_heartbeat(struct raft *r, const struct raft_msg *m)
{
	if (m->commit <= log_last(&r->log))
		follower_commit_to(r, m->commit);
	struct raft_msg resp;
	msg_init(r, &resp, RAFT_MSG_HEARTBEAT_RESP, m->from);
	resp.seq = m->seq;
	send_msg(r, &resp);
	return 0;
}

int handle_append_response(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = progress_find(r, m->from);
	if (!pr)
		return 0; /* removed peer */
	uint64_t last = log_last(&r->log);
	if (m->index > last)
		return RAFT_EINVAL;
	pr->recent_active = true;
	if (m->reject) {
		if (pr->state == RAFT_PROGRESS_SNAPSHOT)
			return 0;
		uint64_t hint = m->reject_hint;
		if (hint > last)
			hint = last;
		if (m->reject_hint_term > 0)
			hint = log_find_conflict_by_term(&r->log, hint, m->reject_hint_term);
		if (progress_maybe_decr(pr, m->index, hint)) {
			if (pr->state == RAFT_PROGRESS_REPLICATE)
				progress_become_probe(pr);
			send_append(r, pr, true);
		}
		return 0;
	}
	bool was_paused = progress_paused(r, pr);
	if (progress_maybe_update(pr, m->index)) {
		switch (pr->state) {
		case RAFT_PROGRESS_PROBE:
			progress_become_replicate(pr);
			break;
		case RAFT_PROGRESS_SNAPSHOT:
			if (pr->match + 1 >= log_first(&r->log))
				progress_become_replicate(pr);
			break;
		case RAFT_PROGRESS_REPLICATE:
			infl_free_to(pr, m->index);
			break;
		}
		bool sent = maybe_commit(r);
		if (r->role != RAFT_LEADER)
			return 0;
		/* A peer that was waiting may have missed the commit broadcast. */
		if (!sent && was_paused)
			send_append(r, pr, true);
		while (send_append(r, pr, false))
			;
		if (m->from == r->transferee && pr->match == log_last(&r->log))
			send_timeout_now(r, m->from);
	}
	return 0;
}

int handle_heartbeat_response(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = progress_find(r, m->from);
	if (!pr)
		return 0;
	pr->recent_active = true;
	pr->probe_sent = false;
	/* A full window may be full of lost messages: let one more through. */
	if (pr->state == RAFT_PROGRESS_REPLICATE && infl_full(r, pr))
		infl_free_first(pr);
	if (pr->match < log_last(&r->log) || pr->state == RAFT_PROGRESS_PROBE)
		send_append(r, pr, true);
	if (m->seq > pr->read_seq && m->seq <= r->hb_seq) {
		pr->read_seq = m->seq;
		readindex_confirm(r);
	}
	return 0;
}
