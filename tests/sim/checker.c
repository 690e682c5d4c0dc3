/* checker: the invariants, checked as events happen (every ready, every
 * message put on the network, every apply) and after every step.
 *
 *  1 election-safety      at most one leader per term
 *  2 log-matching         an (index, term) pair names one entry, forever, and
 *                         the entry before it always has the same term
 *  3 leader-completeness  a leader of term T holds every entry committed in
 *                         a term < T
 *  4 committed-stable     a committed index never changes (term, data), across
 *                         crashes too; no node overwrites its committed prefix
 *  5 applied-prefix       every node applies exactly the committed sequence
 *  6 monotonic            commit/applied/term never go back (volatile within an
 *                         incarnation, durable always; a vote never changes)
 *  7 durable-before-ack   a vote grant, a candidate's vote request and an
 *                         append ack leave only when the durable state covers it
 *  8 read-index           a read sees every write acknowledged before it began
 *  9 commit-rule          (optional, --check-commit-rule) a leader advances its
 *                         commit only onto an entry of its own term (5.4.2)
 */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- views */

/* The node's log as the core sees it after its last ready: durable storage
 * with the outstanding ready (if any) laid over it. */
enum sim_view sim_view_entry(const struct sim_node *n, uint64_t idx, uint64_t *term, uint64_t *fp)
{
	const struct raft_ready *rd = &n->rd;
	uint64_t snap_index = n->dlog.snap_index, snap_term = n->dlog.snap_term;
	bool log_valid = true;
	if (n->in_ready && rd->has_snapshot) {
		snap_index = rd->snapshot.index;
		snap_term = rd->snapshot.term;
		log_valid = false;
	}
	if (n->in_ready && rd->n_entries) {
		uint64_t first = rd->entries[0].index;
		uint64_t last = first + rd->n_entries - 1;
		if (idx >= first && idx <= last) {
			const struct raft_entry *e = &rd->entries[idx - first];
			*term = e->term;
			*fp = sim_entry_fp(e->type, e->data, e->len);
			return SIM_VIEW_ENTRY;
		}
		if (idx > last)
			return SIM_VIEW_ABSENT;
	}
	if (idx <= snap_index) {
		*term = idx == snap_index ? snap_term : 0;
		*fp = 0;
		return SIM_VIEW_SNAP;
	}
	if (!log_valid)
		return SIM_VIEW_ABSENT;
	const struct sim_ent *e = sim_log_get(&n->dlog, idx);
	if (!e)
		return SIM_VIEW_ABSENT;
	*term = e->term;
	*fp = e->fp;
	return SIM_VIEW_ENTRY;
}

/* ---------------------------------------------------------------- tables */

static struct sim_committed *committed_at(struct sim *s, uint64_t idx)
{
	if (idx >= s->cap_committed) {
		size_t cap = s->cap_committed ? s->cap_committed : 256;
		while (cap <= idx)
			cap *= 2;
		s->committed = sim_xrealloc(s->committed, cap * sizeof *s->committed);
		memset(s->committed + s->cap_committed, 0,
		       (cap - s->cap_committed) * sizeof *s->committed);
		s->cap_committed = cap;
	}
	if (idx >= s->n_committed)
		s->n_committed = idx + 1;
	return &s->committed[idx];
}

static uint64_t g_hash(uint64_t index, uint64_t term)
{
	uint64_t x = index * 0x9e3779b97f4a7c15ull ^ (term + 0x632be59bd9b4e019ull);
	return sim_splitmix64(&x);
}

static struct sim_gent *g_slot(struct sim *s, uint64_t index, uint64_t term)
{
	if (2 * (s->n_g + 1) > s->cap_g) {
		size_t old = s->cap_g;
		struct sim_gent *ov = s->g;
		s->cap_g = old ? old * 2 : 1024;
		s->g = sim_xrealloc(NULL, s->cap_g * sizeof *s->g);
		memset(s->g, 0, s->cap_g * sizeof *s->g);
		s->n_g = 0;
		for (size_t i = 0; i < old; i++)
			if (ov[i].used) {
				struct sim_gent *d = g_slot(s, ov[i].index, ov[i].term);
				*d = ov[i];
				s->n_g++;
			}
		free(ov);
	}
	size_t mask = s->cap_g - 1;
	for (size_t i = (size_t)g_hash(index, term) & mask;; i = (i + 1) & mask)
		if (!s->g[i].used || (s->g[i].index == index && s->g[i].term == term))
			return &s->g[i];
}

/* ---------------------------------------------------------------- committed */

void sim_check_committed(struct sim *s, struct sim_node *n, uint64_t idx, uint64_t term,
                         uint64_t fp, uint8_t type, uint64_t commit_term, const char *how)
{
	struct sim_committed *c = committed_at(s, idx);
	if (c->set) {
		if (c->term != term || c->fp != fp)
			sim_fail(s, "4 committed-stable",
			         "index %" PRIu64 " was committed as t%" PRIu64 " fp=%016" PRIx64
			         " (%s); n%" PRIu64 " now has t%" PRIu64 " fp=%016" PRIx64 " (%s)",
			         idx, c->term, c->fp, raft_entry_type_name(c->type), n->id, term,
			         fp, how);
		return;
	}
	c->set = 1;
	c->term = term;
	c->fp = fp;
	c->type = type;
	c->commit_term = commit_term;
	if (idx > s->stats.max_commit)
		s->stats.max_commit = idx;
	/* leaders of later terms that are already checked must hold it too */
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct sim_node *m = &s->nodes[i];
		if (!m->up || m->st.role != RAFT_LEADER || m->st.term <= commit_term ||
		    m->leader_checked != m->st.term)
			continue;
		uint64_t t = 0, f = 0;
		enum sim_view v = sim_view_entry(m, idx, &t, &f);
		if ((v == SIM_VIEW_ENTRY && (t != term || f != fp)) || v == SIM_VIEW_ABSENT ||
		    (v == SIM_VIEW_SNAP && t && t != term)) {
			sim_fail(s, "3 leader-completeness",
			         "index %" PRIu64 "/t%" PRIu64 " committed in term %" PRIu64
			         " (seen %s on n%" PRIu64 ") but n%" PRIu64
			         ", leader of term %" PRIu64 ", has %s",
			         idx, term, commit_term, how, n->id, m->id, m->st.term,
			         v == SIM_VIEW_ABSENT ? "no such entry" : "a different entry");
			return;
		}
	}
}

/* ---------------------------------------------------------------- readies */

void sim_check_ready(struct sim *s, struct sim_node *n)
{
	const struct raft_ready *rd = &n->rd;
	const struct raft_hard_state *dhs = &n->dhs;
	uint64_t cur_term = rd->hard_state_changed ? rd->hard_state.term : dhs->term;
	uint64_t new_commit = rd->hard_state_changed ? rd->hard_state.commit : dhs->commit;

	if (rd->hard_state_changed) {
		const struct raft_hard_state *hs = &rd->hard_state;
		if (hs->term < dhs->term)
			sim_fail(s, "6 monotonic",
			         "n%" PRIu64 " persists term %" PRIu64
			         " below durable term %" PRIu64,
			         n->id, hs->term, dhs->term);
		else if (hs->term == dhs->term && dhs->vote && hs->vote != dhs->vote)
			sim_fail(s, "6 monotonic",
			         "n%" PRIu64 " changes its durable vote in term %" PRIu64
			         " from %" PRIu64 " to %" PRIu64,
			         n->id, hs->term, dhs->vote, hs->vote);
		else if (hs->commit < dhs->commit)
			sim_fail(s, "6 monotonic",
			         "n%" PRIu64 " persists commit %" PRIu64
			         " below durable commit %" PRIu64,
			         n->id, hs->commit, dhs->commit);
		if (s->violated)
			return;
	}

	uint64_t base_snap = n->dlog.snap_index, base_snap_term = n->dlog.snap_term;
	uint64_t base_last = sim_log_last(&n->dlog);
	if (rd->has_snapshot) {
		base_snap = base_last = rd->snapshot.index;
		base_snap_term = rd->snapshot.term;
		if (rd->snapshot.index < s->n_committed && s->committed[rd->snapshot.index].set &&
		    s->committed[rd->snapshot.index].term != rd->snapshot.term) {
			sim_fail(s, "4 committed-stable",
			         "n%" PRIu64 " installs snapshot %" PRIu64 "/%" PRIu64
			         " but that index was committed with term %" PRIu64,
			         n->id, rd->snapshot.index, rd->snapshot.term,
			         s->committed[rd->snapshot.index].term);
			return;
		}
	}

	if (rd->n_entries) {
		uint64_t first = rd->entries[0].index;
		if (first <= base_snap || first > base_last + 1) {
			sim_fail(s, "2 log-matching",
			         "n%" PRIu64 " ready appends from index %" PRIu64
			         " but its log is snapshot %" PRIu64 " .. last %" PRIu64,
			         n->id, first, base_snap, base_last);
			return;
		}
		uint64_t prev_term = base_snap_term;
		if (first - 1 > base_snap)
			sim_log_term(&n->dlog, first - 1, &prev_term);
		uint64_t committed_upto =
		    n->commit_seen > dhs->commit ? n->commit_seen : dhs->commit;
		for (size_t k = 0; k < rd->n_entries; k++) {
			const struct raft_entry *e = &rd->entries[k];
			uint64_t idx = first + k;
			if (e->index != idx || e->term < prev_term || e->term > cur_term ||
			    e->type >= RAFT_ENTRY_TYPE_MAX_ || e->term == 0 ||
			    (e->len && !e->data)) {
				sim_fail(s, "2 log-matching",
				         "n%" PRIu64 " ready entry #%zu is index %" PRIu64
				         " term %" PRIu64 " type %u (expected index %" PRIu64
				         ", term in [%" PRIu64 ", %" PRIu64 "])",
				         n->id, k, e->index, e->term, e->type, idx, prev_term,
				         cur_term);
				return;
			}
			uint64_t fp = sim_entry_fp(e->type, e->data, e->len);
			struct sim_gent *g = g_slot(s, idx, e->term);
			if (!g->used) {
				g->used = 1;
				g->index = idx;
				g->term = e->term;
				g->fp = fp;
				g->prev_term = prev_term;
				g->type = e->type;
				s->n_g++;
			} else if (g->fp != fp || g->prev_term != prev_term) {
				sim_fail(s, "2 log-matching",
				         "n%" PRIu64 " writes entry %" PRIu64 "/t%" PRIu64
				         " (fp=%016" PRIx64 ", prev term %" PRIu64
				         ") but another log had %" PRIu64 "/t%" PRIu64
				         " as fp=%016" PRIx64 " with prev term %" PRIu64,
				         n->id, idx, e->term, fp, prev_term, idx, e->term, g->fp,
				         g->prev_term);
				return;
			}
			if (!rd->has_snapshot && idx <= base_last && idx <= committed_upto) {
				uint64_t old = 0;
				if (sim_log_term(&n->dlog, idx, &old) && old != e->term) {
					sim_fail(
					    s, "4 committed-stable",
					    "n%" PRIu64 " overwrites its committed entry %" PRIu64
					    "/t%" PRIu64 " (commit %" PRIu64 ") with term %" PRIu64,
					    n->id, idx, old, committed_upto, e->term);
					return;
				}
			}
			prev_term = e->term;
		}
	}

	/* optional (diagnostics): Raft 5.4.2, a leader advances its commit index
	 * only onto an entry of its own term */
	if (s->check_commit_rule && n->st.role == RAFT_LEADER && new_commit > n->commit_seen) {
		uint64_t t = 0, f = 0;
		if (sim_view_entry(n, new_commit, &t, &f) == SIM_VIEW_ENTRY && t != n->st.term) {
			sim_fail(s, "9 commit-rule",
			         "n%" PRIu64 ", leader of term %" PRIu64 ", commits up to %" PRIu64
			         " whose entry has term %" PRIu64,
			         n->id, n->st.term, new_commit, t);
			return;
		}
	}

	/* newly committed indexes, as this node (leader: its decision) sees them */
	if (new_commit > n->commit_seen) {
		for (uint64_t idx = n->commit_seen + 1; idx <= new_commit && !s->violated; idx++) {
			uint64_t t = 0, f = 0;
			enum sim_view v = sim_view_entry(n, idx, &t, &f);
			if (v == SIM_VIEW_SNAP)
				continue;
			if (v == SIM_VIEW_ABSENT) {
				sim_fail(s, "4 committed-stable",
				         "n%" PRIu64 " says commit=%" PRIu64
				         " but holds no entry %" PRIu64,
				         n->id, new_commit, idx);
				return;
			}
			const struct sim_ent *de = NULL;
			uint8_t type = 0;
			if (rd->n_entries && idx >= rd->entries[0].index)
				type = rd->entries[idx - rd->entries[0].index].type;
			else if ((de = sim_log_get(&n->dlog, idx)))
				type = de->type;
			sim_check_committed(s, n, idx, t, f, type, cur_term, "commit index");
		}
		n->commit_seen = new_commit;
	}
	if (s->violated)
		return;

	/* a new leader holds everything committed in earlier terms */
	if (n->st.role == RAFT_LEADER && n->leader_checked != n->st.term) {
		n->leader_checked = n->st.term;
		for (uint64_t idx = 1; idx < s->n_committed; idx++) {
			const struct sim_committed *c = &s->committed[idx];
			if (!c->set || c->commit_term >= n->st.term)
				continue;
			uint64_t t = 0, f = 0;
			enum sim_view v = sim_view_entry(n, idx, &t, &f);
			if (v == SIM_VIEW_ABSENT ||
			    (v == SIM_VIEW_ENTRY && (t != c->term || f != c->fp)) ||
			    (v == SIM_VIEW_SNAP && t && t != c->term)) {
				sim_fail(s, "3 leader-completeness",
				         "n%" PRIu64 " leads term %" PRIu64
				         " without entry %" PRIu64 "/t%" PRIu64
				         " committed in term %" PRIu64 " (it has %s t%" PRIu64 ")",
				         n->id, n->st.term, idx, c->term, c->commit_term,
				         v == SIM_VIEW_ABSENT ? "nothing" : "an entry of", t);
				return;
			}
		}
	}
}

/* ---------------------------------------------------------------- messages */

void sim_check_msg_out(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	if (!s->check_ack_durable)
		return;
	const struct raft_hard_state *d = &n->dhs;
	char buf[200];
	switch (m->type) {
	case RAFT_MSG_VOTE_RESP:
		if (!m->reject && !(d->term > m->term || (d->term == m->term && d->vote == m->to)))
			sim_fail(s, "7 durable-before-ack",
			         "n%" PRIu64 " sends %s while its durable hard state is t%" PRIu64
			         " vote %" PRIu64,
			         n->id, sim_fmt_msg(buf, sizeof buf, m), d->term, d->vote);
		break;
	case RAFT_MSG_VOTE:
		if (!(d->term > m->term || (d->term == m->term && d->vote == n->id)))
			sim_fail(s, "7 durable-before-ack",
			         "n%" PRIu64 " sends %s while its durable hard state is t%" PRIu64
			         " vote %" PRIu64,
			         n->id, sim_fmt_msg(buf, sizeof buf, m), d->term, d->vote);
		break;
	case RAFT_MSG_APP_RESP: {
		if (m->reject)
			break;
		uint64_t last = sim_log_last(&n->dlog);
		if (m->index > last) {
			sim_fail(s, "7 durable-before-ack",
			         "n%" PRIu64 " sends %s but its durable log ends at %" PRIu64,
			         n->id, sim_fmt_msg(buf, sizeof buf, m), last);
			break;
		}
		uint64_t mine = 0, lt = 0, lf = 0;
		struct sim_node *l = sim_node_by_id(s, m->to);
		if (m->index > n->dlog.snap_index && sim_log_term(&n->dlog, m->index, &mine) && l &&
		    l->up && l->st.role == RAFT_LEADER && l->st.term == m->term &&
		    sim_view_entry(l, m->index, &lt, &lf) == SIM_VIEW_ENTRY && lt != mine)
			sim_fail(s, "7 durable-before-ack",
			         "n%" PRIu64
			         " sends %s but its durable entry there has term %" PRIu64
			         " while the leader's has term %" PRIu64,
			         n->id, sim_fmt_msg(buf, sizeof buf, m), mine, lt);
		break;
	}
	default:
		break;
	}
}

/* ---------------------------------------------------------------- applies */

void sim_check_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
	uint64_t idx = e->index;
	if (idx != n->sm.n + 1) {
		sim_fail(s, "5 applied-prefix",
		         "n%" PRIu64 " is handed committed index %" PRIu64 " at applied %zu", n->id,
		         idx, n->sm.n);
		return;
	}
	if (idx > n->dhs.commit) {
		sim_fail(s, "6 monotonic",
		         "n%" PRIu64 " applies index %" PRIu64
		         " beyond its durable commit %" PRIu64,
		         n->id, idx, n->dhs.commit);
		return;
	}
	uint64_t fp = sim_entry_fp(e->type, e->data, e->len);
	const struct sim_ent *de = sim_log_get(&n->dlog, idx);
	if (!de || de->term != e->term || de->fp != fp) {
		sim_fail(s, "5 applied-prefix",
		         "n%" PRIu64 " applies %" PRIu64 "/t%" PRIu64
		         " which is not the entry in its durable log (%s)",
		         n->id, idx, e->term, de ? "different entry" : "missing");
		return;
	}
	sim_check_committed(s, n, idx, e->term, fp, e->type, n->st.term, "applied");
	if (s->violated || e->type != RAFT_ENTRY_NORMAL)
		return;
	uint64_t id = 0;
	if (!sim_payload_valid(s, e->data, e->len) || !sim_payload_id(e->data, e->len, &id) ||
	    id == 0 || id >= s->n_props) {
		sim_fail(s, "5 applied-prefix",
		         "n%" PRIu64 " applies index %" PRIu64
		         " with a payload nobody proposed (len %u)",
		         n->id, idx, e->len);
		return;
	}
	struct sim_proposal *p = &s->props[id];
	if (p->committed_index && p->committed_index != idx) {
		sim_fail(s, "5 applied-prefix",
		         "proposal #%" PRIu64 " applied at index %" PRIu64 " and at index %" PRIu64,
		         id, p->committed_index, idx);
		return;
	}
	p->committed_index = idx;
	if (!p->acked && p->node == n->id && p->incarnation == n->incarnation && p->index == idx &&
	    p->term == e->term) {
		p->acked = true;
		s->stats.proposals_ok++;
		if (idx > s->max_acked_index) {
			s->max_acked_index = idx;
			s->max_acked_id = id;
		}
		sim_trace(s, "n%" PRIu64 " ACK write #%" PRIu64 " at %" PRIu64 "/t%" PRIu64, n->id,
		          id, idx, e->term);
	}
}

void sim_check_snapshot_records(struct sim *s, struct sim_node *n, const struct sim_rec *v,
                                size_t cnt, uint64_t snap_term)
{
	if (cnt == 0 || v[cnt - 1].term != snap_term) {
		sim_fail(s, "4 committed-stable",
		         "n%" PRIu64 " snapshot of %zu entries does not end with term %" PRIu64,
		         n->id, cnt, snap_term);
		return;
	}
	for (size_t i = 0; i < cnt && !s->violated; i++)
		sim_check_committed(s, n, i + 1, v[i].term, v[i].fp, v[i].type, n->st.term,
		                    "snapshot");
}

/* ---------------------------------------------------------------- reads */

void sim_check_read_released(struct sim *s, struct sim_node *n, struct sim_read *r)
{
	if (r->index < r->need)
		sim_fail(s, "8 read-index",
		         "n%" PRIu64 " read ctx=%" PRIu64 " got read index %" PRIu64
		         " but write #%" PRIu64 " at index %" PRIu64
		         " was acknowledged before it began",
		         n->id, r->ctx, r->index, r->need_id, r->need);
}

void sim_check_reads_served(struct sim *s, struct sim_node *n)
{
	for (uint32_t k = 0; k < n->n_reads && !s->violated;) {
		struct sim_read *r = &n->reads[k];
		if (r->index == 0 || n->sm.n < r->index) {
			k++;
			continue;
		}
		if (r->need_id) {
			const struct sim_proposal *p = &s->props[r->need_id];
			const struct sim_rec *rec =
			    p->index <= n->sm.n ? &n->sm.v[p->index - 1] : NULL;
			if (!rec || rec->term != p->term) {
				sim_fail(s, "8 read-index",
				         "n%" PRIu64 " serves read ctx=%" PRIu64
				         " at applied %zu without "
				         "acknowledged write #%" PRIu64 " (%" PRIu64 "/t%" PRIu64
				         ")",
				         n->id, r->ctx, n->sm.n, r->need_id, p->index, p->term);
				return;
			}
		}
		sim_trace(s,
		          "n%" PRIu64 " served read ctx=%" PRIu64 " at applied %zu (index %" PRIu64
		          ", needed %" PRIu64 ")",
		          n->id, r->ctx, n->sm.n, r->index, r->need);
		s->stats.reads_ok++;
		*r = n->reads[--n->n_reads];
	}
}

/* ---------------------------------------------------------------- per step */

void sim_check_step(struct sim *s)
{
	for (uint32_t i = 0; i < s->n_nodes && !s->violated; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up)
			continue;
		raft_status(n->r, &n->st);
		const struct raft_status *st = &n->st;
		if (st->id != n->id || st->applied > st->commit) {
			sim_fail(s, "6 monotonic",
			         "n%" PRIu64 " status id %" PRIu64 " applied %" PRIu64
			         " commit %" PRIu64,
			         n->id, st->id, st->applied, st->commit);
			return;
		}
		if (st->commit < n->last_commit || st->applied < n->last_applied ||
		    st->term < n->last_term) {
			sim_fail(s, "6 monotonic",
			         "n%" PRIu64 " went back: term %" PRIu64 "->%" PRIu64
			         " commit %" PRIu64 "->%" PRIu64 " applied %" PRIu64 "->%" PRIu64,
			         n->id, n->last_term, st->term, n->last_commit, st->commit,
			         n->last_applied, st->applied);
			return;
		}
		n->last_commit = st->commit;
		n->last_applied = st->applied;
		n->last_term = st->term;
		if (st->term > s->stats.max_term)
			s->stats.max_term = st->term;
		if (st->role == RAFT_LEADER) {
			if (st->term >= s->cap_term_leader) {
				size_t cap = s->cap_term_leader ? s->cap_term_leader : 64;
				while (cap <= st->term)
					cap *= 2;
				s->term_leader =
				    sim_xrealloc(s->term_leader, cap * sizeof *s->term_leader);
				memset(s->term_leader + s->cap_term_leader, 0,
				       (cap - s->cap_term_leader) * sizeof *s->term_leader);
				s->cap_term_leader = cap;
			}
			uint64_t *l = &s->term_leader[st->term];
			if (*l == 0) {
				*l = n->id;
				s->stats.elections++;
				sim_on_new_leader(s, n);
				sim_trace(s,
				          "n%" PRIu64 " is LEADER of term %" PRIu64
				          " (log ..%" PRIu64 "/t%" PRIu64 ", commit %" PRIu64 ")",
				          n->id, st->term, st->last_index, st->last_term,
				          st->commit);
			} else if (*l != n->id) {
				sim_fail(s, "1 election-safety",
				         "n%" PRIu64 " and n%" PRIu64
				         " are both leaders of term %" PRIu64,
				         *l, n->id, st->term);
				return;
			}
		}
	}
}

void sim_checker_free(struct sim *s)
{
	free(s->committed);
	free(s->g);
	free(s->term_leader);
	free(s->props);
	s->committed = NULL;
	s->g = NULL;
	s->term_leader = NULL;
	s->props = NULL;
}
