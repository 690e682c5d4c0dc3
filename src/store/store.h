/* store: the keyspace (and, later, the Raft log) in one LMDB environment.
 *
 * Owns: the LMDB environment under the data directory.
 * Callers: the node loop is the only writer (store_wbegin..store_wcommit, one
 * thread); any thread may read (store_rbegin..store_rend) concurrently: LMDB
 * read transactions are MVCC snapshots and never block the writer.
 *
 * Layout (docs/disk-format.md): inodes by number, names by (parent, name) so
 * listings come out sorted and a directory rename touches one entry, values by
 * inode, and a meta table holding applied index, revision and counters.
 */
#ifndef QFS_STORE_H
#define QFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/command.h"

struct store;
struct store_wtxn;
struct store_rtxn;

struct store_options {
	uint64_t map_size;   /* LMDB map size in bytes (0: QFS_MAP_SIZE_DEFAULT) */
	uint32_t value_max;  /* value limit (0: QFS_VALUE_MAX_DEFAULT) */
	bool no_sync;        /* tests/benchmarks only: skip fsync at commit */
};

/* Attributes of one key (file, directory or symlink). */
struct qfs_attr {
	uint64_t ino;
	uint64_t parent;        /* parent directory inode (root: itself) */
	uint32_t mode;          /* S_IFREG/S_IFDIR/S_IFLNK | permission bits */
	uint32_t uid, gid;
	uint32_t nlink;         /* 1 for files, 2 + subdirectories for directories */
	uint64_t size;          /* value bytes; symlink target length; dirs: 0 */
	uint64_t mtime_ns;      /* commit time of the last change to the value */
	uint64_t ctime_ns;      /* commit time of the last change to anything */
	uint64_t create_revision;
	uint64_t mod_revision;
	uint64_t version;       /* number of changes since creation (1 at creation) */
};

/* What one applied command did, for the proposer's reply and for cache
 * invalidation.  rc is the command's deterministic outcome: every replica that
 * applies the same command at the same state gets the same rc. */
#define STORE_CHANGED_MAX 4
#define STORE_EVENTS_MAX 2 /* a rename: the old name deleted, the new one put */
enum store_event_kind { STORE_EV_PUT = 1, STORE_EV_DELETE = 2 };
struct store_result {
	int rc;                    /* 0 or negative QFS_E* (EEXIST, ENOENT, ...) */
	uint8_t op;                /* the command's op (enum qfs_op) */
	struct qfs_attr attr;      /* CREATE: the new (or kept) key; PUT/WRITE/APPEND/
	                              SETATTR: the key after the change */
	uint64_t revision;         /* cluster revision after this command */
	/* Inodes whose content or attributes changed, and directory entries
	 * (parent, name) that appeared or disappeared: for kernel invalidation. */
	uint64_t changed_ino[STORE_CHANGED_MAX];
	unsigned n_changed_ino;
	struct { uint64_t parent; char name[256]; } changed_entry[2];
	unsigned n_changed_entry;
	/* What a `.watch` reader sees of this command: the keys it put or
	 * deleted, by path relative to the root ("" is the root itself).  Paths
	 * are malloc'd (NULL when out of memory): store_result_release(). */
	struct store_event {
		uint8_t kind; /* enum store_event_kind */
		char *path;
	} events[STORE_EVENTS_MAX];
	unsigned n_events;
	/* DEQUEUE: the popped item (malloc'd; NULL for an empty value). */
	uint8_t *value;
	size_t value_len;
};

int store_open(struct store **out, const char *dir, const struct store_options *opt);
void store_close(struct store *s);
uint32_t store_value_max(const struct store *s);

/* --- write side: node loop thread only --- */
int store_wbegin(struct store *s, struct store_wtxn **out);
/* Applies `c` as log entry `index` (> the applied index; gaps are allowed).
 * A command that fails (res->rc < 0) changes nothing but still consumes its
 * index.  A command that changes the keyspace takes the next revision; one
 * that succeeds without changing anything (O_CREAT of an existing file, a
 * rename onto itself, an empty write, SETATTR with mask 0, NOOP) does not.
 * Returns 0, or a negative code when the transaction itself failed (QFS_ENOSPC
 * on a full map, QFS_EIO, QFS_ECORRUPT): then the caller must abort (the txn is
 * poisoned: store_wcommit would refuse).  An index <= the applied index is
 * refused with QFS_EINVAL and nothing changes (exactly-once apply). */
int store_apply(struct store_wtxn *t, uint64_t index, const struct qfs_cmd *c,
		struct store_result *res);
/* Frees what store_apply allocated in res (event paths, a dequeued value). */
void store_result_release(struct store_result *res);
/* Records the applied index and commits durably (one fsync).  The txn is
 * gone afterwards, whatever the result. */
int store_wcommit(struct store_wtxn *t);
void store_wabort(struct store_wtxn *t);

/* --- read side: any thread --- */
int store_rbegin(struct store *s, struct store_rtxn **out);
void store_rend(struct store_rtxn *t);

int store_getattr(struct store_rtxn *t, uint64_t ino, struct qfs_attr *out);
int store_lookup(struct store_rtxn *t, uint64_t parent, const char *name, size_t len,
		 struct qfs_attr *out);
/* Value bytes [offset, offset+size) of ino (a symlink: its target); *data
 * points into the LMDB map and is valid until store_rend(t).  Reading past the
 * end gives *len = 0 (*data is never NULL).  QFS_EISDIR on a directory. */
int store_read(struct store_rtxn *t, uint64_t ino, uint64_t offset, size_t size,
	       const void **data, size_t *len);
/* Children of directory `ino` in name (byte) order, starting after `after`
 * (NULL or empty: from the first; `after` need not exist any more).  `name` is
 * a NUL-terminated copy valid during the call.  fn returns nonzero to stop
 * early: a positive value is not an error (0 is returned), a negative value is
 * returned as the result. */
typedef int (*store_dirent_fn)(void *ctx, const char *name, size_t len, const struct qfs_attr *a);
int store_readdir(struct store_rtxn *t, uint64_t ino, const char *after, size_t after_len,
		  store_dirent_fn fn, void *ctx);
/* Full path of ino relative to the root ("" for the root, "a/b" below it),
 * NUL-terminated; QFS_ENAMETOOLONG when it does not fit cap bytes. */
int store_path(struct store_rtxn *t, uint64_t ino, char *buf, size_t cap);

struct store_stats {
	uint64_t applied;     /* last applied log index */
	uint64_t revision;    /* cluster revision */
	uint64_t keys;        /* keys (files, dirs, symlinks) including the root */
	uint64_t bytes;       /* bytes charged for the keys: names, values and a per-key
	                         overhead, as they take space in the map (disk-format.md §5) */
	uint64_t log_bytes;   /* pages held by the Raft log (until compaction) */
	uint64_t map_size;    /* LMDB map size */
	bool full;            /* bytes + log_bytes over the quota: growing changes
	                         get ENOSPC */
};
int store_stats(struct store_rtxn *t, struct store_stats *out);

/* Checked by the proposer before a change is proposed (never inside apply, so
 * replicas stay deterministic): QFS_ENOSPC when `c` would grow a full store,
 * QFS_EFBIG when it would make a value larger than the limit. 0 otherwise. */
int store_precheck(struct store_rtxn *t, const struct qfs_cmd *c);

#endif
