/* cluster: the simulated world around each raft core: a network of owned
 * message copies with random delivery times, a disk per node that keeps
 * durable and pending writes apart, and the host cycle of raft.h. */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define GROW(v, n, cap)                                                                            \
	do {                                                                                       \
		if ((n) >= (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 16;                                              \
			(v) = sim_xrealloc((v), (cap) * sizeof *(v));                              \
		}                                                                                  \
	} while (0)

/* ---------------------------------------------------------------- heap */

static bool ev_less(const struct sim_event *a, const struct sim_event *b)
{
	return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

void sim_heap_push(struct sim *s, struct sim_event ev)
{
	struct sim_heap *h = &s->heap;
	ev.seq = s->seq++;
	GROW(h->v, h->n, h->cap);
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_less(&ev, &h->v[p]))
			break;
		h->v[i] = h->v[p];
		i = p;
	}
	h->v[i] = ev;
}

bool sim_heap_pop(struct sim *s, struct sim_event *out)
{
	struct sim_heap *h = &s->heap;
	if (h->n == 0)
		return false;
	*out = h->v[0];
	struct sim_event last = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && ev_less(&h->v[c + 1], &h->v[c]))
			c++;
		if (!ev_less(&h->v[c], &last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
	return true;
}

/* ---------------------------------------------------------------- payloads */

static size_t payload_gen(uint64_t id, uint32_t payload_max, uint8_t *buf)
{
	uint64_t st = id * 0x2545f4914f6cdd1dull;
	size_t len = 8 + (size_t)(sim_splitmix64(&st) % (payload_max + 1u));
	if (len > SIM_MAX_PAYLOAD)
		len = SIM_MAX_PAYLOAD;
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(id >> (8 * i));
	for (size_t k = 8; k < len; k += 8) {
		uint64_t x = sim_splitmix64(&st);
		for (size_t j = 0; j < 8 && k + j < len; j++)
			buf[k + j] = (uint8_t)(x >> (8 * j));
	}
	return len;
}

size_t sim_payload(struct sim *s, uint64_t id)
{
	return payload_gen(id, s->sc.payload_max, s->payload);
}

bool sim_payload_id(const void *data, uint32_t len, uint64_t *id)
{
	if (len < 8 || !data)
		return false;
	const uint8_t *b = data;
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	*id = v;
	return true;
}

uint64_t sim_entry_fp(uint8_t type, const void *data, uint32_t len)
{
	uint64_t h = sim_fnv(SIM_FNV_INIT, &type, 1);
	if (len && data)
		h = sim_fnv(h, data, len);
	return h ^ len;
}

/* payload integrity: the bytes a proposal id stands for */
bool sim_payload_valid(const struct sim *s, const void *data, uint32_t len)
{
	uint64_t id;
	if (!sim_payload_id(data, len, &id))
		return false;
	uint8_t buf[SIM_MAX_PAYLOAD];
	size_t n = payload_gen(id, s->sc.payload_max, buf);
	return n == len && memcmp(buf, data, n) == 0;
}

/* ---------------------------------------------------------------- messages */

struct sim_msg *sim_msg_clone(const struct raft_msg *m, const void *snap_data, uint32_t snap_len)
{
	size_t sz = sizeof(struct sim_msg) + (size_t)m->n_entries * sizeof(struct raft_entry);
	for (uint32_t i = 0; i < m->n_entries; i++)
		sz += m->entries[i].len;
	sz += snap_len;
	struct sim_msg *c = sim_xrealloc(NULL, sz);
	c->m = *m;
	c->id = 0;
	struct raft_entry *ents = (struct raft_entry *)(c + 1);
	uint8_t *p = (uint8_t *)(ents + m->n_entries);
	for (uint32_t i = 0; i < m->n_entries; i++) {
		ents[i] = m->entries[i];
		if (m->entries[i].len) {
			memcpy(p, m->entries[i].data, m->entries[i].len);
			ents[i].data = p;
			p += m->entries[i].len;
		} else {
			ents[i].data = NULL;
		}
	}
	c->m.entries = m->n_entries ? ents : NULL;
	if (snap_len) {
		memcpy(p, snap_data, snap_len);
		c->m.snap_data = p;
	} else {
		c->m.snap_data = NULL;
	}
	c->m.snap_len = snap_len;
	return c;
}

void sim_msg_free(struct sim_msg *m)
{
	free(m);
}

/* ---------------------------------------------------------------- logs */

uint64_t sim_log_last(const struct sim_log *l)
{
	return l->snap_index + l->n;
}

bool sim_log_term(const struct sim_log *l, uint64_t idx, uint64_t *term)
{
	if (idx == l->snap_index) {
		*term = l->snap_term;
		return true;
	}
	if (idx < l->snap_index || idx > sim_log_last(l))
		return false;
	*term = l->v[idx - l->snap_index - 1].term;
	return true;
}

const struct sim_ent *sim_log_get(const struct sim_log *l, uint64_t idx)
{
	if (idx <= l->snap_index || idx > sim_log_last(l))
		return NULL;
	return &l->v[idx - l->snap_index - 1];
}

static void log_truncate_from(struct sim_log *l, uint64_t idx)
{
	size_t k = idx <= l->snap_index ? 0 : (size_t)(idx - l->snap_index - 1);
	for (size_t i = k; i < l->n; i++)
		free(l->v[i].data);
	if (k < l->n)
		l->n = k;
}

static void log_append(struct sim_log *l, const struct raft_entry *e)
{
	GROW(l->v, l->n, l->cap);
	struct sim_ent *d = &l->v[l->n++];
	d->term = e->term;
	d->type = e->type;
	d->len = e->len;
	d->fp = sim_entry_fp(e->type, e->data, e->len);
	d->data = NULL;
	if (e->len) {
		d->data = sim_xrealloc(NULL, e->len);
		memcpy(d->data, e->data, e->len);
	}
}

static void log_reset(struct sim_log *l, uint64_t idx, uint64_t term)
{
	log_truncate_from(l, l->snap_index + 1);
	l->snap_index = idx;
	l->snap_term = term;
}

static void log_compact(struct sim_log *l, uint64_t idx, uint64_t term)
{
	if (idx <= l->snap_index)
		return;
	size_t k = (size_t)(idx - l->snap_index);
	if (k > l->n)
		k = l->n;
	for (size_t i = 0; i < k; i++)
		free(l->v[i].data);
	memmove(l->v, l->v + k, (l->n - k) * sizeof *l->v);
	l->n -= k;
	l->snap_index = idx;
	l->snap_term = term;
}

static void log_free(struct sim_log *l)
{
	log_truncate_from(l, l->snap_index + 1);
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* ---------------------------------------------------------------- snapshots
 * File format: magic, index, term, count, count x (term, fp, type), pad_len,
 * pad bytes, fnv checksum of everything before; integers u64 little endian. */

#define SNAP_MAGIC 0x50414e534d495351ull /* "QSIMSNAP" */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t pad_byte(uint64_t index, uint64_t term, size_t k)
{
	return (uint8_t)(index * 7u + term * 13u + k * 31u + (k >> 9));
}

static uint8_t *snap_serialize(const struct sim_sm *sm, uint64_t index, uint64_t term, size_t pad,
                               size_t *len_out)
{
	size_t len = 8 * 4 + (size_t)index * 24 + 8 + pad + 8;
	uint8_t *b = sim_xrealloc(NULL, len);
	uint8_t *p = b;
	put64(p, SNAP_MAGIC), p += 8;
	put64(p, index), p += 8;
	put64(p, term), p += 8;
	put64(p, index), p += 8;
	for (uint64_t i = 0; i < index; i++) {
		put64(p, sm->v[i].term), p += 8;
		put64(p, sm->v[i].fp), p += 8;
		put64(p, sm->v[i].type), p += 8;
	}
	put64(p, pad), p += 8;
	for (size_t k = 0; k < pad; k++)
		*p++ = pad_byte(index, term, k);
	put64(p, sim_fnv(SIM_FNV_INIT, b, (size_t)(p - b)));
	*len_out = len;
	return b;
}

/* Returns the record count, or -1 (with *why) when the bytes are not a
 * well-formed snapshot of (index, term). */
static long snap_parse(const uint8_t *b, size_t len, uint64_t index, uint64_t term,
                       struct sim_sm *out, const char **why)
{
	if (len < 8 * 6) {
		*why = "short";
		return -1;
	}
	if (get64(b + len - 8) != sim_fnv(SIM_FNV_INIT, b, len - 8)) {
		*why = "checksum";
		return -1;
	}
	if (get64(b) != SNAP_MAGIC || get64(b + 8) != index || get64(b + 16) != term) {
		*why = "header/metadata mismatch";
		return -1;
	}
	uint64_t cnt = get64(b + 24);
	if (cnt != index || cnt > (len - 48) / 24) {
		*why = "count";
		return -1;
	}
	const uint8_t *p = b + 32;
	out->n = 0;
	for (uint64_t i = 0; i < cnt; i++) {
		GROW(out->v, out->n, out->cap);
		out->v[out->n].term = get64(p);
		out->v[out->n].fp = get64(p + 8);
		out->v[out->n].type = (uint8_t)get64(p + 16);
		out->n++;
		p += 24;
	}
	uint64_t pad = get64(p);
	p += 8;
	if ((size_t)(p - b) + pad + 8 != len) {
		*why = "length";
		return -1;
	}
	for (size_t k = 0; k < pad; k++)
		if (p[k] != pad_byte(index, term, k)) {
			*why = "pad bytes";
			return -1;
		}
	return (long)cnt;
}

static void staging_reset(struct sim_staging *st)
{
	st->index = st->term = 0;
	st->len = 0;
	st->chunks = 0;
	st->total = 0;
	st->used = 0;
}

static void staging_reset_all(struct sim_node *n)
{
	for (unsigned i = 0; i < SIM_STAGING_FILES; i++)
		staging_reset(&n->staging[i]);
}

static struct sim_staging *staging_find(struct sim_node *n, uint64_t index, uint64_t term)
{
	for (unsigned i = 0; i < SIM_STAGING_FILES; i++)
		if (n->staging[i].index == index && n->staging[i].term == term && index)
			return &n->staging[i];
	return NULL;
}

/* Follower host: write a SNAP chunk into the staging file for its
 * (index, term) before stepping it; offset 0 restarts that file. */
static void staging_write(struct sim *s, struct sim_node *n, const struct raft_msg *m)
{
	struct sim_staging *st = staging_find(n, m->snap_index, m->snap_term);
	if (!st) {
		st = &n->staging[0];
		for (unsigned i = 1; i < SIM_STAGING_FILES; i++)
			if (n->staging[i].used < st->used)
				st = &n->staging[i];
		staging_reset(st);
		st->index = m->snap_index;
		st->term = m->snap_term;
	}
	st->used = ++n->staging_clock;
	if (m->snap_offset == 0) {
		st->chunks = 0;
		st->total = 0;
	}
	if (m->snap_offset % RAFT_SNAP_CHUNK != 0 ||
	    m->snap_offset / RAFT_SNAP_CHUNK >= SIM_SNAP_MAX_CHUNKS ||
	    m->snap_len > RAFT_SNAP_CHUNK) {
		sim_trace(s, "n%" PRIu64 " staging: ignored odd chunk off=%" PRIu64, n->id,
		          m->snap_offset);
		return;
	}
	size_t end = (size_t)m->snap_offset + m->snap_len;
	if (end > st->cap) {
		st->cap = end;
		st->buf = sim_xrealloc(st->buf, st->cap);
	}
	if (m->snap_len)
		memcpy(st->buf + m->snap_offset, m->snap_data, m->snap_len);
	if (end > st->len)
		st->len = end;
	st->chunks |= 1ull << (m->snap_offset / RAFT_SNAP_CHUNK);
	if (m->snap_last)
		st->total = end;
}

static bool staging_complete(const struct sim_staging *st)
{
	if (!st->total || st->len < st->total)
		return false;
	size_t nchunks = (st->total + RAFT_SNAP_CHUNK - 1) / RAFT_SNAP_CHUNK;
	for (size_t i = 0; i < nchunks; i++)
		if (!(st->chunks & (1ull << i)))
			return false;
	return true;
}

/* ---------------------------------------------------------------- nodes */

struct sim_node *sim_node_by_id(struct sim *s, uint64_t id)
{
	if (id == 0 || id > s->n_nodes)
		return NULL;
	return &s->nodes[id - 1];
}

static void inbox_clear(struct sim_node *n)
{
	for (size_t i = 0; i < n->n_inbox; i++)
		sim_msg_free(n->inbox[i].msg);
	n->n_inbox = 0;
}

void sim_node_start(struct sim *s, struct sim_node *n)
{
	n->incarnation++;
	uint64_t st = s->seed ^ (n->id * 0x9e3779b97f4a7c15ull) ^ (n->incarnation << 32);
	sim_rng_seed(&n->core_rng, sim_splitmix64(&st));
	struct raft_config cfg = s->sc.cfg;
	cfg.id = n->id;
	cfg.rand = sim_rng_core;
	cfg.rand_ctx = &n->core_rng;
	int rc = raft_new(&cfg, &n->r);
	if (rc) {
		sim_fail(s, "host", "n%" PRIu64 " raft_new: %s", n->id, raft_strerror(rc));
		return;
	}
	bool empty = n->dhs.term == 0 && n->dlog.n == 0 && n->dlog.snap_index == 0;
	if (empty) {
		if (n->initial_member) {
			rc = raft_bootstrap(n->r, &s->conf0);
			if (rc)
				sim_fail(s, "host", "n%" PRIu64 " raft_bootstrap: %s", n->id,
				         raft_strerror(rc));
		}
	} else {
		struct raft_entry *ents = sim_xrealloc(NULL, (n->dlog.n + 1) * sizeof *ents);
		for (size_t i = 0; i < n->dlog.n; i++) {
			ents[i].term = n->dlog.v[i].term;
			ents[i].index = n->dlog.snap_index + 1 + i;
			ents[i].type = n->dlog.v[i].type;
			ents[i].len = n->dlog.v[i].len;
			ents[i].data = n->dlog.v[i].data;
		}
		struct raft_snapshot_meta meta;
		memset(&meta, 0, sizeof meta);
		meta.index = n->dlog.snap_index;
		meta.term = n->dlog.snap_term;
		meta.conf = n->dsnap_conf;
		rc = raft_restore(n->r, &n->dhs, meta.index ? &meta : NULL, ents, n->dlog.n,
		                  n->dapplied);
		free(ents);
		if (rc)
			sim_fail(s, "restore",
			         "n%" PRIu64
			         " raft_restore rejected its durable state: %s (hs t%" PRIu64
			         " v%" PRIu64 " c%" PRIu64 ", snap %" PRIu64 "/%" PRIu64
			         ", log ..%" PRIu64 ", applied %" PRIu64 ")",
			         n->id, raft_strerror(rc), n->dhs.term, n->dhs.vote, n->dhs.commit,
			         n->dlog.snap_index, n->dlog.snap_term, sim_log_last(&n->dlog),
			         n->dapplied);
	}
	if (n->sm.n > n->dapplied)
		n->sm.n = (size_t)n->dapplied;
	n->up = true;
	n->in_ready = false;
	inbox_clear(n);
	staging_reset_all(n);
	n->n_reads = 0;
	n->unreachable = 0;
	n->commit_seen = n->dhs.commit > n->dlog.snap_index ? n->dhs.commit : n->dlog.snap_index;
	n->leader_checked = 0;
	raft_status(n->r, &n->st);
	n->last_commit = n->st.commit;
	n->last_applied = n->st.applied;
	n->last_term = n->st.term;
	sim_trace(s,
	          "n%" PRIu64 " START inc%" PRIu64 " %s hs{t%" PRIu64 " v%" PRIu64 " c%" PRIu64
	          "} snap=%" PRIu64 "/%" PRIu64 " log..%" PRIu64 " applied=%" PRIu64,
	          n->id, n->incarnation,
	          empty ? (n->initial_member ? "bootstrap" : "empty") : "restore", n->dhs.term,
	          n->dhs.vote, n->dhs.commit, n->dlog.snap_index, n->dlog.snap_term,
	          sim_log_last(&n->dlog), n->dapplied);
	if (!s->violated && n->st.applied != n->dapplied && !empty)
		sim_fail(s, "restore",
		         "n%" PRIu64 " restored applied=%" PRIu64 " but durable applied=%" PRIu64,
		         n->id, n->st.applied, n->dapplied);
}

void sim_node_crash(struct sim *s, struct sim_node *n, const char *why)
{
	if (!n->up)
		return;
	sim_trace(s,
	          "n%" PRIu64 " CRASH (%s)%s: durable hs{t%" PRIu64 " v%" PRIu64 " c%" PRIu64
	          "} log..%" PRIu64 " applied=%" PRIu64,
	          n->id, why, n->in_ready ? " losing a pending write" : "", n->dhs.term,
	          n->dhs.vote, n->dhs.commit, sim_log_last(&n->dlog), n->dapplied);
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->in_ready = false;
	inbox_clear(n);
	staging_reset_all(n);
	n->n_reads = 0;
	n->unreachable = 0;
	s->stats.crashes++;
}

/* ---------------------------------------------------------------- network */

static uint64_t net_delay(struct sim *s)
{
	if (s->phase != SIM_SAFETY) /* healed: steady low latency, FIFO links */
		return s->sc.delay_min < SIM_TICK / 2 ? s->sc.delay_min : SIM_TICK / 2;
	if (sim_rng_ppm(&s->rng, s->sc.long_delay_ppm))
		return sim_rng_range(&s->rng, s->sc.delay_max, s->sc.long_delay_max);
	return sim_rng_range(&s->rng, s->sc.delay_min, s->sc.delay_max);
}

static void net_send(struct sim *s, struct sim_node *n, const struct raft_msg *m, bool after)
{
	char buf[200];
	s->stats.msgs_sent++;
	if (m->from != n->id || m->to == 0 || m->to == n->id || m->to > s->n_nodes) {
		/* to a node id outside the simulated cluster: allowed only if the
		 * configuration names it, which never happens here */
		sim_fail(s, "message",
		         "n%" PRIu64 " emitted a message with from/to %" PRIu64 "->%" PRIu64, n->id,
		         m->from, m->to);
		return;
	}
	sim_check_msg_out(s, n, m);
	if (s->violated) {
		sim_trace(s, "n%" PRIu64 " send%s %s", n->id, after ? "(after persist)" : "",
		          sim_fmt_msg(buf, sizeof buf, m));
		return;
	}
	const void *snap_data = NULL;
	uint32_t snap_len = 0;
	uint8_t snap_last = 0;
	if (m->type == RAFT_MSG_SNAP) {
		if (!n->dsnap || n->dlog.snap_index != m->snap_index ||
		    n->dlog.snap_term != m->snap_term || m->snap_offset >= n->dsnap_len) {
			sim_trace(s,
			          "n%" PRIu64
			          " has no snapshot file for %s: dropped, peer unreachable",
			          n->id, sim_fmt_msg(buf, sizeof buf, m));
			n->unreachable |= 1ull << (m->to - 1);
			return;
		}
		size_t left = n->dsnap_len - (size_t)m->snap_offset;
		snap_len = (uint32_t)(left < RAFT_SNAP_CHUNK ? left : RAFT_SNAP_CHUNK);
		snap_data = n->dsnap + m->snap_offset;
		snap_last = left <= RAFT_SNAP_CHUNK;
	}
	struct sim_msg *c = sim_msg_clone(m, snap_data, snap_len);
	c->m.snap_last = m->type == RAFT_MSG_SNAP ? snap_last : m->snap_last;
	c->id = ++s->msg_ids;
	unsigned f = (unsigned)(m->from - 1), t = (unsigned)(m->to - 1);
	const char *fate = NULL;
	if (!s->link[f][t])
		fate = "DROP(partition)";
	else if (s->phase == SIM_SAFETY && sim_rng_ppm(&s->rng, s->sc.loss_ppm))
		fate = "DROP(loss)";
	if (fate) {
		sim_trace(s, "send%s #%" PRIu64 " %s %s", after ? "*" : "", c->id,
		          sim_fmt_msg(buf, sizeof buf, &c->m), fate);
		if (!s->link[f][t] && sim_rng_ppm(&s->rng, 300000))
			n->unreachable |= 1ull << t;
		s->stats.msgs_dropped++;
		sim_msg_free(c);
		return;
	}
	uint64_t d = net_delay(s);
	sim_trace(s, "send%s #%" PRIu64 " %s @+%" PRIu64, after ? "*" : "", c->id,
	          sim_fmt_msg(buf, sizeof buf, &c->m), d);
	if (s->phase == SIM_SAFETY && sim_rng_ppm(&s->rng, s->sc.dup_ppm)) {
		struct sim_msg *dup = sim_msg_clone(&c->m, c->m.snap_data, c->m.snap_len);
		dup->id = c->id;
		uint64_t d2 = net_delay(s);
		sim_trace(s, "dup #%" PRIu64 " @+%" PRIu64, c->id, d2);
		sim_heap_push(s, (struct sim_event){.time = s->now + d2,
		                                    .kind = SIM_EV_DELIVER,
		                                    .node = (uint8_t)t,
		                                    .msg = dup});
	}
	sim_heap_push(
	    s, (struct sim_event){
	           .time = s->now + d, .kind = SIM_EV_DELIVER, .node = (uint8_t)t, .msg = c});
}

static void node_step_msg(struct sim *s, struct sim_node *n, struct sim_msg *c)
{
	char buf[200];
	if (c->m.type == RAFT_MSG_SNAP)
		staging_write(s, n, &c->m);
	int rc = raft_step(n->r, &c->m);
	sim_trace(s, "recv #%" PRIu64 " %s%s%s", c->id, sim_fmt_msg(buf, sizeof buf, &c->m),
	          rc ? " -> " : "", rc ? raft_strerror(rc) : "");
	if (rc) {
		s->stats.step_errors++;
		if (rc != RAFT_ENOMEM && getenv("SIM_STRICT"))
			sim_fail(s, "step", "n%" PRIu64 " rejected a message from a real peer: %s",
			         n->id, raft_strerror(rc));
	}
	s->stats.msgs_delivered++;
	sim_msg_free(c);
}

void sim_net_deliver(struct sim *s, struct sim_msg *c, unsigned to)
{
	char buf[200];
	struct sim_node *n = &s->nodes[to];
	unsigned f = (unsigned)(c->m.from - 1);
	if (!n->up || !s->link[f][to]) {
		sim_trace(s, "lost #%" PRIu64 " %s (%s)", c->id,
		          sim_fmt_msg(buf, sizeof buf, &c->m), n->up ? "partition" : "node down");
		s->stats.msgs_dropped++;
		sim_msg_free(c);
		return;
	}
	if (n->in_ready) {
		GROW(n->inbox, n->n_inbox, n->cap_inbox);
		n->inbox[n->n_inbox++].msg = c;
		return;
	}
	node_step_msg(s, n, c);
	sim_node_pump(s, n);
}

void sim_node_tick(struct sim *s, struct sim_node *n)
{
	if (!n->up)
		return;
	if (n->in_ready) {
		GROW(n->inbox, n->n_inbox, n->cap_inbox);
		n->inbox[n->n_inbox++].msg = NULL;
		return;
	}
	raft_tick(n->r);
	sim_node_pump(s, n);
}

/* ---------------------------------------------------------------- the host cycle */

static void trace_ready(struct sim *s, struct sim_node *n)
{
	const struct raft_ready *rd = &n->rd;
	char hs[80] = "", ents[100] = "", snap[60] = "", com[60] = "", soft[40] = "";
	if (rd->hard_state_changed)
		snprintf(hs, sizeof hs, " hs{t%" PRIu64 " v%" PRIu64 " c%" PRIu64 "}",
		         rd->hard_state.term, rd->hard_state.vote, rd->hard_state.commit);
	if (rd->soft_state_changed)
		snprintf(soft, sizeof soft, " soft{%s lead=%" PRIu64 "}",
		         raft_role_name(rd->soft_state.role), rd->soft_state.leader);
	if (rd->n_entries)
		snprintf(ents, sizeof ents,
		         " ents=[%" PRIu64 "..%" PRIu64 "](t%" PRIu64 "..%" PRIu64 ")",
		         rd->entries[0].index, rd->entries[rd->n_entries - 1].index,
		         rd->entries[0].term, rd->entries[rd->n_entries - 1].term);
	if (rd->has_snapshot)
		snprintf(snap, sizeof snap, " SNAPSHOT=%" PRIu64 "/%" PRIu64, rd->snapshot.index,
		         rd->snapshot.term);
	if (rd->n_committed)
		snprintf(com, sizeof com, " commit=[%" PRIu64 "..%" PRIu64 "]",
		         rd->committed[0].index, rd->committed[rd->n_committed - 1].index);
	sim_trace(s, "n%" PRIu64 " READY%s%s%s%s%s msgs=%zu after=%zu reads=%zu", n->id, soft, hs,
	          snap, ents, com, rd->n_msgs, rd->n_msgs_after_persist, rd->n_read_states);
}

static void install_snapshot(struct sim *s, struct sim_node *n)
{
	const struct raft_snapshot_meta *meta = &n->rd.snapshot;
	struct sim_staging *st = staging_find(n, meta->index, meta->term);
	if (!st || !staging_complete(st)) {
		sim_fail(s, "snapshot",
		         "n%" PRIu64 " told to install snapshot %" PRIu64 "/%" PRIu64
		         " but the host has %s staging file for it",
		         n->id, meta->index, meta->term, st ? "an incomplete" : "no");
		return;
	}
	if (meta->index <= n->sm.n) {
		sim_fail(s, "applied-monotonic",
		         "n%" PRIu64 " told to install snapshot %" PRIu64
		         " at applied %zu (rollback)",
		         n->id, meta->index, n->sm.n);
		return;
	}
	struct sim_sm tmp = {0};
	const char *why = "";
	long cnt = snap_parse(st->buf, st->total, meta->index, meta->term, &tmp, &why);
	if (cnt < 0) {
		sim_fail(s, "snapshot",
		         "n%" PRIu64 " staged snapshot %" PRIu64 "/%" PRIu64 " is corrupt: %s",
		         n->id, meta->index, meta->term, why);
		free(tmp.v);
		return;
	}
	sim_check_snapshot_records(s, n, tmp.v, tmp.n, meta->term);
	free(n->sm.v);
	n->sm = tmp;
	free(n->dsnap);
	n->dsnap = sim_xrealloc(NULL, st->total);
	memcpy(n->dsnap, st->buf, st->total);
	n->dsnap_len = st->total;
	n->dsnap_conf = meta->conf;
	log_reset(&n->dlog, meta->index, meta->term);
	n->dapplied = meta->index;
	if (n->commit_seen < meta->index)
		n->commit_seen = meta->index;
	s->stats.snapshots_installed++;
	sim_trace(s, "n%" PRIu64 " installed snapshot %" PRIu64 "/%" PRIu64 " (%zu bytes)", n->id,
	          meta->index, meta->term, st->total);
	staging_reset(st);
}

static void ready_finish(struct sim *s, struct sim_node *n)
{
	struct raft_ready *rd = &n->rd;
	/* 2. persist */
	if (rd->has_snapshot) {
		install_snapshot(s, n);
		if (s->violated)
			return;
	}
	if (rd->n_entries) {
		if (rd->entries[0].index > n->dlog.snap_index)
			log_truncate_from(&n->dlog, rd->entries[0].index);
		for (size_t i = 0; i < rd->n_entries; i++)
			log_append(&n->dlog, &rd->entries[i]);
	}
	if (rd->hard_state_changed)
		n->dhs = rd->hard_state;
	if (rd->has_snapshot || rd->n_entries || rd->hard_state_changed)
		sim_trace(s,
		          "n%" PRIu64 " persisted: hs{t%" PRIu64 " v%" PRIu64 " c%" PRIu64
		          "} log %" PRIu64 "/%" PRIu64 "..%" PRIu64,
		          n->id, n->dhs.term, n->dhs.vote, n->dhs.commit, n->dlog.snap_index,
		          n->dlog.snap_term, sim_log_last(&n->dlog));
	/* 3. send what depended on it */
	for (size_t i = 0; i < rd->n_msgs_after_persist && !s->violated; i++)
		net_send(s, n, &rd->msgs_after_persist[i], true);
	/* 4. apply */
	for (size_t i = 0; i < rd->n_committed && !s->violated; i++) {
		const struct raft_entry *e = &rd->committed[i];
		sim_check_apply(s, n, e);
		if (s->violated)
			return;
		GROW(n->sm.v, n->sm.n, n->sm.cap);
		n->sm.v[n->sm.n].term = e->term;
		n->sm.v[n->sm.n].fp = sim_entry_fp(e->type, e->data, e->len);
		n->sm.v[n->sm.n].type = e->type;
		n->sm.n++;
	}
	if (rd->n_committed) {
		sim_trace(s, "n%" PRIu64 " applied ..%zu", n->id, n->sm.n);
		if (sim_rng_ppm(&s->rng, s->sc.sm_sync_ppm))
			n->dapplied = n->sm.n;
	}
	for (size_t i = 0; i < rd->n_read_states && !s->violated; i++) {
		const struct raft_read_state *rs = &rd->read_states[i];
		struct sim_read *r = NULL;
		for (uint32_t k = 0; k < n->n_reads; k++)
			if (n->reads[k].ctx == rs->ctx && n->reads[k].index == 0)
				r = &n->reads[k];
		sim_trace(s, "n%" PRIu64 " read state ctx=%" PRIu64 " index=%" PRIu64 "%s", n->id,
		          rs->ctx, rs->index, r ? "" : " (unknown ctx)");
		if (!r)
			continue;
		if (rs->index == 0) {
			*r = n->reads[--n->n_reads];
			continue;
		}
		r->index = rs->index;
		sim_check_read_released(s, n, r);
	}
	sim_check_reads_served(s, n);
	if (s->violated)
		return;
	/* 5. advance */
	raft_advance(n->r, rd);
	n->in_ready = false;
	memset(rd, 0, sizeof *rd);
	for (unsigned p = 0; p < s->n_nodes; p++)
		if (n->unreachable & (1ull << p))
			raft_report_unreachable(n->r, p + 1);
	n->unreachable = 0;
}

void sim_node_disk_done(struct sim *s, struct sim_node *n, uint64_t gen)
{
	if (!n->up || gen != n->incarnation || !n->in_ready)
		return;
	sim_trace(s, "n%" PRIu64 " disk write done", n->id);
	ready_finish(s, n);
	sim_node_pump(s, n);
}

void sim_node_pump(struct sim *s, struct sim_node *n)
{
	while (n->up && !n->in_ready && !s->violated) {
		if (n->n_inbox) {
			/* inputs that arrived while the disk was busy, in arrival order */
			size_t cnt = n->n_inbox;
			struct sim_inbox_item *items = n->inbox;
			n->inbox = NULL;
			n->n_inbox = n->cap_inbox = 0;
			for (size_t i = 0; i < cnt; i++) {
				if (s->violated || !n->up) {
					sim_msg_free(items[i].msg);
					continue;
				}
				if (items[i].msg)
					node_step_msg(s, n, items[i].msg);
				else
					raft_tick(n->r);
			}
			free(items);
			continue;
		}
		if (!raft_has_ready(n->r))
			return;
		raft_ready(n->r, &n->rd);
		n->in_ready = true;
		raft_status(n->r, &n->st);
		s->stats.readies++;
		trace_ready(s, n);
		sim_check_ready(s, n);
		for (size_t i = 0; i < n->rd.n_msgs && !s->violated; i++)
			net_send(s, n, &n->rd.msgs[i], false);
		if (s->violated)
			return;
		bool writes = n->rd.has_snapshot || n->rd.n_entries || n->rd.hard_state_changed;
		uint64_t d = 0;
		if (writes && s->phase == SIM_SAFETY && sim_rng_ppm(&s->rng, s->sc.disk_slow_ppm))
			d = sim_rng_range(&s->rng, 1, s->sc.disk_delay_max);
		if (d == 0) {
			ready_finish(s, n);
		} else {
			sim_trace(s, "n%" PRIu64 " disk busy until +%" PRIu64, n->id, d);
			sim_heap_push(s, (struct sim_event){.time = s->now + d,
			                                    .kind = SIM_EV_DISK,
			                                    .node = (uint8_t)(n->id - 1),
			                                    .gen = n->incarnation});
			return;
		}
	}
}

/* The host took a snapshot of its state machine at `idx` (<= applied). */
bool sim_node_compact(struct sim *s, struct sim_node *n, uint64_t idx)
{
	struct raft_snapshot_meta meta;
	int rc = raft_compact(n->r, idx, &meta);
	if (rc) {
		sim_trace(s, "n%" PRIu64 " compact(%" PRIu64 ") -> %s", n->id, idx,
		          raft_strerror(rc));
		return false;
	}
	uint64_t t = 0;
	if (meta.index != idx || !sim_log_term(&n->dlog, idx, &t) || t != meta.term ||
	    idx > n->sm.n) {
		sim_fail(s, "compact",
		         "n%" PRIu64 " raft_compact(%" PRIu64 ") returned meta %" PRIu64 "/%" PRIu64
		         " but the durable log has term %" PRIu64 " there (applied %zu)",
		         n->id, idx, meta.index, meta.term, t, n->sm.n);
		return false;
	}
	size_t pad = s->sc.snap_pad;
	free(n->dsnap);
	n->dsnap = snap_serialize(&n->sm, idx, meta.term, pad, &n->dsnap_len);
	n->dsnap_conf = meta.conf;
	log_compact(&n->dlog, idx, meta.term);
	if (n->dapplied < idx)
		n->dapplied = idx;
	s->stats.compactions++;
	sim_trace(s, "n%" PRIu64 " COMPACT at %" PRIu64 "/%" PRIu64 " (snapshot %zu bytes)", n->id,
	          idx, meta.term, n->dsnap_len);
	return true;
}

/* ---------------------------------------------------------------- setup */

void sim_cluster_init(struct sim *s)
{
	const struct sim_scenario *sc = &s->sc;
	s->n_nodes = sc->n_nodes;
	memset(&s->conf0, 0, sizeof s->conf0);
	for (uint32_t i = 0; i < sc->n_voters; i++)
		s->conf0.voters[s->conf0.n_voters++] = i + 1;
	for (uint32_t i = 0; i < sc->n_learners; i++)
		s->conf0.learners[s->conf0.n_learners++] = sc->n_voters + i + 1;
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct sim_node *n = &s->nodes[i];
		n->id = i + 1;
		n->initial_member = i < sc->n_voters + sc->n_learners;
		for (uint32_t j = 0; j < s->n_nodes; j++)
			s->link[i][j] = true;
	}
	for (uint32_t i = 0; i < s->n_nodes && !s->violated; i++)
		sim_node_start(s, &s->nodes[i]);
}

void sim_cluster_free(struct sim *s)
{
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct sim_node *n = &s->nodes[i];
		raft_free(n->r);
		n->r = NULL;
		inbox_clear(n);
		free(n->inbox);
		log_free(&n->dlog);
		free(n->dsnap);
		free(n->sm.v);
		for (unsigned k = 0; k < SIM_STAGING_FILES; k++)
			free(n->staging[k].buf);
		memset(n, 0, sizeof *n);
	}
	struct sim_event ev;
	while (sim_heap_pop(s, &ev))
		sim_msg_free(ev.msg);
	free(s->heap.v);
	memset(&s->heap, 0, sizeof s->heap);
}

void sim_status_all(struct sim *s)
{
	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i].up)
			raft_status(s->nodes[i].r, &s->nodes[i].st);
}
