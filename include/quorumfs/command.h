/* quorumfs commands: the encoded change that becomes a Raft log entry.
 *
 * Every change to the keyspace, from any source, is one command.  Commands are
 * applied by store_apply() in log order on every replica, so apply must be
 * deterministic: everything it needs (including the commit time) is inside the
 * command.  Wire format (little-endian, fixed width) is in docs/disk-format.md.
 */
#ifndef QUORUMFS_COMMAND_H
#define QUORUMFS_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#define QFS_CMD_VERSION 1u

enum qfs_op {
	QFS_OP_NOOP = 0,
	QFS_OP_CREATE = 1,   /* ino=parent, name, mode (S_IFREG/S_IFDIR/S_IFLNK), uid, gid;
	                        flags & QFS_CMD_EXCL: fail EEXIST if present, otherwise
	                        an existing regular file is kept (O_CREAT without O_EXCL);
	                        S_IFLNK: data = target */
	QFS_OP_PUT = 2,      /* ino: replace the whole value with data (O_TRUNC + first write) */
	QFS_OP_WRITE = 3,    /* ino: write data at offset, extending with zeros if needed */
	QFS_OP_APPEND = 4,   /* ino: append data at the end, atomically */
	QFS_OP_SETATTR = 5,  /* ino: fields selected by mask (QFS_SET_*) */
	QFS_OP_UNLINK = 6,   /* ino=parent, name: remove a non-directory */
	QFS_OP_RMDIR = 7,    /* ino=parent, name: remove an empty directory */
	QFS_OP_RENAME = 8,   /* ino=parent, name -> ino2=new parent, name2;
	                        flags & QFS_CMD_NOREPLACE / QFS_CMD_EXCHANGE */
	/* Special entries (INTERFACE §4): each decided inside apply, one entry. */
	QFS_OP_CAS_PUT = 9,  /* ino=parent, name, data, expect_rev, offset: only if name's
	                        mod_revision is expect_rev (0: absent, then created with
	                        mode/uid/gid); offset 0 replaces the value, offset > 0
	                        patches at offset (a later write() of the same open) */
	QFS_OP_CAS_DELETE = 10, /* ino=parent, name, expect_rev: unlink only if it matches */
	QFS_OP_ENQUEUE = 11, /* ino=dir, data, mode/uid/gid: new key named by the commit's
	                        revision, 20 digits zero-padded */
	QFS_OP_DEQUEUE = 12, /* ino=dir: delete the item with the smallest 20-digit name
	                        and hand its value to the proposer (QFS_EAGAIN: empty) */
	QFS_OP_MAX_ = 13
};

#define QFS_QUEUE_NAME_LEN 20u /* digits of a queue item's name */

/* flags */
#define QFS_CMD_EXCL 0x1u
#define QFS_CMD_NOREPLACE 0x2u
#define QFS_CMD_EXCHANGE 0x4u

/* SETATTR mask */
#define QFS_SET_MODE 0x1u
#define QFS_SET_UID 0x2u
#define QFS_SET_GID 0x4u
#define QFS_SET_SIZE 0x8u
#define QFS_SET_MTIME 0x10u /* mtime_ns from the command */

struct qfs_cmd {
	uint8_t op;       /* enum qfs_op */
	uint16_t flags;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t mask;    /* SETATTR */
	uint64_t ino;     /* target inode, or parent for namespace ops */
	uint64_t ino2;    /* RENAME: new parent */
	uint64_t offset;  /* WRITE */
	uint64_t size;    /* SETATTR size */
	uint64_t expect_rev; /* CAS_*: expected mod_revision (travels in the size field) */
	uint64_t mtime_ns;/* SETATTR explicit mtime */
	uint64_t time_ns; /* when the change was proposed: becomes mtime/ctime */
	const char *name; /* borrowed; not NUL-terminated */
	uint16_t name_len;
	const char *name2;
	uint16_t name2_len;
	const uint8_t *data;
	uint32_t data_len;
};

/* Bytes needed to encode `c`. */
size_t qfs_cmd_encoded_size(const struct qfs_cmd *c);
/* Encodes `c` into buf[0..cap); returns bytes written or a negative QFS_E*.
 * Refuses commands that decode would refuse: QFS_ENAMETOOLONG for a name over
 * QFS_NAME_MAX, QFS_EFBIG for data over QFS_VALUE_MAX_HARD, QFS_EINVAL for
 * anything else malformed (bad op, flags or mask, a field the op does not take,
 * an invalid name); QFS_ERANGE when cap is too small. */
long qfs_cmd_encode(const struct qfs_cmd *c, uint8_t *buf, size_t cap);
/* Decodes buf[0..len) into *c.  Pointers in *c borrow from buf (NULL for an
 * absent name or empty data).  Never trusts a length field: any malformed input
 * (including trailing bytes) returns QFS_ECORRUPT and leaves no pointer outside
 * buf. */
int qfs_cmd_decode(const uint8_t *buf, size_t len, struct qfs_cmd *c);

/* Names that users may not create (INTERFACE §4/§5): the special entries in
 * every directory, and `members`, `.status`, `.metrics` at the root.
 * Returns 1 when reserved, 0 otherwise. */
int qfs_name_reserved(uint64_t parent_ino, const char *name, size_t len);
/* The REV of `DIR/.cas/REV/NAME`: 1 to 20 decimal digits that fit in 64
 * bits, nothing else (no sign, no spaces).  0 or QFS_EINVAL. */
int qfs_rev_parse(const char *s, size_t len, uint64_t *out);

/* 0 when `name` is a valid component (non-empty, no '/', no NUL, not . or ..,
 * at most QFS_NAME_MAX), QFS_ENAMETOOLONG or QFS_EINVAL otherwise. */
int qfs_name_check(const char *name, size_t len);

#endif
