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
#include "quorumfs/limits.h"

struct fs_inval {
	struct fs_inval *next;
	uint64_t ino;      /* nonzero: invalidate this inode's data and attributes */
	uint64_t parent;   /* else: invalidate the entry (parent, name) */
	char name[256];
	void (*then)(void *arg); /* else, when set: run it (after what was queued before) */
	void *arg;
};

/* Special entries (INTERFACE §4, §5) are virtual inodes numbered from
 * FS_VINO_BASE: real inode numbers count up from 1 and never get there. */
#define FS_VINO_BASE (1ull << 62)
#define FS_VNODE_BUCKETS 256u
#define FS_WATCH_RING 65536u /* changes kept for `.watch` readers that lag */
#define FS_MEMBERS_MAX 64u
#define FS_VIEW_SIZE_MAX 4096u /* bound on a .status or members/ file */

static inline bool fs_is_virtual(uint64_t ino)
{
	return ino >= FS_VINO_BASE;
}

enum fs_vkind {
	FS_V_NONE = 0,      /* a real key */
	FS_V_REV_DIR,       /* DIR/.rev */
	FS_V_REV_FILE,      /* DIR/.rev/NAME */
	FS_V_CAS_DIR,       /* DIR/.cas */
	FS_V_CAS_REV_DIR,   /* DIR/.cas/REV */
	FS_V_CAS_FILE,      /* DIR/.cas/REV/NAME */
	FS_V_ENQUEUE,       /* DIR/.enqueue */
	FS_V_DEQUEUE,       /* DIR/.dequeue */
	FS_V_WATCH,         /* DIR/.watch */
	FS_V_MEMBERS_DIR,   /* /members */
	FS_V_MEMBER_FILE,   /* /members/NAME */
	FS_V_STATUS,        /* /.status */
	FS_V_METRICS,       /* /.metrics */
};

/* A virtual inode, alive while the kernel holds a lookup on it. */
struct fs_vnode {
	struct fs_vnode *next_ino, *next_key;
	uint64_t vino;
	enum fs_vkind kind;
	uint64_t dir;     /* the real directory it belongs to */
	uint64_t rev;     /* FS_V_CAS_REV_DIR, FS_V_CAS_FILE */
	uint64_t nlookup;
	char name[QFS_NAME_MAX + 1]; /* FS_V_REV_FILE, FS_V_CAS_FILE, FS_V_MEMBER_FILE */
};

struct fs_watcher;
struct fs_dq;

/* One change as `.watch` readers see it. */
struct fs_wevent {
	uint64_t rev;
	uint8_t kind; /* enum store_event_kind */
	char *path;
};

enum fs_op_counter {
	FS_C_LOOKUP, FS_C_GETATTR, FS_C_SETATTR, FS_C_OPEN, FS_C_READ, FS_C_WRITE, FS_C_CREATE,
	FS_C_MKDIR, FS_C_UNLINK, FS_C_RMDIR, FS_C_RENAME, FS_C_READDIR, FS_C_FLUSH,
	FS_C_RELEASE, FS_C_XATTR, FS_C_STATFS, FS_C_OTHER, FS_C_MAX_
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

	/* Virtual inodes (fs_special.c). */
	pthread_mutex_t vmu;
	struct fs_vnode *vby_ino[FS_VNODE_BUCKETS], *vby_key[FS_VNODE_BUCKETS];
	uint64_t vnext;

	/* Dequeue opens waiting for an item (fs_queue.c). */
	pthread_mutex_t dq_mu;
	struct fs_dq *dq_parked;

	/* Watch readers and the recent changes they read (fs_watch.c). */
	pthread_mutex_t w_mu;
	struct fs_watcher *watchers;
	struct fs_wevent *wring; /* FS_WATCH_RING slots, allocated with the first watcher */
	uint64_t wnext;          /* sequence number of the next change */
	uint64_t wlast_rev;      /* revision of the last change seen: a jump is a gap */

	atomic_uint_fast64_t ops[FS_C_MAX_];

	pthread_mutex_t h_mu;
	struct fs_handle *handles; /* open handles (fs_handle_new) */
};

static inline void fs_count(struct fs *fs, enum fs_op_counter c)
{
	atomic_fetch_add_explicit(&fs->ops[c], 1, memory_order_relaxed);
}

/* Per open file.  The O_TRUNC of an open is folded into the first write so
 * that readers never see the empty value in between.  bash dup2()s and closes
 * the descriptor it opened before writing, so the FIRST flush does not commit
 * the truncation; a later flush or the release does, when no write came. */
struct fs_handle {
	struct fs *fs;
	struct fs_handle *prev, *next; /* fs->handles */
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
	/* Special entries: what the handle is open on. */
	enum fs_vkind vkind;
	uint64_t vdir;             /* the real directory */
	uint64_t cas_rev;          /* FS_V_CAS_FILE: the revision the next write expects */
	char vname[QFS_NAME_MAX + 1];
	struct fs_watcher *watch;  /* FS_V_WATCH */
};

struct fs_snap {
	atomic_uint refs;
	size_t len;
	uint8_t data[];
};

/* A new handle, on fs's list of open handles until fs_handle_free: the
 * kernel may not send RELEASE for files still open at unmount, so fs_free
 * frees what is left. */
struct fs_handle *fs_handle_new(struct fs *fs, uint64_t ino, int flags);
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

/* Sets the handle's read copy (it owns a new copy of data). */
int fs_handle_set_snap(struct fs_handle *h, const void *data, size_t len);

/* Special entries (fs_special.c).  Each returns true when it handled the
 * request (ino or parent was virtual, or name was a special name). */
bool fs_special_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
bool fs_special_getattr(fuse_req_t req, fuse_ino_t ino);
bool fs_special_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
typedef int (*fs_list_fn)(void *dir, const char *name, size_t len, const struct qfs_attr *a);
/* Lists virtual directory ino (with . and ..) through add. */
int fs_special_list(struct fs *fs, uint64_t ino, fs_list_fn add, void *dir);
bool fs_special_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi);
bool fs_special_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
bool fs_special_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
bool fs_special_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_special_forget(struct fs *fs, uint64_t vino, uint64_t nlookup);
/* The kind of virtual inode vino (FS_V_NONE when unknown). */
enum fs_vkind fs_special_kind(struct fs *fs, uint64_t vino);
void fs_special_init(struct fs *fs);
void fs_special_free(struct fs *fs);

/* Dequeue (fs_queue.c): the open of DIR/.dequeue. */
void fs_dq_open(fuse_req_t req, uint64_t dir, struct fuse_file_info *fi);
void fs_dq_applied(struct fs *fs, const struct store_result *res, bool orphan);
void fs_dq_stop(struct fs *fs);

/* Watch (fs_watch.c). */
int fs_watch_open(struct fs *fs, uint64_t dir, struct fs_handle *h);
void fs_watch_read(fuse_req_t req, struct fs_handle *h, size_t size);
void fs_watch_close(struct fs *fs, struct fs_handle *h);
void fs_watch_applied(struct fs *fs, const struct store_result *res);
void fs_watch_stop(struct fs *fs);
void fs_watch_free(struct fs *fs);

/* The attributes of ino, in a read transaction of its own. */
int fs_getattr_of(struct fs *fs, uint64_t ino, struct qfs_attr *a);
void fs_attr_to_stat(const struct fs *fs, const struct qfs_attr *a, struct stat *st);
void fs_fill_entry(const struct fs *fs, const struct qfs_attr *a, struct fuse_entry_param *e);
void fs_on_applied(void *ctx, const struct store_result *res, bool kernel_knows, bool orphan);
/* For a change made through a special entry (the kernel does not know which
 * key it touched): queues the invalidations res calls for, then fn(arg), on
 * the invalidation thread, so a reply sent by fn reaches the process only
 * once its own change is out of the kernel's caches (read-your-writes on
 * this node).  Loop thread. */
void fs_inval_then(struct fs *fs, const struct store_result *res, void (*fn)(void *), void *arg);

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
