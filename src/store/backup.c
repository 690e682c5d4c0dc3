/* store/backup: backup files (backup.h; format: docs/disk-format.md §10).
 *
 * Header (96 bytes, little-endian), the keyspace as a §9 snapshot stream,
 * then BLAKE2b-256 (libsodium's crypto_generichash) of every byte before the
 * digest.  The content length is computed first (a walk of the tables in the
 * same read transaction), so the header is final before the content and the
 * file hashes front to back: `head -c -32 FILE | b2sum -l 256` gives the
 * digest that the last 32 bytes hold.
 */
#include "store/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/error.h"
#include "store/store_int.h"
#include "util/log.h"

#define BK_MAGIC "QFSBKUP1"
#define BK_HDR 96u
#define BK_HASH_BLAKE2B_256 1u
#define BK_CONTENT_SNAP1 1u /* content: a §9 snapshot stream, version 1 */
#define BK_IO_BUF (1u << 20)
/* The Raft snapshot file of a data directory (§9): named in the refusal. */
#define BK_RAFT_SNAP_MAGIC "QFSSNAP1"

_Static_assert(STORE_BACKUP_DIGEST == crypto_generichash_BYTES, "BLAKE2b-256 digest");

__attribute__((format(printf, 4, 5))) static int bk_fail(char *err, size_t errlen, int rc,
                                                         const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void hdr_encode(uint8_t h[BK_HDR], const struct store_backup_info *i)
{
	memset(h, 0, BK_HDR);
	memcpy(h, BK_MAGIC, 8);
	store_le32_put(h + 8, STORE_BACKUP_VERSION);
	store_le32_put(h + 12, BK_HDR);
	store_le32_put(h + 16, BK_HASH_BLAKE2B_256);
	store_le32_put(h + 20, BK_CONTENT_SNAP1);
	store_le64_put(h + 24, i->cluster_id);
	store_le64_put(h + 32, i->index);
	store_le64_put(h + 40, i->term);
	store_le64_put(h + 48, i->revision);
	store_le64_put(h + 56, i->keys);
	store_le64_put(h + 64, i->content_len);
	store_le64_put(h + 72, i->created_ns);
}

/* Term of the applied entry, from the log or the snapshot point of the same
 * transaction; 0 when neither holds it any more (informational only). */
static uint64_t applied_term(struct store *s, MDB_txn *txn, uint64_t applied)
{
	if (applied == 0)
		return 0;
	uint8_t kb[8];
	store_be64(kb, applied);
	MDB_val k = {8, kb}, v;
	if (mdb_get(txn, s->dbi_log, &k, &v) == 0 && v.mv_size >= STORE_LOG_FIXED &&
	    ((const uint8_t *)v.mv_data)[0] == STORE_LOG_VERSION)
		return store_le64_get((const uint8_t *)v.mv_data + 16);
	MDB_val sk = {4, "snap"};
	if (mdb_get(txn, s->dbi_raft, &sk, &v) == 0 && v.mv_size >= STORE_SNAPMETA_FIXED &&
	    store_le64_get((const uint8_t *)v.mv_data + 8) == applied)
		return store_le64_get((const uint8_t *)v.mv_data + 16);
	return 0;
}

struct bk_tap {
	crypto_generichash_state h;
	const atomic_bool *cancel;
};

static int bk_tap_fn(void *ctx, const void *p, size_t n)
{
	struct bk_tap *t = ctx;
	crypto_generichash_update(&t->h, p, n);
	return t->cancel && atomic_load_explicit(t->cancel, memory_order_relaxed);
}

int store_backup_write(struct store *s, const char *tmp, uint64_t cluster_id, uint64_t created_ns,
                       const atomic_bool *cancel, struct store_backup_info *info, char *err,
                       size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (sodium_init() < 0)
		return bk_fail(err, errlen, QFS_EIO, "libsodium did not initialise");
	struct store_rtxn *r;
	int rc = store_rbegin(s, &r);
	if (rc < 0)
		return bk_fail(err, errlen, rc, "cannot read the store: %s", qfs_strerror(rc));
	struct store_backup_info bi;
	memset(&bi, 0, sizeof bi);
	struct store_meta m;
	struct store_snap_info in;
	memset(&in, 0, sizeof in);
	FILE *f = NULL;
	bool created = false;
	struct bk_tap *tap = NULL;
	if ((rc = store_get_meta(s, r->txn, &m)) < 0) {
		bk_fail(err, errlen, rc, "cannot read the store: %s", qfs_strerror(rc));
		goto out;
	}
	in.cluster_id = cluster_id;
	in.index = m.applied;
	in.term = applied_term(s, r->txn, m.applied);
	/* conf stays empty: a restore starts a new cluster with its own. */
	if ((rc = store_snap_stream_size(s, r->txn, &in, &bi.content_len)) < 0) {
		bk_fail(err, errlen, rc, "cannot read the store: %s", qfs_strerror(rc));
		goto out;
	}
	bi.version = STORE_BACKUP_VERSION;
	bi.cluster_id = cluster_id;
	bi.index = m.applied;
	bi.term = in.term;
	bi.revision = m.revision;
	bi.keys = m.keys;
	bi.created_ns = created_ns;

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = qfs_from_errno(errno);
		bk_fail(err, errlen, rc, "cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	created = true;
	f = fdopen(fd, "wb");
	if (!f) {
		rc = qfs_from_errno(errno);
		close(fd);
		bk_fail(err, errlen, rc, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	setvbuf(f, NULL, _IOFBF, BK_IO_BUF);
	/* crypto_generichash_state wants 64-byte alignment. */
	tap = aligned_alloc(64, (sizeof *tap + 63) / 64 * 64);
	if (!tap) {
		rc = QFS_ENOMEM;
		bk_fail(err, errlen, rc, "out of memory");
		goto out;
	}
	tap->cancel = cancel;
	crypto_generichash_init(&tap->h, NULL, 0, STORE_BACKUP_DIGEST);
	uint8_t h[BK_HDR];
	hdr_encode(h, &bi);
	crypto_generichash_update(&tap->h, h, sizeof h);
	if (fwrite(h, 1, sizeof h, f) != sizeof h) {
		rc = qfs_from_errno(errno ? errno : EIO);
		bk_fail(err, errlen, rc, "writing %s: %s", tmp, qfs_strerror(rc));
		goto out;
	}
	uint64_t written = 0;
	rc = store_snap_stream(s, r->txn, &m, &in, f, bk_tap_fn, tap, &written);
	if (rc == QFS_EINTR) {
		bk_fail(err, errlen, rc, "stopped before the copy was complete");
		goto out;
	}
	if (rc < 0) {
		bk_fail(err, errlen, rc, "writing %s: %s", tmp, qfs_strerror(rc));
		goto out;
	}
	if (written != bi.content_len) { /* one read transaction: cannot happen */
		rc = QFS_EIO;
		bk_fail(err, errlen, rc, "content length changed while writing (%llu, not %llu)",
		        (unsigned long long)written, (unsigned long long)bi.content_len);
		goto out;
	}
	crypto_generichash_final(&tap->h, bi.digest, sizeof bi.digest);
	if (fwrite(bi.digest, 1, sizeof bi.digest, f) != sizeof bi.digest || fflush(f) != 0 ||
	    fsync(fileno(f)) != 0) {
		rc = qfs_from_errno(errno ? errno : EIO);
		bk_fail(err, errlen, rc, "writing %s: %s", tmp, strerror(errno ? errno : EIO));
		goto out;
	}
	int fc = fclose(f);
	f = NULL;
	if (fc != 0) {
		rc = qfs_from_errno(errno);
		bk_fail(err, errlen, rc, "writing %s: %s", tmp, strerror(errno));
		goto out;
	}
	bi.file_len = BK_HDR + bi.content_len + STORE_BACKUP_DIGEST;
	if (info)
		*info = bi;
out:
	store_rend(r);
	free(tap);
	if (f)
		fclose(f);
	if (rc < 0 && created)
		unlink(tmp);
	return rc;
}

int store_backup_rename(const char *tmp, const char *path)
{
	if (rename(tmp, path) != 0)
		return qfs_from_errno(errno);
	return store_fsync_parent(path);
}

/* ---------------------------------------------------------------- verify */

/* Reads exactly n bytes at off (short only at the end of the file). */
static ssize_t read_at(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int store_backup_verify(const char *path, struct store_backup_info *info, char *err,
                        size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (sodium_init() < 0)
		return bk_fail(err, errlen, QFS_EIO, "libsodium did not initialise");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return bk_fail(err, errlen, qfs_from_errno(e), "%s: cannot open: %s", path,
		               strerror(e));
	}
	struct stat st;
	uint8_t *buf = NULL;
	int rc = 0;
	struct bk_tap *tap = NULL;
	if (fstat(fd, &st) != 0) {
		rc = bk_fail(err, errlen, QFS_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT, "%s: not a quorumfs snapshot (not a regular file)",
		             path);
		goto out;
	}
	uint64_t size = (uint64_t)st.st_size;
	if (size == 0) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT, "%s: not a quorumfs snapshot (empty file)",
		             path);
		goto out;
	}
	uint8_t h[BK_HDR];
	size_t want = size < BK_HDR ? (size_t)size : BK_HDR;
	if (read_at(fd, h, want, 0) != (ssize_t)want) {
		rc = bk_fail(err, errlen, QFS_EIO, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	size_t mlen = want < 8 ? want : 8;
	if (memcmp(h, BK_MAGIC, mlen) != 0) {
		if (mlen == 8 && memcmp(h, BK_RAFT_SNAP_MAGIC, 8) == 0)
			rc = bk_fail(err, errlen, QFS_ECORRUPT,
			             "%s: not a quorumfs snapshot (bad magic: this is a data "
			             "directory's internal Raft snapshot, not a `quorumctl snapshot "
			             "save` file)",
			             path);
		else
			rc = bk_fail(err, errlen, QFS_ECORRUPT,
			             "%s: not a quorumfs snapshot (bad magic)", path);
		goto out;
	}
	if (size < 12) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: truncated: the file has %llu bytes, a header alone has %u", path,
		             (unsigned long long)size, BK_HDR);
		goto out;
	}
	uint32_t version = store_le32_get(h + 8);
	if (version != STORE_BACKUP_VERSION) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: unsupported snapshot format version %u (this build reads "
		             "version %u)",
		             path, version, STORE_BACKUP_VERSION);
		goto out;
	}
	if (size < BK_HDR) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: truncated: the file has %llu bytes, the header alone has %u", path,
		             (unsigned long long)size, BK_HDR);
		goto out;
	}
	bool zero = true;
	for (unsigned i = 80; i < BK_HDR; i++)
		zero &= h[i] == 0;
	if (store_le32_get(h + 12) != BK_HDR || store_le32_get(h + 16) != BK_HASH_BLAKE2B_256 ||
	    store_le32_get(h + 20) != BK_CONTENT_SNAP1 || !zero) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: malformed header (header length %u, checksum algorithm %u, "
		             "content format %u)",
		             path, store_le32_get(h + 12), store_le32_get(h + 16),
		             store_le32_get(h + 20));
		goto out;
	}
	struct store_backup_info bi;
	memset(&bi, 0, sizeof bi);
	bi.version = version;
	bi.cluster_id = store_le64_get(h + 24);
	bi.index = store_le64_get(h + 32);
	bi.term = store_le64_get(h + 40);
	bi.revision = store_le64_get(h + 48);
	bi.keys = store_le64_get(h + 56);
	bi.content_len = store_le64_get(h + 64);
	bi.created_ns = store_le64_get(h + 72);
	bi.file_len = size;
	/* Overflow-safe: expected = header + content + digest. */
	if (bi.content_len > UINT64_MAX - BK_HDR - STORE_BACKUP_DIGEST ||
	    size < BK_HDR + bi.content_len + STORE_BACKUP_DIGEST) {
		if (bi.content_len > UINT64_MAX - BK_HDR - STORE_BACKUP_DIGEST)
			rc = bk_fail(err, errlen, QFS_ECORRUPT,
			             "%s: malformed header (content length %llu)", path,
			             (unsigned long long)bi.content_len);
		else
			rc = bk_fail(err, errlen, QFS_ECORRUPT,
			             "%s: truncated: the file has %llu bytes, its header announces "
			             "%llu",
			             path, (unsigned long long)size,
			             (unsigned long long)(BK_HDR + bi.content_len +
			                                  STORE_BACKUP_DIGEST));
		goto out;
	}
	if (size > BK_HDR + bi.content_len + STORE_BACKUP_DIGEST) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: unexpected bytes after the checksum (the file has %llu bytes, "
		             "its header announces %llu)",
		             path, (unsigned long long)size,
		             (unsigned long long)(BK_HDR + bi.content_len + STORE_BACKUP_DIGEST));
		goto out;
	}
	/* Pass 1: the checksum over header and content. */
	buf = malloc(BK_IO_BUF);
	tap = aligned_alloc(64, (sizeof *tap + 63) / 64 * 64);
	if (!buf || !tap) {
		rc = bk_fail(err, errlen, QFS_ENOMEM, "out of memory");
		goto out;
	}
	crypto_generichash_init(&tap->h, NULL, 0, STORE_BACKUP_DIGEST);
	uint64_t end = BK_HDR + bi.content_len;
	for (uint64_t off = 0; off < end;) {
		size_t n = end - off < BK_IO_BUF ? (size_t)(end - off) : BK_IO_BUF;
		ssize_t got = read_at(fd, buf, n, off);
		if (got != (ssize_t)n) {
			rc = got < 0 ? bk_fail(err, errlen, QFS_EIO, "%s: read error at byte %llu: %s",
			                       path, (unsigned long long)off, strerror(errno))
			             : bk_fail(err, errlen, QFS_ECORRUPT,
			                       "%s: truncated: the file shrank while being read", path);
			goto out;
		}
		crypto_generichash_update(&tap->h, buf, n);
		off += n;
	}
	uint8_t digest[STORE_BACKUP_DIGEST];
	crypto_generichash_final(&tap->h, digest, sizeof digest);
	if (read_at(fd, bi.digest, sizeof bi.digest, end) != (ssize_t)sizeof bi.digest) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: truncated: the file shrank while being read", path);
		goto out;
	}
	if (sodium_memcmp(digest, bi.digest, sizeof digest) != 0) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: checksum mismatch: the BLAKE2b-256 of its %llu bytes differs "
		             "from the one it carries (the file is corrupted)",
		             path, (unsigned long long)end);
		goto out;
	}
	/* Pass 2: decode every record of the content. */
	char inner[512];
	struct store_snap_info si;
	memset(&si, 0, sizeof si);
	rc = store_snap_verify_region(path, BK_HDR, bi.content_len, &si, inner, sizeof inner);
	if (rc < 0) {
		/* inner names the file already */
		bk_fail(err, errlen, rc, "content: %s", inner[0] ? inner : qfs_strerror(rc));
		goto out;
	}
	if (si.cluster_id != bi.cluster_id || si.index != bi.index || si.term != bi.term ||
	    si.revision != bi.revision || si.keys != bi.keys) {
		rc = bk_fail(err, errlen, QFS_ECORRUPT,
		             "%s: the header does not match the content (revision %llu vs %llu, "
		             "keys %llu vs %llu, index %llu vs %llu)",
		             path, (unsigned long long)bi.revision, (unsigned long long)si.revision,
		             (unsigned long long)bi.keys, (unsigned long long)si.keys,
		             (unsigned long long)bi.index, (unsigned long long)si.index);
		goto out;
	}
	if (info)
		*info = bi;
out:
	free(buf);
	free(tap);
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------- restore */

/* 1: dir is absent (we create it), 0: an empty directory, < 0: refused. */
static int restore_target(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno == ENOENT)
			return 1;
		return bk_fail(err, errlen, qfs_from_errno(errno), "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return bk_fail(err, errlen, QFS_EEXIST, "%s exists and is not a directory", dir);
	DIR *d = opendir(dir);
	if (!d)
		return bk_fail(err, errlen, qfs_from_errno(errno), "%s: %s", dir, strerror(errno));
	struct dirent *de;
	bool empty = true;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	if (!empty)
		return bk_fail(err, errlen, QFS_EEXIST,
		               "%s is not empty: a restore seeds a new data directory (move the "
		               "old one away first)",
		               dir);
	return 0;
}

static void restore_undo(const char *dir, bool created)
{
	static const char *const files[] = {"data.mdb", "lock.mdb", "quorumfs.lock"};
	char p[4200];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		unlink(p);
	}
	if (created)
		rmdir(dir);
}

int store_backup_restore(const char *path, const char *dir, const struct store_options *opt,
                         const struct store_meta_kv *meta, size_t n_meta,
                         struct store_backup_info *info, char *err, size_t errlen)
{
	struct store_backup_info bi;
	int rc = store_backup_verify(path, &bi, err, errlen);
	if (rc < 0)
		return rc;
	int target = restore_target(dir, err, errlen);
	if (target < 0)
		return target;
	bool created = target == 1;
	struct store *s = NULL;
	rc = store_open(&s, dir, opt);
	if (rc < 0) {
		bk_fail(err, errlen, rc, "cannot create a store in %s: %s", dir, qfs_strerror(rc));
		restore_undo(dir, created);
		return rc;
	}
	struct store_wtxn *t;
	rc = store_wbegin(s, &t);
	if (rc == 0) {
		struct store_snap_info si;
		rc = store_snap_install_region(t, path, BK_HDR, bi.content_len, &si);
		/* Sessions belong to the old cluster's proposers: a new cluster
		 * starts without them (its nodes may reuse the old names, hence
		 * ids, with request ids that start low again). */
		if (rc == 0)
			rc = store_mdb_error(mdb_drop(t->txn, s->dbi_sess, 0));
		if (rc == 0)
			t->meta.applied = 0; /* the new cluster's log starts afresh */
		for (size_t i = 0; rc == 0 && i < n_meta; i++)
			rc = store_meta_put(t, meta[i].key, meta[i].val, meta[i].len);
		if (rc == 0)
			rc = store_wcommit(t);
		else
			store_wabort(t);
	}
	store_close(s);
	if (rc < 0) {
		bk_fail(err, errlen, rc, "restoring into %s failed: %s", dir, qfs_strerror(rc));
		restore_undo(dir, created);
		return rc;
	}
	if (info)
		*info = bi;
	return 0;
}
