/* Command codec and name rules (src/util/command.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "quorumfs/command.h"
#include "quorumfs/error.h"
#include "quorumfs/limits.h"

static const uint8_t sample_data[] = "some value bytes\n";

/* One command of every op, every field it carries set to something distinct. */
static size_t samples(struct qfs_cmd *out)
{
	const struct qfs_cmd base = {
	    .uid = 1001,
	    .gid = 1002,
	    .ino = 0x0102030405060708ull,
	    .time_ns = 0x1122334455667788ull,
	};
	size_t n = 0;
	out[n] = base;
	out[n++].op = QFS_OP_NOOP;
	out[n] = base;
	out[n].op = QFS_OP_CREATE;
	out[n].flags = QFS_CMD_EXCL;
	out[n].mode = S_IFREG | 0644;
	out[n].name = "file.txt";
	out[n++].name_len = 8;
	out[n] = base;
	out[n].op = QFS_OP_CREATE;
	out[n].mode = S_IFDIR | 0755;
	out[n].name = "dir";
	out[n++].name_len = 3;
	out[n] = base;
	out[n].op = QFS_OP_CREATE;
	out[n].mode = S_IFLNK | 0777;
	out[n].name = "link";
	out[n].name_len = 4;
	out[n].data = (const uint8_t *)"../target";
	out[n++].data_len = 9;
	out[n] = base;
	out[n].op = QFS_OP_PUT;
	out[n].data = sample_data;
	out[n++].data_len = sizeof sample_data - 1;
	out[n] = base;
	out[n++].op = QFS_OP_PUT; /* empty value: truncate */
	out[n] = base;
	out[n].op = QFS_OP_WRITE;
	out[n].offset = 123456;
	out[n].data = sample_data;
	out[n++].data_len = 5;
	out[n] = base;
	out[n].op = QFS_OP_APPEND;
	out[n].data = sample_data;
	out[n++].data_len = sizeof sample_data - 1;
	out[n] = base;
	out[n].op = QFS_OP_SETATTR;
	out[n].mask = QFS_SET_MODE | QFS_SET_UID | QFS_SET_GID | QFS_SET_SIZE | QFS_SET_MTIME;
	out[n].mode = 0600;
	out[n].size = 77;
	out[n++].mtime_ns = 0xdeadbeefcafef00dull;
	out[n] = base;
	out[n].op = QFS_OP_UNLINK;
	out[n].name = "gone";
	out[n++].name_len = 4;
	out[n] = base;
	out[n].op = QFS_OP_RMDIR;
	out[n].name = "emptydir";
	out[n++].name_len = 8;
	out[n] = base;
	out[n].op = QFS_OP_RENAME;
	out[n].ino2 = 99;
	out[n].flags = QFS_CMD_NOREPLACE;
	out[n].name = "old";
	out[n].name_len = 3;
	out[n].name2 = "new-name";
	out[n++].name2_len = 8;
	out[n] = base;
	out[n].op = QFS_OP_RENAME;
	out[n].ino2 = 7;
	out[n].flags = QFS_CMD_EXCHANGE;
	out[n].name = "x";
	out[n].name_len = 1;
	out[n].name2 = "y";
	out[n++].name2_len = 1;
	out[n] = base;
	out[n].op = QFS_OP_CAS_PUT;
	out[n].expect_rev = 0xfedcba9876543210ull;
	out[n].offset = 4096;
	out[n].mode = 0644;
	out[n].name = "leader";
	out[n].name_len = 6;
	out[n].data = sample_data;
	out[n++].data_len = 3;
	out[n] = base;
	out[n].op = QFS_OP_CAS_DELETE;
	out[n].expect_rev = 17;
	out[n].name = "lock";
	out[n++].name_len = 4;
	out[n] = base;
	out[n].op = QFS_OP_ENQUEUE;
	out[n].mode = 0644;
	out[n].data = sample_data;
	out[n++].data_len = 5;
	out[n] = base;
	out[n++].op = QFS_OP_DEQUEUE;
	return n;
}

static uint8_t *encode(const struct qfs_cmd *c, size_t *len)
{
	*len = qfs_cmd_encoded_size(c);
	uint8_t *buf = malloc(*len);
	assert_non_null(buf);
	long n = qfs_cmd_encode(c, buf, *len);
	assert_int_equal(n, (long)*len);
	return buf;
}

static void assert_inside(const void *p, size_t n, const uint8_t *buf, size_t len)
{
	if (!p) {
		assert_int_equal(n, 0);
		return;
	}
	assert_true((const uint8_t *)p >= buf);
	assert_true((const uint8_t *)p + n <= buf + len);
}

static void assert_same_cmd(const struct qfs_cmd *a, const struct qfs_cmd *b)
{
	assert_int_equal(a->op, b->op);
	assert_int_equal(a->flags, b->flags);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->mask, b->mask);
	assert_int_equal(a->ino, b->ino);
	assert_int_equal(a->ino2, b->ino2);
	assert_int_equal(a->offset, b->offset);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->expect_rev, b->expect_rev);
	assert_int_equal(a->mtime_ns, b->mtime_ns);
	assert_int_equal(a->time_ns, b->time_ns);
	assert_int_equal(a->name_len, b->name_len);
	assert_int_equal(a->name2_len, b->name2_len);
	assert_int_equal(a->data_len, b->data_len);
	if (a->name_len)
		assert_memory_equal(a->name, b->name, a->name_len);
	if (a->name2_len)
		assert_memory_equal(a->name2, b->name2, a->name2_len);
	if (a->data_len)
		assert_memory_equal(a->data, b->data, a->data_len);
}

static void test_roundtrip_every_op(void **state)
{
	(void)state;
	struct qfs_cmd cmds[32];
	size_t n = samples(cmds);
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *buf = encode(&cmds[i], &len);
		struct qfs_cmd d;
		assert_int_equal(qfs_cmd_decode(buf, len, &d), 0);
		assert_same_cmd(&cmds[i], &d);
		assert_inside(d.name, d.name_len, buf, len);
		assert_inside(d.name2, d.name2_len, buf, len);
		assert_inside(d.data, d.data_len, buf, len);
		/* One encoding per command: decode then encode gives the same bytes. */
		size_t len2;
		uint8_t *buf2 = encode(&d, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);
		seen |= 1u << cmds[i].op;
		free(buf2);
		free(buf);
	}
	assert_int_equal(seen, (1u << QFS_OP_MAX_) - 1); /* every op covered */
}

static void test_header_layout(void **state)
{
	(void)state;
	/* The documented layout (docs/disk-format.md §2), byte by byte. */
	struct qfs_cmd c = {.op = QFS_OP_RENAME,
	                    .flags = QFS_CMD_EXCHANGE,
	                    .ino = 0x0102,
	                    .ino2 = 3,
	                    .time_ns = 0x0a0b,
	                    .name = "ab",
	                    .name_len = 2,
	                    .name2 = "c",
	                    .name2_len = 1};
	size_t len;
	uint8_t *buf = encode(&c, &len);
	assert_int_equal(len, QFS_CMD_HEADER_SIZE + 3);
	assert_int_equal(buf[0], QFS_CMD_VERSION);
	assert_int_equal(buf[1], QFS_OP_RENAME);
	assert_int_equal(buf[2], QFS_CMD_EXCHANGE);
	assert_int_equal(buf[24], 2);    /* name_len */
	assert_int_equal(buf[26], 1);    /* name2_len */
	assert_int_equal(buf[32], 0x02); /* ino, little-endian */
	assert_int_equal(buf[33], 0x01);
	assert_int_equal(buf[40], 3);
	assert_int_equal(buf[72], 0x0b);
	assert_memory_equal(buf + QFS_CMD_HEADER_SIZE, "abc", 3);
	free(buf);
}

static void test_truncated_at_every_byte(void **state)
{
	(void)state;
	struct qfs_cmd cmds[32];
	size_t n = samples(cmds);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *buf = encode(&cmds[i], &len);
		for (size_t cut = 0; cut < len; cut++) {
			/* A fresh copy of exactly `cut` bytes so ASan sees any overread. */
			uint8_t *part = malloc(cut ? cut : 1);
			memcpy(part, buf, cut);
			struct qfs_cmd d;
			assert_int_equal(qfs_cmd_decode(part, cut, &d), QFS_ECORRUPT);
			free(part);
		}
		free(buf);
	}
	struct qfs_cmd d;
	assert_int_equal(qfs_cmd_decode(NULL, 0, &d), QFS_ECORRUPT);
}

static void test_trailing_garbage(void **state)
{
	(void)state;
	struct qfs_cmd cmds[32];
	size_t n = samples(cmds);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		uint8_t *buf = encode(&cmds[i], &len);
		uint8_t *more = calloc(1, len + 8);
		memcpy(more, buf, len);
		struct qfs_cmd d;
		for (size_t extra = 1; extra <= 8; extra++)
			assert_int_equal(qfs_cmd_decode(more, len + extra, &d), QFS_ECORRUPT);
		free(more);
		free(buf);
	}
}

/* Encodes sample i, lets `mutate` damage it, expects decode to refuse. */
static void expect_refused(size_t i, void (*mutate)(uint8_t *buf, size_t len))
{
	struct qfs_cmd cmds[32];
	size_t n = samples(cmds);
	assert_true(i < n);
	size_t len;
	uint8_t *buf = encode(&cmds[i], &len);
	mutate(buf, len);
	struct qfs_cmd d;
	assert_int_equal(qfs_cmd_decode(buf, len, &d), QFS_ECORRUPT);
	free(buf);
}

static void bad_version0(uint8_t *b, size_t l)
{
	(void)l;
	b[0] = 0;
}
static void bad_version2(uint8_t *b, size_t l)
{
	(void)l;
	b[0] = QFS_CMD_VERSION + 1;
}
static void bad_op(uint8_t *b, size_t l)
{
	(void)l;
	b[1] = QFS_OP_MAX_;
}
static void bad_op255(uint8_t *b, size_t l)
{
	(void)l;
	b[1] = 255;
}
static void bad_reserved(uint8_t *b, size_t l)
{
	(void)l;
	b[30] = 1;
}
static void name_len_past_end(uint8_t *b, size_t l)
{
	(void)l;
	b[24]++;
}
static void name2_len_past_end(uint8_t *b, size_t l)
{
	(void)l;
	b[26]++;
}
static void data_len_past_end(uint8_t *b, size_t l)
{
	(void)l;
	b[20]++;
}
static void data_len_huge(uint8_t *b, size_t l)
{
	(void)l;
	b[20] = b[21] = b[22] = b[23] = 0xff;
}
static void name_len_huge(uint8_t *b, size_t l)
{
	(void)l;
	b[24] = b[25] = 0xff;
}
static void bad_flag(uint8_t *b, size_t l)
{
	(void)l;
	b[2] |= 0x80;
}
static void slash_in_name(uint8_t *b, size_t l)
{
	(void)l;
	b[QFS_CMD_HEADER_SIZE] = '/';
}
static void nul_in_name(uint8_t *b, size_t l)
{
	(void)l;
	b[QFS_CMD_HEADER_SIZE + 1] = '\0';
}
static void op_to_put(uint8_t *b, size_t l)
{
	(void)l;
	b[1] = QFS_OP_PUT; /* PUT carries no name */
}
static void op_to_unlink(uint8_t *b, size_t l)
{
	(void)l;
	b[1] = QFS_OP_UNLINK; /* UNLINK carries no data */
}
static void both_rename_flags(uint8_t *b, size_t l)
{
	(void)l;
	b[2] = QFS_CMD_NOREPLACE | QFS_CMD_EXCHANGE;
}
static void bad_mask(uint8_t *b, size_t l)
{
	(void)l;
	b[16] |= 0x40;
}
static void bad_create_mode(uint8_t *b, size_t l)
{
	(void)l;
	b[5] = 0x10; /* mode 0x1000|...: S_IFIFO */
	b[6] = 0;
}

/* Sample indexes, see samples(). */
enum {
	S_NOOP,
	S_CREATE,
	S_MKDIR,
	S_SYMLINK,
	S_PUT,
	S_PUT0,
	S_WRITE,
	S_APPEND,
	S_SETATTR,
	S_UNLINK,
	S_RMDIR,
	S_RENAME,
	S_EXCHANGE
};

static void test_malformed_headers(void **state)
{
	(void)state;
	for (size_t i = S_NOOP; i <= S_EXCHANGE; i++) {
		expect_refused(i, bad_version0);
		expect_refused(i, bad_version2);
		expect_refused(i, bad_op);
		expect_refused(i, bad_op255);
		expect_refused(i, bad_reserved);
		expect_refused(i, name_len_past_end);
		expect_refused(i, name2_len_past_end);
		expect_refused(i, data_len_past_end);
		expect_refused(i, data_len_huge);
		expect_refused(i, name_len_huge);
		expect_refused(i, bad_flag);
	}
}

static void test_malformed_fields(void **state)
{
	(void)state;
	expect_refused(S_CREATE, slash_in_name);
	expect_refused(S_CREATE, nul_in_name);
	expect_refused(S_RENAME, slash_in_name);
	expect_refused(S_CREATE, op_to_put);
	expect_refused(S_PUT, op_to_unlink);
	expect_refused(S_RENAME, both_rename_flags);
	expect_refused(S_SETATTR, bad_mask);
	expect_refused(S_CREATE, bad_create_mode);
}

static void test_name_too_long(void **state)
{
	(void)state;
	char name[QFS_NAME_MAX + 1];
	memset(name, 'n', sizeof name);
	struct qfs_cmd c = {.op = QFS_OP_CREATE,
	                    .mode = S_IFREG | 0644,
	                    .ino = 1,
	                    .name = name,
	                    .name_len = QFS_NAME_MAX};
	uint8_t *buf = malloc(QFS_CMD_HEADER_SIZE + QFS_NAME_MAX + 1);
	struct qfs_cmd d;
	long len = qfs_cmd_encode(&c, buf, QFS_CMD_HEADER_SIZE + QFS_NAME_MAX + 1);
	assert_int_equal(len, QFS_CMD_HEADER_SIZE + QFS_NAME_MAX);
	assert_int_equal(qfs_cmd_decode(buf, (size_t)len, &d), 0);

	c.name_len = QFS_NAME_MAX + 1;
	assert_int_equal(qfs_cmd_encode(&c, buf, QFS_CMD_HEADER_SIZE + QFS_NAME_MAX + 1),
	                 QFS_ENAMETOOLONG);
	/* Forge the bytes encode refused: a 256-byte name. */
	c.name_len = QFS_NAME_MAX;
	qfs_cmd_encode(&c, buf, QFS_CMD_HEADER_SIZE + QFS_NAME_MAX + 1);
	buf[24] = (QFS_NAME_MAX + 1) & 0xff;
	buf[25] = (QFS_NAME_MAX + 1) >> 8;
	buf[QFS_CMD_HEADER_SIZE + QFS_NAME_MAX] = 'n';
	assert_int_equal(qfs_cmd_decode(buf, QFS_CMD_HEADER_SIZE + QFS_NAME_MAX + 1, &d),
	                 QFS_ECORRUPT);
	free(buf);
}

static void test_data_too_long(void **state)
{
	(void)state;
	size_t cap = QFS_CMD_HEADER_SIZE + QFS_VALUE_MAX_HARD + 1;
	uint8_t *data = calloc(1, QFS_VALUE_MAX_HARD + 1);
	uint8_t *buf = malloc(cap);
	struct qfs_cmd c = {
	    .op = QFS_OP_PUT, .ino = 5, .data = data, .data_len = QFS_VALUE_MAX_HARD};
	struct qfs_cmd d;
	long len = qfs_cmd_encode(&c, buf, cap);
	assert_int_equal(len, QFS_CMD_HEADER_SIZE + QFS_VALUE_MAX_HARD);
	assert_int_equal(qfs_cmd_decode(buf, (size_t)len, &d), 0);
	assert_int_equal(d.data_len, QFS_VALUE_MAX_HARD);

	c.data_len = QFS_VALUE_MAX_HARD + 1;
	assert_int_equal(qfs_cmd_encode(&c, buf, cap), QFS_EFBIG);
	/* Forge it. */
	c.data_len = QFS_VALUE_MAX_HARD;
	qfs_cmd_encode(&c, buf, cap);
	uint32_t big = QFS_VALUE_MAX_HARD + 1;
	for (int i = 0; i < 4; i++)
		buf[20 + i] = (uint8_t)(big >> (8 * i));
	assert_int_equal(qfs_cmd_decode(buf, cap, &d), QFS_ECORRUPT);
	free(buf);
	free(data);
}

static void test_encode_refusals(void **state)
{
	(void)state;
	uint8_t buf[QFS_CMD_HEADER_SIZE + 64];
	struct qfs_cmd cmds[32];
	size_t n = samples(cmds);
	for (size_t i = 0; i < n; i++) {
		size_t need = qfs_cmd_encoded_size(&cmds[i]);
		assert_true(need <= sizeof buf);
		for (size_t cap = 0; cap < need; cap++)
			assert_int_equal(qfs_cmd_encode(&cmds[i], buf, cap), QFS_ERANGE);
	}
	struct qfs_cmd c = {.op = QFS_OP_MAX_};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){.op = QFS_OP_PUT, .name = "x", .name_len = 1};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){
	    .op = QFS_OP_UNLINK, .name = "x", .name_len = 1, .data = buf, .data_len = 1};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){.op = QFS_OP_UNLINK};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL); /* name missing */
	c = (struct qfs_cmd){.op = QFS_OP_UNLINK, .name = "a/b", .name_len = 3};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){.op = QFS_OP_RENAME, .name = "a", .name_len = 1};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL); /* name2 missing */
	c = (struct qfs_cmd){.op = QFS_OP_PUT, .flags = QFS_CMD_EXCL};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){.op = QFS_OP_PUT, .data_len = 3}; /* data NULL */
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){.op = QFS_OP_CREATE,
	                     .mode = S_IFREG | 0644,
	                     .name = "f",
	                     .name_len = 1,
	                     .data = buf,
	                     .data_len = 1}; /* data on a file */
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
	c = (struct qfs_cmd){
	    .op = QFS_OP_CREATE, .mode = S_IFIFO | 0644, .name = "f", .name_len = 1};
	assert_int_equal(qfs_cmd_encode(&c, buf, sizeof buf), QFS_EINVAL);
}

/* Random damage never crashes the decoder and never yields pointers
 * outside the buffer (a seeded, deterministic mini-fuzz). */
static void test_random_damage(void **state)
{
	(void)state;
	struct qfs_cmd cmds[32];
	size_t n = samples(cmds);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned accepted = 0, refused = 0;
	for (int round = 0; round < 20000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t len;
		uint8_t *buf = encode(&cmds[x % n], &len);
		int flips = 1 + (int)((x >> 8) % 3);
		for (int f = 0; f < flips; f++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[(x >> 16) % len] ^= (uint8_t)(1u << ((x >> 40) % 8));
		}
		struct qfs_cmd d;
		int rc = qfs_cmd_decode(buf, len, &d);
		if (rc == 0) {
			accepted++;
			assert_inside(d.name, d.name_len, buf, len);
			assert_inside(d.name2, d.name2_len, buf, len);
			assert_inside(d.data, d.data_len, buf, len);
			assert_int_equal(qfs_cmd_encoded_size(&d), len);
		} else {
			refused++;
			assert_int_equal(rc, QFS_ECORRUPT);
		}
		free(buf);
	}
	assert_true(accepted > 0 && refused > 0);
}

static void test_reserved_names(void **state)
{
	(void)state;
	static const char *const everywhere[] = {".rev", ".cas", ".enqueue", ".dequeue", ".watch"};
	static const char *const root_only[] = {"members", ".status", ".metrics"};
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(
		    qfs_name_reserved(QFS_ROOT_INO, everywhere[i], strlen(everywhere[i])), 1);
		assert_int_equal(qfs_name_reserved(42, everywhere[i], strlen(everywhere[i])), 1);
		/* A prefix is not the name. */
		assert_int_equal(qfs_name_reserved(42, everywhere[i], strlen(everywhere[i]) - 1),
		                 0);
	}
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(
		    qfs_name_reserved(QFS_ROOT_INO, root_only[i], strlen(root_only[i])), 1);
		assert_int_equal(qfs_name_reserved(42, root_only[i], strlen(root_only[i])), 0);
	}
	assert_int_equal(qfs_name_reserved(QFS_ROOT_INO, ".revs", 5), 0);
	assert_int_equal(qfs_name_reserved(QFS_ROOT_INO, "rev", 3), 0);
	assert_int_equal(qfs_name_reserved(QFS_ROOT_INO, "Members", 7), 0);
	assert_int_equal(qfs_name_reserved(QFS_ROOT_INO, "members2", 8), 0);
	assert_int_equal(qfs_name_reserved(QFS_ROOT_INO, ".watchx", 6), 1); /* length counts */
	assert_int_equal(qfs_name_reserved(QFS_ROOT_INO, "", 0), 0);
}

static void test_rev_parse(void **state)
{
	(void)state;
	uint64_t v = 7;
	static const char *const bad[] = {"", "abc", "-1", "+1", "1x", "0x10", " 1", "1 ",
					  "18446744073709551616", "99999999999999999999",
					  "000000000000000000000", "123456789012345678901234567890"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(qfs_rev_parse(bad[i], strlen(bad[i]), &v), QFS_EINVAL);
	assert_int_equal(v, 7); /* untouched on refusal */
	assert_int_equal(qfs_rev_parse("0", 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(qfs_rev_parse("00042", 5, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(qfs_rev_parse("18446744073709551615", 20, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(qfs_rev_parse("123", 2, &v), 0); /* only len bytes count */
	assert_int_equal(v, 12);
}

static void test_name_check(void **state)
{
	(void)state;
	char name[QFS_NAME_MAX + 2];
	memset(name, 'x', sizeof name);
	assert_int_equal(qfs_name_check(name, QFS_NAME_MAX), 0);
	assert_int_equal(qfs_name_check(name, QFS_NAME_MAX + 1), QFS_ENAMETOOLONG);
	assert_int_equal(qfs_name_check("a", 1), 0);
	assert_int_equal(qfs_name_check("", 0), QFS_EINVAL);
	assert_int_equal(qfs_name_check(NULL, 0), QFS_EINVAL);
	assert_int_equal(qfs_name_check(NULL, 3), QFS_EINVAL);
	assert_int_equal(qfs_name_check(".", 1), QFS_EINVAL);
	assert_int_equal(qfs_name_check("..", 2), QFS_EINVAL);
	assert_int_equal(qfs_name_check("...", 3), 0);
	assert_int_equal(qfs_name_check(".hidden", 7), 0);
	assert_int_equal(qfs_name_check("a/b", 3), QFS_EINVAL);
	assert_int_equal(qfs_name_check("/", 1), QFS_EINVAL);
	assert_int_equal(qfs_name_check("ab/", 3), QFS_EINVAL);
	assert_int_equal(qfs_name_check("a\0b", 3), QFS_EINVAL);
	assert_int_equal(qfs_name_check("ab\0", 3), QFS_EINVAL);
	assert_int_equal(qfs_name_check(". ", 2), 0);
	assert_int_equal(qfs_name_check("caf\xc3\xa9", 5), 0); /* bytes, not characters */
	name[100] = '/';
	assert_int_equal(qfs_name_check(name, QFS_NAME_MAX), QFS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_every_op),      cmocka_unit_test(test_header_layout),
	    cmocka_unit_test(test_truncated_at_every_byte), cmocka_unit_test(test_trailing_garbage),
	    cmocka_unit_test(test_malformed_headers),       cmocka_unit_test(test_malformed_fields),
	    cmocka_unit_test(test_name_too_long),           cmocka_unit_test(test_data_too_long),
	    cmocka_unit_test(test_encode_refusals),         cmocka_unit_test(test_random_damage),
	    cmocka_unit_test(test_reserved_names),          cmocka_unit_test(test_name_check),
	    cmocka_unit_test(test_rev_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
