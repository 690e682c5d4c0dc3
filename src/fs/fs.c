/* fs.c: session set-up and the read side (lookup, getattr, read, readdir,
 * xattrs, statfs).  Reads go straight to an LMDB read transaction. */
#include "fs/fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "util/log.h"
#include "util/metrics.h"

static void ns_to_timespec(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000ull);
	ts->tv_nsec = (long)(ns % 1000000000ull);
}

void fs_attr_to_stat(const struct fs *fs, const struct qfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	/* Tools size their writes by st_blksize: one write() of a whole value is
	 * one atomic change. */
	st->st_blksize = fs->value_max;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	ns_to_timespec(a->mtime_ns, &st->st_mtim);
	ns_to_timespec(a->ctime_ns, &st->st_ctim);
	st->st_atim = st->st_mtim;
}

void fs_fill_entry(const struct fs *fs, const struct qfs_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = a->ino;
	e->generation = 1; /* inode numbers are never reused */
	fs_attr_to_stat(fs, a, &e->attr);
	e->attr_timeout = fs->opt.attr_timeout;
	e->entry_timeout = fs->opt.entry_timeout;
}

static void fs_reply_rc(fuse_req_t req, int rc)
{
	fuse_reply_err(req, qfs_errno(rc));
}

/* The attributes of ino, in a read transaction of its own. */
int fs_getattr_of(struct fs *fs, uint64_t ino, struct qfs_attr *a)
{
	struct store_rtxn *t;
	int rc = store_rbegin(fs->store, &t);
	if (rc < 0)
		return rc;
	rc = store_getattr(t, ino, a);
	store_rend(t);
	return rc;
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC; /* O_TRUNC reaches open(): folded into the first write */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* Every write must reach us (and commit) inside write(): no writeback. */
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->want &= ~(unsigned)FUSE_CAP_HANDLE_KILLPRIV;
	/* One write() cut into several requests (a buffer not resident at a
	 * page boundary) must reach us in order: with async direct I/O the
	 * kernel sends the pieces at once, and a later piece could be
	 * proposed before the first, which carries the folded O_TRUNC. */
	conn->want &= ~(unsigned)FUSE_CAP_ASYNC_DIO;
	/* The largest write the kernel sends in one request, whatever the value
	 * limit: a single write() over the limit is then refused whole. */
	conn->max_write = QFS_VALUE_MAX_HARD;
}

static void fs_lookup_now(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct store_rtxn *t;
	struct qfs_attr a;
	fs_count(fs, FS_C_LOOKUP);
	if (fs_special_lookup(req, parent, name))
		return;
	int rc = store_rbegin(fs->store, &t);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	rc = store_lookup(t, parent, name, strlen(name), &a);
	store_rend(t);
	if (rc < 0) {
		if (rc == QFS_ENOENT) {
			/* A negative entry cached for entry_timeout: a remote create
			 * invalidates it explicitly. */
			struct fuse_entry_param e = {.ino = 0, .entry_timeout = fs->opt.entry_timeout};
			fuse_reply_entry(req, &e);
			return;
		}
		return fs_reply_rc(req, rc);
	}
	struct fuse_entry_param e;
	fs_fill_entry(fs, &a, &e);
	fuse_reply_entry(req, &e);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Keys live in the store and are never reused: nothing to count for
	 * them.  Special entries are freed once the kernel forgets them. */
	if (fs_is_virtual(ino))
		fs_special_forget(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		if (fs_is_virtual(forgets[i].ino))
			fs_special_forget(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr_now(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct qfs_attr a;
	fs_count(fs, FS_C_GETATTR);
	if (fs_special_getattr(req, ino))
		return;
	int rc = fs_getattr_of(fs, ino, &a);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	struct stat st;
	fs_attr_to_stat(fs, &a, &st);
	fuse_reply_attr(req, &st, fs->opt.attr_timeout);
}

static void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct store_rtxn *t;
	struct qfs_attr a;
	const void *data;
	size_t len;
	char buf[QFS_SYMLINK_MAX + 1];
	int rc = store_rbegin(fs->store, &t);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	rc = store_getattr(t, ino, &a);
	if (rc == 0 && !S_ISLNK(a.mode))
		rc = QFS_EINVAL;
	if (rc == 0)
		rc = store_read(t, ino, 0, QFS_SYMLINK_MAX, &data, &len);
	if (rc == 0) {
		memcpy(buf, data, len);
		buf[len] = '\0';
	}
	store_rend(t);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	fuse_reply_readlink(req, buf);
}

static void fs_open_now(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct qfs_attr a;
	fs_count(fs, FS_C_OPEN);
	if (fs_special_open(req, ino, fi))
		return;
	int rc = fs_getattr_of(fs, ino, &a);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	if (S_ISDIR(a.mode))
		return (void)fuse_reply_err(req, EISDIR);
	int acc = fi->flags & O_ACCMODE;
	/* Truncating an empty value changes nothing: no commit needed. */
	struct fs_handle *h = fs_handle_new(fs, ino, (acc != O_RDONLY && a.size > 0) ? fi->flags
										   : fi->flags & ~O_TRUNC);
	if (!h)
		return (void)fuse_reply_err(req, ENOMEM);
	fi->fh = (uint64_t)(uintptr_t)h;
	/* No page cache for contents.  The kernel zeroes its idea of the size at
	 * any local O_TRUNC open, before the value changes here, so cached pages
	 * would show readers an empty or half-written state; and a writer's
	 * cached pages can be sent with stale bytes (a value mixing the old and
	 * the new one was seen once, t08).  Direct I/O takes the writer's bytes
	 * from its own buffer.  The kernel may still cut one write() into
	 * several requests (at a page boundary of a buffer that is not resident:
	 * the page cache path does the same): see docs/usage.md. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_handle_free(h); /* interrupted: no release will come */
}

struct fs_handle *fs_handle_new(struct fs *fs, uint64_t ino, int flags)
{
	struct fs_handle *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->fs = fs;
	pthread_mutex_lock(&fs->h_mu);
	h->next = fs->handles;
	if (h->next)
		h->next->prev = h;
	fs->handles = h;
	pthread_mutex_unlock(&fs->h_mu);
	h->ino = ino;
	atomic_init(&h->trunc_pending, (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY);
	atomic_init(&h->flushes, 0);
	h->append = (flags & O_APPEND) != 0;
	pthread_mutex_init(&h->mu, NULL);
	return h;
}

static void fs_snap_put(struct fs_snap *sn)
{
	if (sn && atomic_fetch_sub(&sn->refs, 1) == 1)
		free(sn);
}

void fs_handle_free(struct fs_handle *h)
{
	if (!h)
		return;
	struct fs *fs = h->fs;
	pthread_mutex_lock(&fs->h_mu);
	if (h->prev)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&fs->h_mu);
	pthread_mutex_destroy(&h->mu);
	fs_snap_put(h->snap);
	free(h);
}

int fs_handle_set_snap(struct fs_handle *h, const void *data, size_t len)
{
	struct fs_snap *sn = malloc(sizeof *sn + len);
	if (!sn)
		return QFS_ENOMEM;
	atomic_init(&sn->refs, 1);
	sn->len = len;
	if (len)
		memcpy(sn->data, data, len);
	pthread_mutex_lock(&h->mu);
	struct fs_snap *old = h->snap;
	h->snap = sn;
	pthread_mutex_unlock(&h->mu);
	fs_snap_put(old);
	return 0;
}

void fs_handle_forget_snap(struct fs_handle *h)
{
	pthread_mutex_lock(&h->mu);
	struct fs_snap *old = h->snap;
	h->snap = NULL;
	pthread_mutex_unlock(&h->mu);
	fs_snap_put(old);
}

static void fs_reply_slice(fuse_req_t req, const uint8_t *data, size_t len, off_t off, size_t size)
{
	if ((uint64_t)off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, (const char *)data + off,
			       len - (size_t)off < size ? len - (size_t)off : size);
}

/* The handle's read copy with a reference, taking it from `t` if it has none
 * yet; NULL with *rc set on failure. */
static struct fs_snap *fs_handle_snap(struct fs_handle *h, const void *data, size_t len, int *rc)
{
	pthread_mutex_lock(&h->mu);
	struct fs_snap *sn = h->snap;
	if (!sn && data) {
		sn = malloc(sizeof *sn + len);
		if (sn) {
			atomic_init(&sn->refs, 1);
			sn->len = len;
			memcpy(sn->data, data, len);
			h->snap = sn;
		}
	}
	if (sn)
		atomic_fetch_add(&sn->refs, 1);
	else if (data)
		*rc = QFS_ENOMEM;
	pthread_mutex_unlock(&h->mu);
	return sn;
}

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	fs_count(fs, FS_C_READ);
	if (fs_special_read(req, ino, size, off, fi))
		return;
	if (atomic_load(&h->trunc_pending))
		return (void)fuse_reply_buf(req, NULL, 0); /* truncated, not yet committed */
	int rc = 0;
	struct fs_snap *sn = fs_handle_snap(h, NULL, 0, &rc);
	if (!sn && h->vkind != FS_V_NONE)
		return (void)fuse_reply_buf(req, NULL, 0); /* write-only special entry */
	if (sn) {
		fs_reply_slice(req, sn->data, sn->len, off, size);
		fs_snap_put(sn); /* h may be gone by now: touch only sn */
		return;
	}
	struct store_rtxn *t;
	const void *data;
	size_t len;
	rc = store_rbegin(fs->store, &t);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	rc = store_read(t, ino, 0, SIZE_MAX, &data, &len);
	if (rc == 0) {
		/* Every later read() of this open is served from this copy, even
		 * when this one returns the whole value: readers read again until
		 * EOF, and that read at offset `len` must not see the tail of a
		 * newer, longer value (the fault soak saw "w2-680" + "9" of
		 * "w9-1019" read as "w2-6809"). */
		sn = fs_handle_snap(h, data, len, &rc);
		if (sn) {
			fs_reply_slice(req, sn->data, sn->len, off, size);
			fs_snap_put(sn);
		}
	}
	store_rend(t);
	if (rc < 0)
		fs_reply_rc(req, rc);
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	/* Every change returned only once durable: nothing left to sync. */
	fuse_reply_err(req, 0);
}

/* A directory listing taken at opendir: offsets index into it, so a
 * concurrent change never makes readdir skip or repeat a name. */
struct fs_dir {
	size_t n, cap;
	struct fs_dirent {
		char *name;
		struct qfs_attr attr;
	} *ents;
};

static int fs_dir_add(struct fs_dir *d, const char *name, size_t len, const struct qfs_attr *a)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct fs_dirent *e = realloc(d->ents, cap * sizeof *e);
		if (!e)
			return QFS_ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	char *copy = strndup(name, len);
	if (!copy)
		return QFS_ENOMEM;
	d->ents[d->n].name = copy;
	d->ents[d->n].attr = *a;
	d->n++;
	return 0;
}

static int fs_dir_collect(void *ctx, const char *name, size_t len, const struct qfs_attr *a)
{
	return fs_dir_add(ctx, name, len, a); /* QFS_ENOMEM stops the listing */
}

static void fs_dir_free(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	free(d);
}

static void fs_opendir_now(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_dir *d = calloc(1, sizeof *d);
	struct store_rtxn *t;
	struct qfs_attr self, parent;
	if (!d)
		return (void)fuse_reply_err(req, ENOMEM);
	int rc = store_rbegin(fs->store, &t);
	if (rc < 0) {
		free(d);
		return fs_reply_rc(req, rc);
	}
	fs_count(fs, FS_C_READDIR);
	if (fs_is_virtual(ino)) {
		rc = fs_special_list(fs, ino, fs_dir_collect, d);
	} else {
		rc = store_getattr(t, ino, &self);
		if (rc == 0 && !S_ISDIR(self.mode))
			rc = QFS_ENOTDIR;
		if (rc == 0)
			rc = store_getattr(t, self.parent, &parent);
		if (rc == 0)
			rc = fs_dir_add(d, ".", 1, &self);
		if (rc == 0)
			rc = fs_dir_add(d, "..", 2, &parent);
		if (rc == 0)
			rc = store_readdir(t, ino, NULL, 0, fs_dir_collect, d);
	}
	store_rend(t);
	if (rc < 0) {
		fs_dir_free(d);
		return fs_reply_rc(req, rc);
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->cache_readdir = 0;
	if (fuse_reply_open(req, fi) == -ENOENT)
		fs_dir_free(d);
}

static void fs_readdir_common(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
			      bool plus)
{
	struct fs *fs = fs_of(req);
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	if (!buf)
		return (void)fuse_reply_err(req, ENOMEM);
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		struct fs_dirent *de = &d->ents[i];
		size_t need;
		if (plus) {
			struct fuse_entry_param e;
			fs_fill_entry(fs, &de->attr, &e);
			if (fs_is_virtual(de->attr.ino))
				e.ino = 0; /* no node id: the kernel counts no lookup */
			need = fuse_add_direntry_plus(req, buf + used, size - used, de->name, &e,
						      (off_t)(i + 1));
		} else {
			struct stat st = {.st_ino = de->attr.ino, .st_mode = de->attr.mode};
			need = fuse_add_direntry(req, buf + used, size - used, de->name, &st,
						 (off_t)(i + 1));
		}
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	fs_readdir_common(req, size, off, fi, false);
}

static void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			      struct fuse_file_info *fi)
{
	fs_readdir_common(req, size, off, fi, true);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct store_rtxn *t;
	struct store_stats s;
	int rc = store_rbegin(fs->store, &t);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	rc = store_stats(t, &s);
	store_rend(t);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	struct statvfs v;
	memset(&v, 0, sizeof v);
	v.f_bsize = 4096;
	v.f_frsize = 4096;
	uint64_t quota = s.map_size * 45 / 100; /* the store's own fill limit */
	v.f_blocks = quota / 4096;
	uint64_t used = s.bytes / 4096;
	v.f_bfree = used >= v.f_blocks ? 0 : v.f_blocks - used;
	v.f_bavail = v.f_bfree;
	v.f_files = s.keys + v.f_bfree;
	v.f_ffree = v.f_bfree;
	v.f_favail = v.f_bfree;
	v.f_namemax = QFS_NAME_MAX;
	fuse_reply_statfs(req, &v);
}

/* -o linearizable: lookup, getattr, open and opendir run once a ReadIndex
 * barrier passed (on the node loop thread), so they see every change that
 * completed anywhere before they began.  read() then reads the local state,
 * which is at least that new. */
enum fs_lin_op { FS_LIN_LOOKUP, FS_LIN_GETATTR, FS_LIN_OPEN, FS_LIN_OPENDIR };

struct fs_lin {
	fuse_req_t req;
	enum fs_lin_op op;
	fuse_ino_t ino;
	struct fuse_file_info fi;
	char name[];
};

static void fs_lin_resume(void *ctx, int rc)
{
	struct fs_lin *l = ctx;
	if (rc < 0)
		fuse_reply_err(l->req, qfs_errno(rc));
	else if (l->op == FS_LIN_LOOKUP)
		fs_lookup_now(l->req, l->ino, l->name);
	else if (l->op == FS_LIN_GETATTR)
		fs_getattr_now(l->req, l->ino);
	else if (l->op == FS_LIN_OPEN)
		fs_open_now(l->req, l->ino, &l->fi);
	else
		fs_opendir_now(l->req, l->ino, &l->fi);
	free(l);
}

/* True when the op was parked behind a barrier (it completes later). */
static bool fs_lin_park(fuse_req_t req, enum fs_lin_op op, fuse_ino_t ino, const char *name,
			const struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	if (!fs->opt.linearizable)
		return false;
	size_t nl = name ? strlen(name) + 1 : 1;
	struct fs_lin *l = calloc(1, sizeof *l + nl);
	if (!l) {
		fuse_reply_err(req, ENOMEM);
		return true;
	}
	l->req = req;
	l->op = op;
	l->ino = ino;
	if (fi)
		l->fi = *fi;
	if (name)
		memcpy(l->name, name, nl);
	node_read_barrier(fs->node, fs_lin_resume, l);
	return true;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!fs_lin_park(req, FS_LIN_LOOKUP, parent, name, NULL))
		fs_lookup_now(req, parent, name);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!fs_lin_park(req, FS_LIN_GETATTR, ino, NULL, NULL))
		fs_getattr_now(req, ino);
}

static void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!fs_lin_park(req, FS_LIN_OPEN, ino, NULL, fi))
		fs_open_now(req, ino, fi);
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!fs_lin_park(req, FS_LIN_OPENDIR, ino, NULL, fi))
		fs_opendir_now(req, ino, fi);
}

/* The per-key counters, readable as user.quorumfs.* xattrs. */
static const char fs_xattr_names[] = "user.quorumfs.mod_revision\0"
				     "user.quorumfs.create_revision\0"
				     "user.quorumfs.version";

static void fs_reply_xattr_bytes(fuse_req_t req, const char *buf, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}

static void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	struct qfs_attr a;
	uint64_t v;
	if (fs_is_virtual(ino) || (strcmp(name, "user.quorumfs.mod_revision") != 0 &&
				   strcmp(name, "user.quorumfs.create_revision") != 0 &&
				   strcmp(name, "user.quorumfs.version") != 0))
		return (void)fuse_reply_err(req, ENODATA);
	int rc = fs_getattr_of(fs, ino, &a);
	if (rc < 0)
		return fs_reply_rc(req, rc);
	if (strcmp(name, "user.quorumfs.mod_revision") == 0)
		v = a.mod_revision;
	else if (strcmp(name, "user.quorumfs.create_revision") == 0)
		v = a.create_revision;
	else
		v = a.version;
	char buf[32];
	int len = snprintf(buf, sizeof buf, "%" PRIu64, v);
	fs_reply_xattr_bytes(req, buf, (size_t)len, size);
}

static void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	if (fs_is_virtual(ino))
		return fs_reply_xattr_bytes(req, "", 0, size);
	fs_reply_xattr_bytes(req, fs_xattr_names, sizeof fs_xattr_names, size);
}

static void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			   size_t size, int flags)
{
	/* Our own counters are read-only; other attributes are not stored. */
	fuse_reply_err(req, strncmp(name, "user.quorumfs.", 14) == 0 ? EPERM : ENOTSUP);
}

static void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, strncmp(name, "user.quorumfs.", 14) == 0 ? EPERM : ENOTSUP);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.setattr = fs_op_setattr,
	.readlink = fs_op_readlink,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.open = fs_op_open,
	.read = fs_op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.fsyncdir = fs_op_fsyncdir,
	.statfs = fs_op_statfs,
	.setxattr = fs_op_setxattr,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
	.create = fs_op_create,
};

int fs_new(struct fs **out, struct store *s, struct node *n, const struct fs_options *opt)
{
	struct fs *fs = calloc(1, sizeof *fs);
	if (!fs)
		return QFS_ENOMEM;
	fs->store = s;
	fs->node = n;
	fs->opt = *opt;
	if (fs->opt.linearizable) /* every name and attribute asks us again */
		fs->opt.entry_timeout = fs->opt.attr_timeout = 0;
	fs->value_max = store_value_max(s);
	fs_special_init(fs);
	pthread_mutex_init(&fs->h_mu, NULL);
	pthread_mutex_init(&fs->dq_mu, NULL);
	pthread_mutex_init(&fs->w_mu, NULL);
	pthread_mutex_init(&fs->inval_mu, NULL);
	pthread_cond_init(&fs->inval_cv, NULL);
	node_on_applied(n, fs_on_applied, fs);
	*out = fs;
	return 0;
}

struct fuse_session *fs_session_new(struct fs *fs, struct fuse_args *args)
{
	fs->se = fuse_session_new(args, &fs_ops, sizeof fs_ops, fs);
	return fs->se;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	pthread_cond_destroy(&fs->inval_cv);
	pthread_mutex_destroy(&fs->inval_mu);
	/* Files still open at unmount: the kernel sent no RELEASE for them. */
	while (fs->handles) {
		if (fs->handles->watch)
			fs_watch_close(fs, fs->handles);
		fs_handle_free(fs->handles);
	}
	pthread_mutex_destroy(&fs->h_mu);
	fs_watch_free(fs);
	pthread_mutex_destroy(&fs->w_mu);
	pthread_mutex_destroy(&fs->dq_mu);
	fs_special_free(fs);
	free(fs);
}

static const char *const fs_counter_names[FS_C_MAX_] = {
    [FS_C_LOOKUP] = "lookup",   [FS_C_GETATTR] = "getattr", [FS_C_SETATTR] = "setattr",
    [FS_C_OPEN] = "open",       [FS_C_READ] = "read",       [FS_C_WRITE] = "write",
    [FS_C_CREATE] = "create",   [FS_C_MKDIR] = "mkdir",     [FS_C_UNLINK] = "unlink",
    [FS_C_RMDIR] = "rmdir",     [FS_C_RENAME] = "rename",   [FS_C_READDIR] = "opendir",
    [FS_C_FLUSH] = "flush",     [FS_C_RELEASE] = "release", [FS_C_XATTR] = "xattr",
    [FS_C_STATFS] = "statfs",   [FS_C_OTHER] = "other",
};

char *fs_metrics_text(struct fs *fs, size_t *len)
{
	struct qfs_text t;
	qfs_text_init(&t);
	node_metrics_render(fs->node, &t);
	qfs_metric_help(&t, "quorumfs_fuse_ops_total", "counter",
			"FUSE requests received, by operation");
	for (unsigned i = 0; i < FS_C_MAX_; i++) {
		char label[48];
		snprintf(label, sizeof label, "op=\"%s\"", fs_counter_names[i]);
		qfs_metric_u64(&t, "quorumfs_fuse_ops_total", label,
			       atomic_load_explicit(&fs->ops[i], memory_order_relaxed));
	}
	if (t.err) {
		qfs_text_free(&t);
		return NULL;
	}
	*len = t.len;
	return t.buf ? t.buf : strdup("");
}
