/* store/raftlog: the Raft log, hard state, snapshot point and cluster meta
 * (raftlog.h), in the DBIs `log`, `raft` and `cmeta` of the store's
 * environment.  Record layouts: docs/disk-format.md §3.
 *
 * Write functions share the write txn's sticky error: an LMDB failure poisons
 * the txn (store_wcommit refuses, the caller aborts); a bad argument returns
 * QFS_EINVAL and changes nothing.
 */
#include "store/raftlog.h"

#include <stdlib.h>
#include <string.h>

#include "quorumfs/error.h"
#include "store/store_int.h"
#include "util/crc32c.h"
#include "util/log.h"

/* CRC of a record whose crc field (4 bytes at offset 4) counts as zero. */
static uint32_t rec_crc(const uint8_t *p, size_t len)
{
	static const uint8_t zero[4];
	uint32_t crc = crc32c(0, p, 4);
	crc = crc32c(crc, zero, 4);
	return crc32c(crc, p + 8, len - 8);
}

static int poison(struct store_wtxn *t, int mdb_rc)
{
	t->error = store_mdb_error(mdb_rc);
	return t->error;
}

static int wcheck(struct store_wtxn *t)
{
	STORE_ASSERT(t->s->writing && t->txn);
	return t->error;
}

/* ---------------------------------------------------------------- log */

/* Log entry record, version 1 (little-endian):
 *   0 u8 version  1 u8 type  2 u16 zero  4 u32 crc32c  8 u64 index (= key)
 *  16 u64 term   24 u32 len 28 u32 zero 32 data[len]                      */
static void log_rec_fill(uint8_t *p, const struct raft_entry *e)
{
	p[0] = STORE_LOG_VERSION;
	p[1] = e->type;
	store_le16_put(p + 2, 0);
	store_le32_put(p + 4, 0);
	store_le64_put(p + 8, e->index);
	store_le64_put(p + 16, e->term);
	store_le32_put(p + 24, e->len);
	store_le32_put(p + 28, 0);
	if (e->len)
		memcpy(p + STORE_LOG_FIXED, e->data, e->len);
	store_le32_put(p + 4, rec_crc(p, STORE_LOG_FIXED + (size_t)e->len));
}

/* Decodes a log record stored under `index`; e->data borrows from v. */
static int log_rec_decode(const MDB_val *v, uint64_t index, struct raft_entry *e, const char **why)
{
	const uint8_t *p = v->mv_data;
	*why = "record too short";
	if (v->mv_size < STORE_LOG_FIXED)
		return QFS_ECORRUPT;
	*why = "unknown record version";
	if (p[0] != STORE_LOG_VERSION)
		return QFS_ECORRUPT;
	uint32_t len = store_le32_get(p + 24);
	*why = "length mismatch";
	if (len > RAFT_MAX_ENTRY_BYTES || v->mv_size != STORE_LOG_FIXED + (size_t)len)
		return QFS_ECORRUPT;
	*why = "checksum mismatch";
	if (store_le32_get(p + 4) != rec_crc(p, v->mv_size))
		return QFS_ECORRUPT;
	*why = "bad record fields";
	if (p[1] >= RAFT_ENTRY_TYPE_MAX_ || store_le16_get(p + 2) != 0 ||
	    store_le32_get(p + 28) != 0)
		return QFS_ECORRUPT;
	*why = "index does not match its key";
	if (store_le64_get(p + 8) != index)
		return QFS_ECORRUPT;
	e->index = index;
	e->term = store_le64_get(p + 16);
	e->type = p[1];
	e->len = len;
	e->data = len ? p + STORE_LOG_FIXED : NULL;
	return 0;
}

/* Deletes every entry with index >= from; the cursor ends unpositioned. */
static int log_del_from(MDB_cursor *c, uint64_t from)
{
	uint8_t kb[8];
	store_be64(kb, from);
	MDB_val k = {8, kb}, v;
	int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
	while (rc == 0) {
		rc = mdb_cursor_del(c, 0);
		if (rc == 0)
			rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
	}
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_log_append(struct store_wtxn *t, const struct raft_entry *entries, size_t n)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	if (n == 0)
		return 0;
	if (!entries || entries[0].index == 0)
		return QFS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &entries[i];
		if (e->index != entries[0].index + i || e->type >= RAFT_ENTRY_TYPE_MAX_ ||
		    e->len > RAFT_MAX_ENTRY_BYTES || (e->len && !e->data))
			return QFS_EINVAL;
	}
	struct store *s = t->s;
	MDB_cursor *c;
	int m = mdb_cursor_open(t->txn, s->dbi_log, &c);
	if (m != 0)
		return poison(t, m);
	/* Common case: appending after the last entry; delete only on overlap. */
	MDB_val k, v;
	m = mdb_cursor_get(c, &k, &v, MDB_LAST);
	if (m == 0) {
		if (k.mv_size != 8) {
			mdb_cursor_close(c);
			log_error("store: raft log: key of %zu bytes", k.mv_size);
			t->error = QFS_ECORRUPT;
			return t->error;
		}
		if (store_get_be64(k.mv_data) >= entries[0].index)
			m = log_del_from(c, entries[0].index);
	} else if (m == MDB_NOTFOUND) {
		m = 0;
	}
	/* Every key now sorts below the new ones: MDB_APPEND, written in place. */
	for (size_t i = 0; m == 0 && i < n; i++) {
		uint8_t kb[8];
		store_be64(kb, entries[i].index);
		k = (MDB_val){8, kb};
		v = (MDB_val){STORE_LOG_FIXED + (size_t)entries[i].len, NULL};
		m = mdb_cursor_put(c, &k, &v, MDB_APPEND | MDB_RESERVE);
		if (m == 0)
			log_rec_fill(v.mv_data, &entries[i]);
	}
	mdb_cursor_close(c);
	return m ? poison(t, m) : 0;
}

int store_log_compact(struct store_wtxn *t, uint64_t upto)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	struct store *s = t->s;
	MDB_cursor *c;
	int m = mdb_cursor_open(t->txn, s->dbi_log, &c);
	if (m != 0)
		return poison(t, m);
	MDB_val k, v;
	m = mdb_cursor_get(c, &k, &v, MDB_FIRST);
	if (m == 0 && k.mv_size == 8 && store_get_be64(k.mv_data) <= upto) {
		/* Something to delete; everything (a snapshot past the log): drop. */
		MDB_val lk, lv;
		m = mdb_cursor_get(c, &lk, &lv, MDB_LAST);
		if (m == 0 && lk.mv_size == 8 && store_get_be64(lk.mv_data) <= upto) {
			mdb_cursor_close(c);
			m = mdb_drop(t->txn, s->dbi_log, 0);
			return m ? poison(t, m) : 0;
		}
		if (m == 0)
			m = mdb_cursor_get(c, &k, &v, MDB_FIRST);
		while (m == 0 && k.mv_size == 8 && store_get_be64(k.mv_data) <= upto) {
			m = mdb_cursor_del(c, 0);
			if (m == 0)
				m = mdb_cursor_get(c, &k, &v, MDB_NEXT);
		}
	}
	mdb_cursor_close(c);
	if (m == MDB_NOTFOUND)
		m = 0;
	return m ? poison(t, m) : 0;
}

/* ---------------------------------------------------------------- raft table */

/* `raft` keys: "hard" and "snap" (ASCII, no terminator). */
#define RAFT_KEY_HARD "hard"
#define RAFT_KEY_SNAP "snap"

/* Hard state record, version 1: 0 u16 version, 2 u16 zero, 4 u32 crc32c,
 * 8 u64 term, 16 u64 vote, 24 u64 commit. */
int store_hard_state_put(struct store_wtxn *t, const struct raft_hard_state *hs)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	uint8_t b[STORE_HS_SIZE];
	store_le16_put(b, STORE_HS_VERSION);
	store_le16_put(b + 2, 0);
	store_le32_put(b + 4, 0);
	store_le64_put(b + 8, hs->term);
	store_le64_put(b + 16, hs->vote);
	store_le64_put(b + 24, hs->commit);
	store_le32_put(b + 4, rec_crc(b, sizeof b));
	MDB_val k = {4, RAFT_KEY_HARD}, v = {sizeof b, b};
	int m = mdb_put(t->txn, t->s->dbi_raft, &k, &v, 0);
	return m ? poison(t, m) : 0;
}

static int hard_state_decode(const MDB_val *v, struct raft_hard_state *hs)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size != STORE_HS_SIZE || store_le16_get(p) != STORE_HS_VERSION ||
	    store_le16_get(p + 2) != 0 || store_le32_get(p + 4) != rec_crc(p, v->mv_size))
		return QFS_ECORRUPT;
	hs->term = store_le64_get(p + 8);
	hs->vote = store_le64_get(p + 16);
	hs->commit = store_le64_get(p + 24);
	return 0;
}

/* Snapshot point record, version 1: 0 u16 version, 2 u16 conf_len, 4 u32
 * crc32c, 8 u64 index, 16 u64 term, 24 conf (raft_conf_encode; conf_len 0:
 * no configuration, only with index 0). */
int store_snap_meta_put(struct store_wtxn *t, const struct raft_snapshot_meta *meta)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	uint8_t b[STORE_SNAPMETA_FIXED + RAFT_CONF_ENCODED_MAX];
	int clen = 0;
	if (meta->conf.n_voters || meta->conf.n_learners || meta->index) {
		clen =
		    raft_conf_encode(&meta->conf, b + STORE_SNAPMETA_FIXED, RAFT_CONF_ENCODED_MAX);
		if (clen < 0)
			return QFS_EINVAL;
	}
	size_t len = STORE_SNAPMETA_FIXED + (size_t)clen;
	store_le16_put(b, STORE_SNAPMETA_VERSION);
	store_le16_put(b + 2, (uint16_t)clen);
	store_le32_put(b + 4, 0);
	store_le64_put(b + 8, meta->index);
	store_le64_put(b + 16, meta->term);
	store_le32_put(b + 4, rec_crc(b, len));
	MDB_val k = {4, RAFT_KEY_SNAP}, v = {len, b};
	int m = mdb_put(t->txn, t->s->dbi_raft, &k, &v, 0);
	return m ? poison(t, m) : 0;
}

static int snap_meta_decode(const MDB_val *v, struct raft_snapshot_meta *sm)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < STORE_SNAPMETA_FIXED || store_le16_get(p) != STORE_SNAPMETA_VERSION)
		return QFS_ECORRUPT;
	size_t clen = store_le16_get(p + 2);
	if (clen > RAFT_CONF_ENCODED_MAX || v->mv_size != STORE_SNAPMETA_FIXED + clen ||
	    store_le32_get(p + 4) != rec_crc(p, v->mv_size))
		return QFS_ECORRUPT;
	memset(sm, 0, sizeof *sm);
	sm->index = store_le64_get(p + 8);
	sm->term = store_le64_get(p + 16);
	if (clen && raft_conf_decode(p + STORE_SNAPMETA_FIXED, clen, &sm->conf) != 0)
		return QFS_ECORRUPT;
	if (!clen && sm->index)
		return QFS_ECORRUPT;
	return 0;
}

int store_mark_applied(struct store_wtxn *t, uint64_t index)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	if (index <= t->meta.applied)
		return QFS_EINVAL; /* as store_apply: exactly once */
	t->meta.applied = index;
	return 0;
}

/* ---------------------------------------------------------------- sessions */

/* `sess`: key be64 origin node; record, version 1 (STORE_SESS_SIZE bytes):
 *   0 u16 version  2 u16 zero  4 u32 crc32c  8 u64 high (highest req_id seen)
 *  16 window bitmap: bit i (byte i / 8, bit i % 8) set = req_id high - i seen.
 * Part of the replicated state: same entries, same records on every replica;
 * snapshots carry the table. */
_Static_assert(STORE_SESSION_WINDOW % 8 == 0 && STORE_SESSION_WINDOW >= 8,
               "the window is a whole number of bytes");

int store_sess_check(const MDB_val *k, const MDB_val *v)
{
	const uint8_t *p = v->mv_data;
	if (k->mv_size != 8 || v->mv_size != STORE_SESS_SIZE ||
	    store_le16_get(p) != STORE_SESS_VERSION || store_le16_get(p + 2) != 0 ||
	    store_le32_get(p + 4) != rec_crc(p, v->mv_size) || !(p[16] & 1))
		return QFS_ECORRUPT; /* bit 0 (high itself) is always set */
	return 0;
}

static void win_shift(uint8_t *w, uint64_t d)
{
	const unsigned n = STORE_SESSION_WINDOW / 8;
	if (d >= STORE_SESSION_WINDOW) {
		memset(w, 0, n);
		return;
	}
	unsigned bytes = (unsigned)(d / 8), bits = (unsigned)(d % 8);
	for (unsigned i = n; i-- > 0;) {
		unsigned from = i - bytes; /* wraps when i < bytes: checked */
		uint8_t hi = i >= bytes ? w[from] : 0;
		uint8_t lo = i >= bytes + 1 ? w[from - 1] : 0;
		w[i] = bits ? (uint8_t)((hi << bits) | (lo >> (8 - bits))) : hi;
	}
}

int store_session_seen(struct store_wtxn *t, uint64_t origin, uint64_t req_id)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	struct store *s = t->s;
	uint8_t kb[8], rec[STORE_SESS_SIZE];
	store_be64(kb, origin);
	MDB_val k = {8, kb}, v;
	int m = mdb_get(t->txn, s->dbi_sess, &k, &v);
	uint8_t *w = rec + 16;
	if (m == MDB_NOTFOUND) {
		memset(rec, 0, sizeof rec);
		store_le64_put(rec + 8, req_id);
		w[0] = 1;
	} else if (m != 0) {
		return poison(t, m);
	} else {
		if (store_sess_check(&k, &v) != 0) {
			log_error("store: session record of node %llu corrupt",
			          (unsigned long long)origin);
			t->error = QFS_ECORRUPT;
			return t->error;
		}
		memcpy(rec, v.mv_data, sizeof rec);
		uint64_t high = store_le64_get(rec + 8);
		if (req_id > high) {
			win_shift(w, req_id - high);
			w[0] |= 1;
			store_le64_put(rec + 8, req_id);
		} else {
			uint64_t i = high - req_id;
			if (i >= STORE_SESSION_WINDOW || (w[i / 8] >> (i % 8)) & 1)
				return 1; /* applied before, or too old to tell: skip */
			w[i / 8] |= (uint8_t)(1u << (i % 8));
		}
	}
	store_le16_put(rec, STORE_SESS_VERSION);
	store_le16_put(rec + 2, 0);
	store_le32_put(rec + 4, 0);
	store_le32_put(rec + 4, rec_crc(rec, sizeof rec));
	v = (MDB_val){sizeof rec, rec};
	m = mdb_put(t->txn, s->dbi_sess, &k, &v, 0);
	return m ? poison(t, m) : 0;
}

/* ---------------------------------------------------------------- load */

/* Gets `key` of the raft table: 1 found, 0 absent, < 0 error. */
static int raft_get(struct store *s, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val k = {strlen(key), (void *)key};
	int m = mdb_get(txn, s->dbi_raft, &k, v);
	if (m == MDB_NOTFOUND)
		return 0;
	return m ? store_mdb_error(m) : 1;
}

/* Walks the entries after snap->index, checking each; with `out` NULL only
 * counts (*n, *bytes), otherwise copies into out (n entries, then data). */
static int load_entries(struct store *s, MDB_txn *txn, const struct raft_snapshot_meta *snap,
                        size_t *n, size_t *bytes, struct raft_entry *out)
{
	MDB_cursor *c;
	int m = mdb_cursor_open(txn, s->dbi_log, &c);
	if (m != 0)
		return store_mdb_error(m);
	uint8_t kb[8];
	store_be64(kb, snap->index + 1);
	MDB_val k = {8, kb}, v;
	uint64_t expect = snap->index + 1, last_term = snap->term;
	uint8_t *data = out ? (uint8_t *)(out + *n) : NULL;
	size_t count = 0, total = 0;
	int rc = 0;
	for (m = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); m == 0;
	     m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 8) {
			log_error("store: raft log: key of %zu bytes after index %llu", k.mv_size,
			          (unsigned long long)(expect - 1));
			rc = QFS_ECORRUPT;
			break;
		}
		uint64_t idx = store_get_be64(k.mv_data);
		if (idx != expect) {
			log_error("store: raft log corrupt: gap, index %llu follows %llu "
			          "(snapshot at %llu)",
			          (unsigned long long)idx, (unsigned long long)(expect - 1),
			          (unsigned long long)snap->index);
			rc = QFS_ECORRUPT;
			break;
		}
		struct raft_entry e;
		const char *why;
		if (!out) {
			rc = log_rec_decode(&v, idx, &e, &why);
			if (rc == 0 && e.term < last_term) {
				why = "term decreases";
				rc = QFS_ECORRUPT;
			}
			if (rc < 0) {
				log_error("store: raft log corrupt at index %llu: %s",
				          (unsigned long long)idx, why);
				break;
			}
			last_term = e.term;
			total += e.len;
		} else {
			if (count == *n || log_rec_decode(&v, idx, &e, &why) != 0 ||
			    total + e.len > *bytes) {
				rc = QFS_ECORRUPT; /* same read txn: cannot happen */
				break;
			}
			out[count] = e;
			out[count].data = NULL;
			if (e.len) {
				memcpy(data + total, e.data, e.len);
				out[count].data = data + total;
			}
			total += e.len;
		}
		count++;
		expect++;
	}
	mdb_cursor_close(c);
	if (rc == 0 && m != MDB_NOTFOUND)
		rc = store_mdb_error(m);
	if (rc == 0 && !out) {
		*n = count;
		*bytes = total;
	}
	return rc;
}

int store_raft_load(struct store *s, struct store_raft_state *out)
{
	memset(out, 0, sizeof *out);
	struct store_rtxn *r;
	int rc = store_rbegin(s, &r);
	if (rc < 0)
		return rc;
	struct store_raft_state st;
	memset(&st, 0, sizeof st);
	MDB_val v;
	int g = raft_get(s, r->txn, RAFT_KEY_HARD, &v);
	if (g > 0 && hard_state_decode(&v, &st.hs) != 0) {
		log_error("store: raft hard state record corrupt");
		g = QFS_ECORRUPT;
	}
	if (g >= 0) {
		g = raft_get(s, r->txn, RAFT_KEY_SNAP, &v);
		if (g > 0 && snap_meta_decode(&v, &st.snap) != 0) {
			log_error("store: raft snapshot point record corrupt");
			g = QFS_ECORRUPT;
		}
	}
	rc = g < 0 ? g : 0;
	struct store_meta m;
	if (rc == 0)
		rc = store_get_meta(s, r->txn, &m);
	size_t n = 0, bytes = 0;
	if (rc == 0)
		rc = load_entries(s, r->txn, &st.snap, &n, &bytes, NULL);
	if (rc == 0 && n) {
		st.entries = malloc(n * sizeof *st.entries + bytes);
		if (!st.entries)
			rc = QFS_ENOMEM;
		else
			rc = load_entries(s, r->txn, &st.snap, &n, &bytes, st.entries);
	}
	store_rend(r);
	if (rc < 0) {
		free(st.entries);
		return rc;
	}
	st.n_entries = n;
	st.applied = m.applied;
	*out = st;
	return 0;
}

void store_raft_state_free(struct store_raft_state *st)
{
	if (!st)
		return;
	free(st->entries);
	st->entries = NULL;
	st->n_entries = 0;
}

/* ---------------------------------------------------------------- cluster meta */

/* Key: 1..255 bytes of printable ASCII without space.  Record, version 1:
 * 0 u16 version, 2 u16 zero, 4 u32 crc32c, 8 value (<= 4 KiB). */
static int cmeta_key(const char *key, MDB_val *k)
{
	if (!key)
		return QFS_EINVAL;
	size_t len = strnlen(key, STORE_CMETA_KEY_MAX + 1);
	if (len == 0 || len > STORE_CMETA_KEY_MAX)
		return QFS_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (key[i] <= 0x20 || key[i] >= 0x7f)
			return QFS_EINVAL;
	*k = (MDB_val){len, (void *)key};
	return 0;
}

static int cmeta_decode(const MDB_val *v, const void **val, size_t *len)
{
	const uint8_t *p = v->mv_data;
	if (v->mv_size < STORE_CMETA_FIXED ||
	    v->mv_size > STORE_CMETA_FIXED + STORE_CMETA_VAL_MAX ||
	    store_le16_get(p) != STORE_CMETA_VERSION || store_le16_get(p + 2) != 0 ||
	    store_le32_get(p + 4) != rec_crc(p, v->mv_size))
		return QFS_ECORRUPT;
	*val = p + STORE_CMETA_FIXED;
	*len = v->mv_size - STORE_CMETA_FIXED;
	return 0;
}

int store_meta_put(struct store_wtxn *t, const char *key, const void *val, size_t len)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	MDB_val k;
	if ((rc = cmeta_key(key, &k)) < 0)
		return rc;
	if (len > STORE_CMETA_VAL_MAX || (len && !val))
		return QFS_EINVAL;
	MDB_val v = {STORE_CMETA_FIXED + len, NULL};
	int m = mdb_put(t->txn, t->s->dbi_cmeta, &k, &v, MDB_RESERVE);
	if (m != 0)
		return poison(t, m);
	uint8_t *p = v.mv_data;
	store_le16_put(p, STORE_CMETA_VERSION);
	store_le16_put(p + 2, 0);
	store_le32_put(p + 4, 0);
	if (len)
		memcpy(p + STORE_CMETA_FIXED, val, len);
	store_le32_put(p + 4, rec_crc(p, v.mv_size));
	return 0;
}

int store_meta_del(struct store_wtxn *t, const char *key)
{
	int rc = wcheck(t);
	if (rc < 0)
		return rc;
	MDB_val k;
	if ((rc = cmeta_key(key, &k)) < 0)
		return rc;
	int m = mdb_del(t->txn, t->s->dbi_cmeta, &k, NULL);
	if (m == MDB_NOTFOUND)
		return 0; /* deleting an absent key is not an error */
	return m ? poison(t, m) : 0;
}

int store_meta_get(struct store_rtxn *t, const char *key, void *buf, size_t cap, size_t *len)
{
	MDB_val k, v;
	int rc = cmeta_key(key, &k);
	if (rc < 0)
		return rc;
	int m = mdb_get(t->txn, t->s->dbi_cmeta, &k, &v);
	if (m != 0)
		return store_mdb_error(m); /* MDB_NOTFOUND: QFS_ENOENT */
	const void *val;
	size_t vlen;
	if (cmeta_decode(&v, &val, &vlen) != 0) {
		log_error("store: cluster meta record %s corrupt", key);
		return QFS_ECORRUPT;
	}
	if (len)
		*len = vlen;
	if (vlen > cap)
		return QFS_ERANGE;
	if (vlen)
		memcpy(buf, val, vlen);
	return 0;
}

int store_meta_scan(struct store_rtxn *t, const char *prefix, store_meta_fn fn, void *ctx)
{
	size_t plen = prefix ? strlen(prefix) : 0;
	if (plen > STORE_CMETA_KEY_MAX)
		return 0;
	MDB_cursor *c;
	int m = mdb_cursor_open(t->txn, t->s->dbi_cmeta, &c);
	if (m != 0)
		return store_mdb_error(m);
	MDB_val k = {plen, (void *)prefix}, v;
	int rc = 0;
	for (m = plen ? mdb_cursor_get(c, &k, &v, MDB_SET_RANGE)
	              : mdb_cursor_get(c, &k, &v, MDB_FIRST);
	     m == 0; m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (plen && (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0))
			break;
		char key[STORE_CMETA_KEY_MAX + 1];
		const void *val;
		size_t vlen;
		if (k.mv_size > STORE_CMETA_KEY_MAX || cmeta_decode(&v, &val, &vlen) != 0) {
			log_error("store: cluster meta record corrupt (key of %zu bytes)",
			          k.mv_size);
			rc = QFS_ECORRUPT;
			break;
		}
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		int r = fn(ctx, key, val, vlen);
		if (r != 0) {
			rc = r < 0 ? r : 0;
			break;
		}
	}
	mdb_cursor_close(c);
	if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
		rc = store_mdb_error(m);
	return rc;
}
