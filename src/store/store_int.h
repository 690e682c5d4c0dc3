/* store internals: shared by the files of src/store only.
 *
 * store.c     environment, transactions, the LMDB error mapping
 * records.c   on-disk records (inode, meta, format) and key encodings
 * keyspace.c  store_apply: the deterministic state machine
 * read.c      the read side, stats and precheck
 * raftlog.c   the Raft log, hard state, snapshot point, cluster meta (raftlog.h)
 * snapshot.c  keyspace snapshot files: write, verify, install (raftlog.h)
 *
 * On-disk formats are described in docs/disk-format.md; change both together.
 */
#ifndef QFS_STORE_INT_H
#define QFS_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "quorumfs/limits.h"
#include "store/raftlog.h"
#include "store/store.h"

/* Storage format of the environment as a whole (meta "format" record). */
#define STORE_FORMAT_VERSION 1u
#define STORE_FORMAT_MAGIC "QFSSTORE"

/* Space accounting for ENOSPC (docs/disk-format.md §5).  Each key is charged
 * what it takes in the map when freshly written, so that the charge never
 * falls below the pages it uses: a fixed overhead (inode record, names entry,
 * LMDB node headers and page fill), its name, and its value, charged double
 * below a page (inline B-tree nodes: pages half full after splits) and in
 * whole overflow pages from a page up.  Fixed constants, not the OS page
 * size: the counter is part of the replicated state and must not differ. */
#define STORE_KEY_OVERHEAD 256u
#define STORE_CHARGE_PAGE 4096u
/* The quota: charged bytes may use this share of the map.  The rest is for
 * page fill lost to deletes (B-tree pages are merged only below 25%), the
 * copy-on-write copies of one transaction's pages and pages still held by
 * readers: a delete must always find room. */
#define STORE_QUOTA_PCT 45u

/* Apply refuses values above the hard limit only: the node's own --value-max
 * is checked by store_precheck() on the proposing node, so replicas with
 * different settings still apply every entry alike. */
#define STORE_APPLY_VALUE_MAX QFS_VALUE_MAX_HARD
#define STORE_MAXDBS 16u       /* keyspace 4 + sessions; raft log 3 (log, raft, cmeta) */
#define STORE_READERS_MAX 256u /* LMDB reader slots (pooled read txns keep theirs) */
#define STORE_RPOOL_MAX 64u    /* idle read txns kept for reuse */
/* A parent walk longer than this can only be a cycle: corrupt store. */
#define STORE_DEPTH_MAX (1u << 20)

/* Inode record: fixed header + name bytes. */
#define STORE_INODE_VERSION 1u
#define STORE_INODE_FIXED 96u
#define STORE_META_VERSION 1u
#define STORE_META_SIZE 56u
#define STORE_FORMAT_SIZE 16u

/* Raft side (raftlog.c, docs/disk-format.md §3). */
#define STORE_LOG_VERSION 1u
#define STORE_LOG_FIXED 32u      /* log entry record header; data follows */
#define STORE_HS_VERSION 1u
#define STORE_HS_SIZE 32u
#define STORE_SNAPMETA_VERSION 1u
#define STORE_SNAPMETA_FIXED 24u /* + raft_conf_encode bytes */
#define STORE_CMETA_VERSION 1u
#define STORE_CMETA_FIXED 8u     /* + the value */
#define STORE_CMETA_KEY_MAX 255u  /* printable ASCII, no space */
#define STORE_CMETA_VAL_MAX 4096u
#define STORE_SESS_VERSION 1u
#define STORE_SESS_SIZE (16u + STORE_SESSION_WINDOW / 8u) /* header, high, window bitmap */

/* Keyspace counters: the meta "keyspace" record. */
struct store_meta {
	uint64_t applied;  /* last applied log index */
	uint64_t revision; /* cluster revision */
	uint64_t next_ino; /* next inode number to hand out */
	uint64_t keys;     /* keys including the root */
	uint64_t bytes;    /* logical bytes (quota) */
};

/* A decoded inode record.  The name is copied (records in a write txn move
 * when the txn writes). */
struct store_inode {
	struct qfs_attr a;
	uint64_t children; /* directories: number of entries */
	uint16_t name_len;
	char name[QFS_NAME_MAX + 1]; /* NUL-terminated */
};

struct store_wtxn {
	struct store *s;
	MDB_txn *txn;
	struct store_meta meta; /* written back at commit */
	int error;              /* sticky: a failed apply poisons the txn */
};

/* Path of ino relative to the root in any transaction (store_path). */
int store_txn_path(struct store *s, MDB_txn *txn, uint64_t ino, char *buf, size_t cap);

struct store_rtxn {
	struct store *s;
	MDB_txn *txn;
	struct store_rtxn *next; /* pool link */
};

struct store {
	MDB_env *env;
	MDB_dbi dbi_meta, dbi_inodes, dbi_names, dbi_data;
	MDB_dbi dbi_log, dbi_raft, dbi_cmeta; /* raftlog.c */
	MDB_dbi dbi_sess; /* proposal sessions (raftlog.c): replicated, in snapshots */
	uint64_t map_size; /* actual, from mdb_env_info */
	uint32_t value_max;
	int lock_fd;
	bool nested_apply; /* apply each command in a nested txn (store_int only) */

	bool writing; /* a write txn is open (node loop thread) */
	struct store_wtxn w;
	uint8_t *scratch; /* write side: value assembly (node loop thread) */
	size_t scratch_cap;

	pthread_mutex_t pool_mu;
	struct store_rtxn *pool;
	unsigned pool_n;

	/* Tests only: called by store_snapshot_write from its thread once its
	 * read transaction is open and the header is written (snapshot.c). */
	void (*snap_hook)(void *ctx);
	void *snap_hook_ctx;
};

/* Invariants are checked in every build (NDEBUG or not). */
#define STORE_ASSERT(cond)                                                                         \
	do {                                                                                       \
		if (!(cond))                                                                       \
			store_assert_fail(#cond, __FILE__, __LINE__);                              \
	} while (0)
_Noreturn void store_assert_fail(const char *what, const char *file, int line);

/* store.c */
int store_mdb_error(int mdb_rc);
uint8_t *store_scratch(struct store *s, size_t size);
/* Benchmarks and tests: apply every command inside a nested LMDB transaction
 * instead of validate-then-mutate (docs/disk-format.md §6). */
void store_set_nested_apply(struct store *s, bool on);

/* records.c */
void store_be64(uint8_t out[8], uint64_t v);
uint64_t store_get_be64(const uint8_t in[8]);
void store_put_le64(uint8_t out[8], uint64_t v); /* names values: child inode */
/* names key: be64 parent + name; returns key length. */
size_t store_name_key(uint8_t *out, uint64_t parent, const char *name, size_t len);
#define STORE_NAME_KEY_MAX (8u + QFS_NAME_MAX)

size_t store_inode_encode(const struct store_inode *n, uint8_t *out);
int store_inode_decode(const MDB_val *v, uint64_t ino, struct store_inode *n);
void store_meta_encode(const struct store_meta *m, uint8_t out[STORE_META_SIZE]);
int store_meta_decode(const MDB_val *v, struct store_meta *m);
void store_format_encode(uint8_t out[STORE_FORMAT_SIZE]);
int store_format_decode(const MDB_val *v);

/* Little-endian field helpers for the newer records (raftlog.c, snapshot.c). */
static inline void store_le16_put(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void store_le32_put(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void store_le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t store_le16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t store_le32_get(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static inline uint64_t store_le64_get(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* snapshot.c, for backup.c: the §9 snapshot stream inside another file.
 * A tap sees every byte written; a nonzero return stops the write
 * (QFS_EINTR). */
typedef int (*store_snap_tap)(void *ctx, const void *p, size_t n);
/* Exact length store_snap_stream will write for txn's state. */
int store_snap_stream_size(struct store *s, MDB_txn *txn, const struct store_snap_info *in,
                           uint64_t *len);
/* Writes header (in: cluster id, index, term, conf; m: the counters), records
 * and trailer to f; *len gets the bytes written. */
int store_snap_stream(struct store *s, MDB_txn *txn, const struct store_meta *m,
                      const struct store_snap_info *in, FILE *f, store_snap_tap tap,
                      void *tap_ctx, uint64_t *len);
/* Verify / install the snapshot held in bytes [offset, offset + len) of path:
 * the same checks as store_snapshot_verify / store_snapshot_install, and the
 * snapshot must end exactly at offset + len. */
int store_snap_verify_region(const char *path, uint64_t offset, uint64_t len,
                             struct store_snap_info *info, char *err, size_t errlen);
int store_snap_install_region(struct store_wtxn *t, const char *path, uint64_t offset,
                              uint64_t len, struct store_snap_info *info);
/* fsync of the directory holding path (after a rename into it). */
int store_fsync_parent(const char *path);

/* raftlog.c: a session record (STORE_SESS_SIZE bytes) is well-formed. */
int store_sess_check(const MDB_val *k, const MDB_val *v);

/* Shared lookups (read or write txn).  Return 1 found, 0 absent, < 0 error. */
int store_get_inode(struct store *s, MDB_txn *txn, uint64_t ino, struct store_inode *n);
int store_get_child(struct store *s, MDB_txn *txn, uint64_t parent, const char *name, size_t len,
                    uint64_t *child);
int store_get_meta(struct store *s, MDB_txn *txn, struct store_meta *m);
uint64_t store_quota(const struct store *s);
uint64_t store_value_bytes(uint64_t size);
uint64_t store_key_bytes(size_t name_len, uint64_t size);

#endif
