/* codec: the peer wire format (docs/wire-format.md).  Pure: no nng, no
 * allocation, no globals.  The encoder refuses exactly what the decoder
 * would refuse, so a message that encodes always decodes.  The MAC of
 * authenticated messages is libsodium's crypto_auth (HMAC-SHA-512-256),
 * checked with its constant-time crypto_auth_verify. */
#include "net/net.h"

#include "quorumfs/error.h"
#include "util/crc32c.h"

#include <sodium.h>
#include <string.h>

_Static_assert(NET_AUTH_KEY_SIZE == crypto_auth_KEYBYTES, "MAC key size");
_Static_assert(NET_AUTH_TAG_SIZE == crypto_auth_BYTES, "MAC tag size");

/* ---------------------------------------------------------------- writer */

struct wbuf {
	uint8_t *p;
	uint8_t *end;
};

static void put_u8(struct wbuf *w, uint8_t v)
{
	*w->p++ = v;
}

static void put_u16(struct wbuf *w, uint16_t v)
{
	w->p[0] = (uint8_t)v;
	w->p[1] = (uint8_t)(v >> 8);
	w->p += 2;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		w->p[i] = (uint8_t)(v >> (8 * i));
	w->p += 4;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		w->p[i] = (uint8_t)(v >> (8 * i));
	w->p += 8;
}

static void put_bytes(struct wbuf *w, const void *src, size_t len)
{
	if (len)
		memcpy(w->p, src, len);
	w->p += len;
}

/* ---------------------------------------------------------------- reader
 * Every read checks the remaining length first; a short read sets `bad` and
 * yields zeros, so callers check `bad` before trusting what they read. */

struct rbuf {
	const uint8_t *p;
	size_t left;
	bool bad;
};

static bool need(struct rbuf *r, size_t n)
{
	if (r->bad || r->left < n) {
		r->bad = true;
		return false;
	}
	return true;
}

static uint8_t get_u8(struct rbuf *r)
{
	if (!need(r, 1))
		return 0;
	r->left -= 1;
	return *r->p++;
}

static uint16_t get_u16(struct rbuf *r)
{
	if (!need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[0] | (r->p[1] << 8));
	r->p += 2;
	r->left -= 2;
	return v;
}

static uint32_t get_u32(struct rbuf *r)
{
	if (!need(r, 4))
		return 0;
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | r->p[i];
	r->p += 4;
	r->left -= 4;
	return v;
}

static uint64_t get_u64(struct rbuf *r)
{
	if (!need(r, 8))
		return 0;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | r->p[i];
	r->p += 8;
	r->left -= 8;
	return v;
}

/* Borrows n bytes (NULL when n is 0, as struct raft_entry wants). */
static const uint8_t *get_bytes(struct rbuf *r, size_t n)
{
	if (!need(r, n))
		return NULL;
	const uint8_t *p = n ? r->p : NULL;
	r->p += n;
	r->left -= n;
	return p;
}

/* ---------------------------------------------------------------- validation */

static bool is_bool(uint8_t v)
{
	return v <= 1;
}

/* Shared by encoder and decoder: everything about a raft_msg except entries
 * and the configuration, which each side checks while walking them. */
static bool raft_fixed_ok(const struct raft_msg *m)
{
	if (m->type < RAFT_MSG_APP || m->type >= RAFT_MSG_TYPE_MAX_)
		return false;
	if (!is_bool(m->reject) || !is_bool(m->transfer) || !is_bool(m->snap_last))
		return false;
	if (m->n_entries > RAFT_MAX_MSG_ENTRIES)
		return false;
	if (m->n_entries && m->type != RAFT_MSG_APP)
		return false;
	if (m->snap_len > RAFT_SNAP_CHUNK)
		return false;
	if ((m->snap_len || m->snap_last) && m->type != RAFT_MSG_SNAP)
		return false;
	return true;
}

static bool conf_empty(const struct raft_conf *c)
{
	return c->n_voters == 0 && c->n_learners == 0;
}

/* Body size of a raft message, or 0 when the encoder must refuse it. */
static size_t raft_body_size(const struct raft_msg *m, uint8_t *conf_buf, size_t *conf_len)
{
	if (!raft_fixed_ok(m))
		return 0;
	if (m->n_entries && !m->entries)
		return 0;
	if (m->snap_len && !m->snap_data)
		return 0;
	size_t size = NET_RAFT_FIXED + NET_SNAP_FIXED;
	uint64_t data = 0;
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->type >= RAFT_ENTRY_TYPE_MAX_ || e->len > RAFT_MAX_ENTRY_BYTES ||
		    (e->len && !e->data))
			return 0;
		data += e->len;
		size += NET_ENTRY_HDR + e->len;
	}
	if (data > RAFT_MAX_MSG_BYTES)
		return 0;
	*conf_len = 0;
	if (!conf_empty(&m->snap_conf)) {
		int rc = raft_conf_encode(&m->snap_conf, conf_buf, RAFT_CONF_ENCODED_MAX);
		if (rc <= 0)
			return 0;
		*conf_len = (size_t)rc;
	} else if (m->type == RAFT_MSG_SNAP) {
		return 0; /* a snapshot always has a configuration */
	}
	size += *conf_len + m->snap_len;
	return size;
}

/* A NUL-terminated string of min..max bytes. */
static bool str_ok(const char *s, size_t min, size_t max, size_t *len)
{
	if (!s)
		return false;
	size_t n = strnlen(s, max + 1);
	if (n < min || n > max)
		return false;
	*len = n;
	return true;
}

static bool join_str_ok(const char *s, size_t max, size_t *len)
{
	return str_ok(s, 1, max, len);
}

/* Body size of a liveness table, or 0 when the encoder must refuse it. */
static size_t live_body_size(const struct net_liveness *l)
{
	if (l->count > NET_MAX_MEMBERS || (l->count && !l->members))
		return 0;
	size_t size = NET_LIVENESS_FIXED;
	for (uint32_t i = 0; i < l->count; i++) {
		const struct net_member_rec *r = &l->members[i];
		size_t ln, la, lv;
		if (r->id == 0 || r->role < NET_ROLE_LEADER || r->role >= NET_ROLE_MAX_ ||
		    !str_ok(r->name, 1, NET_MAX_NAME, &ln) ||
		    !str_ok(r->address, 0, NET_MAX_URL, &la) ||
		    !str_ok(r->version, 0, NET_MAX_VERSION, &lv))
			return 0;
		size += NET_MEMBER_FIXED + ln + la + lv;
	}
	return size;
}

/* Body size of any message (0: invalid).  conf_buf/conf_len: raft only. */
static size_t body_size(const struct net_msg *m, uint8_t *conf_buf, size_t *conf_len)
{
	if (m->from == 0 || (m->to == 0 && m->kind != NET_JOIN))
		return 0;
	switch (m->kind) {
	case NET_RAFT:
		if (m->u.raft.from != m->from || m->u.raft.to != m->to)
			return 0;
		return raft_body_size(&m->u.raft, conf_buf, conf_len);
	case NET_FORWARD:
		if (m->u.forward.len > NET_MAX_PROPOSAL || (m->u.forward.len && !m->u.forward.data))
			return 0;
		return NET_FORWARD_FIXED + m->u.forward.len;
	case NET_FORWARD_NACK:
		if (m->u.nack.rc >= 0)
			return 0;
		return NET_NACK_SIZE;
	case NET_CONF_FORWARD: {
		const struct net_conf_forward *c = &m->u.conf;
		if (c->type < RAFT_CC_ADD_LEARNER || c->type >= RAFT_CC_TYPE_MAX_ || c->node == 0 ||
		    c->ctx_len > RAFT_MAX_CC_CONTEXT || (c->ctx_len && !c->ctx))
			return 0;
		return NET_CONF_FORWARD_FIXED + c->ctx_len;
	}
	case NET_JOIN: {
		size_t ln, lu;
		if (!join_str_ok(m->u.join.name, NET_MAX_NAME, &ln) ||
		    !join_str_ok(m->u.join.url, NET_MAX_URL, &lu))
			return 0;
		return NET_JOIN_FIXED + ln + lu;
	}
	case NET_LIVENESS:
		return live_body_size(&m->u.live);
	}
	return 0;
}

/* ---------------------------------------------------------------- encode */

int net_encoded_size(const struct net_msg *m, size_t *size)
{
	uint8_t conf_buf[RAFT_CONF_ENCODED_MAX];
	size_t conf_len = 0;
	size_t body = body_size(m, conf_buf, &conf_len);
	if (body == 0 || body > NET_MAX_BODY)
		return QFS_EINVAL;
	*size = NET_HDR_SIZE + body;
	return 0;
}

static void encode_raft(struct wbuf *w, const struct raft_msg *m, const uint8_t *conf,
                        size_t conf_len)
{
	put_u8(w, m->type);
	put_u8(w, m->reject);
	put_u8(w, m->transfer);
	put_u8(w, m->snap_last);
	put_u32(w, m->n_entries);
	put_u64(w, m->term);
	put_u64(w, m->log_term);
	put_u64(w, m->index);
	put_u64(w, m->commit);
	put_u64(w, m->reject_hint);
	put_u64(w, m->reject_hint_term);
	put_u64(w, m->context);
	put_u64(w, m->seq);
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		put_u64(w, e->term);
		put_u64(w, e->index);
		put_u8(w, e->type);
		put_u32(w, e->len);
		put_bytes(w, e->data, e->len);
	}
	put_u64(w, m->snap_index);
	put_u64(w, m->snap_term);
	put_u64(w, m->snap_offset);
	put_u16(w, (uint16_t)conf_len);
	put_bytes(w, conf, conf_len);
	put_u32(w, m->snap_len);
	put_bytes(w, m->snap_data, m->snap_len);
}

static void put_str16(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	put_u16(w, (uint16_t)n);
	put_bytes(w, s, n);
}

static void encode_liveness(struct wbuf *w, const struct net_liveness *l)
{
	put_u16(w, (uint16_t)l->count);
	for (uint32_t i = 0; i < l->count; i++) {
		const struct net_member_rec *r = &l->members[i];
		put_u64(w, r->id);
		put_u64(w, r->term);
		put_u64(w, r->applied);
		put_u32(w, r->load_milli);
		put_u32(w, r->uptime_s);
		put_u32(w, r->last_seen_ms);
		put_u8(w, r->role);
		put_str16(w, r->name);
		put_str16(w, r->address);
		put_str16(w, r->version);
	}
}

int net_encode_auth(const struct net_msg *m, const struct net_auth *a, uint8_t *buf, size_t cap,
                    size_t *len)
{
	uint8_t conf_buf[RAFT_CONF_ENCODED_MAX];
	size_t conf_len = 0;
	size_t body = body_size(m, conf_buf, &conf_len);
	size_t trailer = a ? NET_AUTH_SIZE : 0;
	if (body == 0 || body > NET_MAX_BODY || cap < NET_HDR_SIZE + body + trailer ||
	    (a && !a->key))
		return QFS_EINVAL;

	struct wbuf w = {buf, buf + NET_HDR_SIZE + body};
	put_u32(&w, NET_MAGIC);
	put_u8(&w, NET_VERSION);
	put_u8(&w, m->kind);
	put_u16(&w, a ? NET_FLAG_AUTH : 0); /* flags */
	put_u64(&w, m->cluster_id);
	put_u64(&w, m->from);
	put_u64(&w, m->to);
	put_u32(&w, (uint32_t)body);
	put_u32(&w, 0); /* crc, filled below */

	switch (m->kind) {
	case NET_RAFT:
		encode_raft(&w, &m->u.raft, conf_buf, conf_len);
		break;
	case NET_FORWARD:
		put_u64(&w, m->u.forward.req_id);
		put_u32(&w, m->u.forward.len);
		put_bytes(&w, m->u.forward.data, m->u.forward.len);
		break;
	case NET_FORWARD_NACK:
		put_u64(&w, m->u.nack.req_id);
		put_u32(&w, (uint32_t)m->u.nack.rc);
		break;
	case NET_CONF_FORWARD:
		put_u64(&w, m->u.conf.req_id);
		put_u8(&w, m->u.conf.type);
		put_u64(&w, m->u.conf.node);
		put_u32(&w, m->u.conf.ctx_len);
		put_bytes(&w, m->u.conf.ctx, m->u.conf.ctx_len);
		break;
	case NET_JOIN: {
		size_t ln = strlen(m->u.join.name), lu = strlen(m->u.join.url);
		put_u16(&w, (uint16_t)ln);
		put_bytes(&w, m->u.join.name, ln);
		put_u16(&w, (uint16_t)lu);
		put_bytes(&w, m->u.join.url, lu);
		break;
	}
	case NET_LIVENESS:
		encode_liveness(&w, &m->u.live);
		break;
	}
	/* The size computation and the writer must agree to the byte. */
	if (w.p != w.end)
		__builtin_trap();

	/* The crc covers everything before the tag (crc field zeroed); the
	 * tag covers everything before it, crc included. */
	size_t signed_len = NET_HDR_SIZE + body;
	if (a) {
		put_u64(&w, a->epoch);
		put_u64(&w, a->seq);
		signed_len += 16;
	}
	uint32_t crc = crc32c(0, buf, signed_len);
	struct wbuf c = {buf + NET_HDR_CRC_OFF, buf + NET_HDR_SIZE};
	put_u32(&c, crc);
	if (a && crypto_auth(buf + signed_len, buf, signed_len, a->key) != 0)
		__builtin_trap(); /* cannot fail */
	if (len)
		*len = signed_len + (a ? NET_AUTH_TAG_SIZE : 0);
	return 0;
}

int net_encode(const struct net_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	return net_encode_auth(m, NULL, buf, cap, len);
}

/* ---------------------------------------------------------------- decode */

static bool decode_raft(struct rbuf *r, struct net_decoded *out)
{
	struct raft_msg *m = &out->msg.u.raft;
	memset(m, 0, sizeof *m);
	m->from = out->msg.from;
	m->to = out->msg.to;
	m->type = get_u8(r);
	m->reject = get_u8(r);
	m->transfer = get_u8(r);
	m->snap_last = get_u8(r);
	m->n_entries = get_u32(r);
	m->term = get_u64(r);
	m->log_term = get_u64(r);
	m->index = get_u64(r);
	m->commit = get_u64(r);
	m->reject_hint = get_u64(r);
	m->reject_hint_term = get_u64(r);
	m->context = get_u64(r);
	m->seq = get_u64(r);
	if (r->bad || !raft_fixed_ok(m))
		return false;
	/* Each entry takes at least its header: a count the bytes cannot hold
	 * is a lie, refused before the loop. */
	if ((uint64_t)m->n_entries * NET_ENTRY_HDR + NET_SNAP_FIXED > r->left)
		return false;
	uint64_t data = 0;
	for (uint32_t i = 0; i < m->n_entries; i++) {
		struct raft_entry *e = &out->entries[i];
		e->term = get_u64(r);
		e->index = get_u64(r);
		e->type = get_u8(r);
		e->len = get_u32(r);
		if (r->bad || e->type >= RAFT_ENTRY_TYPE_MAX_ || e->len > RAFT_MAX_ENTRY_BYTES)
			return false;
		e->data = get_bytes(r, e->len);
		if (r->bad)
			return false;
		data += e->len;
	}
	if (data > RAFT_MAX_MSG_BYTES)
		return false;
	m->entries = m->n_entries ? out->entries : NULL;
	m->snap_index = get_u64(r);
	m->snap_term = get_u64(r);
	m->snap_offset = get_u64(r);
	uint16_t conf_len = get_u16(r);
	if (r->bad || conf_len > RAFT_CONF_ENCODED_MAX)
		return false;
	const uint8_t *conf = get_bytes(r, conf_len);
	if (r->bad)
		return false;
	if (conf_len) {
		if (raft_conf_decode(conf, conf_len, &m->snap_conf) != 0)
			return false;
	} else if (m->type == RAFT_MSG_SNAP) {
		return false;
	}
	m->snap_len = get_u32(r);
	if (r->bad || !raft_fixed_ok(m))
		return false;
	m->snap_data = get_bytes(r, m->snap_len);
	return !r->bad;
}

/* A u16-length-prefixed string of min..max bytes, no NUL inside. */
static bool decode_str16(struct rbuf *r, char *dst, size_t min, size_t max)
{
	uint16_t n = get_u16(r);
	if (r->bad || n < min || n > max)
		return false;
	const uint8_t *s = get_bytes(r, n);
	if (r->bad || (n && memchr(s, 0, n)))
		return false;
	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
	return true;
}

static bool decode_join_str(struct rbuf *r, char *dst, size_t max)
{
	return decode_str16(r, dst, 1, max);
}

static bool decode_liveness(struct rbuf *r, struct net_decoded *out)
{
	struct net_liveness *l = &out->msg.u.live;
	l->count = get_u16(r);
	/* Each record takes at least its fixed part: a count the bytes cannot
	 * hold is a lie, refused before the loop. */
	if (r->bad || l->count > NET_MAX_MEMBERS || (uint64_t)l->count * NET_MEMBER_FIXED > r->left)
		return false;
	for (uint32_t i = 0; i < l->count; i++) {
		struct net_member_rec *m = &out->members[i];
		m->id = get_u64(r);
		m->term = get_u64(r);
		m->applied = get_u64(r);
		m->load_milli = get_u32(r);
		m->uptime_s = get_u32(r);
		m->last_seen_ms = get_u32(r);
		m->role = get_u8(r);
		if (r->bad || m->id == 0 || m->role < NET_ROLE_LEADER || m->role >= NET_ROLE_MAX_)
			return false;
		if (!decode_str16(r, out->member_strs[i].name, 1, NET_MAX_NAME) ||
		    !decode_str16(r, out->member_strs[i].address, 0, NET_MAX_URL) ||
		    !decode_str16(r, out->member_strs[i].version, 0, NET_MAX_VERSION))
			return false;
		m->name = out->member_strs[i].name;
		m->address = out->member_strs[i].address;
		m->version = out->member_strs[i].version;
	}
	l->members = l->count ? out->members : NULL;
	return true;
}

static bool decode_body(struct rbuf *r, struct net_decoded *out)
{
	struct net_msg *m = &out->msg;
	switch (m->kind) {
	case NET_RAFT:
		return decode_raft(r, out);
	case NET_FORWARD: {
		struct net_forward *f = &m->u.forward;
		f->req_id = get_u64(r);
		f->len = get_u32(r);
		if (r->bad || f->len > NET_MAX_PROPOSAL)
			return false;
		f->data = get_bytes(r, f->len);
		return !r->bad;
	}
	case NET_FORWARD_NACK:
		m->u.nack.req_id = get_u64(r);
		m->u.nack.rc = (int32_t)get_u32(r);
		return !r->bad && m->u.nack.rc < 0;
	case NET_CONF_FORWARD: {
		struct net_conf_forward *c = &m->u.conf;
		c->req_id = get_u64(r);
		c->type = get_u8(r);
		c->node = get_u64(r);
		c->ctx_len = get_u32(r);
		if (r->bad || c->type < RAFT_CC_ADD_LEARNER || c->type >= RAFT_CC_TYPE_MAX_ ||
		    c->node == 0 || c->ctx_len > RAFT_MAX_CC_CONTEXT)
			return false;
		c->ctx = get_bytes(r, c->ctx_len);
		return !r->bad;
	}
	case NET_JOIN:
		if (!decode_join_str(r, out->join_name, NET_MAX_NAME) ||
		    !decode_join_str(r, out->join_url, NET_MAX_URL))
			return false;
		m->u.join.name = out->join_name;
		m->u.join.url = out->join_url;
		return true;
	case NET_LIVENESS:
		return decode_liveness(r, out);
	}
	return false;
}

static int reject(struct net_decoded *out, enum net_drop why)
{
	out->why = why;
	return QFS_ECORRUPT;
}

static int reject_auth(struct net_decoded *out, const char *detail)
{
	out->detail = detail;
	return reject(out, NET_DROP_AUTH);
}

int net_decode(const uint8_t *buf, size_t len, struct net_decoded *out)
{
	return net_decode_auth(buf, len, NULL, out);
}

int net_decode_auth(const uint8_t *buf, size_t len, const uint8_t *key, struct net_decoded *out)
{
	static const uint8_t zero_crc[4];
	memset(&out->msg, 0, sizeof out->msg);
	out->why = NET_DROP_NONE;
	out->detail = NULL;
	out->authenticated = false;
	out->auth_epoch = out->auth_seq = 0;

	if (len > NET_MAX_MSG)
		return reject(out, NET_DROP_TOO_BIG);
	if (!buf || len < NET_HDR_SIZE)
		return reject(out, NET_DROP_GARBAGE);

	struct rbuf r = {buf, len, false};
	uint32_t magic = get_u32(&r);
	uint8_t version = get_u8(&r);
	uint8_t kind = get_u8(&r);
	uint16_t flags = get_u16(&r);
	uint64_t cluster_id = get_u64(&r);
	uint64_t from = get_u64(&r);
	uint64_t to = get_u64(&r);
	uint32_t body_len = get_u32(&r);
	uint32_t crc = get_u32(&r);
	if (magic != NET_MAGIC)
		return reject(out, NET_DROP_GARBAGE);
	if (version != NET_VERSION)
		return reject(out, NET_DROP_VERSION);
	if ((flags & ~NET_FLAGS_KNOWN) != 0)
		return reject(out, NET_DROP_GARBAGE);
	bool has_mac = (flags & NET_FLAG_AUTH) != 0;
	size_t trailer = has_mac ? NET_AUTH_SIZE : 0;
	if (r.left < trailer || body_len != r.left - trailer)
		return reject(out, NET_DROP_GARBAGE);
	size_t signed_len = len - (has_mac ? NET_AUTH_TAG_SIZE : 0);
	uint32_t want = crc32c(0, buf, NET_HDR_CRC_OFF);
	want = crc32c(want, zero_crc, sizeof zero_crc);
	want = crc32c(want, buf + NET_HDR_SIZE, signed_len - NET_HDR_SIZE);
	if (crc != want)
		return reject(out, NET_DROP_CRC);
	/* The MAC before anything else is believed: the body is parsed only
	 * when it comes from a holder of the secret (or when none is set). */
	if (key && !has_mac)
		return reject_auth(out, "no MAC (the sender has no --secret-file)");
	if (!key && has_mac)
		return reject_auth(out, "a MAC, but this node has no --secret-file");
	if (has_mac) {
		if (crypto_auth_verify(buf + signed_len, buf, signed_len, key) != 0)
			return reject_auth(out, "bad MAC (not our --secret-file)");
		struct rbuf t = {buf + NET_HDR_SIZE + body_len, 16, false};
		out->auth_epoch = get_u64(&t);
		out->auth_seq = get_u64(&t);
		out->authenticated = true;
		r.left -= trailer; /* the body ends before the trailer */
	}
	if (kind == 0 || kind >= NET_KIND_MAX_)
		return reject(out, NET_DROP_GARBAGE);
	if (from == 0 || (to == 0 && kind != NET_JOIN))
		return reject(out, NET_DROP_GARBAGE);

	out->msg.kind = kind;
	out->msg.cluster_id = cluster_id;
	out->msg.from = from;
	out->msg.to = to;
	if (!decode_body(&r, out) || r.left != 0) {
		memset(&out->msg, 0, sizeof out->msg);
		out->authenticated = false;
		return reject(out, NET_DROP_GARBAGE);
	}
	return 0;
}

/* ---------------------------------------------------------------- names */

const char *net_kind_name(int kind)
{
	switch (kind) {
	case NET_RAFT:
		return "raft";
	case NET_FORWARD:
		return "forward";
	case NET_FORWARD_NACK:
		return "forward-nack";
	case NET_CONF_FORWARD:
		return "conf-forward";
	case NET_JOIN:
		return "join";
	case NET_LIVENESS:
		return "liveness";
	}
	return "unknown";
}

const char *net_drop_name(int why)
{
	switch (why) {
	case NET_DROP_NONE:
		return "none";
	case NET_DROP_GARBAGE:
		return "garbage";
	case NET_DROP_VERSION:
		return "unknown version";
	case NET_DROP_CRC:
		return "bad checksum";
	case NET_DROP_TOO_BIG:
		return "too big";
	case NET_DROP_CLUSTER:
		return "wrong cluster";
	case NET_DROP_DEST:
		return "wrong destination";
	case NET_DROP_AUTH:
		return "auth";
	case NET_DROP_REPLAY:
		return "replay";
	}
	return "unknown";
}
