/* store/raftlog: the Raft log, hard state, snapshot point and cluster metadata,
 * in the same LMDB environment as the keyspace, so that one write transaction
 * (one fsync) persists a whole ready batch: new entries, hard state, and the
 * keyspace changes of the entries it applies (with the applied index).
 *
 * Write side: node loop thread only, inside store_wbegin..store_wcommit.
 * Read side: store_raft_load at start-up; store_log_read for tools and tests.
 */
#ifndef QFS_STORE_RAFTLOG_H
#define QFS_STORE_RAFTLOG_H

#include <stdint.h>

#include "raft/raft.h"
#include "store/store.h"

/* Appends entries (contiguous indexes); persisted entries with index >=
 * entries[0].index are deleted first (a new leader may overwrite a suffix).
 * Entry data is copied. */
int store_log_append(struct store_wtxn *t, const struct raft_entry *entries, size_t n);
/* Deletes persisted entries with index <= upto (after a snapshot). */
int store_log_compact(struct store_wtxn *t, uint64_t upto);
int store_hard_state_put(struct store_wtxn *t, const struct raft_hard_state *hs);
/* The snapshot point: the core's log starts after meta->index. */
int store_snap_meta_put(struct store_wtxn *t, const struct raft_snapshot_meta *meta);
/* Records that log index `index` was applied without a keyspace command
 * (no-op and configuration entries): keeps the applied index exact. */
int store_mark_applied(struct store_wtxn *t, uint64_t index);

/* Exactly-once apply of proposals that may be sent twice (a follower sends
 * its proposal again to a new leader when it cannot know whether the old one
 * appended it).  Per origin node, the highest request id applied and a window
 * of the STORE_SESSION_WINDOW ids below it are remembered, in the replicated
 * state (snapshots carry it).  Returns 1 when (origin, req_id) was applied
 * before (or is older than the window): skip it; 0 after recording it. */
#define STORE_SESSION_WINDOW 1024u
int store_session_seen(struct store_wtxn *t, uint64_t origin, uint64_t req_id);

/* Small named values of the cluster layer (cluster id, node id, address book),
 * stored beside the log.  Keys are short ASCII strings. */
int store_meta_put(struct store_wtxn *t, const char *key, const void *val, size_t len);
int store_meta_del(struct store_wtxn *t, const char *key);

/* Everything the core needs at start-up.  *entries is malloc'd (one block:
 * the array followed by the entry data; free(*entries) releases both), entries
 * are those after snap->index, contiguous.  A fresh store yields zeros. */
struct store_raft_state {
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	struct raft_entry *entries;
	size_t n_entries;
	uint64_t applied;
};
int store_raft_load(struct store *s, struct store_raft_state *out);
void store_raft_state_free(struct store_raft_state *st);

int store_meta_get(struct store_rtxn *t, const char *key, void *buf, size_t cap, size_t *len);
/* Calls fn for every meta key starting with `prefix`, in key order. */
typedef int (*store_meta_fn)(void *ctx, const char *key, const void *val, size_t len);
int store_meta_scan(struct store_rtxn *t, const char *prefix, store_meta_fn fn, void *ctx);

/* ---- snapshots of the keyspace (for lagging or new nodes, and backups) ----
 *
 * A snapshot file holds the whole keyspace (every inode, name and value, and
 * the keyspace counters: revision, next inode, key count, bytes) as of one
 * applied index, with a header (magic, format version, cluster id, index, term,
 * conf, revision, key count) and a checksum over everything (docs/disk-format.md).
 * It is written from one LMDB read transaction: consistent while writes go on.
 */
struct store_snap_info {
	uint64_t cluster_id;
	uint64_t index;    /* applied index the snapshot is of */
	uint64_t term;     /* term of that entry */
	struct raft_conf conf;
	uint64_t revision;
	uint64_t keys;
	uint64_t bytes;    /* file size */
};
/* Writes the snapshot atomically (path.tmp, fsync, rename) from one read
 * transaction.  `in` gives cluster_id, index, term and conf; index must equal
 * the store's applied index in that transaction (QFS_EINVAL otherwise: the
 * node loop, the only writer, calls this between batches).  *out (optional)
 * gets the full info, revision, keys and file size included. */
int store_snapshot_write(struct store *s, const char *path, const struct store_snap_info *in,
			 struct store_snap_info *out);
/* Reads and fully verifies a snapshot file (header, every record, checksum):
 * QFS_ECORRUPT with a message in err for truncated, corrupted or foreign
 * files. */
int store_snapshot_verify(const char *path, struct store_snap_info *info, char *err,
			  size_t errlen);
/* Replaces the whole keyspace with the snapshot's, inside the write
 * transaction t (nothing else of the txn is touched: log, hard state and
 * cluster meta stay); sets the applied index to info->index. Verifies first. */
int store_snapshot_install(struct store_wtxn *t, const char *path, struct store_snap_info *info);

#endif
