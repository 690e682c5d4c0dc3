/* Unit tests of the peer wire codec (src/net/codec.c) and crc32c.
 * Random messages come from a seeded generator: the seed is printed at start
 * and can be replayed with QFS_TEST_SEED=<n>. */
#include "net/net.h"

#include "quorumfs/error.h"
#include "util/crc32c.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

static void rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Makes buf[0..len) internally consistent again after a test edited it:
 * body_len = what follows the header, crc recomputed.  What remains is a
 * message only the per-field checks can refuse. */
static void refix(uint8_t *buf, size_t len)
{
	put32(buf + 32, (uint32_t)(len - NET_HDR_SIZE));
	put32(buf + NET_HDR_CRC_OFF, 0);
	put32(buf + NET_HDR_CRC_OFF, crc32c(0, buf, len));
}

static struct net_decoded *dec; /* 33 KiB: not on the stack */

/* Decodes a private, exactly-sized copy so ASan sees any over-read. */
static int decode_copy(const uint8_t *buf, size_t len, struct net_decoded *out)
{
	uint8_t *c = malloc(len ? len : 1);
	assert_non_null(c);
	if (len)
		memcpy(c, buf, len);
	int rc = net_decode(c, len, out);
	free(c);
	return rc;
}

static uint8_t *encode(const struct net_msg *m, size_t *len)
{
	size_t size;
	assert_int_equal(net_encoded_size(m, &size), 0);
	uint8_t *buf = malloc(size);
	assert_non_null(buf);
	size_t got = 0;
	assert_int_equal(net_encode(m, buf, size, &got), 0);
	assert_int_equal(got, size);
	*len = size;
	return buf;
}

static void rnd_conf(struct raft_conf *c)
{
	memset(c, 0, sizeof *c);
	uint32_t total = 1 + rnd_below(RAFT_MAX_NODES);
	c->n_voters = 1 + rnd_below(total);
	c->n_learners = total - c->n_voters;
	for (uint32_t i = 0; i < total; i++) {
		uint64_t id = ((uint64_t)(i + 1) << 32) | (rnd() & 0xffffffffu);
		if (i < c->n_voters)
			c->voters[i] = id;
		else
			c->learners[i - c->n_voters] = id;
	}
}

/* Storage for one random message's borrowed bytes. */
struct sample {
	struct net_msg m;
	struct raft_entry entries[16];
	uint8_t data[16][300];
	uint8_t snap[4096];
	uint8_t blob[RAFT_MAX_CC_CONTEXT];
	char name[NET_MAX_NAME + 1];
	char url[NET_MAX_URL + 1];
	struct net_member_rec members[NET_MAX_MEMBERS];
	char mname[NET_MAX_MEMBERS][NET_MAX_NAME + 1];
	char maddr[NET_MAX_MEMBERS][NET_MAX_URL + 1];
	char mver[NET_MAX_MEMBERS][NET_MAX_VERSION + 1];
};

static void rnd_raft(struct sample *s, uint8_t type)
{
	struct raft_msg *r = &s->m.u.raft;
	memset(&s->m, 0, sizeof s->m);
	s->m.kind = NET_RAFT;
	s->m.cluster_id = rnd();
	s->m.from = rnd() | 1;
	s->m.to = rnd() | 1;
	r->type = type;
	r->from = s->m.from;
	r->to = s->m.to;
	r->reject = (uint8_t)rnd_below(2);
	r->transfer = (uint8_t)rnd_below(2);
	r->term = rnd();
	r->log_term = rnd();
	r->index = rnd();
	r->commit = rnd();
	r->reject_hint = rnd();
	r->reject_hint_term = rnd();
	r->context = rnd();
	r->seq = rnd();
	r->snap_index = rnd();
	r->snap_term = rnd();
	r->snap_offset = rnd();
	if (type == RAFT_MSG_APP) {
		r->n_entries = rnd_below(17);
		for (uint32_t i = 0; i < r->n_entries; i++) {
			struct raft_entry *e = &s->entries[i];
			e->term = rnd();
			e->index = rnd();
			e->type = (uint8_t)rnd_below(RAFT_ENTRY_TYPE_MAX_);
			e->len = rnd_below(4) == 0 ? 0 : rnd_below(301);
			rnd_fill(s->data[i], e->len);
			e->data = e->len ? s->data[i] : NULL;
		}
		r->entries = r->n_entries ? s->entries : NULL;
	}
	if (type == RAFT_MSG_SNAP) {
		rnd_conf(&r->snap_conf);
		r->snap_last = (uint8_t)rnd_below(2);
		r->snap_len = rnd_below(5) == 0 ? 0 : rnd_below(sizeof s->snap + 1);
		rnd_fill(s->snap, r->snap_len);
		r->snap_data = r->snap_len ? s->snap : NULL;
	} else if (rnd_below(3) == 0) {
		rnd_conf(&r->snap_conf); /* carried (and checked) on any type */
	}
}

static void rnd_string(char *dst, size_t max)
{
	size_t n = 1 + rnd_below((uint32_t)max);
	for (size_t i = 0; i < n; i++)
		dst[i] = (char)(1 + rnd_below(255));
	dst[n] = 0;
}

/* 0..max bytes (liveness addresses and versions may be empty). */
static void rnd_string0(char *dst, size_t max)
{
	if (rnd_below(4) == 0)
		dst[0] = 0;
	else
		rnd_string(dst, max);
}

/* A liveness table of `count` random records (strings of any legal size). */
static void rnd_liveness(struct sample *s, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		struct net_member_rec *r = &s->members[i];
		r->id = rnd() | 1;
		r->term = rnd();
		r->applied = rnd();
		r->load_milli = (uint32_t)rnd();
		r->uptime_s = (uint32_t)rnd();
		r->last_seen_ms = (uint32_t)rnd();
		r->role = (uint8_t)(NET_ROLE_LEADER + rnd_below(NET_ROLE_MAX_ - NET_ROLE_LEADER));
		rnd_string(s->mname[i], NET_MAX_NAME);
		rnd_string0(s->maddr[i], NET_MAX_URL);
		rnd_string0(s->mver[i], NET_MAX_VERSION);
		r->name = s->mname[i];
		r->address = s->maddr[i];
		r->version = s->mver[i];
	}
	s->m.u.live.count = count;
	s->m.u.live.members = count ? s->members : NULL;
}

static void rnd_other(struct sample *s, uint8_t kind)
{
	memset(&s->m, 0, sizeof s->m);
	s->m.kind = kind;
	s->m.cluster_id = rnd();
	s->m.from = rnd() | 1;
	s->m.to = rnd() | 1;
	switch (kind) {
	case NET_FORWARD:
		s->m.u.forward.req_id = rnd();
		s->m.u.forward.len = rnd_below(4) == 0 ? 0 : rnd_below(sizeof s->blob + 1);
		rnd_fill(s->blob, s->m.u.forward.len);
		s->m.u.forward.data = s->m.u.forward.len ? s->blob : NULL;
		break;
	case NET_FORWARD_NACK:
		s->m.u.nack.req_id = rnd();
		s->m.u.nack.rc = -(int32_t)(1 + rnd_below(INT32_MAX));
		break;
	case NET_CONF_FORWARD:
		s->m.u.conf.req_id = rnd();
		s->m.u.conf.type = (uint8_t)(1 + rnd_below(RAFT_CC_TYPE_MAX_ - 1));
		s->m.u.conf.node = rnd() | 1;
		s->m.u.conf.ctx_len = rnd_below(4) == 0 ? 0 : rnd_below(RAFT_MAX_CC_CONTEXT + 1);
		rnd_fill(s->blob, s->m.u.conf.ctx_len);
		s->m.u.conf.ctx = s->m.u.conf.ctx_len ? s->blob : NULL;
		break;
	case NET_JOIN:
		if (rnd_below(2))
			s->m.to = 0;
		rnd_string(s->name, NET_MAX_NAME);
		rnd_string(s->url, NET_MAX_URL);
		s->m.u.join.name = s->name;
		s->m.u.join.url = s->url;
		break;
	case NET_LIVENESS:
		/* Mostly small tables: the truncation test decodes every prefix. */
		rnd_liveness(s, rnd_below(8) == 0 ? 0 : 1 + rnd_below(4));
		break;
	}
}

static void rnd_any(struct sample *s)
{
	uint8_t kind = (uint8_t)(1 + rnd_below(NET_KIND_MAX_ - 1));
	if (kind == NET_RAFT)
		rnd_raft(s, (uint8_t)(1 + rnd_below(RAFT_MSG_TYPE_MAX_ - 1)));
	else
		rnd_other(s, kind);
}

static bool within(const void *p, const uint8_t *buf, size_t len)
{
	const uint8_t *b = p;
	return b >= buf && b <= buf + len;
}

static void assert_bytes(const void *a, const void *b, size_t len)
{
	if (len)
		assert_memory_equal(a, b, len);
}

static void assert_conf_equal(const struct raft_conf *a, const struct raft_conf *b)
{
	/* The decoder normalizes (sorts); compare as sets. */
	assert_int_equal(a->n_voters, b->n_voters);
	assert_int_equal(a->n_learners, b->n_learners);
	for (uint32_t i = 0; i < a->n_voters; i++)
		assert_true(raft_conf_is_voter(b, a->voters[i]));
	for (uint32_t i = 0; i < a->n_learners; i++)
		assert_true(raft_conf_is_learner(b, a->learners[i]));
}

/* Everything in `want` equals what was decoded from buf; borrowed pointers
 * point into buf. */
static void assert_same(const struct net_msg *want, const struct net_decoded *d, const uint8_t *buf,
                        size_t len)
{
	const struct net_msg *got = &d->msg;
	assert_int_equal(got->kind, want->kind);
	assert_int_equal(got->cluster_id, want->cluster_id);
	assert_int_equal(got->from, want->from);
	assert_int_equal(got->to, want->to);
	switch (want->kind) {
	case NET_RAFT: {
		const struct raft_msg *a = &want->u.raft, *b = &got->u.raft;
		assert_int_equal(a->type, b->type);
		assert_int_equal(a->reject, b->reject);
		assert_int_equal(a->transfer, b->transfer);
		assert_int_equal(a->snap_last, b->snap_last);
		assert_int_equal(a->n_entries, b->n_entries);
		assert_int_equal(a->from, b->from);
		assert_int_equal(a->to, b->to);
		assert_int_equal(a->term, b->term);
		assert_int_equal(a->log_term, b->log_term);
		assert_int_equal(a->index, b->index);
		assert_int_equal(a->commit, b->commit);
		assert_int_equal(a->reject_hint, b->reject_hint);
		assert_int_equal(a->reject_hint_term, b->reject_hint_term);
		assert_int_equal(a->context, b->context);
		assert_int_equal(a->seq, b->seq);
		for (uint32_t i = 0; i < a->n_entries; i++) {
			const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
			assert_int_equal(x->term, y->term);
			assert_int_equal(x->index, y->index);
			assert_int_equal(x->type, y->type);
			assert_int_equal(x->len, y->len);
			assert_true(y->len ? within(y->data, buf, len) : y->data == NULL);
			assert_bytes(x->data, y->data, x->len);
		}
		assert_true(a->n_entries ? b->entries == d->entries : b->entries == NULL);
		assert_int_equal(a->snap_index, b->snap_index);
		assert_int_equal(a->snap_term, b->snap_term);
		assert_int_equal(a->snap_offset, b->snap_offset);
		assert_conf_equal(&a->snap_conf, &b->snap_conf);
		assert_int_equal(a->snap_len, b->snap_len);
		assert_true(b->snap_len ? within(b->snap_data, buf, len) : b->snap_data == NULL);
		assert_bytes(a->snap_data, b->snap_data, a->snap_len);
		break;
	}
	case NET_FORWARD:
		assert_int_equal(want->u.forward.req_id, got->u.forward.req_id);
		assert_int_equal(want->u.forward.len, got->u.forward.len);
		assert_bytes(want->u.forward.data, got->u.forward.data, want->u.forward.len);
		break;
	case NET_FORWARD_NACK:
		assert_int_equal(want->u.nack.req_id, got->u.nack.req_id);
		assert_int_equal(want->u.nack.rc, got->u.nack.rc);
		break;
	case NET_CONF_FORWARD:
		assert_int_equal(want->u.conf.req_id, got->u.conf.req_id);
		assert_int_equal(want->u.conf.type, got->u.conf.type);
		assert_int_equal(want->u.conf.node, got->u.conf.node);
		assert_int_equal(want->u.conf.ctx_len, got->u.conf.ctx_len);
		assert_bytes(want->u.conf.ctx, got->u.conf.ctx, want->u.conf.ctx_len);
		break;
	case NET_JOIN:
		assert_string_equal(want->u.join.name, got->u.join.name);
		assert_string_equal(want->u.join.url, got->u.join.url);
		break;
	case NET_LIVENESS:
		assert_int_equal(want->u.live.count, got->u.live.count);
		assert_true(got->u.live.count ? got->u.live.members == d->members
		                              : got->u.live.members == NULL);
		for (uint32_t i = 0; i < want->u.live.count; i++) {
			const struct net_member_rec *x = &want->u.live.members[i];
			const struct net_member_rec *y = &got->u.live.members[i];
			assert_int_equal(x->id, y->id);
			assert_int_equal(x->term, y->term);
			assert_int_equal(x->applied, y->applied);
			assert_int_equal(x->load_milli, y->load_milli);
			assert_int_equal(x->uptime_s, y->uptime_s);
			assert_int_equal(x->last_seen_ms, y->last_seen_ms);
			assert_int_equal(x->role, y->role);
			assert_string_equal(x->name, y->name);
			assert_string_equal(x->address, y->address);
			assert_string_equal(x->version, y->version);
		}
		break;
	}
}

static void expect_reject(const uint8_t *buf, size_t len, enum net_drop why)
{
	assert_int_equal(decode_copy(buf, len, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, why);
}

/* Encodes, decodes and compares. */
static void roundtrip(const struct net_msg *m)
{
	size_t len;
	uint8_t *buf = encode(m, &len);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_int_equal(dec->why, NET_DROP_NONE);
	assert_same(m, dec, buf, len);
	free(buf);
}

/* ---------------------------------------------------------------- crc32c */

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(crc32c(0, NULL, 0), 0);
	static uint8_t buf[4096 + 16];
	rnd_fill(buf, sizeof buf);
	for (int i = 0; i < 500; i++) {
		size_t off = rnd_below(16), len = rnd_below(4097);
		uint32_t seed = (uint32_t)rnd();
		assert_int_equal(crc32c(seed, buf + off, len), crc32c_sw(seed, buf + off, len));
		size_t cut = len ? rnd_below((uint32_t)len) : 0;
		assert_int_equal(crc32c(crc32c(0, buf + off, cut), buf + off + cut, len - cut),
		                 crc32c(0, buf + off, len));
	}
}

/* ---------------------------------------------------------------- round trips */

static void test_roundtrip_raft_every_type(void **state)
{
	(void)state;
	static struct sample s;
	for (uint8_t type = RAFT_MSG_APP; type < RAFT_MSG_TYPE_MAX_; type++)
		for (int i = 0; i < 200; i++) {
			rnd_raft(&s, type);
			roundtrip(&s.m);
		}
}

static void test_roundtrip_other_kinds(void **state)
{
	(void)state;
	static struct sample s;
	for (uint8_t kind = NET_FORWARD; kind < NET_KIND_MAX_; kind++)
		for (int i = 0; i < 300; i++) {
			rnd_other(&s, kind);
			roundtrip(&s.m);
		}
	/* Edge values. */
	rnd_other(&s, NET_FORWARD_NACK);
	s.m.u.nack.rc = INT32_MIN;
	roundtrip(&s.m);
	s.m.u.nack.rc = -1;
	roundtrip(&s.m);
	rnd_other(&s, NET_JOIN);
	strcpy(s.name, "n");
	strcpy(s.url, "tcp://10.0.0.1:7400");
	s.m.to = 0;
	s.m.cluster_id = 0;
	roundtrip(&s.m);
	assert_string_equal(dec->msg.u.join.url, "tcp://10.0.0.1:7400");
	/* An empty table; a record with empty address and version; extremes. */
	rnd_other(&s, NET_LIVENESS);
	rnd_liveness(&s, 0);
	roundtrip(&s.m);
	assert_null(dec->msg.u.live.members);
	rnd_liveness(&s, 1);
	s.maddr[0][0] = 0;
	s.mver[0][0] = 0;
	s.members[0].load_milli = UINT32_MAX;
	s.members[0].last_seen_ms = 0;
	s.members[0].role = NET_ROLE_LEARNER;
	roundtrip(&s.m);
	assert_string_equal(dec->msg.u.live.members[0].address, "");
}

/* ---------------------------------------------------------------- truncation */

static void test_every_truncation_rejected(void **state)
{
	(void)state;
	static struct sample s;
	for (int k = 0; k < 60; k++) {
		if (k < RAFT_MSG_TYPE_MAX_ - 1)
			rnd_raft(&s, (uint8_t)(1 + k)); /* every type at least once */
		else
			rnd_any(&s);
		if (s.m.kind == NET_RAFT && s.m.u.raft.type == RAFT_MSG_APP &&
		    s.m.u.raft.n_entries == 0) {
			s.m.u.raft.n_entries = 1; /* make sure an entry gets cut */
			s.m.u.raft.entries = s.entries;
			s.entries[0].len = 7;
			s.entries[0].data = s.data[0];
		}
		size_t len;
		uint8_t *buf = encode(&s.m, &len);
		uint8_t *cut = malloc(len);
		assert_non_null(cut);
		for (size_t l = 0; l < len; l++) {
			/* As received: the header's body_len gives it away. */
			assert_int_equal(decode_copy(buf, l, dec), QFS_ECORRUPT);
			assert_true(dec->why == NET_DROP_GARBAGE);
			/* Header made consistent: only the body checks remain. */
			if (l >= NET_HDR_SIZE) {
				memcpy(cut, buf, l);
				refix(cut, l);
				expect_reject(cut, l, NET_DROP_GARBAGE);
			}
		}
		free(cut);
		free(buf);
	}
}

/* ---------------------------------------------------------------- corruption */

static void test_flipped_bytes_rejected(void **state)
{
	(void)state;
	static struct sample s;
	for (int k = 0; k < 40; k++) {
		rnd_any(&s);
		size_t len;
		uint8_t *buf = encode(&s.m, &len);
		for (size_t i = 0; i < len; i++) {
			uint8_t x = (uint8_t)(1 + rnd_below(255));
			buf[i] ^= x;
			assert_int_equal(decode_copy(buf, len, dec), QFS_ECORRUPT);
			if (i >= 8 && i != 32 && i != 33 && i != 34 && i != 35)
				assert_int_equal(dec->why, NET_DROP_CRC);
			buf[i] ^= x;
		}
		/* Every single-bit flip too, on a short message. */
		if (len < 200)
			for (size_t bit = 0; bit < len * 8; bit++) {
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				assert_int_equal(decode_copy(buf, len, dec), QFS_ECORRUPT);
				buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
		assert_int_equal(decode_copy(buf, len, dec), 0);
		free(buf);
	}
}

static void test_header_checks(void **state)
{
	(void)state;
	static struct sample s;
	rnd_other(&s, NET_FORWARD_NACK);
	size_t len;
	uint8_t *buf = encode(&s.m, &len);
	uint8_t *b = malloc(len + 1);
	assert_non_null(b);

	expect_reject(buf, 0, NET_DROP_GARBAGE);
	assert_int_equal(net_decode(NULL, 0, dec), QFS_ECORRUPT);

	memcpy(b, buf, len);
	b[0] = 'X'; /* magic */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);

	memcpy(b, buf, len);
	b[4] = 2; /* version */
	refix(b, len);
	expect_reject(b, len, NET_DROP_VERSION);

	for (int kind = 0; kind < 256; kind++) {
		if (kind >= NET_RAFT && kind < NET_KIND_MAX_)
			continue;
		memcpy(b, buf, len);
		b[5] = (uint8_t)kind;
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}

	memcpy(b, buf, len);
	b[6] = 1; /* flags: AUTH without its trailer (body_len no longer fits) */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);

	memcpy(b, buf, len);
	memset(b + 16, 0, 8); /* from 0 */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);

	memcpy(b, buf, len);
	memset(b + 24, 0, 8); /* to 0, not a JOIN */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);

	/* body_len lies, crc right. */
	memcpy(b, buf, len);
	put32(b + 32, get32(b + 32) + 1);
	put32(b + NET_HDR_CRC_OFF, 0);
	put32(b + NET_HDR_CRC_OFF, crc32c(0, b, len));
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	put32(b + 32, get32(b + 32) - 1);
	put32(b + NET_HDR_CRC_OFF, 0);
	put32(b + NET_HDR_CRC_OFF, crc32c(0, b, len));
	expect_reject(b, len, NET_DROP_GARBAGE);

	/* Trailing byte, everything else consistent. */
	memcpy(b, buf, len);
	b[len] = 0;
	refix(b, len + 1);
	expect_reject(b, len + 1, NET_DROP_GARBAGE);

	/* A wrong cluster id or destination is NOT the decoder's business. */
	memcpy(b, buf, len);
	b[8] ^= 0xff;
	b[24] ^= 0xfe;
	refix(b, len);
	assert_int_equal(decode_copy(b, len, dec), 0);

	free(b);
	free(buf);
}

/* ---------------------------------------------------------------- lying lengths */

/* Offsets inside a NET_RAFT body (docs/wire-format.md). */
#define RB (NET_HDR_SIZE)
#define R_TYPE (RB + 0)
#define R_REJECT (RB + 1)
#define R_SNAPLAST (RB + 3)
#define R_NENT (RB + 4)
#define R_ENT0 (RB + NET_RAFT_FIXED)

static void test_lying_lengths_rejected(void **state)
{
	(void)state;
	static struct sample s;
	rnd_raft(&s, RAFT_MSG_APP);
	s.m.u.raft.n_entries = 3;
	s.m.u.raft.entries = s.entries;
	for (int i = 0; i < 3; i++) {
		s.entries[i].len = 10;
		s.entries[i].data = s.data[i];
		s.entries[i].type = RAFT_ENTRY_NORMAL;
	}
	s.m.u.raft.snap_conf.n_voters = 0;
	s.m.u.raft.snap_conf.n_learners = 0;
	size_t len;
	uint8_t *buf = encode(&s.m, &len);
	uint8_t *b = malloc(len);
	assert_non_null(b);
	assert_int_equal(decode_copy(buf, len, dec), 0);

	uint32_t lies[] = {4,           5, 1000, RAFT_MAX_MSG_ENTRIES, RAFT_MAX_MSG_ENTRIES + 1,
	                   0xffffffffu, 2};
	for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
		memcpy(b, buf, len);
		put32(b + R_NENT, lies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	/* Entry lengths past the end, or eating the snapshot fields. */
	uint32_t elies[] = {11, 200, 0x7fffffffu, 0xffffffffu, RAFT_MAX_ENTRY_BYTES + 1u, 9};
	for (size_t i = 0; i < sizeof elies / sizeof elies[0]; i++) {
		memcpy(b, buf, len);
		put32(b + R_ENT0 + 17, elies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	/* Entry type out of range. */
	memcpy(b, buf, len);
	b[R_ENT0 + 16] = RAFT_ENTRY_TYPE_MAX_;
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);

	/* Snapshot lengths: the tail is index, term, offset, conf_len, snap_len. */
	size_t tail = len - NET_SNAP_FIXED;
	memcpy(b, buf, len);
	b[tail + 24] = 1; /* conf_len 1: past the end */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	uint32_t slies[] = {1, 1000, RAFT_SNAP_CHUNK + 1u, 0xffffffffu};
	for (size_t i = 0; i < sizeof slies / sizeof slies[0]; i++) {
		memcpy(b, buf, len);
		put32(b + tail + 26, slies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	/* Field values out of range. */
	int bad_types[] = {0, RAFT_MSG_TYPE_MAX_, 255};
	for (size_t i = 0; i < 3; i++) {
		memcpy(b, buf, len);
		b[R_TYPE] = (uint8_t)bad_types[i];
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	memcpy(b, buf, len);
	b[R_REJECT] = 2;
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	b[R_TYPE] = RAFT_MSG_HEARTBEAT; /* entries on a non-APP */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	b[R_SNAPLAST] = 1; /* snap_last on a non-SNAP */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	free(b);
	free(buf);

	/* A SNAP: broken configuration bytes, missing configuration. */
	rnd_raft(&s, RAFT_MSG_SNAP);
	s.m.u.raft.snap_conf.n_voters = 2;
	s.m.u.raft.snap_conf.n_learners = 0;
	s.m.u.raft.snap_conf.voters[0] = 5;
	s.m.u.raft.snap_conf.voters[1] = 6;
	s.m.u.raft.snap_len = 100;
	s.m.u.raft.snap_data = s.snap;
	buf = encode(&s.m, &len);
	b = malloc(len);
	assert_non_null(b);
	size_t conf_at = R_ENT0 + 26; /* no entries: conf right after the fixed snap part */
	assert_int_equal(buf[conf_at - 2], 20); /* conf_len */
	memcpy(b, buf, len);
	b[conf_at + 12] = 5; /* second voter id = first: duplicate */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	b[conf_at] = 9; /* conf version */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	b[conf_at + 1] = 3; /* n_voters 3: more ids than bytes */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	put32(b + conf_at + 20, 101); /* snap_len past the end */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	put32(b + conf_at + 20, 99); /* snap_len short: trailing byte */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	free(b);
	free(buf);

	/* Other kinds' lengths. */
	rnd_other(&s, NET_FORWARD);
	s.m.u.forward.len = 10;
	s.m.u.forward.data = s.blob;
	buf = encode(&s.m, &len);
	b = malloc(len);
	assert_non_null(b);
	uint32_t flies[] = {11, 9, NET_MAX_PROPOSAL + 1u, 0xffffffffu};
	for (size_t i = 0; i < 4; i++) {
		memcpy(b, buf, len);
		put32(b + RB + 8, flies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	free(b);
	free(buf);

	rnd_other(&s, NET_CONF_FORWARD);
	s.m.u.conf.ctx_len = 3;
	s.m.u.conf.ctx = s.blob;
	buf = encode(&s.m, &len);
	b = malloc(len);
	assert_non_null(b);
	uint32_t clies[] = {4, 2, RAFT_MAX_CC_CONTEXT + 1u, 0xffffffffu};
	for (size_t i = 0; i < 4; i++) {
		memcpy(b, buf, len);
		put32(b + RB + 17, clies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	memcpy(b, buf, len);
	b[RB + 8] = 0; /* cc type 0 */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	b[RB + 8] = RAFT_CC_TYPE_MAX_;
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	memset(b + RB + 9, 0, 8); /* node 0 */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	free(b);
	free(buf);

	rnd_other(&s, NET_FORWARD_NACK);
	buf = encode(&s.m, &len);
	b = malloc(len);
	assert_non_null(b);
	memcpy(b, buf, len);
	put32(b + RB + 8, 0); /* rc 0 is not a refusal */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	memcpy(b, buf, len);
	put32(b + RB + 8, 5);
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	free(b);
	free(buf);

	rnd_other(&s, NET_JOIN);
	strcpy(s.name, "node-a");
	strcpy(s.url, "ipc:///x");
	buf = encode(&s.m, &len);
	b = malloc(len);
	assert_non_null(b);
	memcpy(b, buf, len);
	b[RB + 2 + 2] = 0; /* NUL inside the name */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	uint16_t jl[] = {0, 7, 5, 0xffff, NET_MAX_NAME + 1};
	for (size_t i = 0; i < 5; i++) {
		memcpy(b, buf, len);
		b[RB] = (uint8_t)jl[i];
		b[RB + 1] = (uint8_t)(jl[i] >> 8);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	memcpy(b, buf, len);
	b[RB + 8] = 9; /* url_len past the end */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	free(b);
	free(buf);
}

/* ---------------------------------------------------------------- liveness */

/* Offsets inside a NET_LIVENESS body: count u16, then records of id, term,
 * applied u64, load_milli, uptime_s, last_seen_ms u32, role u8, then name,
 * address and version, each a u16 length and its bytes. */
#define L_COUNT (RB)
#define L_REC0 (RB + NET_LIVENESS_FIXED)
#define L_ROLE 36u
#define L_NAME_LEN 37u

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* A fixed two-record table: record 0 is n1 / tcp://a:1 / 0.1.0 (59 bytes),
 * record 1 is n2 with empty address and version (45 bytes). */
static void fixed_liveness(struct sample *s)
{
	memset(&s->m, 0, sizeof s->m);
	s->m.kind = NET_LIVENESS;
	s->m.cluster_id = 7;
	s->m.from = 1;
	s->m.to = 2;
	rnd_liveness(s, 2);
	strcpy(s->mname[0], "n1");
	strcpy(s->maddr[0], "tcp://a:1");
	strcpy(s->mver[0], "0.1.0");
	strcpy(s->mname[1], "n2");
	s->maddr[1][0] = 0;
	s->mver[1][0] = 0;
}

static void test_liveness_rejects(void **state)
{
	(void)state;
	static struct sample s;
	fixed_liveness(&s);
	size_t len;
	uint8_t *buf = encode(&s.m, &len);
	assert_int_equal(len, NET_HDR_SIZE + NET_LIVENESS_FIXED + 59 + 45);
	const size_t rec1 = L_REC0 + 59;
	uint8_t *b = malloc(len + 64);
	assert_non_null(b);
	assert_int_equal(decode_copy(buf, len, dec), 0);

	/* Counts the bytes do not back, or that leave bytes over. */
	uint16_t counts[] = {0, 1, 3, NET_MAX_MEMBERS, NET_MAX_MEMBERS + 1, 0xffff};
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
		memcpy(b, buf, len);
		put16(b + L_COUNT, counts[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	/* String lengths that lie: past the end, over the cap, zero for a name. */
	uint16_t name_lies[] = {0, 1, 3, 200, NET_MAX_NAME + 1, 0xffff};
	for (size_t i = 0; i < sizeof name_lies / sizeof name_lies[0]; i++) {
		memcpy(b, buf, len);
		put16(b + L_REC0 + L_NAME_LEN, name_lies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	uint16_t addr_lies[] = {8, 10, NET_MAX_URL + 1, 0xffff};
	for (size_t i = 0; i < sizeof addr_lies / sizeof addr_lies[0]; i++) {
		memcpy(b, buf, len);
		put16(b + L_REC0 + 41, addr_lies[i]);
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	memcpy(b, buf, len);
	put16(b + len - 2, 1); /* the last version's length: past the end */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	/* NUL inside each string. */
	size_t nul_at[] = {L_REC0 + 39 + 1, L_REC0 + 43 + 4, L_REC0 + 54 + 2};
	for (size_t i = 0; i < 3; i++) {
		memcpy(b, buf, len);
		b[nul_at[i]] = 0;
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	/* Field values out of range. */
	uint8_t roles[] = {0, NET_ROLE_MAX_, 255};
	for (size_t i = 0; i < 3; i++) {
		memcpy(b, buf, len);
		b[rec1 + L_ROLE] = roles[i];
		refix(b, len);
		expect_reject(b, len, NET_DROP_GARBAGE);
	}
	memcpy(b, buf, len);
	memset(b + rec1, 0, 8); /* id 0 */
	refix(b, len);
	expect_reject(b, len, NET_DROP_GARBAGE);
	/* Trailing byte. */
	memcpy(b, buf, len);
	b[len] = 0;
	refix(b, len + 1);
	expect_reject(b, len + 1, NET_DROP_GARBAGE);

	/* A version one byte over its cap, the bytes present: refused for its
	 * size only (the same construction with the cap itself decodes). */
	for (size_t vl = NET_MAX_VERSION; vl <= NET_MAX_VERSION + 1; vl++) {
		memcpy(b, buf, len);
		put16(b + len - 2, (uint16_t)vl);
		memset(b + len, 'v', vl);
		refix(b, len + vl);
		if (vl == NET_MAX_VERSION) {
			assert_int_equal(decode_copy(b, len + vl, dec), 0);
			assert_int_equal(strlen(dec->msg.u.live.members[1].version), vl);
		} else {
			expect_reject(b, len + vl, NET_DROP_GARBAGE);
		}
	}
	free(b);
	free(buf);

	/* An oversized count whose records are all present: a full table of
	 * minimal records, plus one more. */
	memset(&s.m, 0, sizeof s.m);
	s.m.kind = NET_LIVENESS;
	s.m.from = 1;
	s.m.to = 2;
	rnd_liveness(&s, NET_MAX_MEMBERS);
	for (uint32_t i = 0; i < NET_MAX_MEMBERS; i++) {
		strcpy(s.mname[i], "x");
		s.maddr[i][0] = 0;
		s.mver[i][0] = 0;
	}
	buf = encode(&s.m, &len);
	const size_t one = NET_MEMBER_FIXED + 1;
	assert_int_equal(len, NET_HDR_SIZE + NET_LIVENESS_FIXED + NET_MAX_MEMBERS * one);
	assert_int_equal(decode_copy(buf, len, dec), 0);
	b = malloc(len + one);
	assert_non_null(b);
	memcpy(b, buf, len);
	memcpy(b + len, buf + len - one, one);
	b[len] ^= 0x10; /* another id */
	put16(b + L_COUNT, NET_MAX_MEMBERS + 1);
	refix(b, len + one);
	expect_reject(b, len + one, NET_DROP_GARBAGE);
	free(b);
	free(buf);
}

/* ---------------------------------------------------------------- encoder refusals */

static void expect_einval(const struct net_msg *m)
{
	size_t size;
	uint8_t buf[256];
	assert_int_equal(net_encoded_size(m, &size), QFS_EINVAL);
	assert_int_equal(net_encode(m, buf, sizeof buf, NULL), QFS_EINVAL);
}

static void test_encoder_refuses_what_decoder_would(void **state)
{
	(void)state;
	static struct sample s;
	struct raft_msg *r = &s.m.u.raft;

	rnd_raft(&s, RAFT_MSG_HEARTBEAT);
	r->type = 0;
	expect_einval(&s.m);
	r->type = RAFT_MSG_TYPE_MAX_;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_HEARTBEAT);
	r->reject = 2;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_HEARTBEAT);
	r->n_entries = 1; /* entries on a heartbeat */
	r->entries = s.entries;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_HEARTBEAT);
	r->to = s.m.to + 1; /* header and raft message disagree */
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_HEARTBEAT);
	s.m.from = r->from = 0;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_HEARTBEAT);
	s.m.to = r->to = 0;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_APP);
	r->n_entries = 1;
	r->entries = NULL;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_APP);
	r->n_entries = 1;
	r->entries = s.entries;
	s.entries[0].type = RAFT_ENTRY_TYPE_MAX_;
	expect_einval(&s.m);
	s.entries[0].type = 0;
	s.entries[0].len = 3;
	s.entries[0].data = NULL;
	expect_einval(&s.m);
	s.entries[0].len = RAFT_MAX_ENTRY_BYTES + 1;
	s.entries[0].data = s.data[0];
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_APP);
	r->n_entries = RAFT_MAX_MSG_ENTRIES + 1;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_SNAP);
	memset(&r->snap_conf, 0, sizeof r->snap_conf); /* SNAP without a conf */
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_SNAP);
	r->snap_conf.voters[0] = 0; /* invalid conf */
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_SNAP);
	r->snap_len = RAFT_SNAP_CHUNK + 1;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_SNAP);
	r->snap_len = 1;
	r->snap_data = NULL;
	expect_einval(&s.m);
	rnd_raft(&s, RAFT_MSG_SNAP_RESP);
	r->snap_len = 1; /* snapshot bytes on a non-SNAP */
	r->snap_data = s.snap;
	expect_einval(&s.m);

	rnd_other(&s, NET_FORWARD_NACK);
	s.m.u.nack.rc = 0;
	expect_einval(&s.m);
	rnd_other(&s, NET_FORWARD);
	s.m.u.forward.len = NET_MAX_PROPOSAL + 1;
	expect_einval(&s.m);
	rnd_other(&s, NET_CONF_FORWARD);
	s.m.u.conf.type = 0;
	expect_einval(&s.m);
	rnd_other(&s, NET_CONF_FORWARD);
	s.m.u.conf.node = 0;
	expect_einval(&s.m);
	rnd_other(&s, NET_CONF_FORWARD);
	s.m.u.conf.ctx_len = RAFT_MAX_CC_CONTEXT + 1;
	expect_einval(&s.m);
	rnd_other(&s, NET_JOIN);
	s.name[0] = 0;
	expect_einval(&s.m);
	rnd_other(&s, NET_JOIN);
	s.m.u.join.url = NULL;
	expect_einval(&s.m);
	rnd_other(&s, NET_LIVENESS);
	rnd_liveness(&s, NET_MAX_MEMBERS);
	s.m.u.live.count = NET_MAX_MEMBERS + 1;
	expect_einval(&s.m);
	s.m.u.live.count = 1;
	s.m.u.live.members = NULL;
	expect_einval(&s.m);
	rnd_liveness(&s, 2);
	s.members[1].id = 0;
	expect_einval(&s.m);
	rnd_liveness(&s, 2);
	s.members[1].role = 0;
	expect_einval(&s.m);
	s.members[1].role = NET_ROLE_MAX_;
	expect_einval(&s.m);
	rnd_liveness(&s, 2);
	s.mname[1][0] = 0; /* a record always names its node */
	expect_einval(&s.m);
	rnd_liveness(&s, 2);
	s.members[1].name = NULL;
	expect_einval(&s.m);
	rnd_liveness(&s, 2);
	s.members[1].address = NULL;
	expect_einval(&s.m);
	rnd_liveness(&s, 2);
	s.members[1].version = NULL;
	expect_einval(&s.m);
	/* Strings at their caps encode; one byte over does not. */
	rnd_liveness(&s, 2);
	memset(s.mname[1], 'n', NET_MAX_NAME);
	s.mname[1][NET_MAX_NAME] = 0;
	memset(s.mver[1], 'v', NET_MAX_VERSION);
	s.mver[1][NET_MAX_VERSION] = 0;
	size_t ok_size;
	assert_int_equal(net_encoded_size(&s.m, &ok_size), 0);
	static char long_str[NET_MAX_URL + 2];
	memset(long_str, 'u', NET_MAX_URL + 1);
	rnd_liveness(&s, 2);
	s.members[1].address = long_str; /* NET_MAX_URL + 1 bytes */
	expect_einval(&s.m);
	long_str[NET_MAX_NAME + 1] = 0;
	rnd_liveness(&s, 2);
	s.members[0].name = long_str; /* NET_MAX_NAME + 1 bytes */
	expect_einval(&s.m);
	long_str[NET_MAX_VERSION + 1] = 0;
	rnd_liveness(&s, 2);
	s.members[1].version = long_str; /* NET_MAX_VERSION + 1 bytes */
	expect_einval(&s.m);

	rnd_other(&s, NET_FORWARD);
	s.m.to = 0; /* only a JOIN may go to 0 */
	expect_einval(&s.m);
	rnd_other(&s, NET_FORWARD);
	s.m.kind = NET_KIND_MAX_;
	expect_einval(&s.m);
	s.m.kind = 0;
	expect_einval(&s.m);

	/* Short output buffer. */
	rnd_other(&s, NET_FORWARD_NACK);
	size_t size;
	assert_int_equal(net_encoded_size(&s.m, &size), 0);
	assert_int_equal(size, NET_HDR_SIZE + NET_NACK_SIZE);
	uint8_t buf[NET_HDR_SIZE + NET_NACK_SIZE];
	assert_int_equal(net_encode(&s.m, buf, size - 1, NULL), QFS_EINVAL);
	assert_int_equal(net_encode(&s.m, buf, size, NULL), 0);
}

/* ---------------------------------------------------------------- limits */

static void test_max_sizes(void **state)
{
	(void)state;
	/* An APP at both hard caps: RAFT_MAX_MSG_ENTRIES entries holding
	 * RAFT_MAX_MSG_BYTES in total. */
	static struct raft_entry ents[RAFT_MAX_MSG_ENTRIES];
	const uint32_t per = RAFT_MAX_MSG_BYTES / RAFT_MAX_MSG_ENTRIES;
	uint8_t *data = malloc(RAFT_MAX_MSG_BYTES + 1);
	assert_non_null(data);
	rnd_fill(data, RAFT_MAX_MSG_BYTES + 1);
	for (uint32_t i = 0; i < RAFT_MAX_MSG_ENTRIES; i++)
		ents[i] = (struct raft_entry){.term = 3,
		                              .index = 100 + i,
		                              .type = RAFT_ENTRY_NORMAL,
		                              .len = per,
		                              .data = data + (size_t)i * per};
	struct net_msg m;
	memset(&m, 0, sizeof m);
	m.kind = NET_RAFT;
	m.from = m.u.raft.from = 1;
	m.to = m.u.raft.to = 2;
	m.u.raft.type = RAFT_MSG_APP;
	m.u.raft.n_entries = RAFT_MAX_MSG_ENTRIES;
	m.u.raft.entries = ents;
	size_t len;
	uint8_t *buf = encode(&m, &len);
	assert_true(len <= NET_MAX_MSG);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_same(&m, dec, buf, len);
	/* The decoder refuses it too: entry 0 grown by one byte, bytes present,
	 * header consistent, still under NET_MAX_MSG. */
	{
		size_t at = NET_HDR_SIZE + NET_RAFT_FIXED + NET_ENTRY_HDR + per;
		uint8_t *big = malloc(len + 1);
		assert_non_null(big);
		memcpy(big, buf, at);
		big[at] = 1;
		memcpy(big + at + 1, buf + at, len - at);
		put32(big + NET_HDR_SIZE + NET_RAFT_FIXED + 17, per + 1);
		refix(big, len + 1);
		assert_true(len + 1 <= NET_MAX_MSG);
		expect_reject(big, len + 1, NET_DROP_GARBAGE);
		free(big);
	}
	free(buf);
	ents[0].len = per + 1; /* one byte over RAFT_MAX_MSG_BYTES */
	expect_einval(&m);

	/* One entry of RAFT_MAX_ENTRY_BYTES. */
	m.u.raft.n_entries = 1;
	ents[0].len = RAFT_MAX_ENTRY_BYTES;
	ents[0].data = data;
	buf = encode(&m, &len);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_same(&m, dec, buf, len);
	free(buf);

	/* The same, one byte longer than RAFT_MAX_ENTRY_BYTES, with the bytes
	 * actually present and the header consistent: refused for its size. */
	buf = encode(&m, &len);
	uint8_t *big = malloc(len + 1);
	assert_non_null(big);
	memcpy(big, buf, len - NET_SNAP_FIXED);
	big[len - NET_SNAP_FIXED] = 0xab;
	memcpy(big + len - NET_SNAP_FIXED + 1, buf + len - NET_SNAP_FIXED, NET_SNAP_FIXED);
	put32(big + NET_HDR_SIZE + NET_RAFT_FIXED + 17, RAFT_MAX_ENTRY_BYTES + 1);
	refix(big, len + 1);
	expect_reject(big, len + 1, NET_DROP_GARBAGE);
	put32(big + NET_HDR_SIZE + NET_RAFT_FIXED + 17, RAFT_MAX_ENTRY_BYTES);
	refix(big, len + 1);
	expect_reject(big, len + 1, NET_DROP_GARBAGE); /* now a trailing byte */
	free(big);
	free(buf);

	/* A full snapshot chunk with the largest configuration. */
	memset(&m.u.raft, 0, sizeof m.u.raft);
	m.u.raft.from = 1;
	m.u.raft.to = 2;
	m.u.raft.type = RAFT_MSG_SNAP;
	m.u.raft.snap_conf.n_voters = RAFT_MAX_NODES / 2;
	m.u.raft.snap_conf.n_learners = RAFT_MAX_NODES / 2;
	for (uint32_t i = 0; i < RAFT_MAX_NODES / 2; i++) {
		m.u.raft.snap_conf.voters[i] = 10 + i;
		m.u.raft.snap_conf.learners[i] = 100 + i;
	}
	m.u.raft.snap_len = RAFT_SNAP_CHUNK;
	m.u.raft.snap_data = data;
	m.u.raft.snap_last = 1;
	buf = encode(&m, &len);
	assert_int_equal(len, NET_HDR_SIZE + NET_RAFT_FIXED + NET_SNAP_FIXED +
	                          RAFT_CONF_ENCODED_MAX + RAFT_SNAP_CHUNK);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_same(&m, dec, buf, len);
	free(buf);

	/* The largest proposal forward, join strings at their caps. */
	memset(&m, 0, sizeof m);
	m.kind = NET_FORWARD;
	m.from = 1;
	m.to = 2;
	m.u.forward.len = NET_MAX_PROPOSAL;
	m.u.forward.data = data;
	buf = encode(&m, &len);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_same(&m, dec, buf, len);
	free(buf);

	static char name[NET_MAX_NAME + 2], url[NET_MAX_URL + 2];
	memset(name, 'n', NET_MAX_NAME);
	memset(url, 'u', NET_MAX_URL);
	memset(&m, 0, sizeof m);
	m.kind = NET_JOIN;
	m.from = 1;
	m.u.join.name = name;
	m.u.join.url = url;
	buf = encode(&m, &len);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_same(&m, dec, buf, len);
	free(buf);
	name[NET_MAX_NAME] = 'n';
	expect_einval(&m);
	name[NET_MAX_NAME] = 0;
	url[NET_MAX_URL] = 'u';
	expect_einval(&m);
	url[NET_MAX_URL] = 0;

	/* A full liveness table with every string at its cap: the largest
	 * NET_LIVENESS, well inside NET_MAX_BODY. */
	static struct sample s;
	memset(&s.m, 0, sizeof s.m);
	s.m.kind = NET_LIVENESS;
	s.m.from = 1;
	s.m.to = 2;
	rnd_liveness(&s, NET_MAX_MEMBERS);
	for (uint32_t i = 0; i < NET_MAX_MEMBERS; i++) {
		memset(s.mname[i], 'n', NET_MAX_NAME);
		s.mname[i][NET_MAX_NAME] = 0;
		memset(s.maddr[i], 'a', NET_MAX_URL);
		s.maddr[i][NET_MAX_URL] = 0;
		memset(s.mver[i], 'v', NET_MAX_VERSION);
		s.mver[i][NET_MAX_VERSION] = 0;
	}
	buf = encode(&s.m, &len);
	assert_int_equal(len, NET_HDR_SIZE + NET_LIVENESS_FIXED + NET_MAX_MEMBERS * NET_MEMBER_MAX);
	assert_int_equal(net_decode(buf, len, dec), 0);
	assert_same(&s.m, dec, buf, len);
	free(buf);

	/* Anything longer than NET_MAX_MSG is refused before it is read. */
	assert_int_equal(net_decode(data, NET_MAX_MSG + 1, dec), QFS_ECORRUPT);
	assert_int_equal(dec->why, NET_DROP_TOO_BIG);
	free(data);
}

static void test_random_bytes_never_crash(void **state)
{
	(void)state;
	/* Random bodies behind a consistent header: the decoder must refuse or
	 * accept without reading out of bounds (ASan watches). */
	uint8_t *b = malloc(4096);
	assert_non_null(b);
	int accepted = 0;
	for (int i = 0; i < 20000; i++) {
		size_t len = NET_HDR_SIZE + rnd_below(200);
		rnd_fill(b, len);
		put32(b, NET_MAGIC);
		b[4] = NET_VERSION;
		b[5] = (uint8_t)(1 + rnd_below(NET_KIND_MAX_ - 1));
		b[6] = b[7] = 0;
		refix(b, len);
		if (decode_copy(b, len, dec) == 0)
			accepted++;
	}
	free(b);
	printf("random bodies accepted: %d of 20000\n", accepted);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(net_kind_name(NET_JOIN), "join");
	assert_string_equal(net_kind_name(NET_LIVENESS), "liveness");
	assert_string_equal(net_kind_name(0), "unknown");
	assert_string_equal(net_drop_name(NET_DROP_CRC), "bad checksum");
	assert_string_equal(net_drop_name(NET_DROP_MAX_), "unknown");
}

int main(void)
{
	const char *env = getenv("QFS_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
	printf("test_net_codec: seed %" PRIu64 " (replay: QFS_TEST_SEED=%" PRIu64 ")\n", seed,
	       seed);
	rng_state = seed;
	dec = malloc(sizeof *dec);
	if (!dec)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c),
	    cmocka_unit_test(test_roundtrip_raft_every_type),
	    cmocka_unit_test(test_roundtrip_other_kinds),
	    cmocka_unit_test(test_every_truncation_rejected),
	    cmocka_unit_test(test_flipped_bytes_rejected),
	    cmocka_unit_test(test_header_checks),
	    cmocka_unit_test(test_lying_lengths_rejected),
	    cmocka_unit_test(test_liveness_rejects),
	    cmocka_unit_test(test_encoder_refuses_what_decoder_would),
	    cmocka_unit_test(test_max_sizes),
	    cmocka_unit_test(test_random_bytes_never_crash),
	    cmocka_unit_test(test_names),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(dec);
	return rc;
}
