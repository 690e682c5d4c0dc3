/* store/snapshot: keyspace snapshot files (raftlog.h): write from one read
 * transaction, verify, install into a write transaction.  File format:
 * docs/disk-format.md §9.  Streamed both ways: memory stays bounded (one
 * 1 MiB stdio buffer and a 64 KiB chunk) whatever the size of the keyspace.
 */
#include "store/raftlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/error.h"
#include "store/store_int.h"
#include "util/crc32c.h"
#include "util/log.h"

#define SNAP_MAGIC "QFSSNAP1"
#define SNAP_VERSION 1u
#define SNAP_HDR_FIXED 88u /* then conf_len bytes of configuration */
#define SNAP_REC_HDR 8u    /* u8 type, u8 zero, u16 key_len, u32 val_len */
#define SNAP_TRAILER 24u   /* u64 records, u64 body_len, u32 crc32c, u32 zero */
#define SNAP_IO_BUF (1u << 20)
#define SNAP_CHUNK (64u * 1024)
/* More keys than any map could hold: a header claiming this is garbage. */
#define SNAP_KEYS_MAX (1ull << 40)

enum { SNAP_REC_INODE = 1, SNAP_REC_NAME = 2, SNAP_REC_VALUE = 3, SNAP_REC_SESSION = 4 };
#define SNAP_TABLES 4

_Static_assert(STORE_INODE_FIXED + QFS_NAME_MAX <= UINT16_MAX, "inode record length");
_Static_assert(RAFT_CONF_ENCODED_MAX <= SNAP_CHUNK, "conf fits the chunk buffer");

/* The header fields beyond struct store_snap_info. */
struct snap_hdr {
	struct store_snap_info info;
	uint64_t next_ino;
	uint64_t ks_bytes; /* keyspace `bytes` counter */
	uint64_t records;
};

/* LMDB's default key order: bytes, then shorter first. */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	if (c)
		return c;
	return al < bl ? -1 : al > bl;
}

/* ---------------------------------------------------------------- write */

struct snap_writer {
	FILE *f;
	uint64_t off;
	uint32_t crc;
	int err;
	store_snap_tap tap; /* optional: sees every byte written */
	void *tap_ctx;
};

static void w_bytes(struct snap_writer *w, const void *p, size_t n)
{
	if (w->err || n == 0)
		return;
	if (fwrite(p, 1, n, w->f) != n) {
		w->err = qfs_from_errno(errno ? errno : EIO);
		return;
	}
	w->crc = crc32c(w->crc, p, n);
	w->off += n;
	if (w->tap && w->tap(w->tap_ctx, p, n) != 0)
		w->err = QFS_EINTR;
}

static void w_record(struct snap_writer *w, uint8_t type, const MDB_val *k, const MDB_val *v)
{
	uint8_t h[SNAP_REC_HDR];
	h[0] = type;
	h[1] = 0;
	store_le16_put(h + 2, (uint16_t)k->mv_size);
	store_le32_put(h + 4, (uint32_t)v->mv_size);
	w_bytes(w, h, sizeof h);
	w_bytes(w, k->mv_data, k->mv_size);
	w_bytes(w, v->mv_data, v->mv_size);
}

/* Checks one stored record before it goes out: a damaged store must not
 * spread through snapshots.  0 or QFS_ECORRUPT. */
static int check_stored(uint8_t type, const MDB_val *k, const MDB_val *v)
{
	if (type == SNAP_REC_INODE) {
		struct store_inode n;
		return k->mv_size == 8 ? store_inode_decode(v, store_get_be64(k->mv_data), &n)
		                       : QFS_ECORRUPT;
	}
	if (type == SNAP_REC_SESSION)
		return store_sess_check(k, v);
	if (type == SNAP_REC_NAME)
		return k->mv_size > 8 && k->mv_size <= STORE_NAME_KEY_MAX && v->mv_size == 8
		           ? 0
		           : QFS_ECORRUPT;
	return k->mv_size == 8 && v->mv_size >= 1 && v->mv_size <= QFS_VALUE_MAX_HARD
	           ? 0
	           : QFS_ECORRUPT;
}

static int write_table(struct snap_writer *w, MDB_txn *txn, MDB_dbi dbi, uint8_t type,
                       uint64_t *count)
{
	MDB_cursor *c;
	int m = mdb_cursor_open(txn, dbi, &c);
	if (m != 0)
		return store_mdb_error(m);
	MDB_val k, v;
	int rc = 0;
	for (m = mdb_cursor_get(c, &k, &v, MDB_FIRST); m == 0 && !w->err;
	     m = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (check_stored(type, &k, &v) != 0) {
			log_error(
			    "store: snapshot: corrupt %s record in the store (key of %zu bytes)",
			    type == SNAP_REC_INODE   ? "inode"
			    : type == SNAP_REC_NAME  ? "name"
			    : type == SNAP_REC_VALUE ? "value"
			                             : "session",
			    k.mv_size);
			rc = QFS_ECORRUPT;
			break;
		}
		w_record(w, type, &k, &v);
		(*count)++;
	}
	mdb_cursor_close(c);
	if (rc == 0 && m != 0 && m != MDB_NOTFOUND)
		rc = store_mdb_error(m);
	return rc ? rc : w->err;
}

int store_fsync_parent(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (!slash) {
		strcpy(dir, ".");
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof dir)
			return QFS_ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return qfs_from_errno(errno);
	int rc = fsync(fd) == 0 ? 0 : qfs_from_errno(errno);
	close(fd);
	return rc;
}

/* The table sizes must agree with the counters: a damaged store must not
 * spread through snapshots.  *records: the record count of the file. */
static int snap_counts(struct store *s, MDB_txn *txn, const struct store_meta *m,
                       uint64_t *records)
{
	MDB_stat si, sn, sd, ss;
	int rc = store_mdb_error(mdb_stat(txn, s->dbi_inodes, &si));
	if (rc == 0)
		rc = store_mdb_error(mdb_stat(txn, s->dbi_names, &sn));
	if (rc == 0)
		rc = store_mdb_error(mdb_stat(txn, s->dbi_data, &sd));
	if (rc == 0)
		rc = store_mdb_error(mdb_stat(txn, s->dbi_sess, &ss));
	if (rc < 0)
		return rc;
	if (si.ms_entries != m->keys || sn.ms_entries + 1 != m->keys || sd.ms_entries >= m->keys) {
		log_error("store: snapshot: store counters disagree with its tables "
		          "(keys %llu, inodes %zu, names %zu, values %zu)",
		          (unsigned long long)m->keys, si.ms_entries, sn.ms_entries, sd.ms_entries);
		return QFS_ECORRUPT;
	}
	*records = (uint64_t)si.ms_entries + sn.ms_entries + sd.ms_entries + ss.ms_entries;
	return 0;
}

static int snap_conf(const struct store_snap_info *in, uint8_t conf[RAFT_CONF_ENCODED_MAX])
{
	if (!in->conf.n_voters && !in->conf.n_learners)
		return 0;
	int clen = raft_conf_encode(&in->conf, conf, RAFT_CONF_ENCODED_MAX);
	return clen < 0 ? QFS_EINVAL : clen;
}

int store_snap_stream_size(struct store *s, MDB_txn *txn, const struct store_snap_info *in,
                           uint64_t *len)
{
	uint8_t conf[RAFT_CONF_ENCODED_MAX];
	int clen = snap_conf(in, conf);
	if (clen < 0)
		return clen;
	uint64_t total = SNAP_HDR_FIXED + (uint64_t)clen + SNAP_TRAILER;
	MDB_dbi dbis[SNAP_TABLES] = {s->dbi_inodes, s->dbi_names, s->dbi_data, s->dbi_sess};
	for (int i = 0; i < SNAP_TABLES; i++) {
		MDB_cursor *c;
		int m = mdb_cursor_open(txn, dbis[i], &c);
		if (m != 0)
			return store_mdb_error(m);
		MDB_val k, v;
		for (m = mdb_cursor_get(c, &k, &v, MDB_FIRST); m == 0;
		     m = mdb_cursor_get(c, &k, &v, MDB_NEXT))
			total += SNAP_REC_HDR + k.mv_size + v.mv_size;
		mdb_cursor_close(c);
		if (m != MDB_NOTFOUND)
			return store_mdb_error(m);
	}
	*len = total;
	return 0;
}

int store_snap_stream(struct store *s, MDB_txn *txn, const struct store_meta *m,
                      const struct store_snap_info *in, FILE *f, store_snap_tap tap,
                      void *tap_ctx, uint64_t *len)
{
	uint8_t conf[RAFT_CONF_ENCODED_MAX];
	int clen = snap_conf(in, conf);
	if (clen < 0)
		return clen;
	uint64_t records;
	int rc = snap_counts(s, txn, m, &records);
	if (rc < 0)
		return rc;
	struct snap_writer w = {.f = f, .tap = tap, .tap_ctx = tap_ctx};
	uint8_t h[SNAP_HDR_FIXED];
	memset(h, 0, sizeof h);
	memcpy(h, SNAP_MAGIC, 8);
	store_le32_put(h + 8, SNAP_VERSION);
	store_le32_put(h + 12, SNAP_HDR_FIXED + (uint32_t)clen);
	store_le64_put(h + 16, in->cluster_id);
	store_le64_put(h + 24, in->index);
	store_le64_put(h + 32, in->term);
	store_le64_put(h + 40, m->revision);
	store_le64_put(h + 48, m->next_ino);
	store_le64_put(h + 56, m->keys);
	store_le64_put(h + 64, m->bytes);
	store_le64_put(h + 72, records);
	store_le32_put(h + 80, (uint32_t)clen);
	store_le32_put(h + 84, 0);
	w_bytes(&w, h, sizeof h);
	w_bytes(&w, conf, (size_t)clen);
	if (s->snap_hook)
		s->snap_hook(s->snap_hook_ctx);

	uint64_t n = 0;
	rc = write_table(&w, txn, s->dbi_inodes, SNAP_REC_INODE, &n);
	if (rc == 0)
		rc = write_table(&w, txn, s->dbi_names, SNAP_REC_NAME, &n);
	if (rc == 0)
		rc = write_table(&w, txn, s->dbi_data, SNAP_REC_VALUE, &n);
	if (rc == 0)
		rc = write_table(&w, txn, s->dbi_sess, SNAP_REC_SESSION, &n);
	if (rc == 0 && n != records)
		rc = QFS_ECORRUPT; /* one read txn: cannot happen */
	if (rc < 0)
		return rc;

	uint8_t tr[SNAP_TRAILER];
	store_le64_put(tr, records);
	store_le64_put(tr + 8, w.off);
	w_bytes(&w, tr, 16);
	store_le32_put(tr + 16, w.crc);
	store_le32_put(tr + 20, 0);
	w_bytes(&w, tr + 16, 8);
	if (w.err == 0 && len)
		*len = w.off;
	return w.err;
}

int store_snapshot_write(struct store *s, const char *path, const struct store_snap_info *in,
                         struct store_snap_info *out)
{
	if (!s || !path || !in)
		return QFS_EINVAL;
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return QFS_ENAMETOOLONG;
	uint8_t conf[RAFT_CONF_ENCODED_MAX];
	if (snap_conf(in, conf) < 0)
		return QFS_EINVAL;

	struct store_rtxn *r;
	int rc = store_rbegin(s, &r);
	if (rc < 0)
		return rc;
	MDB_txn *txn = r->txn;
	struct store_meta m;
	FILE *f = NULL;
	uint64_t written = 0;
	if ((rc = store_get_meta(s, txn, &m)) < 0)
		goto out;
	if (in->index != m.applied) {
		rc = QFS_EINVAL; /* the caller's index must be what the keyspace holds */
		goto out;
	}
	uint64_t records;
	if ((rc = snap_counts(s, txn, &m, &records)) < 0)
		goto out;

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = qfs_from_errno(errno);
		log_error("store: snapshot: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		rc = qfs_from_errno(errno);
		close(fd);
		goto out_unlink;
	}
	setvbuf(f, NULL, _IOFBF, SNAP_IO_BUF);
	if ((rc = store_snap_stream(s, txn, &m, in, f, NULL, NULL, &written)) < 0)
		goto out_unlink;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = qfs_from_errno(errno);
		goto out_unlink;
	}
	int fc = fclose(f);
	f = NULL;
	if (fc != 0) {
		rc = qfs_from_errno(errno);
		goto out_unlink;
	}
	if (rename(tmp, path) != 0) {
		rc = qfs_from_errno(errno);
		log_error("store: snapshot: cannot rename %s to %s: %s", tmp, path,
		          strerror(errno));
		goto out_unlink;
	}
	if ((rc = store_fsync_parent(path)) < 0)
		goto out;
	if (out) {
		*out = *in;
		out->revision = m.revision;
		out->keys = m.keys;
		out->bytes = written;
	}
	goto out;

out_unlink:
	if (f)
		fclose(f);
	f = NULL;
	unlink(tmp);
	if (rc == QFS_ENOSPC || rc == QFS_EIO)
		log_error("store: snapshot: writing %s failed: %s", tmp, qfs_strerror(rc));
out:
	store_rend(r);
	return rc;
}

/* ---------------------------------------------------------------- read */

struct snap_reader {
	FILE *f;
	const char *path;
	uint64_t off;   /* bytes read so far */
	uint64_t limit; /* bytes the snapshot may take (UINT64_MAX: to the end of the file) */
	uint32_t crc; /* CRC-32C of those bytes */
	char *err;
	size_t errlen;
	uint8_t *chunk; /* SNAP_CHUNK bytes */
};

__attribute__((format(printf, 3, 4))) static int r_fail(struct snap_reader *r, int rc,
                                                        const char *fmt, ...)
{
	if (r->err && r->errlen) {
		int n = snprintf(r->err, r->errlen, "%s: ", r->path);
		if (n >= 0 && (size_t)n < r->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return rc;
}

/* Reads exactly n bytes (into p, or discarded in chunks when p is NULL). */
static int r_read(struct snap_reader *r, void *p, size_t n)
{
	if (n > r->limit - r->off) /* the region ends first (limit >= off always) */
		return r_fail(r, QFS_ECORRUPT, "truncated at byte %llu",
		              (unsigned long long)r->limit);
	while (n) {
		size_t want = n, got;
		uint8_t *dst = p;
		if (!p) {
			want = n < SNAP_CHUNK ? n : SNAP_CHUNK;
			dst = r->chunk;
		}
		got = fread(dst, 1, want, r->f);
		r->crc = crc32c(r->crc, dst, got);
		r->off += got;
		if (got != want) {
			if (ferror(r->f))
				return r_fail(r, QFS_EIO, "read error at byte %llu: %s",
				              (unsigned long long)r->off, strerror(errno));
			return r_fail(r, QFS_ECORRUPT, "truncated at byte %llu",
			              (unsigned long long)r->off);
		}
		if (p)
			p = dst + got;
		n -= got;
	}
	return 0;
}

/* Where records go when installing (NULL when only verifying). */
struct snap_sink {
	struct store_wtxn *t;
	MDB_cursor *c[SNAP_TABLES]; /* inodes, names, data, sess: by type - 1 */
};

static int sink_fail(struct snap_reader *r, struct snap_sink *k, int mdb_rc)
{
	int rc = store_mdb_error(mdb_rc);
	return r_fail(r, rc, "loading into the store failed: %s", qfs_strerror(rc));
}

static int parse_header(struct snap_reader *r, struct snap_hdr *h)
{
	uint8_t b[SNAP_HDR_FIXED];
	size_t got = fread(b, 1, r->limit < 8 ? (size_t)r->limit : 8, r->f);
	r->off += got;
	r->crc = crc32c(r->crc, b, got);
	if (memcmp(b, SNAP_MAGIC, got) != 0)
		return r_fail(r, QFS_ECORRUPT, "not a quorumfs snapshot (bad magic)");
	if (got != 8) {
		if (ferror(r->f) && r->limit >= 8)
			return r_fail(r, QFS_EIO, "read error at byte %llu: %s",
			              (unsigned long long)r->off, strerror(errno));
		return r_fail(r, QFS_ECORRUPT, "truncated at byte %llu",
		              (unsigned long long)r->off);
	}
	int rc = r_read(r, b + 8, 4);
	if (rc < 0)
		return rc;
	uint32_t version = store_le32_get(b + 8);
	if (version != SNAP_VERSION)
		return r_fail(r, QFS_ECORRUPT,
		              "unsupported snapshot version %u (this build reads version %u)",
		              version, SNAP_VERSION);
	if ((rc = r_read(r, b + 12, SNAP_HDR_FIXED - 12)) < 0)
		return rc;
	uint32_t hlen = store_le32_get(b + 12), clen = store_le32_get(b + 80);
	if (clen > RAFT_CONF_ENCODED_MAX || hlen != SNAP_HDR_FIXED + clen ||
	    store_le32_get(b + 84) != 0)
		return r_fail(r, QFS_ECORRUPT,
		              "malformed header (header length %u, configuration length %u)", hlen,
		              clen);
	memset(h, 0, sizeof *h);
	struct store_snap_info *i = &h->info;
	i->cluster_id = store_le64_get(b + 16);
	i->index = store_le64_get(b + 24);
	i->term = store_le64_get(b + 32);
	i->revision = store_le64_get(b + 40);
	h->next_ino = store_le64_get(b + 48);
	i->keys = store_le64_get(b + 56);
	h->ks_bytes = store_le64_get(b + 64);
	h->records = store_le64_get(b + 72);
	if (clen) {
		if ((rc = r_read(r, r->chunk, clen)) < 0)
			return rc;
		if (raft_conf_decode(r->chunk, clen, &i->conf) != 0)
			return r_fail(r, QFS_ECORRUPT, "malformed configuration in the header");
	}
	if (i->keys == 0 || i->keys > SNAP_KEYS_MAX || h->next_ino <= QFS_ROOT_INO ||
	    h->records < 2 * i->keys - 1)
		return r_fail(r, QFS_ECORRUPT,
		              "inconsistent header (keys %llu, records %llu, next inode %llu)",
		              (unsigned long long)i->keys, (unsigned long long)h->records,
		              (unsigned long long)h->next_ino);
	return 0;
}

/* One record: checked completely, then loaded when k is set. */
struct rec_state {
	uint64_t i;        /* record number */
	uint8_t prev_type; /* 0 before the first */
	uint8_t prev_key[STORE_NAME_KEY_MAX];
	size_t prev_len;
	uint64_t count[SNAP_TABLES + 1]; /* by type */
};

static int parse_record(struct snap_reader *r, const struct snap_hdr *h, struct rec_state *st,
                        struct snap_sink *k)
{
	uint64_t at = r->off;
	uint8_t rh[SNAP_REC_HDR];
	int rc = r_read(r, rh, sizeof rh);
	if (rc < 0)
		return rc;
	uint8_t type = rh[0];
	size_t klen = store_le16_get(rh + 2);
	uint32_t vlen = store_le32_get(rh + 4);
	unsigned long long n = (unsigned long long)st->i, b = (unsigned long long)at;
	if (type < SNAP_REC_INODE || type > SNAP_REC_SESSION || rh[1] != 0 || type < st->prev_type)
		return r_fail(r, QFS_ECORRUPT, "record %llu at byte %llu: bad record type %u", n, b,
		              type);
	bool ok;
	switch (type) {
	case SNAP_REC_INODE:
		ok = klen == 8 && vlen >= STORE_INODE_FIXED &&
		     vlen <= STORE_INODE_FIXED + QFS_NAME_MAX;
		break;
	case SNAP_REC_NAME:
		ok = klen > 8 && klen <= STORE_NAME_KEY_MAX && vlen == 8;
		break;
	case SNAP_REC_VALUE:
		ok = klen == 8 && vlen >= 1 && vlen <= QFS_VALUE_MAX_HARD;
		break;
	default:
		ok = klen == 8 && vlen == STORE_SESS_SIZE;
		break;
	}
	if (!ok)
		return r_fail(r, QFS_ECORRUPT,
		              "record %llu at byte %llu: bad lengths (key %zu, value %u bytes)", n,
		              b, klen, vlen);
	uint8_t key[STORE_NAME_KEY_MAX];
	if ((rc = r_read(r, key, klen)) < 0)
		return rc;
	if (type == st->prev_type && key_cmp(st->prev_key, st->prev_len, key, klen) >= 0)
		return r_fail(r, QFS_ECORRUPT, "record %llu at byte %llu: keys out of order", n, b);
	uint64_t id = store_get_be64(key);
	MDB_val mk = {klen, key}, mv = {vlen, NULL};
	int m = 0;
	if (type == SNAP_REC_VALUE) {
		if (id <= QFS_ROOT_INO || id >= h->next_ino)
			return r_fail(r, QFS_ECORRUPT, "record %llu at byte %llu: bad inode %llu",
			              n, b, (unsigned long long)id);
		if (k) {
			m = mdb_cursor_put(k->c[2], &mk, &mv, MDB_APPEND | MDB_RESERVE);
			if (m != 0)
				return sink_fail(r, k, m);
		}
		if ((rc = r_read(r, mv.mv_data, vlen)) < 0)
			return rc;
	} else {
		uint8_t val[STORE_INODE_FIXED + QFS_NAME_MAX > STORE_SESS_SIZE
		                ? STORE_INODE_FIXED + QFS_NAME_MAX
		                : STORE_SESS_SIZE];
		if ((rc = r_read(r, val, vlen)) < 0)
			return rc;
		mv.mv_data = val;
		if (type == SNAP_REC_INODE) {
			struct store_inode ino;
			if (store_inode_decode(&mv, id, &ino) != 0 || id >= h->next_ino ||
			    (st->count[type] == 0) != (id == QFS_ROOT_INO) ||
			    (id == QFS_ROOT_INO && !S_ISDIR(ino.a.mode)))
				return r_fail(r, QFS_ECORRUPT,
				              "record %llu at byte %llu: corrupt inode record", n,
				              b);
		} else if (type == SNAP_REC_SESSION) {
			if (store_sess_check(&mk, &mv) != 0)
				return r_fail(r, QFS_ECORRUPT,
				              "record %llu at byte %llu: corrupt session record", n,
				              b);
		} else {
			uint64_t child = store_le64_get(val);
			if (id == 0 || id >= h->next_ino || child <= QFS_ROOT_INO ||
			    child >= h->next_ino || qfs_name_check((char *)key + 8, klen - 8) != 0)
				return r_fail(r, QFS_ECORRUPT,
				              "record %llu at byte %llu: corrupt name record", n,
				              b);
		}
		if (k) {
			m = mdb_cursor_put(k->c[type - 1], &mk, &mv, MDB_APPEND);
			if (m != 0)
				return sink_fail(r, k, m);
		}
	}
	st->prev_type = type;
	memcpy(st->prev_key, key, klen);
	st->prev_len = klen;
	st->count[type]++;
	return 0;
}

/* Reads the snapshot in bytes [offset, offset + limit) of the file (limit
 * UINT64_MAX: to its end), checking everything; loads the records when k is
 * set. */
static int parse_region(const char *path, uint64_t offset, uint64_t limit, struct snap_hdr *h,
                        char *err, size_t errlen, struct snap_sink *k)
{
	struct snap_reader r = {.path = path, .err = err, .errlen = errlen, .limit = limit};
	if (err && errlen)
		err[0] = '\0';
	r.chunk = malloc(SNAP_CHUNK);
	if (!r.chunk)
		return QFS_ENOMEM;
	int rc;
	r.f = fopen(path, "rbe");
	if (!r.f) {
		rc = r_fail(&r, qfs_from_errno(errno), "cannot open: %s", strerror(errno));
		free(r.chunk);
		return rc;
	}
	setvbuf(r.f, NULL, _IOFBF, SNAP_IO_BUF);

	rc = 0;
	if (offset && fseeko(r.f, (off_t)offset, SEEK_SET) != 0)
		rc = r_fail(&r, QFS_EIO, "cannot seek to byte %llu: %s",
		            (unsigned long long)offset, strerror(errno));
	if (rc == 0)
		rc = parse_header(&r, h);
	struct rec_state *st = calloc(1, sizeof *st);
	if (rc == 0 && !st)
		rc = QFS_ENOMEM;
	for (uint64_t i = 0; rc == 0 && i < h->records; i++) {
		st->i = i;
		rc = parse_record(&r, h, st, k);
	}
	if (rc == 0 && (st->count[SNAP_REC_INODE] != h->info.keys ||
	                st->count[SNAP_REC_NAME] != h->info.keys - 1))
		rc = r_fail(&r, QFS_ECORRUPT,
		            "record counts do not match the header (keys %llu: %llu inodes, "
		            "%llu names)",
		            (unsigned long long)h->info.keys,
		            (unsigned long long)st->count[SNAP_REC_INODE],
		            (unsigned long long)st->count[SNAP_REC_NAME]);
	if (rc == 0) {
		uint64_t body = r.off;
		uint8_t tr[SNAP_TRAILER];
		rc = r_read(&r, tr, 16);
		uint32_t crc = r.crc;
		if (rc == 0)
			rc = r_read(&r, tr + 16, 8);
		if (rc == 0 && store_le32_get(tr + 16) != crc)
			rc = r_fail(&r, QFS_ECORRUPT, "checksum mismatch");
		if (rc == 0 && (store_le64_get(tr) != h->records ||
		                store_le64_get(tr + 8) != body || store_le32_get(tr + 20) != 0))
			rc = r_fail(&r, QFS_ECORRUPT, "malformed trailer at byte %llu",
			            (unsigned long long)body);
		if (rc == 0 && (limit != UINT64_MAX ? r.off != limit : fgetc(r.f) != EOF))
			rc = r_fail(&r, QFS_ECORRUPT,
			            "unexpected bytes after the trailer (byte %llu)",
			            (unsigned long long)r.off);
		if (rc == 0 && ferror(r.f))
			rc = r_fail(&r, QFS_EIO, "read error at byte %llu",
			            (unsigned long long)r.off);
	}
	h->info.bytes = r.off;
	free(st);
	fclose(r.f);
	free(r.chunk);
	return rc;
}

static int parse_file(const char *path, struct snap_hdr *h, char *err, size_t errlen,
                      struct snap_sink *k)
{
	return parse_region(path, 0, UINT64_MAX, h, err, errlen, k);
}

int store_snapshot_verify(const char *path, struct store_snap_info *info, char *err, size_t errlen)
{
	struct snap_hdr h;
	memset(&h, 0, sizeof h);
	int rc = parse_file(path, &h, err, errlen, NULL);
	if (rc == 0 && info)
		*info = h.info;
	return rc;
}

int store_snap_verify_region(const char *path, uint64_t offset, uint64_t len,
                             struct store_snap_info *info, char *err, size_t errlen)
{
	struct snap_hdr h;
	memset(&h, 0, sizeof h);
	int rc = parse_region(path, offset, len, &h, err, errlen, NULL);
	if (rc == 0 && info)
		*info = h.info;
	return rc;
}

int store_snapshot_install(struct store_wtxn *t, const char *path, struct store_snap_info *info)
{
	return store_snap_install_region(t, path, 0, UINT64_MAX, info);
}

int store_snap_install_region(struct store_wtxn *t, const char *path, uint64_t offset,
                              uint64_t len, struct store_snap_info *info)
{
	struct store *s = t->s;
	STORE_ASSERT(s->writing && t->txn);
	if (t->error)
		return t->error;
	char err[512];
	struct snap_hdr h;
	memset(&h, 0, sizeof h);
	/* Pass 1: verify; a bad file is refused with the txn untouched. */
	int rc = parse_region(path, offset, len, &h, err, sizeof err, NULL);
	if (rc < 0) {
		log_error("store: snapshot install refused: %s", err[0] ? err : qfs_strerror(rc));
		return rc;
	}
	/* Pass 2: empty the keyspace and stream the records in, checking again
	 * (the file could change between the passes): any failure from here on
	 * poisons the txn, and the caller aborts it. */
	struct snap_sink k = {.t = t};
	MDB_dbi dbis[SNAP_TABLES] = {s->dbi_inodes, s->dbi_names, s->dbi_data, s->dbi_sess};
	int m = 0;
	for (int i = 0; m == 0 && i < SNAP_TABLES; i++)
		m = mdb_drop(t->txn, dbis[i], 0);
	for (int i = 0; m == 0 && i < SNAP_TABLES; i++)
		m = mdb_cursor_open(t->txn, dbis[i], &k.c[i]);
	struct snap_hdr h2;
	memset(&h2, 0, sizeof h2);
	if (m != 0) {
		rc = store_mdb_error(m);
		snprintf(err, sizeof err, "%s: %s", path, qfs_strerror(rc));
	} else {
		rc = parse_region(path, offset, len, &h2, err, sizeof err, &k);
	}
	for (int i = 0; i < SNAP_TABLES; i++)
		if (k.c[i])
			mdb_cursor_close(k.c[i]);
	if (rc < 0) {
		log_error("store: snapshot install failed (transaction must be aborted): %s", err);
		t->error = rc;
		return rc;
	}
	t->meta.applied = h2.info.index;
	t->meta.revision = h2.info.revision;
	t->meta.next_ino = h2.next_ino;
	t->meta.keys = h2.info.keys;
	t->meta.bytes = h2.ks_bytes;
	if (info)
		*info = h2.info;
	return 0;
}
