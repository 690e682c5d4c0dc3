/* Internal to fs/: shared by the read ops, the write ops and the cache code. */
#ifndef QFS_FS_INTERNAL_H
#define QFS_FS_INTERNAL_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/fs.h"

struct fs_inval {
	struct fs_inval *next;
	uint64_t ino;      /* nonzero: invalidate this inode's data and attributes */
	uint64_t parent;   /* else: invalidate the entry (parent, name) */
	char name[256];
};

struct fs {
	struct store *store;
	struct node *node;
	struct fs_options opt;
	struct fuse_session *se;
	uint32_t value_max;

	/* Invalidations run on their own thread: the kernel may block them on
	 * page or directory locks held by requests that wait for the node loop,
	 * so the loop must never wait for them. */
	pthread_mutex_t inval_mu;
	pthread_cond_t inval_cv;
	struct fs_inval *inval_head, *inval_tail;
	bool inval_stop, inval_started;
	pthread_t inval_thread;
};

/* Per open file.  The O_TRUNC of an open is folded into the first write so
 * that readers never see the empty value in between.  bash dup2()s and closes
 * the descriptor it opened before writing, so the FIRST flush does not commit
 * the truncation; a later flush or the release does, when no write came. */
struct fs_handle {
	uint64_t ino;
	atomic_bool trunc_pending; /* taken by exactly one of write/flush/release */
	atomic_uint flushes;
	bool append;               /* O_APPEND: each write appends atomically */
	/* A value read in several read() calls is served from one copy taken at
	 * the first read, so the reader never mixes two versions.  Reference
	 * counted: the kernel may send RELEASE (freeing the handle) as soon as
	 * it has a READ reply, while the replying thread is still returning. */
	pthread_mutex_t mu;
	struct fs_snap *snap;
};

struct fs_snap {
	atomic_uint refs;
	size_t len;
	uint8_t data[];
};

struct fs_handle *fs_handle_new(uint64_t ino, int flags);
void fs_handle_free(struct fs_handle *h);
/* Drops the read copy: this handle changed the value. */
void fs_handle_forget_snap(struct fs_handle *h);

/* True for the one caller that gets to commit the pending truncation. */
static inline bool fs_take_trunc(struct fs_handle *h)
{
	return atomic_exchange(&h->trunc_pending, false);
}

static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The attributes of ino, in a read transaction of its own. */
int fs_getattr_of(struct fs *fs, uint64_t ino, struct qfs_attr *a);
void fs_attr_to_stat(const struct fs *fs, const struct qfs_attr *a, struct stat *st);
void fs_fill_entry(const struct fs *fs, const struct qfs_attr *a, struct fuse_entry_param *e);
void fs_on_applied(void *ctx, const struct store_result *res, bool kernel_knows);

/* Write-side ops (fs_write.c). */
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

#endif
