/* store_apply: the keyspace state machine.
 *
 * Deterministic: the outcome depends only on the state, the command and the
 * value limit; no clock (times come from the command), no randomness.
 *
 * Validate, then mutate.  Every handler first reads what it needs and decides
 * the outcome; only a command that succeeds writes, and from its first write
 * on it can fail only through LMDB (a transaction error: the caller aborts the
 * whole transaction).  So a refused command leaves nothing behind without the
 * cost of a nested transaction (docs/disk-format.md §6; store_set_nested_apply
 * turns nesting on, for measurement and as a belt-and-braces mode).
 *
 * Handlers return 0 (outcome in k->rc) or -1 (transaction error in k->tx).
 */
#include "store/store_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"

struct ks {
	struct store *s;
	MDB_txn *txn;
	struct store_meta *m;
	const struct qfs_cmd *c;
	struct store_result *res;
	uint64_t rev; /* this change's revision, once begun */
	int rc;       /* the command's outcome */
	int tx;       /* a transaction error */
	bool mutated; /* something was written */
	/* Watch events by (parent, name); paths are built once apply succeeded. */
	struct ks_event {
		uint8_t kind;
		uint64_t parent;
		uint16_t len;
		char name[QFS_NAME_MAX + 1];
	} ev[STORE_EVENTS_MAX];
	unsigned n_ev;
};

#define FAIL(code)                                                                                 \
	do {                                                                                       \
		k->rc = (code);                                                                    \
		return 0;                                                                          \
	} while (0)
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		if ((expr) < 0)                                                                    \
			return -1;                                                                 \
	} while (0)

static int tx_fail(struct ks *k, int rc)
{
	STORE_ASSERT(rc < 0);
	if (!k->tx)
		k->tx = rc;
	return -1;
}

static int mdb_check(struct ks *k, int mdb_rc)
{
	return mdb_rc ? tx_fail(k, store_mdb_error(mdb_rc)) : 0;
}

/* --- reads inside the write txn: 1 found, 0 absent, -1 tx error --- */

static int load(struct ks *k, uint64_t ino, struct store_inode *n)
{
	int r = store_get_inode(k->s, k->txn, ino, n);
	return r < 0 ? tx_fail(k, r) : r;
}

/* An inode that must exist (named by an entry): absent means corrupt. */
static int load_named(struct ks *k, uint64_t ino, struct store_inode *n)
{
	int r = load(k, ino, n);
	return r == 0 ? tx_fail(k, QFS_ECORRUPT) : r;
}

/* 1: the directory is in *n; 0: k->rc says why not; -1: tx error. */
static int load_dir(struct ks *k, uint64_t ino, struct store_inode *n)
{
	int r = load(k, ino, n);
	if (r == 0)
		k->rc = QFS_ENOENT;
	if (r <= 0)
		return r;
	if (!S_ISDIR(n->a.mode)) {
		k->rc = QFS_ENOTDIR;
		return 0;
	}
	return 1;
}

static int child(struct ks *k, uint64_t parent, const char *name, size_t len, uint64_t *ino)
{
	int r = store_get_child(k->s, k->txn, parent, name, len, ino);
	return r < 0 ? tx_fail(k, r) : r;
}

/* Length of ino's path relative to the root ("a/b": 3).  Stops counting
 * once past QFS_PATH_MAX: callers only compare against the limit. */
static int path_len(struct ks *k, uint64_t ino, size_t *out)
{
	size_t len = 0;
	for (unsigned depth = 0; ino != QFS_ROOT_INO && len <= QFS_PATH_MAX; depth++) {
		struct store_inode n;
		if (depth > STORE_DEPTH_MAX)
			return tx_fail(k, QFS_ECORRUPT);
		TRY(load_named(k, ino, &n));
		len += n.name_len + (n.a.parent != QFS_ROOT_INO);
		ino = n.a.parent;
	}
	*out = len;
	return 0;
}

/* Would a key named `len` bytes under `parent` have a path too long? */
static int path_too_long(struct ks *k, uint64_t parent, size_t len, bool *too_long)
{
	size_t plen;
	TRY(path_len(k, parent, &plen));
	size_t total = plen + (parent != QFS_ROOT_INO) + len;
	*too_long = total > QFS_PATH_MAX - 1; /* the path and its NUL fit QFS_PATH_MAX */
	return 0;
}

/* Is `ino` the directory `top` or below it? */
static int within(struct ks *k, uint64_t ino, uint64_t top, bool *yes)
{
	*yes = false;
	for (unsigned depth = 0;; depth++) {
		if (ino == top) {
			*yes = true;
			return 0;
		}
		if (ino == QFS_ROOT_INO)
			return 0;
		if (depth > STORE_DEPTH_MAX)
			return tx_fail(k, QFS_ECORRUPT);
		struct store_inode n;
		TRY(load_named(k, ino, &n));
		ino = n.a.parent;
	}
}

/* --- writes --- */

static void begin_change(struct ks *k)
{
	STORE_ASSERT(!k->mutated);
	k->mutated = true;
	k->rev = ++k->m->revision;
}

static int put_inode(struct ks *k, const struct store_inode *n, bool is_new)
{
	STORE_ASSERT(k->mutated);
	uint8_t kb[8], rb[STORE_INODE_FIXED + QFS_NAME_MAX];
	store_be64(kb, n->a.ino);
	MDB_val key = {8, kb}, val = {store_inode_encode(n, rb), rb};
	/* Inode numbers only grow: a new inode goes at the end of the tree,
	 * and MDB_APPEND fills pages instead of splitting them in half. */
	return mdb_check(k, mdb_put(k->txn, k->s->dbi_inodes, &key, &val, is_new ? MDB_APPEND : 0));
}

static int del_inode(struct ks *k, uint64_t ino)
{
	STORE_ASSERT(k->mutated);
	uint8_t kb[8];
	store_be64(kb, ino);
	MDB_val key = {8, kb};
	return mdb_check(k, mdb_del(k->txn, k->s->dbi_inodes, &key, NULL));
}

static int put_name(struct ks *k, uint64_t parent, const char *name, size_t len, uint64_t ino)
{
	STORE_ASSERT(k->mutated);
	uint8_t kb[STORE_NAME_KEY_MAX], vb[8];
	store_put_le64(vb, ino);
	MDB_val key = {store_name_key(kb, parent, name, len), kb}, val = {8, vb};
	return mdb_check(k, mdb_put(k->txn, k->s->dbi_names, &key, &val, 0));
}

static int del_name(struct ks *k, uint64_t parent, const char *name, size_t len)
{
	STORE_ASSERT(k->mutated);
	uint8_t kb[STORE_NAME_KEY_MAX];
	MDB_val key = {store_name_key(kb, parent, name, len), kb};
	return mdb_check(k, mdb_del(k->txn, k->s->dbi_names, &key, NULL));
}

/* Sets the value of ino (empty: no record). */
static int put_data(struct ks *k, uint64_t ino, const void *data, size_t len)
{
	STORE_ASSERT(k->mutated);
	uint8_t kb[8];
	store_be64(kb, ino);
	MDB_val key = {8, kb}, val = {len, (void *)data};
	int rc = len ? mdb_put(k->txn, k->s->dbi_data, &key, &val, 0)
	             : mdb_del(k->txn, k->s->dbi_data, &key, NULL);
	return mdb_check(k, rc == MDB_NOTFOUND ? 0 : rc);
}

/* Builds a new value of `size` bytes in scratch: the first min(size, cur)
 * bytes of ino's value (of length cur), then zeros.  The caller patches it. */
static int value_scratch(struct ks *k, uint64_t ino, uint64_t cur, size_t size, uint8_t **out)
{
	uint8_t *buf = store_scratch(k->s, size);
	if (!buf)
		return tx_fail(k, QFS_ENOMEM);
	uint8_t kb[8];
	store_be64(kb, ino);
	MDB_val key = {8, kb}, val = {0, NULL};
	int rc = mdb_get(k->txn, k->s->dbi_data, &key, &val);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_check(k, rc);
	size_t have = rc == 0 ? val.mv_size : 0;
	if (have != cur)
		return tx_fail(k, QFS_ECORRUPT); /* the value and its inode disagree */
	if (have > size)
		have = size;
	if (have)
		memcpy(buf, val.mv_data, have);
	memset(buf + have, 0, size - have);
	*out = buf;
	return 0;
}

static void touch(struct ks *k, struct store_inode *n, bool content)
{
	STORE_ASSERT(k->mutated);
	if (content)
		n->a.mtime_ns = k->c->time_ns;
	n->a.ctime_ns = k->c->time_ns;
	n->a.mod_revision = k->rev;
	n->a.version++;
}

static void set_name(struct store_inode *n, const char *name, size_t len)
{
	STORE_ASSERT(len <= QFS_NAME_MAX);
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->name_len = (uint16_t)len;
}

/* --- results --- */

static void res_ino(struct ks *k, uint64_t ino)
{
	struct store_result *r = k->res;
	for (unsigned i = 0; i < r->n_changed_ino; i++)
		if (r->changed_ino[i] == ino)
			return;
	STORE_ASSERT(r->n_changed_ino < STORE_CHANGED_MAX);
	r->changed_ino[r->n_changed_ino++] = ino;
}

static void res_entry(struct ks *k, uint64_t parent, const char *name, size_t len)
{
	struct store_result *r = k->res;
	STORE_ASSERT(r->n_changed_entry < 2 && len < sizeof r->changed_entry[0].name);
	r->changed_entry[r->n_changed_entry].parent = parent;
	memcpy(r->changed_entry[r->n_changed_entry].name, name, len);
	r->changed_entry[r->n_changed_entry].name[len] = '\0';
	r->n_changed_entry++;
}

/* A key put or deleted, for `.watch`: (parent, name), or the root itself
 * when parent is 0. */
static void res_event(struct ks *k, uint8_t kind, uint64_t parent, const char *name, size_t len)
{
	STORE_ASSERT(k->n_ev < STORE_EVENTS_MAX && len <= QFS_NAME_MAX);
	struct ks_event *e = &k->ev[k->n_ev++];
	e->kind = kind;
	e->parent = parent;
	e->len = (uint16_t)len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
}

/* The event of a key changed in place. */
static void res_event_key(struct ks *k, const struct store_inode *x)
{
	if (x->a.ino == QFS_ROOT_INO)
		res_event(k, STORE_EV_PUT, 0, "", 0);
	else
		res_event(k, STORE_EV_PUT, x->a.parent, x->name, x->name_len);
}

/* Builds the event paths in the transaction, after the change. */
static void res_event_paths(struct ks *k)
{
	char dir[QFS_PATH_MAX];
	for (unsigned i = 0; i < k->n_ev; i++) {
		struct ks_event *e = &k->ev[i];
		struct store_event *out = &k->res->events[k->res->n_events];
		if (e->parent == 0)
			dir[0] = '\0';
		else if (store_txn_path(k->s, k->txn, e->parent, dir, sizeof dir) < 0)
			continue; /* cannot happen for a parent the change just used */
		size_t dl = strlen(dir), need = dl + 1 + e->len + 1;
		out->kind = e->kind;
		out->path = malloc(need);
		if (out->path)
			snprintf(out->path, need, "%s%s%s", dir, dl && e->len ? "/" : "", e->name);
		k->res->n_events++;
	}
}

void store_result_release(struct store_result *res)
{
	for (unsigned i = 0; i < res->n_events; i++) {
		free(res->events[i].path);
		res->events[i].path = NULL;
	}
	res->n_events = 0;
	free(res->value);
	res->value = NULL;
	res->value_len = 0;
}

/* --- handlers --- */

/* Creates key `name` under directory p (checked by the caller: absent, a
 * valid and unreserved name, a path that fits): the first write of a change.
 * data is a symlink's target or a regular file's value. */
static int make_key(struct ks *k, struct store_inode *p, uint32_t mode, const char *name,
		    size_t len, const void *data, size_t dlen)
{
	const struct qfs_cmd *c = k->c;
	uint32_t fmt = mode & S_IFMT;
	if (!k->mutated)
		begin_change(k);
	struct store_inode n = {
	    .a = {.ino = k->m->next_ino++,
	          .parent = p->a.ino,
	          .mode = mode,
	          .uid = c->uid,
	          .gid = c->gid,
	          .nlink = fmt == S_IFDIR ? 2 : 1,
	          .size = dlen,
	          .mtime_ns = c->time_ns,
	          .ctime_ns = c->time_ns,
	          .create_revision = k->rev,
	          .mod_revision = k->rev,
	          .version = 1},
	};
	set_name(&n, name, len);
	TRY(put_inode(k, &n, true));
	TRY(put_name(k, p->a.ino, name, len, n.a.ino));
	if (dlen)
		TRY(put_data(k, n.a.ino, data, dlen));
	p->children++;
	if (fmt == S_IFDIR)
		p->a.nlink++;
	touch(k, p, true);
	TRY(put_inode(k, p, false));
	k->m->keys++;
	k->m->bytes += store_key_bytes(len, dlen);
	k->res->attr = n.a;
	res_ino(k, p->a.ino);
	res_entry(k, p->a.ino, name, len);
	res_event(k, STORE_EV_PUT, p->a.ino, name, len);
	return 0;
}

static int op_create(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode p, x;
	int r = qfs_name_check(c->name, c->name_len);
	if (r < 0)
		FAIL(r);
	if ((r = load_dir(k, c->ino, &p)) <= 0)
		return r;
	if (qfs_name_reserved(c->ino, c->name, c->name_len))
		FAIL(QFS_EPERM);
	uint32_t fmt = c->mode & S_IFMT;
	if (fmt != S_IFREG && fmt != S_IFDIR && fmt != S_IFLNK)
		FAIL(QFS_EINVAL);
	if (fmt != S_IFLNK && c->data_len)
		FAIL(QFS_EINVAL);
	uint64_t old;
	TRY(r = child(k, c->ino, c->name, c->name_len, &old));
	if (r) {
		TRY(load_named(k, old, &x));
		if ((c->flags & QFS_CMD_EXCL) || fmt != S_IFREG || !S_ISREG(x.a.mode))
			FAIL(QFS_EEXIST);
		k->res->attr = x.a; /* O_CREAT of an existing file: nothing changes */
		return 0;
	}
	if (fmt == S_IFLNK) {
		if (c->data_len == 0)
			FAIL(QFS_ENOENT); /* as symlink(2) with an empty target */
		if (c->data_len > QFS_SYMLINK_MAX - 1)
			FAIL(QFS_ENAMETOOLONG);
		if (memchr(c->data, '\0', c->data_len))
			FAIL(QFS_EINVAL);
	}
	bool too_long;
	TRY(path_too_long(k, c->ino, c->name_len, &too_long));
	if (too_long)
		FAIL(QFS_ENAMETOOLONG);

	return make_key(k, &p, fmt | (c->mode & 07777), c->name, c->name_len, c->data,
			fmt == S_IFLNK ? c->data_len : 0);
}

/* Loads the target of a value change: a regular file. */
static int load_file(struct ks *k, uint64_t ino, struct store_inode *x)
{
	int r = load(k, ino, x);
	if (r == 0)
		k->rc = QFS_ENOENT;
	if (r <= 0)
		return r;
	if (S_ISDIR(x->a.mode)) {
		k->rc = QFS_EISDIR;
		return 0;
	}
	if (!S_ISREG(x->a.mode)) {
		k->rc = QFS_EINVAL;
		return 0;
	}
	return 1;
}

/* Stores the new value (already in place) and the attributes of a value change. */
static int finish_value(struct ks *k, struct store_inode *x, const void *data, size_t size)
{
	TRY(put_data(k, x->a.ino, data, size));
	k->m->bytes = k->m->bytes - store_value_bytes(x->a.size) + store_value_bytes(size);
	x->a.size = size;
	touch(k, x, true);
	TRY(put_inode(k, x, false));
	k->res->attr = x->a;
	res_ino(k, x->a.ino);
	res_event_key(k, x);
	return 0;
}

/* Writes data at offset into x's value (extended with zeros if needed):
 * the change itself, checked by the caller. */
static int patch_value(struct ks *k, struct store_inode *x, uint64_t offset, const void *data,
		       size_t len)
{
	uint64_t end = offset + len;
	size_t size = (size_t)(end > x->a.size ? end : x->a.size);
	uint8_t *buf;
	TRY(value_scratch(k, x->a.ino, x->a.size, size, &buf));
	if (len)
		memcpy(buf + offset, data, len);
	begin_change(k);
	return finish_value(k, x, buf, size);
}

static int op_put(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode x;
	int r;
	if ((r = load_file(k, c->ino, &x)) <= 0)
		return r;
	if (c->data_len > STORE_APPLY_VALUE_MAX)
		FAIL(QFS_EFBIG);
	begin_change(k);
	return finish_value(k, &x, c->data, c->data_len);
}

static int op_write(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode x;
	int r;
	if ((r = load_file(k, c->ino, &x)) <= 0)
		return r;
	uint64_t vmax = STORE_APPLY_VALUE_MAX;
	if (c->offset > vmax || c->data_len > vmax - c->offset)
		FAIL(QFS_EFBIG);
	if (c->data_len == 0) {
		k->res->attr = x.a; /* write(2) of nothing changes nothing */
		return 0;
	}
	return patch_value(k, &x, c->offset, c->data, c->data_len);
}

static int op_append(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode x;
	int r;
	if ((r = load_file(k, c->ino, &x)) <= 0)
		return r;
	uint64_t vmax = STORE_APPLY_VALUE_MAX;
	if (x.a.size > vmax || c->data_len > vmax - x.a.size)
		FAIL(QFS_EFBIG);
	if (c->data_len == 0) {
		k->res->attr = x.a;
		return 0;
	}
	size_t size = (size_t)x.a.size + c->data_len;
	uint8_t *buf;
	TRY(value_scratch(k, x.a.ino, x.a.size, size, &buf));
	memcpy(buf + x.a.size, c->data, c->data_len);
	begin_change(k);
	return finish_value(k, &x, buf, size);
}

#define SETATTR_ALL (QFS_SET_MODE | QFS_SET_UID | QFS_SET_GID | QFS_SET_SIZE | QFS_SET_MTIME)

static int op_setattr(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode x;
	int r;
	TRY(r = load(k, c->ino, &x));
	if (r == 0)
		FAIL(QFS_ENOENT);
	if (c->mask & ~SETATTR_ALL)
		FAIL(QFS_EINVAL);
	if (c->mask & QFS_SET_SIZE) {
		if (S_ISDIR(x.a.mode))
			FAIL(QFS_EISDIR);
		if (!S_ISREG(x.a.mode))
			FAIL(QFS_EINVAL);
		if (c->size > STORE_APPLY_VALUE_MAX)
			FAIL(QFS_EFBIG);
	}
	if (c->mask == 0) {
		k->res->attr = x.a;
		return 0;
	}
	uint8_t *buf = NULL;
	size_t size = (size_t)x.a.size;
	if ((c->mask & QFS_SET_SIZE) && c->size != x.a.size) {
		size = (size_t)c->size;
		TRY(value_scratch(k, x.a.ino, x.a.size, size, &buf));
	}
	begin_change(k);
	if (c->mask & QFS_SET_MODE)
		x.a.mode = (x.a.mode & S_IFMT) | (c->mode & 07777);
	if (c->mask & QFS_SET_UID)
		x.a.uid = c->uid;
	if (c->mask & QFS_SET_GID)
		x.a.gid = c->gid;
	if (buf) {
		TRY(put_data(k, x.a.ino, buf, size));
		k->m->bytes = k->m->bytes - store_value_bytes(x.a.size) + store_value_bytes(size);
		x.a.size = size;
	}
	touch(k, &x, (c->mask & QFS_SET_SIZE) != 0);
	if (c->mask & QFS_SET_MTIME)
		x.a.mtime_ns = c->mtime_ns;
	TRY(put_inode(k, &x, false));
	k->res->attr = x.a;
	res_ino(k, x.a.ino);
	res_event_key(k, &x);
	return 0;
}

/* Deletes key x (entry in p already checked); p is updated by the caller. */
static int remove_key(struct ks *k, struct store_inode *p, const struct store_inode *x)
{
	TRY(del_inode(k, x->a.ino));
	if (S_ISREG(x->a.mode) || S_ISLNK(x->a.mode))
		TRY(put_data(k, x->a.ino, NULL, 0));
	p->children--;
	if (S_ISDIR(x->a.mode))
		p->a.nlink--;
	k->m->keys--;
	k->m->bytes -= store_key_bytes(x->name_len, x->a.size);
	return 0;
}

/* Deletes entry x->name of directory p (checked by the caller). */
static int unlink_key(struct ks *k, struct store_inode *p, const struct store_inode *x)
{
	begin_change(k);
	TRY(del_name(k, p->a.ino, x->name, x->name_len));
	TRY(remove_key(k, p, x));
	touch(k, p, true);
	TRY(put_inode(k, p, false));
	res_ino(k, p->a.ino);
	res_ino(k, x->a.ino);
	res_entry(k, p->a.ino, x->name, x->name_len);
	res_event(k, STORE_EV_DELETE, p->a.ino, x->name, x->name_len);
	return 0;
}

static int op_remove(struct ks *k, bool dir)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode p, x;
	int r = qfs_name_check(c->name, c->name_len);
	if (r < 0)
		FAIL(r);
	if ((r = load_dir(k, c->ino, &p)) <= 0)
		return r;
	uint64_t ino;
	TRY(r = child(k, c->ino, c->name, c->name_len, &ino));
	if (r == 0)
		FAIL(QFS_ENOENT);
	TRY(load_named(k, ino, &x));
	if (!dir && S_ISDIR(x.a.mode))
		FAIL(QFS_EISDIR);
	if (dir && !S_ISDIR(x.a.mode))
		FAIL(QFS_ENOTDIR);
	if (dir && x.children)
		FAIL(QFS_ENOTEMPTY);

	return unlink_key(k, &p, &x);
}

/* Moving directory a under new parent `to`: not into itself or below. */
static int check_loop(struct ks *k, const struct store_inode *a, uint64_t to, bool *loop)
{
	*loop = false;
	if (!S_ISDIR(a->a.mode))
		return 0;
	return within(k, to, a->a.ino, loop);
}

static int op_rename(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	bool exchange = c->flags & QFS_CMD_EXCHANGE, noreplace = c->flags & QFS_CMD_NOREPLACE;
	struct store_inode p1s, p2s, a, b;
	int r;
	if (exchange && noreplace)
		FAIL(QFS_EINVAL);
	if ((r = qfs_name_check(c->name, c->name_len)) < 0 ||
	    (r = qfs_name_check(c->name2, c->name2_len)) < 0)
		FAIL(r);
	if ((r = load_dir(k, c->ino, &p1s)) <= 0)
		return r;
	struct store_inode *p1 = &p1s, *p2 = &p2s;
	if (c->ino2 == c->ino)
		p2 = p1;
	else if ((r = load_dir(k, c->ino2, &p2s)) <= 0)
		return r;
	uint64_t ia, ib;
	TRY(r = child(k, c->ino, c->name, c->name_len, &ia));
	if (r == 0)
		FAIL(QFS_ENOENT);
	TRY(load_named(k, ia, &a));
	if (qfs_name_reserved(c->ino2, c->name2, c->name2_len))
		FAIL(QFS_EPERM);
	bool have_b;
	TRY(r = child(k, c->ino2, c->name2, c->name2_len, &ib));
	have_b = r;
	if (have_b && ib == ia) {
		/* The entry onto itself: nothing to do (as rename(2)). */
		if (noreplace)
			FAIL(QFS_EEXIST);
		k->res->attr = a.a;
		return 0;
	}
	if (have_b)
		TRY(load_named(k, ib, &b));
	if (exchange && !have_b)
		FAIL(QFS_ENOENT);

	bool bad;
	TRY(check_loop(k, &a, c->ino2, &bad));
	if (bad)
		FAIL(QFS_EINVAL);
	if (exchange) {
		TRY(check_loop(k, &b, c->ino, &bad));
		if (bad)
			FAIL(QFS_EINVAL);
	} else if (have_b) {
		if (noreplace)
			FAIL(QFS_EEXIST);
		if (S_ISDIR(b.a.mode)) {
			/* The target is an ancestor of the source: never empty. */
			TRY(within(k, c->ino, b.a.ino, &bad));
			if (bad || b.children)
				FAIL(QFS_ENOTEMPTY);
			if (!S_ISDIR(a.a.mode))
				FAIL(QFS_EISDIR);
		} else if (S_ISDIR(a.a.mode)) {
			FAIL(QFS_ENOTDIR);
		}
	}
	TRY(path_too_long(k, c->ino2, c->name2_len, &bad));
	if (bad)
		FAIL(QFS_ENAMETOOLONG);
	if (exchange) {
		TRY(path_too_long(k, c->ino, c->name_len, &bad));
		if (bad)
			FAIL(QFS_ENAMETOOLONG);
	}

	STORE_ASSERT(a.a.ino != p1->a.ino && a.a.ino != p2->a.ino);
	STORE_ASSERT(!have_b || (b.a.ino != p1->a.ino && b.a.ino != p2->a.ino));
	begin_change(k);
	bool a_dir = S_ISDIR(a.a.mode);
	if (exchange) {
		bool b_dir = S_ISDIR(b.a.mode);
		TRY(put_name(k, c->ino, c->name, c->name_len, b.a.ino));
		TRY(put_name(k, c->ino2, c->name2, c->name2_len, a.a.ino));
		b.a.parent = c->ino;
		set_name(&b, c->name, c->name_len);
		touch(k, &b, false);
		TRY(put_inode(k, &b, false));
		p1->a.nlink = p1->a.nlink - a_dir + b_dir;
		p2->a.nlink = p2->a.nlink - b_dir + a_dir;
	} else {
		if (have_b)
			TRY(remove_key(k, p2, &b));
		TRY(del_name(k, c->ino, c->name, c->name_len));
		TRY(put_name(k, c->ino2, c->name2, c->name2_len, a.a.ino));
		p1->children--;
		p2->children++;
		p1->a.nlink -= a_dir;
		p2->a.nlink += a_dir;
		k->m->bytes = k->m->bytes - c->name_len + c->name2_len;
	}
	a.a.parent = c->ino2;
	set_name(&a, c->name2, c->name2_len);
	touch(k, &a, false);
	TRY(put_inode(k, &a, false));
	touch(k, p1, true);
	TRY(put_inode(k, p1, false));
	if (p2 != p1) {
		touch(k, p2, true);
		TRY(put_inode(k, p2, false));
	}
	k->res->attr = a.a;
	res_ino(k, p1->a.ino);
	res_ino(k, p2->a.ino);
	res_ino(k, a.a.ino);
	if (have_b)
		res_ino(k, b.a.ino);
	res_entry(k, c->ino, c->name, c->name_len);
	res_entry(k, c->ino2, c->name2, c->name2_len);
	res_event(k, exchange ? STORE_EV_PUT : STORE_EV_DELETE, c->ino, c->name, c->name_len);
	res_event(k, STORE_EV_PUT, c->ino2, c->name2, c->name2_len);
	return 0;
}

/* Checks shared by the ops that name a key in a directory: a valid name,
 * the directory in *p, and the key's inode in *x (1) or absent (0). */
static int named_key(struct ks *k, struct store_inode *p, struct store_inode *x)
{
	const struct qfs_cmd *c = k->c;
	int r = qfs_name_check(c->name, c->name_len);
	if (r < 0) {
		k->rc = r;
		return 0;
	}
	if ((r = load_dir(k, c->ino, p)) <= 0)
		return r;
	uint64_t ino;
	TRY(r = child(k, c->ino, c->name, c->name_len, &ino));
	if (r == 0)
		return 2;
	TRY(load_named(k, ino, x));
	return 1;
}

static int op_cas_put(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode p, x;
	int r;
	TRY(r = named_key(k, &p, &x));
	if (r == 0)
		return 0;
	uint64_t vmax = STORE_APPLY_VALUE_MAX;
	if (c->offset > vmax || c->data_len > vmax - c->offset)
		FAIL(QFS_EFBIG);
	if (r == 2) { /* absent */
		if (c->expect_rev != 0)
			FAIL(QFS_ECANCELED);
		if (c->offset != 0)
			FAIL(QFS_EINVAL); /* a create writes the value from its start */
		if (qfs_name_reserved(c->ino, c->name, c->name_len))
			FAIL(QFS_EPERM);
		bool too_long;
		TRY(path_too_long(k, c->ino, c->name_len, &too_long));
		if (too_long)
			FAIL(QFS_ENAMETOOLONG);
		return make_key(k, &p, S_IFREG | (c->mode & 07777), c->name, c->name_len, c->data,
				c->data_len);
	}
	if (S_ISDIR(x.a.mode))
		FAIL(QFS_EISDIR);
	if (!S_ISREG(x.a.mode))
		FAIL(QFS_EINVAL);
	if (c->expect_rev == 0)
		FAIL(QFS_EEXIST);
	if (x.a.mod_revision != c->expect_rev)
		FAIL(QFS_ECANCELED);
	if (c->offset == 0) {
		begin_change(k);
		return finish_value(k, &x, c->data, c->data_len);
	}
	return patch_value(k, &x, c->offset, c->data, c->data_len);
}

static int op_cas_delete(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode p, x;
	int r;
	TRY(r = named_key(k, &p, &x));
	if (r == 0)
		return 0;
	if (r == 2)
		FAIL(QFS_ENOENT);
	if (S_ISDIR(x.a.mode))
		FAIL(QFS_EISDIR);
	if (x.a.mod_revision != c->expect_rev)
		FAIL(QFS_ECANCELED);
	return unlink_key(k, &p, &x);
}

static int op_enqueue(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode p;
	int r;
	if ((r = load_dir(k, c->ino, &p)) <= 0)
		return r;
	if (c->data_len > STORE_APPLY_VALUE_MAX)
		FAIL(QFS_EFBIG);
	/* Named after the revision this commit takes: increasing in commit
	 * order on every replica. */
	char name[QFS_QUEUE_NAME_LEN + 1];
	snprintf(name, sizeof name, "%020" PRIu64, k->m->revision + 1);
	uint64_t ino;
	TRY(r = child(k, c->ino, name, QFS_QUEUE_NAME_LEN, &ino));
	if (r)
		FAIL(QFS_EEXIST); /* somebody made a key with a future item's name */
	bool too_long;
	TRY(path_too_long(k, c->ino, QFS_QUEUE_NAME_LEN, &too_long));
	if (too_long)
		FAIL(QFS_ENAMETOOLONG);
	begin_change(k);
	STORE_ASSERT(k->rev == k->m->revision);
	return make_key(k, &p, S_IFREG | (c->mode & 07777), name, QFS_QUEUE_NAME_LEN, c->data,
			c->data_len);
}

static bool is_item_name(const uint8_t *name, size_t len)
{
	if (len != QFS_QUEUE_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

static int op_dequeue(struct ks *k)
{
	const struct qfs_cmd *c = k->c;
	struct store_inode p, x;
	int r;
	if ((r = load_dir(k, c->ino, &p)) <= 0)
		return r;
	/* Items sort by name among themselves; other names may sit between
	 * them, so walk from the smallest possible item name. */
	MDB_cursor *cur;
	TRY(mdb_check(k, mdb_cursor_open(k->txn, k->s->dbi_names, &cur)));
	uint8_t kb[STORE_NAME_KEY_MAX];
	static const char first[QFS_QUEUE_NAME_LEN + 1] = "00000000000000000000";
	MDB_val key = {store_name_key(kb, c->ino, first, QFS_QUEUE_NAME_LEN), kb}, val;
	uint64_t found = 0;
	int m = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	for (; m == 0; m = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		const uint8_t *kp = key.mv_data;
		if (key.mv_size < 9 || memcmp(kp, kb, 8) != 0 || kp[8] > '9')
			break; /* past the directory, or past every name starting with a digit */
		if (!is_item_name(kp + 8, key.mv_size - 8) || val.mv_size != 8)
			continue;
		uint64_t ino = 0;
		for (int i = 7; i >= 0; i--)
			ino = (ino << 8) | ((const uint8_t *)val.mv_data)[i];
		int lr = load_named(k, ino, &x);
		if (lr < 0) {
			mdb_cursor_close(cur);
			return -1;
		}
		if (S_ISREG(x.a.mode)) {
			found = ino;
			break;
		}
	}
	mdb_cursor_close(cur);
	if (m != 0 && m != MDB_NOTFOUND)
		return mdb_check(k, m);
	if (!found)
		FAIL(QFS_EAGAIN);
	/* Copy the value out before the delete frees its pages. */
	uint8_t *copy = NULL;
	if (x.a.size) {
		uint8_t kv[8];
		store_be64(kv, found);
		MDB_val dk = {8, kv}, dv;
		TRY(mdb_check(k, mdb_get(k->txn, k->s->dbi_data, &dk, &dv)));
		if (dv.mv_size != x.a.size)
			return tx_fail(k, QFS_ECORRUPT);
		if (!(copy = malloc(dv.mv_size)))
			return tx_fail(k, QFS_ENOMEM);
		memcpy(copy, dv.mv_data, dv.mv_size);
	}
	k->res->value = copy;
	k->res->value_len = (size_t)x.a.size;
	k->res->attr = x.a;
	return unlink_key(k, &p, &x);
}

static int dispatch(struct ks *k)
{
	if (k->c->data_len && !k->c->data)
		FAIL(QFS_EINVAL); /* only an in-process caller can get this wrong */
	switch (k->c->op) {
	case QFS_OP_NOOP:
		return 0;
	case QFS_OP_CREATE:
		return op_create(k);
	case QFS_OP_PUT:
		return op_put(k);
	case QFS_OP_WRITE:
		return op_write(k);
	case QFS_OP_APPEND:
		return op_append(k);
	case QFS_OP_SETATTR:
		return op_setattr(k);
	case QFS_OP_UNLINK:
		return op_remove(k, false);
	case QFS_OP_RMDIR:
		return op_remove(k, true);
	case QFS_OP_RENAME:
		return op_rename(k);
	case QFS_OP_CAS_PUT:
		return op_cas_put(k);
	case QFS_OP_CAS_DELETE:
		return op_cas_delete(k);
	case QFS_OP_ENQUEUE:
		return op_enqueue(k);
	case QFS_OP_DEQUEUE:
		return op_dequeue(k);
	default:
		k->rc = QFS_EINVAL;
		return 0;
	}
}

int store_apply(struct store_wtxn *t, uint64_t index, const struct qfs_cmd *c,
                struct store_result *res)
{
	struct store *s = t->s;
	STORE_ASSERT(s->writing && t->txn);
	memset(res, 0, sizeof *res);
	res->revision = t->meta.revision;
	if (t->error) {
		res->rc = t->error;
		return t->error;
	}
	/* Exactly once: an index at or below the applied one was applied
	 * already (or skipped); refuse it and change nothing. */
	if (index <= t->meta.applied) {
		res->rc = QFS_EINVAL;
		return QFS_EINVAL;
	}

	struct store_meta saved = t->meta;
	struct ks k = {.s = s, .txn = t->txn, .m = &t->meta, .c = c, .res = res};
	if (s->nested_apply) {
		int rc = mdb_txn_begin(s->env, t->txn, 0, &k.txn);
		if (rc != 0) {
			t->error = store_mdb_error(rc);
			res->rc = t->error;
			return t->error;
		}
	}
	int r = dispatch(&k);
	if (r == 0 && k.rc < 0) {
		/* Refused: nothing may have been written (validate, then mutate). */
		STORE_ASSERT(s->nested_apply || !k.mutated);
		STORE_ASSERT(s->nested_apply || memcmp(&saved, &t->meta, sizeof saved) == 0);
		t->meta = saved;
		if (s->nested_apply)
			mdb_txn_abort(k.txn);
		store_result_release(res);
		memset(res, 0, sizeof *res);
		res->rc = k.rc;
		res->op = c->op;
	} else if (r == 0 && s->nested_apply) {
		int rc = mdb_txn_commit(k.txn);
		if (rc != 0)
			r = tx_fail(&k, store_mdb_error(rc));
	} else if (r < 0 && s->nested_apply) {
		mdb_txn_abort(k.txn);
	}
	if (r < 0) {
		STORE_ASSERT(k.tx < 0);
		t->meta = saved;
		t->error = k.tx; /* sticky: the caller must abort */
		store_result_release(res);
		memset(res, 0, sizeof *res);
		res->rc = k.tx;
		return k.tx;
	}
	t->meta.applied = index;
	res->revision = t->meta.revision;
	res->op = c->op;
	if (k.rc == 0 && k.mutated) {
		k.txn = t->txn; /* a nested txn is committed into it by now */
		res_event_paths(&k);
	}
	return 0;
}
