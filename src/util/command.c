/* Command codec and name rules.  Wire format: docs/disk-format.md §2.
 *
 * The decoder takes bytes that came from the Raft log or a peer: it checks
 * every length against the buffer before using it and accepts exactly one
 * encoding per command (no trailing bytes, reserved fields zero).
 */
#include "quorumfs/command.h"

#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"

/* Header field offsets (all little-endian). */
enum {
	OFF_VERSION = 0,    /* u8 */
	OFF_OP = 1,         /* u8 */
	OFF_FLAGS = 2,      /* u16 */
	OFF_MODE = 4,       /* u32 */
	OFF_UID = 8,        /* u32 */
	OFF_GID = 12,       /* u32 */
	OFF_MASK = 16,      /* u32 */
	OFF_DATA_LEN = 20,  /* u32 */
	OFF_NAME_LEN = 24,  /* u16 */
	OFF_NAME2_LEN = 26, /* u16 */
	OFF_RESERVED = 28,  /* u32, zero */
	OFF_INO = 32,       /* u64 */
	OFF_INO2 = 40,      /* u64 */
	OFF_OFFSET = 48,    /* u64 */
	OFF_SIZE = 56,      /* u64 */
	OFF_MTIME = 64,     /* u64 */
	OFF_TIME = 72,      /* u64 */
	OFF_END = 80
};
_Static_assert(OFF_END == QFS_CMD_HEADER_SIZE, "header layout and QFS_CMD_HEADER_SIZE disagree");
_Static_assert(QFS_NAME_MAX <= UINT16_MAX, "name length must fit the u16 field");
_Static_assert(QFS_VALUE_MAX_HARD <= UINT32_MAX, "value length must fit the u32 field");
_Static_assert(QFS_SYMLINK_MAX <= QFS_VALUE_MAX_HARD, "a symlink target travels as data");

#define SETATTR_MASK_ALL (QFS_SET_MODE | QFS_SET_UID | QFS_SET_GID | QFS_SET_SIZE | QFS_SET_MTIME)

/* What each op carries. */
struct op_shape {
	uint16_t flags; /* allowed flag bits */
	uint8_t name;   /* 1: name required, 0: forbidden */
	uint8_t name2;  /* 1: name2 required, 0: forbidden */
	uint8_t data;   /* 1: data allowed (may be empty), 0: forbidden */
};

static const struct op_shape op_shapes[QFS_OP_MAX_] = {
    [QFS_OP_NOOP] = {0, 0, 0, 0},
    [QFS_OP_CREATE] = {QFS_CMD_EXCL, 1, 0, 1},
    [QFS_OP_PUT] = {0, 0, 0, 1},
    [QFS_OP_WRITE] = {0, 0, 0, 1},
    [QFS_OP_APPEND] = {0, 0, 0, 1},
    [QFS_OP_SETATTR] = {0, 0, 0, 0},
    [QFS_OP_UNLINK] = {0, 1, 0, 0},
    [QFS_OP_RMDIR] = {0, 1, 0, 0},
    [QFS_OP_RENAME] = {QFS_CMD_NOREPLACE | QFS_CMD_EXCHANGE, 1, 1, 0},
    [QFS_OP_CAS_PUT] = {0, 1, 0, 1},
    [QFS_OP_CAS_DELETE] = {0, 1, 0, 0},
    [QFS_OP_ENQUEUE] = {0, 0, 0, 1},
    [QFS_OP_DEQUEUE] = {0, 0, 0, 0},
};

/* The size slot carries the expected revision of the CAS ops. */
static int op_is_cas(uint8_t op)
{
	return op == QFS_OP_CAS_PUT || op == QFS_OP_CAS_DELETE;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Checks everything but the buffer: the rules shared by encode and decode.
 * Returns 0 or the code encode reports (decode turns any into ECORRUPT). */
static int cmd_validate(const struct qfs_cmd *c)
{
	if (c->op >= QFS_OP_MAX_)
		return QFS_EINVAL;
	const struct op_shape *s = &op_shapes[c->op];
	if (c->flags & ~s->flags)
		return QFS_EINVAL;
	if ((c->flags & QFS_CMD_NOREPLACE) && (c->flags & QFS_CMD_EXCHANGE))
		return QFS_EINVAL;
	if (c->op == QFS_OP_SETATTR && (c->mask & ~SETATTR_MASK_ALL))
		return QFS_EINVAL;
	if ((op_is_cas(c->op) && c->size) || (!op_is_cas(c->op) && c->expect_rev))
		return QFS_EINVAL;
	if (c->op == QFS_OP_CREATE) {
		uint32_t fmt = c->mode & S_IFMT;
		if (fmt != S_IFREG && fmt != S_IFDIR && fmt != S_IFLNK)
			return QFS_EINVAL;
		if (fmt != S_IFLNK && c->data_len)
			return QFS_EINVAL;
	}
	if (s->name) {
		int rc = qfs_name_check(c->name, c->name_len);
		if (rc < 0)
			return rc;
	} else if (c->name_len) {
		return QFS_EINVAL;
	}
	if (s->name2) {
		int rc = qfs_name_check(c->name2, c->name2_len);
		if (rc < 0)
			return rc;
	} else if (c->name2_len) {
		return QFS_EINVAL;
	}
	if (!s->data && c->data_len)
		return QFS_EINVAL;
	if (c->data_len > QFS_VALUE_MAX_HARD)
		return QFS_EFBIG;
	if (c->data_len && !c->data)
		return QFS_EINVAL;
	return 0;
}

size_t qfs_cmd_encoded_size(const struct qfs_cmd *c)
{
	return (size_t)QFS_CMD_HEADER_SIZE + c->name_len + c->name2_len + c->data_len;
}

long qfs_cmd_encode(const struct qfs_cmd *c, uint8_t *buf, size_t cap)
{
	int rc = cmd_validate(c);
	if (rc < 0)
		return rc;
	size_t need = qfs_cmd_encoded_size(c);
	if (cap < need)
		return QFS_ERANGE;
	buf[OFF_VERSION] = QFS_CMD_VERSION;
	buf[OFF_OP] = c->op;
	put16(buf + OFF_FLAGS, c->flags);
	put32(buf + OFF_MODE, c->mode);
	put32(buf + OFF_UID, c->uid);
	put32(buf + OFF_GID, c->gid);
	put32(buf + OFF_MASK, c->mask);
	put32(buf + OFF_DATA_LEN, c->data_len);
	put16(buf + OFF_NAME_LEN, c->name_len);
	put16(buf + OFF_NAME2_LEN, c->name2_len);
	put32(buf + OFF_RESERVED, 0);
	put64(buf + OFF_INO, c->ino);
	put64(buf + OFF_INO2, c->ino2);
	put64(buf + OFF_OFFSET, c->offset);
	put64(buf + OFF_SIZE, op_is_cas(c->op) ? c->expect_rev : c->size);
	put64(buf + OFF_MTIME, c->mtime_ns);
	put64(buf + OFF_TIME, c->time_ns);
	uint8_t *p = buf + OFF_END;
	if (c->name_len)
		memcpy(p, c->name, c->name_len);
	p += c->name_len;
	if (c->name2_len)
		memcpy(p, c->name2, c->name2_len);
	p += c->name2_len;
	if (c->data_len)
		memcpy(p, c->data, c->data_len);
	p += c->data_len;
	return (long)(p - buf);
}

int qfs_cmd_decode(const uint8_t *buf, size_t len, struct qfs_cmd *c)
{
	memset(c, 0, sizeof *c);
	if (!buf || len < QFS_CMD_HEADER_SIZE)
		return QFS_ECORRUPT;
	if (buf[OFF_VERSION] != QFS_CMD_VERSION || get32(buf + OFF_RESERVED) != 0)
		return QFS_ECORRUPT;
	uint32_t data_len = get32(buf + OFF_DATA_LEN);
	uint16_t name_len = get16(buf + OFF_NAME_LEN);
	uint16_t name2_len = get16(buf + OFF_NAME2_LEN);
	/* Bounded before they are added: the sum cannot overflow. */
	if (name_len > QFS_NAME_MAX || name2_len > QFS_NAME_MAX || data_len > QFS_VALUE_MAX_HARD)
		return QFS_ECORRUPT;
	size_t want = (size_t)QFS_CMD_HEADER_SIZE + name_len + name2_len + data_len;
	if (want != len)
		return QFS_ECORRUPT;

	struct qfs_cmd d = {
	    .op = buf[OFF_OP],
	    .flags = get16(buf + OFF_FLAGS),
	    .mode = get32(buf + OFF_MODE),
	    .uid = get32(buf + OFF_UID),
	    .gid = get32(buf + OFF_GID),
	    .mask = get32(buf + OFF_MASK),
	    .ino = get64(buf + OFF_INO),
	    .ino2 = get64(buf + OFF_INO2),
	    .offset = get64(buf + OFF_OFFSET),
	    .size = get64(buf + OFF_SIZE),
	    .mtime_ns = get64(buf + OFF_MTIME),
	    .time_ns = get64(buf + OFF_TIME),
	    .name_len = name_len,
	    .name2_len = name2_len,
	    .data_len = data_len,
	};
	if (op_is_cas(d.op)) {
		d.expect_rev = d.size;
		d.size = 0;
	}
	const uint8_t *p = buf + OFF_END;
	if (name_len)
		d.name = (const char *)p;
	p += name_len;
	if (name2_len)
		d.name2 = (const char *)p;
	p += name2_len;
	if (data_len)
		d.data = p;
	if (cmd_validate(&d) < 0)
		return QFS_ECORRUPT;
	*c = d;
	return 0;
}

static int name_is(const char *name, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len == n && memcmp(name, lit, n) == 0;
}

int qfs_name_reserved(uint64_t parent_ino, const char *name, size_t len)
{
	static const char *const everywhere[] = {".rev", ".cas", ".enqueue", ".dequeue", ".watch"};
	static const char *const at_root[] = {"members", ".status", ".metrics"};
	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof everywhere / sizeof everywhere[0]; i++)
		if (name_is(name, len, everywhere[i]))
			return 1;
	if (parent_ino == QFS_ROOT_INO)
		for (size_t i = 0; i < sizeof at_root / sizeof at_root[0]; i++)
			if (name_is(name, len, at_root[i]))
				return 1;
	return 0;
}

int qfs_rev_parse(const char *s, size_t len, uint64_t *out)
{
	if (!s || len == 0 || len > 20)
		return QFS_EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return QFS_EINVAL;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return QFS_EINVAL;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int qfs_name_check(const char *name, size_t len)
{
	if (len == 0 || !name)
		return QFS_EINVAL;
	if (len > QFS_NAME_MAX)
		return QFS_ENAMETOOLONG;
	if (name_is(name, len, ".") || name_is(name, len, ".."))
		return QFS_EINVAL;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return QFS_EINVAL;
	return 0;
}
