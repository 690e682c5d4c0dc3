/* The read side: any thread, inside store_rbegin..store_rend.  Also the
 * proposer's precheck (space and size), which reads local state only. */
#include "store/store_int.h"

#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"

/* 0 with *n filled, QFS_ENOENT, or an error. */
static int get(struct store_rtxn *t, uint64_t ino, struct store_inode *n)
{
	int r = store_get_inode(t->s, t->txn, ino, n);
	return r < 0 ? r : r == 0 ? QFS_ENOENT : 0;
}

int store_getattr(struct store_rtxn *t, uint64_t ino, struct qfs_attr *out)
{
	struct store_inode n;
	int rc = get(t, ino, &n);
	if (rc == 0)
		*out = n.a;
	return rc;
}

int store_lookup(struct store_rtxn *t, uint64_t parent, const char *name, size_t len,
                 struct qfs_attr *out)
{
	int rc = qfs_name_check(name, len);
	if (rc < 0)
		return rc;
	struct store_inode p;
	if ((rc = get(t, parent, &p)) < 0)
		return rc;
	if (!S_ISDIR(p.a.mode))
		return QFS_ENOTDIR;
	uint64_t ino;
	int r = store_get_child(t->s, t->txn, parent, name, len, &ino);
	if (r <= 0)
		return r < 0 ? r : QFS_ENOENT;
	rc = store_getattr(t, ino, out);
	return rc == QFS_ENOENT ? QFS_ECORRUPT : rc; /* an entry without its inode */
}

int store_read(struct store_rtxn *t, uint64_t ino, uint64_t offset, size_t size, const void **data,
               size_t *len)
{
	struct store_inode n;
	int rc = get(t, ino, &n);
	if (rc < 0)
		return rc;
	if (S_ISDIR(n.a.mode))
		return QFS_EISDIR;
	static const uint8_t empty[1];
	*data = empty; /* never NULL: callers may memcpy(dst, *data, 0) */
	*len = 0;
	uint8_t kb[8];
	store_be64(kb, ino);
	MDB_val k = {8, kb}, v;
	int m = mdb_get(t->txn, t->s->dbi_data, &k, &v);
	if (m == MDB_NOTFOUND)
		return n.a.size == 0 ? 0 : QFS_ECORRUPT;
	if (m != 0)
		return store_mdb_error(m);
	if (v.mv_size != n.a.size)
		return QFS_ECORRUPT;
	if (offset >= v.mv_size)
		return 0;
	size_t avail = v.mv_size - (size_t)offset;
	*data = (const uint8_t *)v.mv_data + offset;
	*len = size < avail ? size : avail;
	return 0;
}

int store_readdir(struct store_rtxn *t, uint64_t ino, const char *after, size_t after_len,
                  store_dirent_fn fn, void *ctx)
{
	struct store_inode d, n;
	int rc = get(t, ino, &d);
	if (rc < 0)
		return rc;
	if (!S_ISDIR(d.a.mode))
		return QFS_ENOTDIR;
	if (!after)
		after_len = 0;
	if (after_len > QFS_NAME_MAX)
		return QFS_EINVAL;

	MDB_cursor *cur;
	if ((rc = mdb_cursor_open(t->txn, t->s->dbi_names, &cur)) != 0)
		return store_mdb_error(rc);
	uint8_t kb[STORE_NAME_KEY_MAX];
	MDB_val k = {store_name_key(kb, ino, after, after_len), kb}, v;
	int m = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	/* Resume strictly after `after` (which may itself be gone by now). */
	if (m == 0 && after_len && k.mv_size == 8 + after_len &&
	    memcmp(k.mv_data, kb, 8 + after_len) == 0)
		m = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	rc = 0;
	for (; m == 0; m = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < 9 || memcmp(k.mv_data, kb, 8) != 0)
			break; /* past this directory */
		if (v.mv_size != 8 || k.mv_size > STORE_NAME_KEY_MAX) {
			rc = QFS_ECORRUPT;
			break;
		}
		uint64_t child = 0;
		for (int i = 7; i >= 0; i--)
			child = (child << 8) | ((const uint8_t *)v.mv_data)[i];
		if ((rc = get(t, child, &n)) < 0) {
			rc = rc == QFS_ENOENT ? QFS_ECORRUPT : rc;
			break;
		}
		char name[QFS_NAME_MAX + 1];
		size_t len = k.mv_size - 8;
		memcpy(name, (const uint8_t *)k.mv_data + 8, len);
		name[len] = '\0';
		int stop = fn(ctx, name, len, &n.a);
		if (stop) {
			rc = stop < 0 ? stop : 0;
			break;
		}
	}
	if (m != 0 && m != MDB_NOTFOUND && rc == 0)
		rc = store_mdb_error(m);
	mdb_cursor_close(cur);
	return rc;
}

int store_path(struct store_rtxn *t, uint64_t ino, char *buf, size_t cap)
{
	return store_txn_path(t->s, t->txn, ino, buf, cap);
}

int store_txn_path(struct store *s, MDB_txn *txn, uint64_t ino, char *buf, size_t cap)
{
	if (cap == 0)
		return QFS_ENAMETOOLONG;
	/* Built backwards from the end of buf, then moved to the front. */
	size_t pos = cap - 1;
	buf[pos] = '\0';
	struct store_inode n;
	for (unsigned depth = 0; ino != QFS_ROOT_INO; depth++) {
		if (depth > STORE_DEPTH_MAX)
			return QFS_ECORRUPT;
		int rc = store_get_inode(s, txn, ino, &n);
		rc = rc < 0 ? rc : rc == 0 ? QFS_ENOENT : 0;
		if (rc < 0)
			return depth && rc == QFS_ENOENT ? QFS_ECORRUPT : rc;
		size_t need = n.name_len + (pos != cap - 1);
		if (need > pos)
			return QFS_ENAMETOOLONG;
		if (pos != cap - 1)
			buf[--pos] = '/';
		pos -= n.name_len;
		memcpy(buf + pos, n.name, n.name_len);
		ino = n.a.parent;
	}
	memmove(buf, buf + pos, cap - pos);
	return 0;
}

/* Bytes of map pages the Raft log holds: it shares the map with the
 * keyspace until compaction frees them, so it counts against the quota. */
static uint64_t log_bytes(struct store_rtxn *t)
{
	MDB_stat st;
	if (mdb_stat(t->txn, t->s->dbi_log, &st) != 0)
		return 0;
	return (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
}

int store_stats(struct store_rtxn *t, struct store_stats *out)
{
	struct store_meta m;
	int rc = store_get_meta(t->s, t->txn, &m);
	if (rc < 0)
		return rc;
	uint64_t lb = log_bytes(t);
	*out = (struct store_stats){
	    .applied = m.applied,
	    .revision = m.revision,
	    .keys = m.keys,
	    .bytes = m.bytes,
	    .log_bytes = lb,
	    .map_size = t->s->map_size,
	    .full = m.bytes + lb > store_quota(t->s),
	};
	return 0;
}

/* How many charged bytes `c` would add (0 when it would not grow the store),
 * and QFS_EFBIG when it would make a value too large.  A command whose target
 * is missing or of the wrong type passes: apply gives it its error. */
static int growth(struct store_rtxn *t, const struct qfs_cmd *c, uint64_t *grow)
{
	uint64_t vmax = t->s->value_max;
	struct store_inode n;
	int rc;
	*grow = 0;
	switch (c->op) {
	case QFS_OP_CREATE:
		*grow = store_key_bytes(c->name_len, c->data_len);
		return 0;
	case QFS_OP_PUT:
		if (c->data_len > vmax)
			return QFS_EFBIG;
		break;
	case QFS_OP_WRITE:
		if (c->offset > vmax || c->data_len > vmax - c->offset)
			return QFS_EFBIG;
		break;
	case QFS_OP_SETATTR:
		if (!(c->mask & QFS_SET_SIZE))
			return 0;
		if (c->size > vmax)
			return QFS_EFBIG;
		break;
	case QFS_OP_APPEND:
		break;
	case QFS_OP_ENQUEUE:
		if (c->data_len > vmax)
			return QFS_EFBIG;
		*grow = store_key_bytes(QFS_QUEUE_NAME_LEN, c->data_len);
		return 0;
	case QFS_OP_CAS_PUT: {
		if (c->offset > vmax || c->data_len > vmax - c->offset)
			return QFS_EFBIG;
		/* The key may be absent (expect 0: a create) or grow: charge
		 * it as new, an upper bound of what it can add. */
		*grow = store_key_bytes(c->name_len, c->offset + c->data_len);
		return 0;
	}
	default:
		return 0; /* unlink, rmdir, rename, dequeue, noop: never refused for space */
	}
	if ((rc = get(t, c->ino, &n)) < 0)
		return rc == QFS_ENOENT ? 0 : rc;
	if (!S_ISREG(n.a.mode))
		return 0;
	uint64_t size = n.a.size, end;
	switch (c->op) {
	case QFS_OP_PUT:
		end = c->data_len;
		break;
	case QFS_OP_WRITE:
		end = c->data_len ? c->offset + c->data_len : 0;
		break;
	case QFS_OP_APPEND:
		if (size > vmax || c->data_len > vmax - size)
			return QFS_EFBIG;
		end = size + c->data_len;
		break;
	default: /* SETATTR size */
		end = c->size;
		break;
	}
	*grow = end > size ? store_value_bytes(end) - store_value_bytes(size) : 0;
	return 0;
}

int store_precheck(struct store_rtxn *t, const struct qfs_cmd *c)
{
	uint64_t grow;
	int rc = growth(t, c, &grow);
	if (rc < 0 || grow == 0)
		return rc;
	struct store_meta m;
	if ((rc = store_get_meta(t->s, t->txn, &m)) < 0)
		return rc;
	uint64_t quota = store_quota(t->s);
	uint64_t used = m.bytes + log_bytes(t);
	/* The change itself passes through the log first: count it twice. */
	return used > quota || 2 * grow > quota - used ? QFS_ENOSPC : 0;
}
