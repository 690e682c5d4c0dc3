/* The in-test cluster used by the directed Raft tests (see the header). */
#include "test_raft_harness.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define TC_STABILIZE_MAX_MSGS 200000u
#define TC_WAIT_LEADER_TICKS 200

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	assert_non_null(p);
	return p;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
	uint8_t *d = xmalloc(n);
	if (n)
		memcpy(d, p, n);
	return d;
}

struct raft_config tc_config(uint64_t id)
{
	struct raft_config cfg = {
	    .id = id,
	    .election_tick = 10,
	    .heartbeat_tick = 1,
	    .pre_vote = true,
	    .check_quorum = true,
	    .rand_seed = 0x5eed0000u + id,
	};
	return cfg;
}

static void node_setup(struct tcluster *c, uint64_t id, const struct raft_config *tmpl)
{
	struct tnode *nd = &c->nodes[id - 1];
	memset(nd, 0, sizeof *nd);
	nd->id = id;
	nd->cfg = tmpl ? *tmpl : tc_config(id);
	nd->cfg.id = id;
	if (tmpl)
		nd->cfg.rand_seed = tmpl->rand_seed + id;
	assert_int_equal(raft_new(&nd->cfg, &nd->r), 0);
	nd->up = true;
}

void tc_init_empty(struct tcluster *c, size_t n, const struct raft_config *tmpl)
{
	assert_true(n >= 1 && n <= TC_MAX);
	memset(c, 0, sizeof *c);
	c->n = n;
	c->snap_chunk = 64;
	for (uint64_t id = 1; id <= n; id++)
		node_setup(c, id, tmpl);
}

void tc_init(struct tcluster *c, size_t n, size_t n_voters, const struct raft_config *tmpl)
{
	tc_init_empty(c, n, tmpl);
	struct raft_conf conf;
	memset(&conf, 0, sizeof conf);
	for (uint64_t id = 1; id <= n; id++) {
		if (id <= n_voters)
			conf.voters[conf.n_voters++] = id;
		else
			conf.learners[conf.n_learners++] = id;
	}
	for (uint64_t id = 1; id <= n; id++) {
		assert_int_equal(raft_bootstrap(tc_raft(c, id), &conf), 0);
		tc_process(c, id);
	}
}

uint64_t tc_add_empty(struct tcluster *c, const struct raft_config *tmpl)
{
	assert_true(c->n < TC_MAX);
	c->n++;
	node_setup(c, c->n, tmpl);
	return c->n;
}

static void disk_free(struct tdisk *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].data);
	free(d->ents);
	free(d->snap_data);
	free(d->state);
	memset(d, 0, sizeof *d);
}

static void tmsg_free(struct tmsg *t)
{
	if (t->ents) {
		for (uint32_t i = 0; i < t->n_ents; i++)
			free((void *)t->ents[i].data);
		free(t->ents);
	}
	free(t->snap);
	memset(t, 0, sizeof *t);
}

void tc_drop_all(struct tcluster *c)
{
	for (size_t i = c->qhead; i < c->qn; i++)
		tmsg_free(&c->q[i]);
	c->qn = c->qhead = 0;
}

size_t tc_in_flight(const struct tcluster *c)
{
	return c->qn - c->qhead;
}

void tc_close(struct tcluster *c)
{
	tc_drop_all(c);
	free(c->q);
	for (size_t i = 0; i < c->n; i++) {
		raft_free(c->nodes[i].r);
		disk_free(&c->nodes[i].disk);
		free(c->nodes[i].stg);
	}
	for (size_t i = 0; i < c->hist_cap; i++)
		free(c->hist[i].data);
	free(c->hist);
	memset(c, 0, sizeof *c);
}

struct tnode *tc_node(struct tcluster *c, uint64_t id)
{
	assert_true(id >= 1 && id <= c->n);
	return &c->nodes[id - 1];
}

struct raft *tc_raft(struct tcluster *c, uint64_t id)
{
	struct tnode *nd = tc_node(c, id);
	assert_true(nd->up);
	return nd->r;
}

struct raft_status tc_status(struct tcluster *c, uint64_t id)
{
	struct raft_status st;
	raft_status(tc_raft(c, id), &st);
	return st;
}

/* ---------------------------------------------------------------- disk */

static void disk_truncate_from(struct tdisk *d, uint64_t from)
{
	while (d->n > 0 && d->ents[d->n - 1].index >= from) {
		d->n--;
		free(d->ents[d->n].data);
	}
}

static void disk_append(struct tdisk *d, const struct raft_entry *e)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->ents = realloc(d->ents, d->cap * sizeof *d->ents);
		assert_non_null(d->ents);
	}
	uint64_t expect = d->n ? d->ents[d->n - 1].index + 1 : d->snap.index + 1;
	assert_int_equal(e->index, expect);
	d->ents[d->n++] = (struct tentry){.term = e->term,
	                                  .index = e->index,
	                                  .type = e->type,
	                                  .len = e->len,
	                                  .data = dup_bytes(e->data, e->len)};
}

void tc_restore_log(struct tcluster *c, uint64_t id, size_t n_voters, const uint64_t *terms,
                    size_t n_terms, uint64_t term, uint64_t vote, uint64_t commit)
{
	struct tnode *nd = tc_node(c, id);
	struct raft_conf conf;
	memset(&conf, 0, sizeof conf);
	for (uint64_t v = 1; v <= n_voters; v++)
		conf.voters[conf.n_voters++] = v;
	uint8_t buf[RAFT_CONF_ENCODED_MAX];
	int len = raft_conf_encode(&conf, buf, sizeof buf);
	assert_true(len > 0);
	struct raft_entry e = {
	    .term = 1, .index = 1, .type = RAFT_ENTRY_CONF, .len = (uint32_t)len, .data = buf};
	disk_append(&nd->disk, &e);
	for (size_t i = 0; i < n_terms; i++) {
		char data[32];
		snprintf(data, sizeof data, "i%zu-t%llu", i + 2, (unsigned long long)terms[i]);
		e = (struct raft_entry){.term = terms[i],
		                        .index = i + 2,
		                        .type = RAFT_ENTRY_NORMAL,
		                        .len = (uint32_t)strlen(data),
		                        .data = data};
		disk_append(&nd->disk, &e);
	}
	nd->disk.hs = (struct raft_hard_state){.term = term, .vote = vote, .commit = commit};
	nd->disk.applied = 0;
	tc_restart(c, id);
}

/* ---------------------------------------------------------------- network */

static void enqueue(struct tcluster *c, struct tnode *from, const struct raft_msg *m)
{
	assert_true(m->type > 0 && m->type < RAFT_MSG_TYPE_MAX_);
	c->sent[m->type]++;
	if (c->qn == c->qcap) {
		if (c->qhead > 0) {
			memmove(c->q, c->q + c->qhead, (c->qn - c->qhead) * sizeof *c->q);
			c->qn -= c->qhead;
			c->qhead = 0;
		}
		if (c->qn == c->qcap) {
			c->qcap = c->qcap ? c->qcap * 2 : 64;
			c->q = realloc(c->q, c->qcap * sizeof *c->q);
			assert_non_null(c->q);
		}
	}
	struct tmsg *t = &c->q[c->qn++];
	memset(t, 0, sizeof *t);
	t->m = *m;
	if (m->n_entries) {
		assert_non_null(m->entries);
		t->ents = xmalloc(m->n_entries * sizeof *t->ents);
		for (uint32_t i = 0; i < m->n_entries; i++) {
			t->ents[i] = m->entries[i];
			t->ents[i].data = dup_bytes(m->entries[i].data, m->entries[i].len);
		}
		t->m.entries = t->ents;
		t->n_ents = m->n_entries;
	}
	if (m->type == RAFT_MSG_SNAP) {
		/* The leader's host fills the chunk from its snapshot file. */
		struct tdisk *d = &from->disk;
		assert_int_equal(d->snap.index, m->snap_index);
		size_t off = (size_t)m->snap_offset;
		assert_true(off <= d->snap_len);
		size_t len = d->snap_len - off < c->snap_chunk ? d->snap_len - off : c->snap_chunk;
		t->snap = dup_bytes(d->snap_data + off, len);
		t->m.snap_data = t->snap;
		t->m.snap_len = (uint32_t)len;
		t->m.snap_last = off + len == d->snap_len;
	}
	if (m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_HEARTBEAT_RESP)
		t->m.context = 1000 + from->id; /* host liveness data */
}

static void stage_chunk(struct tnode *nd, const struct raft_msg *m)
{
	if (m->snap_offset == 0 || nd->stg_index != m->snap_index || nd->stg_term != m->snap_term) {
		free(nd->stg);
		nd->stg = NULL;
		nd->stg_len = 0;
		nd->stg_index = m->snap_index;
		nd->stg_term = m->snap_term;
	}
	size_t end = (size_t)m->snap_offset + m->snap_len;
	if (end > nd->stg_len) {
		nd->stg = realloc(nd->stg, end ? end : 1);
		assert_non_null(nd->stg);
		memset(nd->stg + nd->stg_len, 0, end - nd->stg_len);
		nd->stg_len = end;
	}
	if (m->snap_len)
		memcpy(nd->stg + m->snap_offset, m->snap_data, m->snap_len);
	if (m->snap_last)
		nd->stg_len = end;
}

static void deliver(struct tcluster *c, struct tmsg *t)
{
	struct raft_msg *m = &t->m;
	if (m->to < 1 || m->to > c->n || m->from < 1 || m->from > c->n)
		return;
	struct tnode *nd = &c->nodes[m->to - 1];
	if (!nd->up || c->cut[m->from][m->to])
		return;
	if (c->filter && !c->filter(c, m, c->filter_arg))
		return;
	if (m->type == RAFT_MSG_SNAP)
		stage_chunk(nd, m);
	c->delivered[m->type]++;
	int rc = raft_step(nd->r, m);
	if (rc != 0) {
		c->step_errors++;
		c->last_step_error = rc;
	}
}

/* ---------------------------------------------------------------- ready */

static void check_history(struct tcluster *c, const struct raft_entry *e)
{
	if (c->no_history_check)
		return;
	if (e->index >= c->hist_cap) {
		size_t cap = c->hist_cap ? c->hist_cap : 64;
		while (cap <= e->index)
			cap *= 2;
		c->hist = realloc(c->hist, cap * sizeof *c->hist);
		assert_non_null(c->hist);
		memset(c->hist + c->hist_cap, 0, (cap - c->hist_cap) * sizeof *c->hist);
		c->hist_cap = cap;
	}
	struct thist *h = &c->hist[e->index];
	if (!h->set) {
		*h = (struct thist){.set = true,
		                    .term = e->term,
		                    .type = e->type,
		                    .len = e->len,
		                    .data = dup_bytes(e->data, e->len)};
		return;
	}
	/* State Machine Safety: one entry per index, on every node. */
	assert_int_equal(h->term, e->term);
	assert_int_equal(h->type, e->type);
	assert_int_equal(h->len, e->len);
	if (e->len)
		assert_memory_equal(h->data, e->data, e->len);
}

static void apply(struct tcluster *c, struct tnode *nd, const struct raft_entry *e)
{
	struct tdisk *d = &nd->disk;
	assert_int_equal(e->index, d->applied + 1);
	check_history(c, e);
	if (e->type == RAFT_ENTRY_NORMAL && e->len) {
		d->state = realloc(d->state, d->state_len + e->len);
		assert_non_null(d->state);
		memcpy(d->state + d->state_len, e->data, e->len);
		d->state_len += e->len;
	}
	if (e->type == RAFT_ENTRY_NORMAL)
		nd->n_applied_normal++;
	d->applied = e->index;
}

static void install_snapshot(struct tcluster *c, struct tnode *nd,
                             const struct raft_snapshot_meta *sm)
{
	struct tdisk *d = &nd->disk;
	if (c->no_history_check && (nd->stg_index != sm->index || nd->stg_term != sm->term)) {
		free(nd->stg); /* forged: nothing was staged */
		nd->stg = NULL;
		nd->stg_len = 0;
		nd->stg_index = sm->index;
		nd->stg_term = sm->term;
	}
	assert_int_equal(nd->stg_index, sm->index);
	assert_int_equal(nd->stg_term, sm->term);
	free(d->snap_data);
	d->snap_data = dup_bytes(nd->stg, nd->stg_len);
	d->snap_len = nd->stg_len;
	d->snap = *sm;
	free(d->state);
	d->state = dup_bytes(nd->stg, nd->stg_len);
	d->state_len = nd->stg_len;
	d->applied = sm->index;
	disk_truncate_from(d, 0);
	nd->n_snap_installed++;
}

static void persist(struct tcluster *c, struct tnode *nd, const struct raft_ready *rd)
{
	struct tdisk *d = &nd->disk;
	if (rd->has_snapshot)
		install_snapshot(c, nd, &rd->snapshot);
	if (rd->n_entries) {
		disk_truncate_from(d, rd->entries[0].index);
		for (size_t i = 0; i < rd->n_entries; i++)
			disk_append(d, &rd->entries[i]);
	}
	if (rd->hard_state_changed) {
		assert_true(rd->hard_state.term >= d->hs.term);
		d->hs = rd->hard_state;
	}
}

static bool process_one(struct tcluster *c, struct tnode *nd, bool crash_before_persist)
{
	if (!nd->up || !raft_has_ready(nd->r))
		return false;
	struct raft_ready rd;
	raft_ready(nd->r, &rd);
	for (size_t i = 0; i < rd.n_msgs; i++)
		enqueue(c, nd, &rd.msgs[i]);
	if (crash_before_persist) {
		tc_crash(c, nd->id);
		return false;
	}
	persist(c, nd, &rd);
	for (size_t i = 0; i < rd.n_msgs_after_persist; i++)
		enqueue(c, nd, &rd.msgs_after_persist[i]);
	for (size_t i = 0; i < rd.n_committed; i++)
		apply(c, nd, &rd.committed[i]);
	for (size_t i = 0; i < rd.n_read_states; i++) {
		if (nd->n_reads == TC_MAX_READS) { /* keep the latest */
			memmove(nd->reads, nd->reads + 1, (TC_MAX_READS - 1) * sizeof nd->reads[0]);
			nd->n_reads--;
		}
		nd->reads[nd->n_reads++] = rd.read_states[i];
	}
	raft_advance(nd->r, &rd);
	return true;
}

void tc_process(struct tcluster *c, uint64_t id)
{
	struct tnode *nd = tc_node(c, id);
	int guard = 0;
	while (process_one(c, nd, false))
		assert_true(++guard < 10000);
}

void tc_process_crash_before_persist(struct tcluster *c, uint64_t id)
{
	process_one(c, tc_node(c, id), true);
}

static void process_all(struct tcluster *c)
{
	for (uint64_t id = 1; id <= c->n; id++)
		if (c->nodes[id - 1].up)
			tc_process(c, id);
}

void tc_deliver_once(struct tcluster *c)
{
	process_all(c);
	size_t count = tc_in_flight(c);
	for (size_t i = 0; i < count; i++) {
		struct tmsg t = c->q[c->qhead++];
		deliver(c, &t);
		tmsg_free(&t);
		process_all(c);
	}
}

void tc_deliver_no_process(struct tcluster *c)
{
	size_t count = tc_in_flight(c);
	for (size_t i = 0; i < count; i++) {
		struct tmsg t = c->q[c->qhead++];
		deliver(c, &t);
		tmsg_free(&t);
	}
}

void tc_stabilize(struct tcluster *c)
{
	size_t budget = TC_STABILIZE_MAX_MSGS;
	process_all(c);
	while (c->qhead < c->qn) {
		assert_true(budget-- > 0);
		struct tmsg t = c->q[c->qhead++];
		deliver(c, &t);
		tmsg_free(&t);
		process_all(c);
	}
	c->qhead = c->qn = 0;
}

/* ---------------------------------------------------------------- time */

void tc_tick(struct tcluster *c, uint64_t id, int n)
{
	for (int i = 0; i < n; i++)
		raft_tick(tc_raft(c, id));
}

void tc_tick_all(struct tcluster *c, int n)
{
	for (int i = 0; i < n; i++) {
		for (uint64_t id = 1; id <= c->n; id++)
			if (c->nodes[id - 1].up)
				raft_tick(c->nodes[id - 1].r);
		tc_stabilize(c);
	}
}

uint64_t tc_leader(struct tcluster *c)
{
	uint64_t best = 0, best_term = 0;
	for (uint64_t id = 1; id <= c->n; id++) {
		if (!c->nodes[id - 1].up)
			continue;
		struct raft_status st;
		raft_status(c->nodes[id - 1].r, &st);
		if (st.role == RAFT_LEADER && st.term >= best_term) {
			best = id;
			best_term = st.term;
		}
	}
	return best;
}

uint64_t tc_wait_leader(struct tcluster *c)
{
	for (int i = 0; i < TC_WAIT_LEADER_TICKS; i++) {
		uint64_t l = tc_leader(c);
		if (l)
			return l;
		tc_tick_all(c, 1);
	}
	fail_msg("no leader after %d ticks", TC_WAIT_LEADER_TICKS);
	return 0;
}

void tc_elect(struct tcluster *c, uint64_t id)
{
	assert_int_equal(raft_campaign(tc_raft(c, id)), 0);
	tc_stabilize(c);
	assert_int_equal(tc_status(c, id).role, RAFT_LEADER);
}

/* ---------------------------------------------------------------- faults */

void tc_isolate(struct tcluster *c, uint64_t id)
{
	for (uint64_t o = 1; o <= TC_MAX; o++) {
		if (o == id)
			continue;
		c->cut[id][o] = true;
		c->cut[o][id] = true;
	}
}

void tc_cut(struct tcluster *c, uint64_t a, uint64_t b)
{
	c->cut[a][b] = true;
	c->cut[b][a] = true;
}

void tc_heal(struct tcluster *c)
{
	memset(c->cut, 0, sizeof c->cut);
}

void tc_crash(struct tcluster *c, uint64_t id)
{
	struct tnode *nd = tc_node(c, id);
	raft_free(nd->r);
	nd->r = NULL;
	nd->up = false;
	free(nd->stg);
	nd->stg = NULL;
	nd->stg_len = 0;
	nd->stg_index = nd->stg_term = 0;
}

void tc_restart(struct tcluster *c, uint64_t id)
{
	struct tnode *nd = tc_node(c, id);
	if (nd->r)
		raft_free(nd->r);
	assert_int_equal(raft_new(&nd->cfg, &nd->r), 0);
	nd->up = true;
	struct tdisk *d = &nd->disk;
	struct raft_entry *ents = xmalloc((d->n ? d->n : 1) * sizeof *ents);
	for (size_t i = 0; i < d->n; i++)
		ents[i] = (struct raft_entry){.term = d->ents[i].term,
		                              .index = d->ents[i].index,
		                              .type = d->ents[i].type,
		                              .len = d->ents[i].len,
		                              .data = d->ents[i].data};
	int rc =
	    raft_restore(nd->r, &d->hs, d->snap.index ? &d->snap : NULL, ents, d->n, d->applied);
	free(ents);
	assert_int_equal(rc, 0);
}

/* ---------------------------------------------------------------- client */

uint64_t tc_propose(struct tcluster *c, uint64_t id, const char *data)
{
	uint64_t index = 0, term = 0;
	int rc = raft_propose(tc_raft(c, id), data, (uint32_t)strlen(data), &index, &term);
	assert_int_equal(rc, 0);
	assert_true(index > 0 && term > 0);
	return index;
}

void tc_compact(struct tcluster *c, uint64_t id)
{
	struct tnode *nd = tc_node(c, id);
	struct tdisk *d = &nd->disk;
	struct raft_snapshot_meta sm;
	assert_int_equal(raft_compact(tc_raft(c, id), d->applied, &sm), 0);
	assert_int_equal(sm.index, d->applied);
	free(d->snap_data);
	d->snap_data = dup_bytes(d->state, d->state_len);
	d->snap_len = d->state_len;
	d->snap = sm;
	/* Drop persisted entries <= index. */
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (d->ents[i].index <= sm.index)
			free(d->ents[i].data);
		else
			d->ents[k++] = d->ents[i];
	}
	d->n = k;
}
