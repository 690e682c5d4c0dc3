/* store: the LMDB environment, transactions and the one LMDB error mapping. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/error.h"

/* Every MDB_* code (and the errno values LMDB passes through) becomes a QFS_E*
 * here and nowhere else. */
int store_mdb_error(int mdb_rc)
{
	switch (mdb_rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return QFS_ENOENT;
	case MDB_KEYEXIST:
		return QFS_EEXIST;
	case MDB_MAP_FULL:
	case MDB_TXN_FULL: /* too many dirty pages: the batch must shrink */
		return QFS_ENOSPC;
	case MDB_READERS_FULL:
	case MDB_TLS_FULL:
		return QFS_EAGAIN;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_INCOMPATIBLE:
	case MDB_BAD_VALSIZE:
	case MDB_BAD_DBI:
		return QFS_ECORRUPT;
	case MDB_PANIC:
	case MDB_MAP_RESIZED:
	case MDB_DBS_FULL:
	case MDB_CURSOR_FULL:
	case MDB_PAGE_FULL:
	case MDB_BAD_RSLOT:
	case MDB_BAD_TXN:
		return QFS_EIO;
	default:
		if (mdb_rc > 0)
			return qfs_from_errno(mdb_rc); /* ENOMEM, ENOSPC, EACCES, ENOENT, ... */
		return QFS_EIO;
	}
}

void store_assert_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "quorumfs store: assertion failed: %s (%s:%d)\n", what, file, line);
	abort();
}

uint8_t *store_scratch(struct store *s, size_t size)
{
	if (s->scratch && size <= s->scratch_cap)
		return s->scratch;
	size_t cap = s->scratch_cap ? s->scratch_cap : 4096;
	while (cap < size)
		cap *= 2;
	uint8_t *p = realloc(s->scratch, cap);
	if (!p)
		return NULL;
	s->scratch = p;
	s->scratch_cap = cap;
	return p;
}

void store_set_nested_apply(struct store *s, bool on)
{
	s->nested_apply = on;
}

uint32_t store_value_max(const struct store *s)
{
	return s->value_max;
}

uint64_t store_quota(const struct store *s)
{
	return s->map_size / 100u * STORE_QUOTA_PCT;
}

uint64_t store_value_bytes(uint64_t size)
{
	if (size < STORE_CHARGE_PAGE)
		return 2 * size;
	/* 16: LMDB's page header on the first overflow page. */
	return (size + 16 + STORE_CHARGE_PAGE - 1) / STORE_CHARGE_PAGE * STORE_CHARGE_PAGE;
}

uint64_t store_key_bytes(size_t name_len, uint64_t size)
{
	return STORE_KEY_OVERHEAD + name_len + store_value_bytes(size);
}

/* mkdir -p: intermediate directories 0755, the data directory itself 0700. */
static int make_dirs(const char *dir)
{
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--; /* "data/" is "data": the last component gets 0700 */
	if (len == 0 || len >= 4096)
		return QFS_EINVAL;
	char path[4096];
	memcpy(path, dir, len);
	path[len] = '\0';
	for (size_t i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, c ? 0755 : 0700) != 0 && errno != EEXIST)
			return qfs_from_errno(errno);
		path[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) != 0)
		return qfs_from_errno(errno);
	return S_ISDIR(st.st_mode) ? 0 : QFS_ENOTDIR;
}

/* A fresh environment: format record, counters and the root directory. */
static int store_init_keyspace(struct store *s, MDB_txn *txn)
{
	uint8_t fmt[STORE_FORMAT_SIZE];
	store_format_encode(fmt);
	MDB_val k = {6, "format"}, v = {sizeof fmt, fmt};
	int rc = mdb_put(txn, s->dbi_meta, &k, &v, MDB_NOOVERWRITE);
	if (rc != 0)
		return store_mdb_error(rc);

	struct store_meta m = {
	    .applied = 0,
	    .revision = 0,
	    .next_ino = QFS_ROOT_INO + 1,
	    .keys = 1,
	    .bytes = STORE_KEY_OVERHEAD,
	};
	uint8_t mb[STORE_META_SIZE];
	store_meta_encode(&m, mb);
	k = (MDB_val){8, "keyspace"};
	v = (MDB_val){sizeof mb, mb};
	rc = mdb_put(txn, s->dbi_meta, &k, &v, MDB_NOOVERWRITE);
	if (rc != 0)
		return store_mdb_error(rc);

	/* Deterministic on every replica: no clock, revision 0. */
	struct store_inode root = {
	    .a = {.ino = QFS_ROOT_INO,
	          .parent = QFS_ROOT_INO,
	          .mode = S_IFDIR | 0755,
	          .nlink = 2,
	          .version = 1},
	};
	uint8_t rb[STORE_INODE_FIXED + QFS_NAME_MAX], kb[8];
	store_be64(kb, QFS_ROOT_INO);
	k = (MDB_val){8, kb};
	v = (MDB_val){store_inode_encode(&root, rb), rb};
	rc = mdb_put(txn, s->dbi_inodes, &k, &v, MDB_NOOVERWRITE);
	return store_mdb_error(rc);
}

static int store_open_dbs(struct store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc != 0)
		return store_mdb_error(rc);
	rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->dbi_meta);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "inodes", MDB_CREATE, &s->dbi_inodes);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "names", MDB_CREATE, &s->dbi_names);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "data", MDB_CREATE, &s->dbi_data);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "log", MDB_CREATE, &s->dbi_log);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "raft", MDB_CREATE, &s->dbi_raft);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "cmeta", MDB_CREATE, &s->dbi_cmeta);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "sess", MDB_CREATE, &s->dbi_sess);
	rc = store_mdb_error(rc);
	if (rc == 0) {
		MDB_val k = {6, "format"}, v;
		int g = mdb_get(txn, s->dbi_meta, &k, &v);
		if (g == MDB_NOTFOUND)
			rc = store_init_keyspace(s, txn);
		else if (g != 0)
			rc = store_mdb_error(g);
		else
			rc = store_format_decode(&v);
	}
	if (rc == 0) {
		struct store_meta m;
		rc = store_get_meta(s, txn, &m);
	}
	if (rc == 0) {
		struct store_inode root;
		int g = store_get_inode(s, txn, QFS_ROOT_INO, &root);
		rc = g < 0 ? g : (g == 0 || !S_ISDIR(root.a.mode)) ? QFS_ECORRUPT : 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	return store_mdb_error(mdb_txn_commit(txn));
}

int store_open(struct store **out, const char *dir, const struct store_options *opt)
{
	static const struct store_options defaults = {0};
	if (!opt)
		opt = &defaults;
	uint64_t map_size = opt->map_size ? opt->map_size : QFS_MAP_SIZE_DEFAULT;
	uint32_t value_max = opt->value_max ? opt->value_max : QFS_VALUE_MAX_DEFAULT;
	if (map_size < QFS_MAP_SIZE_MIN || value_max > QFS_VALUE_MAX_HARD ||
	    (size_t)map_size != map_size)
		return QFS_EINVAL;

	int rc = make_dirs(dir);
	if (rc < 0)
		return rc;
	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return QFS_ENOMEM;
	s->lock_fd = -1;
	s->value_max = value_max;
	pthread_mutex_init(&s->pool_mu, NULL);

	/* One daemon per data directory: LMDB must not be opened twice. */
	char lock_path[4200];
	snprintf(lock_path, sizeof lock_path, "%s/quorumfs.lock", dir);
	s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		rc = qfs_from_errno(errno);
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? QFS_EAGAIN : qfs_from_errno(errno);
		goto fail;
	}

	rc = store_mdb_error(mdb_env_create(&s->env));
	if (rc < 0)
		goto fail;
	rc = mdb_env_set_maxdbs(s->env, STORE_MAXDBS);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(s->env, STORE_READERS_MAX);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, (size_t)map_size);
	if (rc == 0)
		rc = mdb_env_open(s->env, dir, MDB_NOTLS | (opt->no_sync ? MDB_NOSYNC : 0), 0600);
	rc = store_mdb_error(rc);
	if (rc < 0)
		goto fail;
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	s->map_size = info.me_mapsize;

	rc = store_open_dbs(s);
	if (rc < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	STORE_ASSERT(!s->writing); /* store_close with an open write transaction */
	struct store_rtxn *r = s->pool;
	while (r) {
		struct store_rtxn *next = r->next;
		mdb_txn_abort(r->txn);
		free(r);
		r = next;
	}
	if (s->env)
		mdb_env_close(s->env);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	pthread_mutex_destroy(&s->pool_mu);
	free(s->scratch);
	free(s);
}

/* --- write side --- */

int store_wbegin(struct store *s, struct store_wtxn **out)
{
	STORE_ASSERT(!s->writing); /* one write transaction at a time */
	struct store_wtxn *t = &s->w;
	memset(t, 0, sizeof *t);
	t->s = s;
	int rc = store_mdb_error(mdb_txn_begin(s->env, NULL, 0, &t->txn));
	if (rc < 0)
		return rc;
	rc = store_get_meta(s, t->txn, &t->meta);
	if (rc < 0) {
		mdb_txn_abort(t->txn);
		return rc;
	}
	s->writing = true;
	*out = t;
	return 0;
}

int store_wcommit(struct store_wtxn *t)
{
	struct store *s = t->s;
	STORE_ASSERT(s->writing);
	int rc = t->error;
	if (rc == 0) {
		uint8_t mb[STORE_META_SIZE];
		store_meta_encode(&t->meta, mb);
		MDB_val k = {8, "keyspace"}, v = {sizeof mb, mb};
		rc = store_mdb_error(mdb_put(t->txn, s->dbi_meta, &k, &v, 0));
	}
	if (rc == 0) {
		/* mdb_txn_commit frees the txn whether or not it succeeds. */
		rc = store_mdb_error(mdb_txn_commit(t->txn));
	} else {
		mdb_txn_abort(t->txn);
	}
	t->txn = NULL;
	s->writing = false;
	return rc;
}

void store_wabort(struct store_wtxn *t)
{
	struct store *s = t->s;
	STORE_ASSERT(s->writing);
	mdb_txn_abort(t->txn);
	t->txn = NULL;
	s->writing = false;
}

/* --- read side: pooled read-only txns (reset + renew keeps the reader slot) --- */

int store_rbegin(struct store *s, struct store_rtxn **out)
{
	pthread_mutex_lock(&s->pool_mu);
	struct store_rtxn *r = s->pool;
	if (r) {
		s->pool = r->next;
		s->pool_n--;
	}
	pthread_mutex_unlock(&s->pool_mu);

	int rc;
	if (r) {
		rc = mdb_txn_renew(r->txn);
		if (rc == 0) {
			*out = r;
			return 0;
		}
		mdb_txn_abort(r->txn);
		free(r);
		return store_mdb_error(rc);
	}
	r = calloc(1, sizeof *r);
	if (!r)
		return QFS_ENOMEM;
	r->s = s;
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
	if (rc != 0) {
		free(r);
		return store_mdb_error(rc);
	}
	*out = r;
	return 0;
}

void store_rend(struct store_rtxn *r)
{
	if (!r)
		return;
	struct store *s = r->s;
	mdb_txn_reset(r->txn);
	pthread_mutex_lock(&s->pool_mu);
	if (s->pool_n < STORE_RPOOL_MAX) {
		r->next = s->pool;
		s->pool = r;
		s->pool_n++;
		r = NULL;
	}
	pthread_mutex_unlock(&s->pool_mu);
	if (r) {
		mdb_txn_abort(r->txn);
		free(r);
	}
}
