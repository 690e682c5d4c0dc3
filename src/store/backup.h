/* store/backup: snapshot files for backups and restores (quorumctl snapshot
 * save / verify / restore, and the daemon's scheduled backups).
 *
 * A backup file (docs/disk-format.md §10) is a header (magic, version,
 * cluster id, applied index, term, revision, key count, content length,
 * creation time), the keyspace as a §9 snapshot stream, and a BLAKE2b-256
 * (libsodium) of everything before it.  Written from one LMDB read
 * transaction: a consistent point-in-time copy while the node loop goes on.
 *
 * Threads: store_backup_write on any thread but the node loop's (it holds a
 * read transaction for as long as the copy takes); verify and restore need no
 * store or daemon.
 */
#ifndef QFS_STORE_BACKUP_H
#define QFS_STORE_BACKUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_BACKUP_VERSION 1u
#define STORE_BACKUP_DIGEST 32u /* BLAKE2b-256 */
/* Cluster meta key a restored data directory carries: the backup's digest,
 * from which the new cluster derives its own cluster id. */
#define STORE_META_RESTORED "restored_from"

struct store_backup_info {
	uint32_t version;
	uint64_t cluster_id;  /* of the cluster the copy was taken from */
	uint64_t index;       /* applied index of the copy */
	uint64_t term;        /* term of that entry (0: not known any more) */
	uint64_t revision;
	uint64_t keys;        /* the root included */
	uint64_t content_len; /* bytes of the embedded snapshot */
	uint64_t file_len;
	uint64_t created_ns;  /* wall clock at the copy, ns since the epoch (UTC) */
	uint8_t digest[STORE_BACKUP_DIGEST];
};

/* Writes a backup of the store's current state to `tmp` (created or
 * truncated, mode 0600), fsyncs and closes it; the caller renames it into
 * place with store_backup_rename.  `cancel` (optional): set to stop a copy
 * in progress (QFS_EINTR).  On failure tmp is removed and err says why. */
int store_backup_write(struct store *s, const char *tmp, uint64_t cluster_id, uint64_t created_ns,
		       const atomic_bool *cancel, struct store_backup_info *info, char *err,
		       size_t errlen);
/* rename(tmp, path), then fsync of path's directory. */
int store_backup_rename(const char *tmp, const char *path);

/* Checks a backup file completely: header, length, checksum, then every
 * record of the content.  0, or QFS_ECORRUPT with a message in err that
 * starts with what is wrong ("truncated: ...", "checksum mismatch ...",
 * "not a quorumfs snapshot ..."), QFS_EIO, or the open error. */
int store_backup_verify(const char *path, struct store_backup_info *info, char *err,
			size_t errlen);

/* Seeds a new data directory `dir` (absent or empty: QFS_EEXIST otherwise)
 * with the backup's keyspace: keys, values, attributes, inode numbers and
 * revision as they were; no Raft log, no sessions, applied index 0, so the
 * node bootstraps a new cluster on it.  `meta` (n_meta pairs, may be NULL)
 * are cluster meta values to record too.  Verifies first; on any failure
 * nothing is left behind (a directory it created is removed). */
struct store_meta_kv {
	const char *key;
	const void *val;
	size_t len;
};
int store_backup_restore(const char *path, const char *dir, const struct store_options *opt,
			 const struct store_meta_kv *meta, size_t n_meta,
			 struct store_backup_info *info, char *err, size_t errlen);

#endif
