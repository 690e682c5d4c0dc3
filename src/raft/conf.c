/* Configurations: membership queries, the entry encodings, and single-server
 * changes applied deterministically from log entries. */
#include "raft/internal.h"

#include <string.h>

#define CONF_VERSION 1u
#define CC_VERSION 1u

static bool id_in(const uint64_t *v, uint32_t n, uint64_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i] == id)
			return true;
	return false;
}

bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id)
{
	return id != 0 && id_in(c->voters, c->n_voters, id);
}

bool raft_conf_is_learner(const struct raft_conf *c, uint64_t id)
{
	return id != 0 && id_in(c->learners, c->n_learners, id);
}

int raft_conf_check(const struct raft_conf *c)
{
	if (c->n_voters < 1 || c->n_voters > RAFT_MAX_NODES || c->n_learners > RAFT_MAX_NODES ||
	    c->n_voters + c->n_learners > RAFT_MAX_NODES)
		return RAFT_EINVAL;
	for (uint32_t i = 0; i < c->n_voters; i++)
		if (c->voters[i] == 0 || id_in(c->voters, i, c->voters[i]))
			return RAFT_EINVAL;
	for (uint32_t i = 0; i < c->n_learners; i++)
		if (c->learners[i] == 0 || id_in(c->learners, i, c->learners[i]) ||
		    id_in(c->voters, c->n_voters, c->learners[i]))
			return RAFT_EINVAL;
	return 0;
}

static void sort_ids(uint64_t *v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint64_t x = v[i];
		uint32_t j = i;
		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Sorted lists and zeroed unused slots: equal configurations compare equal
 * with memcmp and encode identically. */
void conf_normalize(struct raft_conf *c)
{
	sort_ids(c->voters, c->n_voters);
	sort_ids(c->learners, c->n_learners);
	for (uint32_t i = c->n_voters; i < RAFT_MAX_NODES; i++)
		c->voters[i] = 0;
	for (uint32_t i = c->n_learners; i < RAFT_MAX_NODES; i++)
		c->learners[i] = 0;
}

uint32_t conf_quorum(const struct raft_conf *c)
{
	return c->n_voters / 2 + 1;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap)
{
	if (raft_conf_check(c) != 0)
		return RAFT_EINVAL;
	size_t len = 4 + 8 * (size_t)(c->n_voters + c->n_learners);
	if (len > cap)
		return RAFT_EINVAL;
	buf[0] = CONF_VERSION;
	buf[1] = (uint8_t)c->n_voters;
	buf[2] = (uint8_t)c->n_learners;
	buf[3] = 0;
	uint8_t *p = buf + 4;
	for (uint32_t i = 0; i < c->n_voters; i++, p += 8)
		put_u64(p, c->voters[i]);
	for (uint32_t i = 0; i < c->n_learners; i++, p += 8)
		put_u64(p, c->learners[i]);
	return (int)len;
}

int raft_conf_decode(const void *buf, size_t len, struct raft_conf *c)
{
	const uint8_t *b = buf;
	if (!b || len < 4 || b[0] != CONF_VERSION || b[3] != 0)
		return RAFT_EINVAL;
	uint32_t nv = b[1], nl = b[2];
	if (nv > RAFT_MAX_NODES || nl > RAFT_MAX_NODES || nv + nl > RAFT_MAX_NODES ||
	    len != 4 + 8 * (size_t)(nv + nl))
		return RAFT_EINVAL;
	struct raft_conf t;
	memset(&t, 0, sizeof t);
	t.n_voters = nv;
	t.n_learners = nl;
	const uint8_t *p = b + 4;
	for (uint32_t i = 0; i < nv; i++, p += 8)
		t.voters[i] = get_u64(p);
	for (uint32_t i = 0; i < nl; i++, p += 8)
		t.learners[i] = get_u64(p);
	if (raft_conf_check(&t) != 0)
		return RAFT_EINVAL;
	conf_normalize(&t);
	*c = t;
	return 0;
}

int conf_change_encode(uint8_t type, uint64_t node, const void *ctx, uint32_t ctx_len, uint8_t *buf,
                       size_t cap)
{
	if (cap < RAFT_CC_HEADER_SIZE + (size_t)ctx_len)
		return RAFT_EINVAL;
	buf[0] = CC_VERSION;
	buf[1] = type;
	put_u64(buf + 2, node);
	if (ctx_len)
		memcpy(buf + RAFT_CC_HEADER_SIZE, ctx, ctx_len);
	return (int)(RAFT_CC_HEADER_SIZE + ctx_len);
}

int raft_conf_change_decode(const void *buf, size_t len, struct raft_conf_change *cc)
{
	const uint8_t *b = buf;
	if (!b || len < RAFT_CC_HEADER_SIZE || len > RAFT_CC_HEADER_SIZE + RAFT_MAX_CC_CONTEXT ||
	    b[0] != CC_VERSION || b[1] == 0 || b[1] >= RAFT_CC_TYPE_MAX_)
		return RAFT_EINVAL;
	uint64_t node = get_u64(b + 2);
	if (node == 0)
		return RAFT_EINVAL;
	cc->type = b[1];
	cc->node = node;
	cc->ctx_len = (uint32_t)(len - RAFT_CC_HEADER_SIZE);
	cc->ctx = cc->ctx_len ? b + RAFT_CC_HEADER_SIZE : NULL;
	return 0;
}

int conf_change_check(const struct raft_conf *c, uint8_t type, uint64_t node)
{
	if (node == 0)
		return RAFT_EINVAL;
	bool voter = raft_conf_is_voter(c, node), learner = raft_conf_is_learner(c, node);
	switch (type) {
	case RAFT_CC_ADD_LEARNER:
		if (voter || learner || c->n_voters + c->n_learners >= RAFT_MAX_NODES)
			return RAFT_EINVAL;
		return 0;
	case RAFT_CC_PROMOTE:
		return learner ? 0 : RAFT_EINVAL;
	case RAFT_CC_DEMOTE:
		return voter && c->n_voters > 1 ? 0 : RAFT_EINVAL;
	case RAFT_CC_REMOVE:
		if (learner || (voter && c->n_voters > 1))
			return 0;
		return RAFT_EINVAL;
	}
	return RAFT_EINVAL;
}

static void id_remove(uint64_t *v, uint32_t *n, uint64_t id)
{
	for (uint32_t i = 0; i < *n; i++) {
		if (v[i] == id) {
			v[i] = v[*n - 1];
			(*n)--;
			return;
		}
	}
}

bool conf_apply_entry(struct raft_conf *c, const struct raft_entry *e)
{
	if (e->type == RAFT_ENTRY_CONF) {
		struct raft_conf t;
		if (raft_conf_decode(e->data, e->len, &t) != 0)
			return false;
		*c = t;
		return true;
	}
	if (e->type != RAFT_ENTRY_CONF_CHANGE)
		return false;
	struct raft_conf_change cc;
	if (raft_conf_change_decode(e->data, e->len, &cc) != 0 ||
	    conf_change_check(c, cc.type, cc.node) != 0)
		return false;
	switch (cc.type) {
	case RAFT_CC_ADD_LEARNER:
		c->learners[c->n_learners++] = cc.node;
		break;
	case RAFT_CC_PROMOTE:
		id_remove(c->learners, &c->n_learners, cc.node);
		c->voters[c->n_voters++] = cc.node;
		break;
	case RAFT_CC_DEMOTE:
		id_remove(c->voters, &c->n_voters, cc.node);
		c->learners[c->n_learners++] = cc.node;
		break;
	case RAFT_CC_REMOVE:
		id_remove(c->voters, &c->n_voters, cc.node);
		id_remove(c->learners, &c->n_learners, cc.node);
		break;
	}
	conf_normalize(c);
	return true;
}
