/* fs_write.c: every op that changes the keyspace.  Each builds one command,
 * proposes it to the node and parks the request; fs_done() replies from the
 * node loop once the change is durable (or refused). */
#include "fs/fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "util/log.h"

enum fs_reply_kind {
	FS_REPLY_ENTRY,  /* mknod, mkdir, symlink: the new key */
	FS_REPLY_CREATE, /* create: the new key and its open handle */
	FS_REPLY_WRITE,  /* write: the byte count */
	FS_REPLY_ATTR,   /* setattr: the key's attributes */
	FS_REPLY_ERR,    /* unlink, rmdir, rename, flush: just the outcome */
};

/* A request parked until its change commits. */
struct fs_pending {
	struct fs *fs;
	fuse_req_t req;
	enum fs_reply_kind kind;
	size_t size;                  /* FS_REPLY_WRITE */
	struct fuse_file_info fi;     /* FS_REPLY_CREATE */
	struct fs_handle *h;          /* FS_REPLY_CREATE: owned until replied */
};

static void fs_done(void *ctx, int rc, const struct store_result *res)
{
	struct fs_pending *p = ctx;
	struct fs *fs = p->fs;
	if (rc == 0)
		rc = res->rc;
	if (rc < 0) {
		if (p->kind == FS_REPLY_CREATE)
			fs_handle_free(p->h);
		/* A failed PUT leaves the old value: the truncation folded into
		 * it failed with it (a failed change changes nothing). */
		fuse_reply_err(p->req, qfs_errno(rc));
		free(p);
		return;
	}
	struct fuse_entry_param e;
	struct stat st;
	switch (p->kind) {
	case FS_REPLY_ENTRY:
		fs_fill_entry(fs, &res->attr, &e);
		fuse_reply_entry(p->req, &e);
		break;
	case FS_REPLY_CREATE:
		fs_fill_entry(fs, &res->attr, &e);
		p->h->ino = res->attr.ino;
		/* O_CREAT without O_EXCL may have found an existing value. */
		atomic_store(&p->h->trunc_pending, (p->fi.flags & O_TRUNC) && res->attr.size > 0);
		p->fi.fh = (uint64_t)(uintptr_t)p->h;
		p->fi.direct_io = 1; /* see fs_open_now */
		p->fi.keep_cache = 0;
		if (fuse_reply_create(p->req, &e, &p->fi) == -ENOENT)
			fs_handle_free(p->h); /* interrupted: no release will come */
		break;
	case FS_REPLY_WRITE:
		fuse_reply_write(p->req, p->size);
		break;
	case FS_REPLY_ATTR:
		fs_attr_to_stat(fs, &res->attr, &st);
		fuse_reply_attr(p->req, &st, fs->opt.attr_timeout);
		break;
	case FS_REPLY_ERR:
		fuse_reply_err(p->req, 0);
		break;
	}
	free(p);
}

/* Proposes `c` and parks `req` until it commits. */
static void fs_propose(fuse_req_t req, struct qfs_cmd *c, enum fs_reply_kind kind,
		       bool kernel_knows, struct fs_pending *p)
{
	struct fs *fs = fs_of(req);
	if (!p) {
		p = calloc(1, sizeof *p);
		if (!p) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	p->fs = fs;
	p->req = req;
	p->kind = kind;
	c->time_ns = node_now_ns();
	node_propose(fs->node, c, kernel_knows, fs_done, p);
}

static int fs_name(const char *name, struct qfs_cmd *c)
{
	size_t len = strlen(name);
	int rc = qfs_name_check(name, len);
	if (rc < 0)
		return rc;
	c->name = name;
	c->name_len = (uint16_t)len;
	return 0;
}

/* Nothing is created inside special directories (.rev, .cas, members/). */
static int fs_check_parent(fuse_ino_t parent)
{
	return fs_is_virtual(parent) ? QFS_EACCES : 0;
}

static void fs_create_key(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  const char *target, uint16_t flags, enum fs_reply_kind kind,
			  struct fs_pending *p)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct qfs_cmd c = {.op = QFS_OP_CREATE, .ino = parent, .mode = mode, .flags = flags,
			    .uid = ctx->uid, .gid = ctx->gid};
	fs_count(fs_of(req), S_ISDIR(mode) ? FS_C_MKDIR : FS_C_CREATE);
	int rc = fs_check_parent(parent);
	if (rc == 0)
		rc = fs_name(name, &c);
	if (rc == 0 && qfs_name_reserved(parent, name, c.name_len))
		rc = QFS_EPERM;
	if (rc < 0) {
		if (p && p->h)
			fs_handle_free(p->h);
		free(p);
		fuse_reply_err(req, qfs_errno(rc));
		return;
	}
	if (target) {
		c.data = (const uint8_t *)target;
		c.data_len = (uint32_t)strlen(target);
	}
	fs_propose(req, &c, kind, true, p);
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	if (!S_ISREG(mode))
		return (void)fuse_reply_err(req, EPERM); /* only keys, dirs and symlinks */
	fs_create_key(req, parent, name, mode, NULL, QFS_CMD_EXCL, FS_REPLY_ENTRY, NULL);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fs_create_key(req, parent, name, (mode & 07777) | S_IFDIR, NULL, QFS_CMD_EXCL,
		      FS_REPLY_ENTRY, NULL);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	if (strlen(link) > QFS_SYMLINK_MAX)
		return (void)fuse_reply_err(req, ENAMETOOLONG);
	fs_create_key(req, parent, name, S_IFLNK | 0777, link, QFS_CMD_EXCL, FS_REPLY_ENTRY, NULL);
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	struct fs_pending *p = calloc(1, sizeof *p);
	/* trunc_pending is decided once we know whether the key existed. */
	struct fs_handle *h = fs_handle_new(fs_of(req), 0, fi->flags & ~O_TRUNC);
	if (!p || !h) {
		free(p);
		fs_handle_free(h);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	p->h = h;
	p->fi = *fi;
	/* O_EXCL is decided by the commit: exactly one contender wins. */
	uint16_t flags = (fi->flags & O_EXCL) ? QFS_CMD_EXCL : 0;
	fs_create_key(req, parent, name, (mode & 07777) | S_IFREG, NULL, flags, FS_REPLY_CREATE,
		      p);
}

static void fs_remove(fuse_req_t req, fuse_ino_t parent, const char *name, uint8_t op)
{
	struct qfs_cmd c = {.op = op, .ino = parent};
	fs_count(fs_of(req), op == QFS_OP_RMDIR ? FS_C_RMDIR : FS_C_UNLINK);
	if (op == QFS_OP_UNLINK && fs_special_unlink(req, parent, name))
		return;
	int rc = fs_check_parent(parent);
	if (rc == 0)
		rc = fs_name(name, &c);
	if (rc < 0)
		return (void)fuse_reply_err(req, qfs_errno(rc));
	fs_propose(req, &c, FS_REPLY_ERR, true, NULL);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, QFS_OP_UNLINK);
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_remove(req, parent, name, QFS_OP_RMDIR);
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct qfs_cmd c = {.op = QFS_OP_RENAME, .ino = parent, .ino2 = newparent};
	fs_count(fs_of(req), FS_C_RENAME);
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return (void)fuse_reply_err(req, EINVAL);
	if (fs_is_virtual(parent) || fs_is_virtual(newparent))
		return (void)fuse_reply_err(req, EACCES);
	if (flags & RENAME_NOREPLACE)
		c.flags |= QFS_CMD_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		c.flags |= QFS_CMD_EXCHANGE;
	int rc = fs_name(name, &c);
	if (rc == 0) {
		size_t len = strlen(newname);
		rc = qfs_name_check(newname, len);
		c.name2 = newname;
		c.name2_len = (uint16_t)len;
		if (rc == 0 && qfs_name_reserved(newparent, newname, len))
			rc = QFS_EPERM;
	}
	if (rc < 0)
		return (void)fuse_reply_err(req, qfs_errno(rc));
	fs_propose(req, &c, FS_REPLY_ERR, true, NULL);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EPERM); /* a key has exactly one name */
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct qfs_cmd c = {.op = QFS_OP_SETATTR, .ino = ino};
	fs_count(fs_of(req), FS_C_SETATTR);
	if (fs_is_virtual(ino)) {
		/* Special entries have no attributes of their own to change
		 * (touch, chmod, truncate): the cluster views refuse like
		 * their writes, the others like their creation. */
		enum fs_vkind k = fs_special_kind(fs_of(req), ino);
		bool view = k == FS_V_MEMBERS_DIR || k == FS_V_MEMBER_FILE || k == FS_V_STATUS ||
			    k == FS_V_METRICS;
		return (void)fuse_reply_err(req, view ? EACCES : EPERM);
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		c.mask |= QFS_SET_MODE;
		c.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		c.mask |= QFS_SET_UID;
		c.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		c.mask |= QFS_SET_GID;
		c.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		c.mask |= QFS_SET_SIZE;
		c.size = (uint64_t)attr->st_size;
		struct fs_handle *h = fi ? (struct fs_handle *)(uintptr_t)fi->fh : NULL;
		if (h && c.size == 0)
			fs_take_trunc(h); /* this commit is the truncation */
	}
	if (to_set & FUSE_SET_ATTR_MTIME) {
		c.mask |= QFS_SET_MTIME;
		c.mtime_ns = (uint64_t)attr->st_mtim.tv_sec * 1000000000ull +
			     (uint64_t)attr->st_mtim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		c.mask |= QFS_SET_MTIME;
		c.mtime_ns = node_now_ns();
	}
	if (c.mask == 0) {
		/* atime only: not stored; answer with the current attributes. */
		struct fs *fs = fs_of(req);
		struct qfs_attr a;
		int rc = fs_getattr_of(fs, ino, &a);
		if (rc < 0)
			return (void)fuse_reply_err(req, qfs_errno(rc));
		struct stat st;
		fs_attr_to_stat(fs, &a, &st);
		fuse_reply_attr(req, &st, fs->opt.attr_timeout);
		return;
	}
	fs_propose(req, &c, FS_REPLY_ATTR, true, NULL);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	fs_count(fs_of(req), FS_C_WRITE);
	if (fs_special_write(req, ino, buf, size, off, fi))
		return;
	struct fs_pending *p = calloc(1, sizeof *p);
	if (!p)
		return (void)fuse_reply_err(req, ENOMEM);
	struct qfs_cmd c = {.ino = ino, .data = (const uint8_t *)buf,
			    .data_len = (uint32_t)size};
	bool kernel_knows = true;
	uint8_t *zeros = NULL;
	fs_handle_forget_snap(h); /* read-your-writes on this handle */
	if (h->append) {
		c.op = QFS_OP_APPEND;
		kernel_knows = false; /* the kernel guessed the offset */
	} else if (fs_take_trunc(h)) {
		/* O_TRUNC and the first write are one change: readers never see
		 * the empty value in between. */
		c.op = QFS_OP_PUT;
		if (off > 0) {
			/* Rare: the first write after O_TRUNC is not at 0. */
			if ((uint64_t)off + size > fs_of(req)->value_max) {
				free(p);
				return (void)fuse_reply_err(req, EFBIG);
			}
			zeros = calloc(1, (size_t)off + size);
			if (!zeros) {
				free(p);
				return (void)fuse_reply_err(req, ENOMEM);
			}
			memcpy(zeros + off, buf, size);
			c.data = zeros;
			c.data_len = (uint32_t)(off + (off_t)size);
		}
	} else {
		/* A later write patches at its offset: the log holds only the
		 * bytes written, not the whole value again. */
		c.op = QFS_OP_WRITE;
		c.offset = (uint64_t)off;
	}
	p->size = size;
	fs_propose(req, &c, FS_REPLY_WRITE, kernel_knows, p);
	free(zeros); /* node_propose encoded a copy */
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	fs_count(fs_of(req), FS_C_FLUSH);
	/* The first flush may be bash closing the descriptor it dup2()ed from,
	 * with the write still to come: keep the truncation pending. */
	if (!h || fs_is_virtual(ino) || atomic_fetch_add(&h->flushes, 1) == 0 || !fs_take_trunc(h))
		return (void)fuse_reply_err(req, 0);
	/* An O_TRUNC open with no write: the truncation commits now. */
	struct fs_pending *p = calloc(1, sizeof *p);
	if (!p)
		return (void)fuse_reply_err(req, ENOMEM);
	struct qfs_cmd c = {.op = QFS_OP_PUT, .ino = ino};
	fs_propose(req, &c, FS_REPLY_ERR, true, p);
}

static void fs_release_done(void *ctx, int rc, const struct store_result *res)
{
	struct fs_handle *h = ctx;
	if (rc == 0)
		rc = res->rc;
	if (rc < 0)
		log_warn("truncation of inode %llu at close failed: %s",
			 (unsigned long long)h->ino, qfs_strerror(rc));
	fs_handle_free(h);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	struct fs *fs = fs_of(req); /* req is gone once replied to */
	fs_count(fs, FS_C_RELEASE);
	if (fs_special_release(req, ino, fi))
		return;
	fuse_reply_err(req, 0);
	if (!h || !fs_take_trunc(h)) {
		fs_handle_free(h);
		return;
	}
	/* Opened with O_TRUNC, closed after a single flush and no write: nobody
	 * waits for this reply any more, so a failure can only be logged. */
	struct qfs_cmd c = {.op = QFS_OP_PUT, .ino = ino, .time_ns = node_now_ns()};
	node_propose(fs->node, &c, true, fs_release_done, h);
}
