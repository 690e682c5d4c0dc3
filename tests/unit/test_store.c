/* The LMDB keyspace store (src/store): apply semantics, revisions, limits,
 * space, crash consistency and the read side. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quorumfs/command.h"
#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "store/store.h"
#include "store/store_int.h"

#define ROOT QFS_ROOT_INO
#define VMAX 4096u

struct fx {
	char dir[64];
	struct store *s;
	struct store_options opt;
	bool nested;
	uint64_t index; /* last log index handed to store_apply */
	uint64_t now;   /* command time, advanced per command */
	struct store_result last; /* the last apply_res result: its paths and value
	                             stay valid until the next apply */
};

/* ---------- fixture ---------- */

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fx_open(struct fx *f)
{
	int rc = store_open(&f->s, f->dir, &f->opt);
	assert_int_equal(rc, 0);
	store_set_nested_apply(f->s, f->nested);
	struct store_rtxn *t;
	struct store_stats st;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_stats(t, &st), 0);
	store_rend(t);
	f->index = st.applied;
}

static void fx_close(struct fx *f)
{
	store_close(f->s);
	f->s = NULL;
}

static int fx_setup_with(void **state, uint64_t map_size, uint32_t value_max, bool nested)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/qfs-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->opt =
	    (struct store_options){.map_size = map_size, .value_max = value_max, .no_sync = true};
	f->nested = nested;
	f->now = 1000000000ull;
	fx_open(f);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return fx_setup_with(state, 64ull << 20, VMAX, false);
}

static int setup_nested(void **state)
{
	return fx_setup_with(state, 64ull << 20, VMAX, true);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_result_release(&f->last);
	if (f->s)
		store_close(f->s);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---------- helpers ---------- */

/* Applies one command in its own committed transaction, through the codec
 * when the codec takes it (as the node loop does).  Returns res.rc. */
static int apply_res(struct fx *f, struct qfs_cmd c, struct store_result *out)
{
	if (!c.time_ns)
		c.time_ns = (f->now += 1000);
	uint8_t *buf = malloc(qfs_cmd_encoded_size(&c));
	assert_non_null(buf);
	struct qfs_cmd d = c;
	long len = qfs_cmd_encode(&c, buf, qfs_cmd_encoded_size(&c));
	if (len >= 0)
		assert_int_equal(qfs_cmd_decode(buf, (size_t)len, &d), 0);
	struct store_wtxn *t;
	struct store_result res;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_apply(t, ++f->index, &d, &res), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(buf);
	store_result_release(&f->last);
	f->last = res;
	if (out)
		*out = res;
	return res.rc;
}

static int apply(struct fx *f, struct qfs_cmd c)
{
	return apply_res(f, c, NULL);
}

static int create(struct fx *f, uint64_t parent, const char *name, uint32_t mode, uint16_t flags,
                  const char *target, struct store_result *res)
{
	struct qfs_cmd c = {.op = QFS_OP_CREATE,
	                    .ino = parent,
	                    .name = name,
	                    .name_len = (uint16_t)strlen(name),
	                    .mode = mode,
	                    .flags = flags,
	                    .uid = 1000,
	                    .gid = 100};
	if (target) {
		c.data = (const uint8_t *)target;
		c.data_len = (uint32_t)strlen(target);
	}
	return apply_res(f, c, res);
}

static uint64_t mk(struct fx *f, uint64_t parent, const char *name, uint32_t mode)
{
	struct store_result res;
	assert_int_equal(create(f, parent, name, mode, QFS_CMD_EXCL, NULL, &res), 0);
	assert_true(res.attr.ino > ROOT);
	return res.attr.ino;
}

static uint64_t mkfile(struct fx *f, uint64_t parent, const char *name)
{
	return mk(f, parent, name, S_IFREG | 0644);
}

static uint64_t mkdir_(struct fx *f, uint64_t parent, const char *name)
{
	return mk(f, parent, name, S_IFDIR | 0755);
}

static int put_n(struct fx *f, uint64_t ino, const void *data, size_t len)
{
	return apply(f, (struct qfs_cmd){
	                    .op = QFS_OP_PUT, .ino = ino, .data = data, .data_len = (uint32_t)len});
}

static int put(struct fx *f, uint64_t ino, const char *s)
{
	return put_n(f, ino, s, strlen(s));
}

static int write_at(struct fx *f, uint64_t ino, uint64_t off, const char *s)
{
	return apply(f, (struct qfs_cmd){.op = QFS_OP_WRITE,
	                                 .ino = ino,
	                                 .offset = off,
	                                 .data = (const uint8_t *)s,
	                                 .data_len = (uint32_t)strlen(s)});
}

static int append(struct fx *f, uint64_t ino, const char *s)
{
	return apply(f, (struct qfs_cmd){.op = QFS_OP_APPEND,
	                                 .ino = ino,
	                                 .data = (const uint8_t *)s,
	                                 .data_len = (uint32_t)strlen(s)});
}

static int truncate_(struct fx *f, uint64_t ino, uint64_t size)
{
	return apply(f, (struct qfs_cmd){
	                    .op = QFS_OP_SETATTR, .ino = ino, .mask = QFS_SET_SIZE, .size = size});
}

static int unlink_(struct fx *f, uint64_t parent, const char *name)
{
	return apply(f, (struct qfs_cmd){.op = QFS_OP_UNLINK,
	                                 .ino = parent,
	                                 .name = name,
	                                 .name_len = (uint16_t)strlen(name)});
}

static int rmdir_(struct fx *f, uint64_t parent, const char *name)
{
	return apply(f, (struct qfs_cmd){.op = QFS_OP_RMDIR,
	                                 .ino = parent,
	                                 .name = name,
	                                 .name_len = (uint16_t)strlen(name)});
}

static int rename_res(struct fx *f, uint64_t p1, const char *n1, uint64_t p2, const char *n2,
                      uint16_t flags, struct store_result *res)
{
	return apply_res(f,
	                 (struct qfs_cmd){.op = QFS_OP_RENAME,
	                                  .ino = p1,
	                                  .name = n1,
	                                  .name_len = (uint16_t)strlen(n1),
	                                  .ino2 = p2,
	                                  .name2 = n2,
	                                  .name2_len = (uint16_t)strlen(n2),
	                                  .flags = flags},
	                 res);
}

static int rename_(struct fx *f, uint64_t p1, const char *n1, uint64_t p2, const char *n2,
                   uint16_t flags)
{
	return rename_res(f, p1, n1, p2, n2, flags, NULL);
}

static int getattr(struct fx *f, uint64_t ino, struct qfs_attr *a)
{
	struct store_rtxn *t;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	int rc = store_getattr(t, ino, a);
	store_rend(t);
	return rc;
}

static struct qfs_attr attr(struct fx *f, uint64_t ino)
{
	struct qfs_attr a;
	assert_int_equal(getattr(f, ino, &a), 0);
	return a;
}

static int lookup(struct fx *f, uint64_t parent, const char *name, struct qfs_attr *a)
{
	struct store_rtxn *t;
	struct qfs_attr tmp;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	int rc = store_lookup(t, parent, name, strlen(name), a ? a : &tmp);
	store_rend(t);
	return rc;
}

static uint64_t ino_of(struct fx *f, uint64_t parent, const char *name)
{
	struct qfs_attr a;
	assert_int_equal(lookup(f, parent, name, &a), 0);
	return a.ino;
}

/* The whole value of ino as a NUL-terminated string in buf; returns rc. */
static int read_str(struct fx *f, uint64_t ino, char *buf, size_t cap)
{
	struct store_rtxn *t;
	const void *data;
	size_t len;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	int rc = store_read(t, ino, 0, cap - 1, &data, &len);
	if (rc == 0) {
		memcpy(buf, data, len);
		buf[len] = '\0';
	}
	store_rend(t);
	return rc;
}

static void assert_value(struct fx *f, uint64_t ino, const char *want)
{
	char buf[VMAX + 1];
	assert_int_equal(read_str(f, ino, buf, sizeof buf), 0);
	assert_string_equal(buf, want);
	assert_int_equal(attr(f, ino).size, strlen(want));
}

static struct store_stats stats(struct fx *f)
{
	struct store_rtxn *t;
	struct store_stats st;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_stats(t, &st), 0);
	store_rend(t);
	return st;
}

/* Records in the data table: values never outlive their keys. */
static size_t data_records(struct fx *f)
{
	struct store_rtxn *t;
	MDB_stat st;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(mdb_stat(t->txn, f->s->dbi_data, &st), 0);
	store_rend(t);
	return st.ms_entries;
}

static uint64_t rev(struct fx *f)
{
	return stats(f).revision;
}

static void assert_path(struct fx *f, uint64_t ino, const char *want)
{
	char buf[QFS_PATH_MAX];
	struct store_rtxn *t;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_path(t, ino, buf, sizeof buf), 0);
	store_rend(t);
	assert_string_equal(buf, want);
}

static int precheck(struct fx *f, struct qfs_cmd c)
{
	struct store_rtxn *t;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	int rc = store_precheck(t, &c);
	store_rend(t);
	return rc;
}

struct listing {
	int n;
	int stop_after; /* 0: never */
	int stop_with;
	char names[64][QFS_NAME_MAX + 1];
	uint64_t inos[64];
};

static int list_cb(void *ctx, const char *name, size_t len, const struct qfs_attr *a)
{
	struct listing *l = ctx;
	assert_true(l->n < 64);
	assert_int_equal(strlen(name), len); /* NUL-terminated */
	memcpy(l->names[l->n], name, len + 1);
	l->inos[l->n] = a->ino;
	l->n++;
	return l->stop_after && l->n == l->stop_after ? l->stop_with : 0;
}

static int list(struct fx *f, uint64_t dir, const char *after, struct listing *l)
{
	struct store_rtxn *t;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	int rc = store_readdir(t, dir, after, after ? strlen(after) : 0, list_cb, l);
	store_rend(t);
	return rc;
}

/* "a,b,c" from a listing. */
static void assert_listing(const struct listing *l, const char *want)
{
	char got[4096] = "";
	for (int i = 0; i < l->n; i++) {
		if (i)
			strcat(got, ",");
		strcat(got, l->names[i]);
	}
	assert_string_equal(got, want);
}

static void assert_list(struct fx *f, uint64_t dir, const char *after, const char *want)
{
	struct listing l = {0};
	assert_int_equal(list(f, dir, after, &l), 0);
	assert_listing(&l, want);
}

static bool changed_ino(const struct store_result *r, uint64_t ino)
{
	for (unsigned i = 0; i < r->n_changed_ino; i++)
		if (r->changed_ino[i] == ino)
			return true;
	return false;
}

static bool changed_entry(const struct store_result *r, uint64_t parent, const char *name)
{
	for (unsigned i = 0; i < r->n_changed_entry; i++)
		if (r->changed_entry[i].parent == parent && !strcmp(r->changed_entry[i].name, name))
			return true;
	return false;
}

/* ---------- tests ---------- */

/* ---------- special entries (INTERFACE §4) ---------- */

static int cas_put(struct fx *f, uint64_t dir, const char *name, uint64_t rev, uint64_t off,
		   const char *v, struct store_result *res)
{
	struct qfs_cmd c = {.op = QFS_OP_CAS_PUT, .ino = dir, .name = name,
			    .name_len = (uint16_t)strlen(name), .expect_rev = rev, .offset = off,
			    .mode = 0640, .data = (const uint8_t *)v, .data_len = (uint32_t)strlen(v)};
	return apply_res(f, c, res);
}

static int cas_del(struct fx *f, uint64_t dir, const char *name, uint64_t rev)
{
	struct qfs_cmd c = {.op = QFS_OP_CAS_DELETE, .ino = dir, .name = name,
			    .name_len = (uint16_t)strlen(name), .expect_rev = rev};
	return apply(f, c);
}

static void test_cas(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "app");
	struct store_result r;
	/* 0: create only if absent */
	assert_int_equal(cas_put(f, d, "leader", 0, 0, "n1\n", &r), 0);
	uint64_t r1 = r.attr.mod_revision;
	assert_int_equal(r1, rev(f));
	assert_int_equal(r.attr.mode, S_IFREG | 0640);
	uint64_t ino = ino_of(f, d, "leader");
	assert_value(f, ino, "n1\n");
	uint64_t before = rev(f);
	assert_int_equal(cas_put(f, d, "leader", 0, 0, "n2\n", NULL), QFS_EEXIST);
	assert_int_equal(cas_put(f, d, "leader", r1 + 5, 0, "n2\n", NULL), QFS_ECANCELED);
	assert_int_equal(cas_put(f, d, "absent", 3, 0, "x", NULL), QFS_ECANCELED);
	assert_int_equal(cas_put(f, d, ".cas", 0, 0, "x", NULL), QFS_EPERM);
	assert_int_equal(cas_put(f, d, "new", 0, 5, "x", NULL), QFS_EINVAL);
	assert_int_equal(cas_put(f, 999, "x", 0, 0, "x", NULL), QFS_ENOENT);
	assert_int_equal(cas_put(f, d, "app", 0, 0, "x", NULL), 0);
	assert_int_equal(rev(f), before + 1); /* refusals change nothing */
	assert_int_equal(cas_put(f, ROOT, "app", 1, 0, "x", NULL), QFS_EISDIR);
	/* the right revision replaces, then patches at an offset */
	assert_int_equal(cas_put(f, d, "leader", r1, 0, "n2 long\n", &r), 0);
	uint64_t r2 = r.attr.mod_revision;
	assert_true(r2 > r1);
	assert_int_equal(cas_put(f, d, "leader", r1, 0, "n3\n", NULL), QFS_ECANCELED);
	assert_int_equal(cas_put(f, d, "leader", r2, 3, "LONG", &r), 0);
	assert_value(f, ino, "n2 LONG\n");
	assert_int_equal(r.attr.version, 3);
	/* compare-and-delete */
	before = rev(f);
	assert_int_equal(cas_del(f, d, "leader", r2), QFS_ECANCELED);
	assert_int_equal(cas_del(f, d, "nothing", 1), QFS_ENOENT);
	assert_int_equal(cas_del(f, ROOT, "app", 2), QFS_EISDIR);
	assert_int_equal(rev(f), before);
	assert_int_equal(cas_del(f, d, "leader", r.attr.mod_revision), 0);
	struct qfs_attr a;
	assert_int_equal(lookup(f, d, "leader", &a), QFS_ENOENT);
}

static int enqueue(struct fx *f, uint64_t dir, const char *v, struct store_result *res)
{
	struct qfs_cmd c = {.op = QFS_OP_ENQUEUE, .ino = dir, .mode = 0600,
			    .data = (const uint8_t *)v, .data_len = (uint32_t)strlen(v)};
	return apply_res(f, c, res);
}

static int dequeue(struct fx *f, uint64_t dir, char *out, size_t cap)
{
	struct store_result r;
	struct qfs_cmd c = {.op = QFS_OP_DEQUEUE, .ino = dir};
	int rc = apply_res(f, c, &r);
	if (rc == 0) {
		assert_true(r.value_len < cap);
		if (r.value_len)
			memcpy(out, r.value, r.value_len);
		out[r.value_len] = '\0';
	}
	return rc;
}

static void test_queue(void **state)
{
	struct fx *f = *state;
	uint64_t q = mkdir_(f, ROOT, "jobs");
	char buf[64], name[32];
	assert_int_equal(dequeue(f, q, buf, sizeof buf), QFS_EAGAIN);
	/* Names that are not items do not count, wherever they sort. */
	mkfile(f, q, "0abc");
	mkfile(f, q, "-x");
	mkfile(f, q, "zzz");
	mkdir_(f, q, "00000000000000000001");
	mkfile(f, q, "123");
	assert_int_equal(dequeue(f, q, buf, sizeof buf), QFS_EAGAIN);
	struct store_result r;
	uint64_t last = 0;
	for (int i = 0; i < 5; i++) {
		char v[16];
		snprintf(v, sizeof v, "item%d", i);
		assert_int_equal(enqueue(f, q, v, &r), 0);
		/* named after its own commit's revision */
		snprintf(name, sizeof name, "%020llu", (unsigned long long)r.revision);
		assert_int_equal(r.attr.mode, S_IFREG | 0600);
		assert_true(r.revision > last);
		last = r.revision;
		assert_value(f, ino_of(f, q, name), v);
	}
	for (int i = 0; i < 5; i++) {
		char want[16];
		snprintf(want, sizeof want, "item%d", i);
		assert_int_equal(dequeue(f, q, buf, sizeof buf), 0);
		assert_string_equal(buf, want);
	}
	assert_int_equal(dequeue(f, q, buf, sizeof buf), QFS_EAGAIN);
	assert_list(f, q, NULL, "-x,00000000000000000001,0abc,123,zzz");
	assert_int_equal(enqueue(f, 999, "x", NULL), QFS_ENOENT);
	uint64_t file = mkfile(f, ROOT, "plain");
	assert_int_equal(enqueue(f, file, "x", NULL), QFS_ENOTDIR);
	assert_int_equal(dequeue(f, file, buf, sizeof buf), QFS_ENOTDIR);
	/* an empty item */
	assert_int_equal(enqueue(f, q, "", NULL), 0);
	assert_int_equal(dequeue(f, q, buf, sizeof buf), 0);
	assert_string_equal(buf, "");
	/* a key squatting on the next item's name: refused, nothing changes */
	snprintf(name, sizeof name, "%020llu", (unsigned long long)rev(f) + 2);
	mkfile(f, q, name);
	uint64_t before = rev(f);
	assert_int_equal(enqueue(f, q, "x", NULL), QFS_EEXIST);
	assert_int_equal(rev(f), before);
}

static void assert_event(const struct store_result *r, unsigned i, uint8_t kind, const char *path)
{
	assert_true(i < r->n_events);
	assert_int_equal(r->events[i].kind, kind);
	assert_non_null(r->events[i].path);
	assert_string_equal(r->events[i].path, path);
}

static void test_events(void **state)
{
	struct fx *f = *state;
	struct store_result r;
	uint64_t a = create(f, ROOT, "app", S_IFDIR | 0755, QFS_CMD_EXCL, NULL, &r) == 0 ? r.attr.ino : 0;
	assert_int_equal(r.n_events, 1);
	assert_event(&r, 0, STORE_EV_PUT, "app");
	assert_int_equal(create(f, a, "k", S_IFREG | 0644, QFS_CMD_EXCL, NULL, &r), 0);
	assert_event(&r, 0, STORE_EV_PUT, "app/k");
	uint64_t k = r.attr.ino;
	struct qfs_cmd c = {.op = QFS_OP_PUT, .ino = k, .data = (const uint8_t *)"v", .data_len = 1};
	assert_int_equal(apply_res(f, c, &r), 0);
	assert_int_equal(r.n_events, 1);
	assert_event(&r, 0, STORE_EV_PUT, "app/k");
	struct qfs_cmd ch = {.op = QFS_OP_SETATTR, .ino = ROOT, .mask = QFS_SET_MODE, .mode = 0700};
	assert_int_equal(apply_res(f, ch, &r), 0);
	assert_event(&r, 0, STORE_EV_PUT, "");
	uint64_t b = mkdir_(f, a, "sub");
	assert_int_equal(rename_res(f, a, "k", b, "k2", 0, &r), 0);
	assert_int_equal(r.n_events, 2);
	assert_event(&r, 0, STORE_EV_DELETE, "app/k");
	assert_event(&r, 1, STORE_EV_PUT, "app/sub/k2");
	struct qfs_cmd u = {.op = QFS_OP_UNLINK, .ino = b, .name = "k2", .name_len = 2};
	assert_int_equal(apply_res(f, u, &r), 0);
	assert_event(&r, 0, STORE_EV_DELETE, "app/sub/k2");
	assert_int_equal(enqueue(f, b, "job", &r), 0);
	char name[64];
	snprintf(name, sizeof name, "app/sub/%020llu", (unsigned long long)r.revision);
	assert_event(&r, 0, STORE_EV_PUT, name);
	struct qfs_cmd dq = {.op = QFS_OP_DEQUEUE, .ino = b};
	assert_int_equal(apply_res(f, dq, &r), 0);
	assert_event(&r, 0, STORE_EV_DELETE, name);
	/* refused and no-op commands have no event */
	assert_int_equal(apply_res(f, dq, &r), QFS_EAGAIN);
	assert_int_equal(r.n_events, 0);
	struct qfs_cmd noop = {.op = QFS_OP_WRITE, .ino = mkfile(f, a, "e")};
	assert_int_equal(apply_res(f, noop, &r), 0);
	assert_int_equal(r.n_events, 0);
}

static void test_fresh_root(void **state)
{
	struct fx *f = *state;
	struct qfs_attr a = attr(f, ROOT);
	assert_int_equal(a.ino, ROOT);
	assert_int_equal(a.parent, ROOT);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(a.version, 1);
	struct store_stats st = stats(f);
	assert_int_equal(st.applied, 0);
	assert_int_equal(st.revision, 0);
	assert_int_equal(st.keys, 1);
	assert_false(st.full);
	assert_true(st.map_size >= 64ull << 20);
	assert_path(f, ROOT, "");
	assert_list(f, ROOT, NULL, "");
	assert_int_equal(store_value_max(f->s), VMAX);
	assert_int_equal(getattr(f, 2, &a), QFS_ENOENT);
}

static void test_create_lookup_read(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	assert_int_equal(create(f, ROOT, "a", S_IFREG | 0640, QFS_CMD_EXCL, NULL, &res), 0);
	uint64_t a = res.attr.ino;
	assert_int_equal(a, 2); /* the first inode after the root */
	assert_int_equal(res.attr.mode, S_IFREG | 0640);
	assert_int_equal(res.attr.uid, 1000);
	assert_int_equal(res.attr.gid, 100);
	assert_int_equal(res.attr.nlink, 1);
	assert_int_equal(res.attr.size, 0);
	assert_int_equal(res.attr.parent, ROOT);
	assert_true(changed_ino(&res, ROOT));
	assert_true(changed_entry(&res, ROOT, "a"));

	struct qfs_attr l;
	assert_int_equal(lookup(f, ROOT, "a", &l), 0);
	assert_memory_equal(&l, &res.attr, sizeof l);
	assert_int_equal(lookup(f, ROOT, "b", &l), QFS_ENOENT);
	assert_int_equal(lookup(f, ROOT, "a/b", &l), QFS_EINVAL);
	assert_int_equal(lookup(f, a, "x", &l), QFS_ENOTDIR);
	assert_int_equal(lookup(f, 999, "x", &l), QFS_ENOENT);

	assert_int_equal(put(f, a, "hello world"), 0);
	assert_value(f, a, "hello world");
	struct store_rtxn *t;
	const void *data;
	size_t len;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_read(t, a, 6, 100, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "world", 5);
	assert_int_equal(store_read(t, a, 2, 3, &data, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "llo", 3);
	assert_int_equal(store_read(t, a, 11, 10, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(store_read(t, a, 1000, 10, &data, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(store_read(t, ROOT, 0, 10, &data, &len), QFS_EISDIR);
	assert_int_equal(store_read(t, 999, 0, 10, &data, &len), QFS_ENOENT);
	store_rend(t);

	uint64_t d = mkdir_(f, ROOT, "d");
	assert_int_equal(attr(f, d).nlink, 2);
	assert_int_equal(attr(f, ROOT).nlink, 3);
	uint64_t x = mkfile(f, d, "x");
	assert_int_equal(ino_of(f, d, "x"), x);
	assert_path(f, x, "d/x");

	assert_int_equal(create(f, d, "ln", S_IFLNK | 0777, QFS_CMD_EXCL, "../a", &res), 0);
	assert_int_equal(res.attr.mode & S_IFMT, S_IFLNK);
	assert_int_equal(res.attr.size, 4);
	assert_value(f, res.attr.ino, "../a");
	assert_list(f, ROOT, NULL, "a,d");
	assert_list(f, d, NULL, "ln,x");
	assert_int_equal(stats(f).keys, 5);
}

static void test_create_rules(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	uint64_t a = mkfile(f, ROOT, "a");
	uint64_t d = mkdir_(f, ROOT, "d");
	assert_int_equal(put(f, a, "keep"), 0);
	uint64_t r = rev(f);

	/* O_EXCL on an existing name. */
	assert_int_equal(create(f, ROOT, "a", S_IFREG | 0644, QFS_CMD_EXCL, NULL, NULL),
	                 QFS_EEXIST);
	/* O_CREAT without O_EXCL: the existing file, unchanged. */
	assert_int_equal(create(f, ROOT, "a", S_IFREG | 0600, 0, NULL, &res), 0);
	assert_int_equal(res.attr.ino, a);
	assert_int_equal(res.attr.mode, S_IFREG | 0644);
	assert_int_equal(res.attr.size, 4);
	assert_int_equal(res.n_changed_ino + res.n_changed_entry, 0);
	assert_value(f, a, "keep");
	/* mkdir over anything, a file over a directory. */
	assert_int_equal(create(f, ROOT, "a", S_IFDIR | 0755, 0, NULL, NULL), QFS_EEXIST);
	assert_int_equal(create(f, ROOT, "d", S_IFDIR | 0755, 0, NULL, NULL), QFS_EEXIST);
	assert_int_equal(create(f, ROOT, "d", S_IFREG | 0644, 0, NULL, NULL), QFS_EEXIST);
	assert_int_equal(create(f, ROOT, "a", S_IFLNK | 0777, 0, "t", NULL), QFS_EEXIST);
	/* Parents. */
	assert_int_equal(create(f, 999, "x", S_IFREG | 0644, 0, NULL, NULL), QFS_ENOENT);
	assert_int_equal(create(f, a, "x", S_IFREG | 0644, 0, NULL, NULL), QFS_ENOTDIR);
	/* Reserved names: everywhere, and at the root only. */
	const char *everywhere[] = {".rev", ".cas", ".enqueue", ".dequeue", ".watch"};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(create(f, ROOT, everywhere[i], S_IFREG | 0644, 0, NULL, NULL),
		                 QFS_EPERM);
		assert_int_equal(create(f, d, everywhere[i], S_IFDIR | 0755, 0, NULL, NULL),
		                 QFS_EPERM);
	}
	assert_int_equal(create(f, ROOT, "members", S_IFDIR | 0755, 0, NULL, NULL), QFS_EPERM);
	assert_int_equal(create(f, ROOT, ".status", S_IFREG | 0644, 0, NULL, NULL), QFS_EPERM);
	assert_int_equal(create(f, ROOT, ".metrics", S_IFREG | 0644, 0, NULL, NULL), QFS_EPERM);
	/* Bad names and modes (applied raw: the codec refuses them earlier). */
	char longname[QFS_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[QFS_NAME_MAX + 1] = '\0';
	assert_int_equal(create(f, ROOT, longname, S_IFREG | 0644, 0, NULL, NULL),
	                 QFS_ENAMETOOLONG);
	assert_int_equal(create(f, ROOT, "a/b", S_IFREG | 0644, 0, NULL, NULL), QFS_EINVAL);
	assert_int_equal(create(f, ROOT, "..", S_IFDIR | 0755, 0, NULL, NULL), QFS_EINVAL);
	assert_int_equal(create(f, ROOT, "", S_IFREG | 0644, 0, NULL, NULL), QFS_EINVAL);
	assert_int_equal(create(f, ROOT, "fifo", S_IFIFO | 0644, 0, NULL, NULL), QFS_EINVAL);
	assert_int_equal(create(f, ROOT, "lnk", S_IFLNK | 0777, 0, "", NULL), QFS_ENOENT);
	/* None of that changed anything. */
	assert_int_equal(rev(f), r);
	assert_list(f, ROOT, NULL, "a,d");
	assert_list(f, d, NULL, "");
	/* Not reserved below the root. */
	uint64_t m = mkdir_(f, d, "members");
	mkfile(f, m, ".status");
	assert_path(f, ino_of(f, m, ".status"), "d/members/.status");
	/* A new inode is never a reused one. */
	assert_int_equal(unlink_(f, m, ".status"), 0);
	uint64_t again = mkfile(f, m, ".status");
	assert_true(again > m);
}

static void test_values(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	uint64_t d = mkdir_(f, ROOT, "d");
	struct store_result res;
	assert_int_equal(create(f, ROOT, "l", S_IFLNK | 0777, 0, "a", &res), 0);
	uint64_t l = res.attr.ino;
	uint64_t bytes0 = stats(f).bytes;

	assert_int_equal(put(f, a, "abc"), 0);
	assert_value(f, a, "abc");
	assert_int_equal(stats(f).bytes, bytes0 + store_value_bytes(3));
	assert_int_equal(put(f, a, "xy"), 0); /* whole-value replace */
	assert_value(f, a, "xy");
	/* A write past the end zero-fills the gap. */
	assert_int_equal(write_at(f, a, 5, "Z"), 0);
	char buf[64];
	struct store_rtxn *t;
	const void *data;
	size_t len;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_read(t, a, 0, 64, &data, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(data, "xy\0\0\0Z", 6);
	store_rend(t);
	assert_int_equal(write_at(f, a, 1, "QQ"), 0); /* inside */
	assert_int_equal(read_str(f, a, buf, sizeof buf), 0);
	assert_memory_equal(buf, "xQQ\0\0Z", 6);
	assert_int_equal(write_at(f, a, 4, "tail"), 0); /* overlapping the end */
	assert_int_equal(attr(f, a).size, 8);
	assert_int_equal(put(f, a, "line1\n"), 0);
	assert_int_equal(append(f, a, "line2\n"), 0);
	assert_int_equal(append(f, a, "line3\n"), 0);
	assert_value(f, a, "line1\nline2\nline3\n");
	/* Truncate and zero-extend. */
	assert_int_equal(truncate_(f, a, 5), 0);
	assert_value(f, a, "line1");
	assert_int_equal(truncate_(f, a, 8), 0);
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_read(t, a, 0, 64, &data, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(data, "line1\0\0\0", 8);
	store_rend(t);
	assert_int_equal(truncate_(f, a, 0), 0);
	assert_value(f, a, "");
	assert_int_equal(put(f, a, "v"), 0);
	assert_int_equal(put(f, a, ""), 0); /* O_TRUNC alone */
	assert_value(f, a, "");
	assert_int_equal(append(f, a, "after-empty"), 0);
	assert_value(f, a, "after-empty");
	assert_int_equal(stats(f).bytes, bytes0 + store_value_bytes(strlen("after-empty")));

	/* Wrong targets. */
	uint64_t r = rev(f);
	assert_int_equal(put(f, d, "x"), QFS_EISDIR);
	assert_int_equal(write_at(f, d, 0, "x"), QFS_EISDIR);
	assert_int_equal(append(f, ROOT, "x"), QFS_EISDIR);
	assert_int_equal(truncate_(f, d, 0), QFS_EISDIR);
	assert_int_equal(put(f, 999, "x"), QFS_ENOENT);
	assert_int_equal(write_at(f, 999, 0, "x"), QFS_ENOENT);
	assert_int_equal(append(f, 999, "x"), QFS_ENOENT);
	assert_int_equal(truncate_(f, 999, 0), QFS_ENOENT);
	assert_int_equal(put(f, l, "x"), QFS_EINVAL);
	assert_int_equal(append(f, l, "x"), QFS_EINVAL);
	assert_int_equal(truncate_(f, l, 0), QFS_EINVAL);
	assert_int_equal(rev(f), r);
	assert_value(f, l, "a");
	assert_int_equal(data_records(f), 2);
	assert_int_equal(unlink_(f, ROOT, "l"), 0);
	assert_int_equal(put(f, a, ""), 0);
	assert_int_equal(data_records(f), 0); /* empty values have no record */
}

static void test_revisions(void **state)
{
	struct fx *f = *state;
	assert_int_equal(rev(f), 0);
	struct store_result res;
	assert_int_equal(create(f, ROOT, "a", S_IFREG | 0644, QFS_CMD_EXCL, NULL, &res), 0);
	uint64_t a = res.attr.ino;
	assert_int_equal(res.revision, 1);
	assert_int_equal(res.attr.create_revision, 1);
	assert_int_equal(res.attr.mod_revision, 1);
	assert_int_equal(res.attr.version, 1);
	assert_int_equal(attr(f, ROOT).mod_revision, 1); /* its listing changed */

	uint64_t b = mkfile(f, ROOT, "b");   /* rev 2 */
	assert_int_equal(put(f, a, "1"), 0); /* rev 3 */
	assert_int_equal(put(f, a, "2"), 0); /* rev 4 */
	struct qfs_attr x = attr(f, a);
	assert_int_equal(x.create_revision, 1);
	assert_int_equal(x.mod_revision, 4);
	assert_int_equal(x.version, 3);
	assert_int_equal(attr(f, b).mod_revision, 2); /* untouched keys keep theirs */
	assert_int_equal(attr(f, b).version, 1);

	/* Failures: no revision, but the index is consumed. */
	uint64_t idx = f->index;
	assert_int_equal(put(f, 999, "x"), QFS_ENOENT);
	assert_int_equal(create(f, ROOT, "a", S_IFREG | 0644, QFS_CMD_EXCL, NULL, &res),
	                 QFS_EEXIST);
	assert_int_equal(res.revision, 4);
	assert_int_equal(rev(f), 4);
	assert_int_equal(stats(f).applied, idx + 2);
	assert_int_equal(attr(f, a).version, 3);

	/* Attribute changes and renames bump mod_revision and version too. */
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = a,
	                                           .mask = QFS_SET_MODE,
	                                           .mode = 0600}),
	                 0); /* rev 5 */
	x = attr(f, a);
	assert_int_equal(x.mod_revision, 5);
	assert_int_equal(x.version, 4);
	assert_int_equal(rename_(f, ROOT, "a", ROOT, "c", 0), 0); /* rev 6 */
	x = attr(f, a);
	assert_int_equal(x.mod_revision, 6);
	assert_int_equal(x.version, 5);
	assert_int_equal(x.create_revision, 1);
	/* Successes that change nothing take no revision. */
	assert_int_equal(create(f, ROOT, "c", S_IFREG | 0644, 0, NULL, &res), 0);
	assert_int_equal(res.revision, 6);
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_NOOP}), 0);
	assert_int_equal(rev(f), 6);
	/* One command, one revision. */
	assert_int_equal(unlink_(f, ROOT, "c"), 0);
	assert_int_equal(rev(f), 7);
	assert_int_equal(attr(f, ROOT).mod_revision, 7);
}

static void test_times(void **state)
{
	struct fx *f = *state;
	struct store_result res;
	struct qfs_cmd c = {.op = QFS_OP_CREATE,
	                    .ino = ROOT,
	                    .name = "a",
	                    .name_len = 1,
	                    .mode = S_IFREG | 0644,
	                    .time_ns = 5000};
	assert_int_equal(apply_res(f, c, &res), 0);
	uint64_t a = res.attr.ino;
	assert_int_equal(res.attr.mtime_ns, 5000);
	assert_int_equal(res.attr.ctime_ns, 5000);
	assert_int_equal(attr(f, ROOT).mtime_ns, 5000);
	assert_int_equal(attr(f, ROOT).ctime_ns, 5000);

	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_PUT,
	                                           .ino = a,
	                                           .data = (const uint8_t *)"v",
	                                           .data_len = 1,
	                                           .time_ns = 6000}),
	                 0);
	assert_int_equal(attr(f, a).mtime_ns, 6000);
	assert_int_equal(attr(f, a).ctime_ns, 6000);
	assert_int_equal(attr(f, ROOT).mtime_ns, 5000); /* listing unchanged */

	/* Attributes: ctime only. */
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = a,
	                                           .mask = QFS_SET_UID | QFS_SET_GID,
	                                           .uid = 7,
	                                           .gid = 8,
	                                           .time_ns = 7000}),
	                 0);
	struct qfs_attr x = attr(f, a);
	assert_int_equal(x.mtime_ns, 6000);
	assert_int_equal(x.ctime_ns, 7000);
	assert_int_equal(x.uid, 7);
	assert_int_equal(x.gid, 8);
	/* Explicit mtime (touch -d). */
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = a,
	                                           .mask = QFS_SET_MTIME,
	                                           .mtime_ns = 123,
	                                           .time_ns = 8000}),
	                 0);
	x = attr(f, a);
	assert_int_equal(x.mtime_ns, 123);
	assert_int_equal(x.ctime_ns, 8000);
	/* Truncation is a value change. */
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = a,
	                                           .mask = QFS_SET_SIZE,
	                                           .size = 0,
	                                           .time_ns = 9000}),
	                 0);
	assert_int_equal(attr(f, a).mtime_ns, 9000);
	/* Removal changes the directory's times. */
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_UNLINK,
	                                           .ino = ROOT,
	                                           .name = "a",
	                                           .name_len = 1,
	                                           .time_ns = 10000}),
	                 0);
	assert_int_equal(attr(f, ROOT).mtime_ns, 10000);
	assert_int_equal(attr(f, ROOT).ctime_ns, 10000);
}

static void test_setattr(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	uint64_t d = mkdir_(f, ROOT, "d");
	/* The file type survives a chmod that tries to change it. */
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = a,
	                                           .mask = QFS_SET_MODE,
	                                           .mode = S_IFDIR | 04755}),
	                 0);
	assert_int_equal(attr(f, a).mode, S_IFREG | 04755);
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = d,
	                                           .mask = QFS_SET_MODE,
	                                           .mode = 0700}),
	                 0);
	assert_int_equal(attr(f, d).mode, S_IFDIR | 0700);
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                                           .ino = ROOT,
	                                           .mask = QFS_SET_UID,
	                                           .uid = 42}),
	                 0);
	assert_int_equal(attr(f, ROOT).uid, 42);
	/* Mask 0 changes nothing; unknown bits are refused. */
	uint64_t r = rev(f);
	struct store_result res;
	assert_int_equal(apply_res(f, (struct qfs_cmd){.op = QFS_OP_SETATTR, .ino = a}, &res), 0);
	assert_int_equal(res.attr.ino, a);
	assert_int_equal(apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR, .ino = a, .mask = 0x100}),
	                 QFS_EINVAL);
	assert_int_equal(rev(f), r);
}

static void test_unlink_rmdir(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "d");
	uint64_t e = mkdir_(f, d, "e");
	uint64_t x = mkfile(f, d, "x");
	assert_int_equal(put(f, x, "data"), 0);
	struct store_stats before = stats(f);
	assert_int_equal(attr(f, d).nlink, 3);

	uint64_t r = rev(f);
	assert_int_equal(unlink_(f, d, "e"), QFS_EISDIR);
	assert_int_equal(rmdir_(f, d, "x"), QFS_ENOTDIR);
	assert_int_equal(rmdir_(f, ROOT, "d"), QFS_ENOTEMPTY);
	assert_int_equal(unlink_(f, d, "nope"), QFS_ENOENT);
	assert_int_equal(rmdir_(f, d, "nope"), QFS_ENOENT);
	assert_int_equal(unlink_(f, 999, "x"), QFS_ENOENT);
	assert_int_equal(unlink_(f, x, "x"), QFS_ENOTDIR);
	assert_int_equal(rev(f), r);

	struct store_result res;
	assert_int_equal(
	    apply_res(f,
	              (struct qfs_cmd){.op = QFS_OP_UNLINK, .ino = d, .name = "x", .name_len = 1},
	              &res),
	    0);
	assert_true(changed_ino(&res, d));
	assert_true(changed_ino(&res, x));
	assert_true(changed_entry(&res, d, "x"));
	struct qfs_attr tmp;
	assert_int_equal(getattr(f, x, &tmp), QFS_ENOENT);
	assert_int_equal(lookup(f, d, "x", &tmp), QFS_ENOENT);
	char buf[8];
	assert_int_equal(read_str(f, x, buf, sizeof buf), QFS_ENOENT);
	struct store_stats after = stats(f);
	assert_int_equal(after.keys, before.keys - 1);
	assert_int_equal(after.bytes, before.bytes - store_key_bytes(1, 4));
	assert_int_equal(data_records(f), 0);

	assert_int_equal(rmdir_(f, d, "e"), 0);
	assert_int_equal(getattr(f, e, &tmp), QFS_ENOENT);
	assert_int_equal(attr(f, d).nlink, 2);
	assert_int_equal(rmdir_(f, ROOT, "d"), 0);
	assert_int_equal(attr(f, ROOT).nlink, 2);
	assert_int_equal(stats(f).keys, 1);
	assert_int_equal(stats(f).bytes, STORE_KEY_OVERHEAD);
	assert_list(f, ROOT, NULL, "");
}

static void test_rename_file_over_file(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "d");
	uint64_t a = mkfile(f, ROOT, "tmp");
	uint64_t b = mkfile(f, d, "key");
	assert_int_equal(put(f, a, "new"), 0);
	assert_int_equal(put(f, b, "old-value"), 0);
	struct store_stats before = stats(f);
	struct store_result res;
	assert_int_equal(rename_res(f, ROOT, "tmp", d, "key", 0, &res), 0);
	assert_int_equal(res.revision, before.revision + 1);
	assert_int_equal(res.attr.ino, a);
	assert_int_equal(ino_of(f, d, "key"), a); /* the inode moves, stable */
	assert_value(f, a, "new");
	struct qfs_attr tmp;
	assert_int_equal(lookup(f, ROOT, "tmp", &tmp), QFS_ENOENT);
	assert_int_equal(getattr(f, b, &tmp), QFS_ENOENT); /* the replaced key is gone */
	char buf[16];
	assert_int_equal(read_str(f, b, buf, sizeof buf), QFS_ENOENT);
	struct store_stats after = stats(f);
	assert_int_equal(after.keys, before.keys - 1);
	assert_int_equal(after.bytes, before.bytes - store_key_bytes(3, 9));
	assert_int_equal(data_records(f), 1);
	assert_true(changed_ino(&res, ROOT));
	assert_true(changed_ino(&res, d));
	assert_true(changed_ino(&res, a));
	assert_true(changed_ino(&res, b));
	assert_true(changed_entry(&res, ROOT, "tmp"));
	assert_true(changed_entry(&res, d, "key"));
	assert_path(f, a, "d/key");
	assert_int_equal(attr(f, a).parent, d);
	/* Within one directory. */
	assert_int_equal(rename_(f, d, "key", d, "key2", 0), 0);
	assert_list(f, d, NULL, "key2");
	assert_int_equal(attr(f, d).nlink, 2);
}

static void test_rename_directory(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "d");
	uint64_t x = mkdir_(f, d, "x");
	uint64_t y = mkfile(f, x, "y");
	uint64_t z = mkfile(f, d, "z");
	assert_int_equal(put(f, y, "deep"), 0);
	uint64_t e = mkdir_(f, ROOT, "e");
	assert_int_equal(attr(f, ROOT).nlink, 4);
	uint64_t r = rev(f);
	struct qfs_attr ya = attr(f, y);

	assert_int_equal(rename_(f, ROOT, "d", e, "f", 0), 0);
	assert_int_equal(rev(f), r + 1); /* one revision for the whole subtree */
	assert_int_equal(ino_of(f, e, "f"), d);
	assert_int_equal(ino_of(f, d, "x"), x);
	assert_int_equal(ino_of(f, x, "y"), y);
	assert_path(f, y, "e/f/x/y");
	assert_path(f, z, "e/f/z");
	assert_path(f, d, "e/f");
	assert_value(f, y, "deep");
	/* Descendants keep their revisions: only the moved key changed. */
	assert_int_equal(attr(f, y).mod_revision, ya.mod_revision);
	assert_int_equal(attr(f, d).mod_revision, r + 1);
	assert_int_equal(attr(f, ROOT).nlink, 3);
	assert_int_equal(attr(f, e).nlink, 3);
	assert_list(f, ROOT, NULL, "e");
	/* Directory over an empty directory. */
	uint64_t g = mkdir_(f, ROOT, "g");
	assert_int_equal(rename_(f, e, "f", ROOT, "g", 0), 0);
	struct qfs_attr tmp;
	assert_int_equal(getattr(f, g, &tmp), QFS_ENOENT);
	assert_path(f, y, "g/x/y");
	assert_int_equal(attr(f, ROOT).nlink, 4); /* e and g(=d) */
	assert_int_equal(attr(f, e).nlink, 2);
}

static void test_rename_exchange(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "d");
	uint64_t s = mkdir_(f, ROOT, "sub");
	uint64_t inner = mkfile(f, s, "inner");
	uint64_t a = mkfile(f, d, "a");
	assert_int_equal(put(f, a, "A"), 0);
	uint64_t r = rev(f);
	struct store_result res;
	assert_int_equal(rename_res(f, d, "a", ROOT, "sub", QFS_CMD_EXCHANGE, &res), 0);
	assert_int_equal(rev(f), r + 1);
	assert_int_equal(ino_of(f, ROOT, "sub"), a);
	assert_int_equal(ino_of(f, d, "a"), s);
	assert_path(f, inner, "d/a/inner");
	assert_path(f, a, "sub");
	assert_value(f, a, "A");
	assert_int_equal(attr(f, d).nlink, 3);    /* gained a directory */
	assert_int_equal(attr(f, ROOT).nlink, 3); /* d only: sub is a file now */
	assert_int_equal(attr(f, d).mod_revision, r + 1);
	assert_int_equal(attr(f, s).mod_revision, r + 1);
	assert_int_equal(res.n_changed_entry, 2);
	/* Both must exist. */
	assert_int_equal(rename_(f, d, "a", ROOT, "missing", QFS_CMD_EXCHANGE), QFS_ENOENT);
	/* Not into itself. */
	assert_int_equal(rename_(f, ROOT, "d", s, "inner", QFS_CMD_EXCHANGE), QFS_EINVAL);
	assert_int_equal(rev(f), r + 1);
}

static void test_rename_noreplace(void **state)
{
	struct fx *f = *state;
	mkfile(f, ROOT, "a");
	mkfile(f, ROOT, "b");
	uint64_t r = rev(f);
	assert_int_equal(rename_(f, ROOT, "a", ROOT, "b", QFS_CMD_NOREPLACE), QFS_EEXIST);
	assert_int_equal(rename_(f, ROOT, "a", ROOT, "a", QFS_CMD_NOREPLACE), QFS_EEXIST);
	assert_int_equal(rev(f), r);
	assert_int_equal(rename_(f, ROOT, "a", ROOT, "c", QFS_CMD_NOREPLACE), 0);
	assert_list(f, ROOT, NULL, "b,c");
}

static void test_rename_errors(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "d");
	uint64_t sub = mkdir_(f, d, "sub");
	uint64_t deeper = mkdir_(f, sub, "deeper");
	mkdir_(f, ROOT, "full");
	mkfile(f, ino_of(f, ROOT, "full"), "x");
	mkdir_(f, ROOT, "empty");
	uint64_t file = mkfile(f, ROOT, "file");
	uint64_t r = rev(f);

	/* Into its own descendant, or onto itself as a child. */
	assert_int_equal(rename_(f, ROOT, "d", deeper, "d", 0), QFS_EINVAL);
	assert_int_equal(rename_(f, ROOT, "d", sub, "x", 0), QFS_EINVAL);
	assert_int_equal(rename_(f, ROOT, "d", d, "x", 0), QFS_EINVAL);
	/* Onto an ancestor of the source. */
	assert_int_equal(rename_(f, sub, "deeper", ROOT, "d", 0), QFS_ENOTEMPTY);
	/* Type rules. */
	assert_int_equal(rename_(f, ROOT, "d", ROOT, "full", 0), QFS_ENOTEMPTY);
	assert_int_equal(rename_(f, ROOT, "d", ROOT, "file", 0), QFS_ENOTDIR);
	assert_int_equal(rename_(f, ROOT, "file", ROOT, "empty", 0), QFS_EISDIR);
	/* Reserved targets. */
	assert_int_equal(rename_(f, ROOT, "file", d, ".rev", 0), QFS_EPERM);
	assert_int_equal(rename_(f, ROOT, "file", ROOT, "members", 0), QFS_EPERM);
	assert_int_equal(rename_(f, ROOT, "file", ROOT, ".metrics", 0), QFS_EPERM);
	/* Missing pieces. */
	assert_int_equal(rename_(f, ROOT, "nope", ROOT, "x", 0), QFS_ENOENT);
	assert_int_equal(rename_(f, 999, "file", ROOT, "x", 0), QFS_ENOENT);
	assert_int_equal(rename_(f, ROOT, "file", 999, "x", 0), QFS_ENOENT);
	assert_int_equal(rename_(f, ROOT, "file", file, "x", 0), QFS_ENOTDIR);
	assert_int_equal(rename_(f, ROOT, "file", ROOT, "a/b", 0), QFS_EINVAL);
	/* Both flags at once (applied raw). */
	assert_int_equal(rename_(f, ROOT, "file", ROOT, "x", QFS_CMD_NOREPLACE | QFS_CMD_EXCHANGE),
	                 QFS_EINVAL);
	assert_int_equal(rev(f), r);
	assert_path(f, deeper, "d/sub/deeper");

	/* Onto itself: success, nothing changes. */
	struct store_result res;
	assert_int_equal(rename_res(f, ROOT, "file", ROOT, "file", 0, &res), 0);
	assert_int_equal(res.attr.ino, file);
	assert_int_equal(rev(f), r);
	/* Moving up out of a subtree is fine. */
	assert_int_equal(rename_(f, sub, "deeper", ROOT, "up", 0), 0);
	assert_path(f, deeper, "up");
}

static void test_readdir(void **state)
{
	struct fx *f = *state;
	const char *names[] = {"b", "a", "c", "aa", "B", "a0", "\xc3\xa9", "~"};
	for (int i = 0; i < 8; i++)
		mkfile(f, ROOT, names[i]);
	uint64_t x = mkdir_(f, ROOT, "x");
	mkfile(f, x, "0inside");
	mkfile(f, x, "zinside");
	uint64_t y = mkdir_(f, ROOT, "y"); /* the next directory's entries stay out */
	mkfile(f, y, "other");
	/* Byte order, this directory's entries only. */
	assert_list(f, ROOT, NULL, "B,a,a0,aa,b,c,x,y,~,\xc3\xa9");
	assert_list(f, x, NULL, "0inside,zinside");
	assert_list(f, ROOT, "", "B,a,a0,aa,b,c,x,y,~,\xc3\xa9");
	/* Resume after a name, present or gone. */
	assert_list(f, ROOT, "a0", "aa,b,c,x,y,~,\xc3\xa9");
	assert_list(f, ROOT, "ab", "b,c,x,y,~,\xc3\xa9");
	assert_list(f, ROOT, "A", "B,a,a0,aa,b,c,x,y,~,\xc3\xa9");
	assert_list(f, ROOT, "Ba", "a,a0,aa,b,c,x,y,~,\xc3\xa9");
	assert_list(f, ROOT, "\xc3\xa9", "");
	assert_list(f, x, "zinside", "");
	assert_list(f, y, "a", "other");
	/* Stop early: positive is not an error, negative is returned. */
	struct listing l = {.stop_after = 2, .stop_with = 1};
	assert_int_equal(list(f, ROOT, NULL, &l), 0);
	assert_listing(&l, "B,a");
	l = (struct listing){.stop_after = 1, .stop_with = QFS_ENOMEM};
	assert_int_equal(list(f, ROOT, "b", &l), QFS_ENOMEM);
	assert_listing(&l, "c");
	/* Attributes come with the names. */
	l = (struct listing){0};
	assert_int_equal(list(f, x, NULL, &l), 0);
	assert_int_equal(l.inos[0], ino_of(f, x, "0inside"));
	/* Not a directory, missing. */
	l = (struct listing){0};
	assert_int_equal(list(f, ino_of(f, ROOT, "a"), NULL, &l), QFS_ENOTDIR);
	assert_int_equal(list(f, 999, NULL, &l), QFS_ENOENT);
	assert_int_equal(l.n, 0);
}

/* The node's --value-max is checked when a change is proposed (precheck);
 * apply enforces only the hard limit, the same on every replica, so nodes
 * with different settings never diverge. */
static void test_value_limit(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	size_t hard = QFS_VALUE_MAX_HARD;
	char *big = malloc(hard + 2);
	memset(big, 'v', hard + 1);
	struct qfs_cmd c = {
	    .op = QFS_OP_PUT, .ino = a, .data = (const uint8_t *)big, .data_len = VMAX + 1};
	assert_int_equal(precheck(f, c), QFS_EFBIG);
	c.data_len = VMAX;
	assert_int_equal(precheck(f, c), 0);
	assert_int_equal(apply(f, c), 0);
	assert_int_equal(attr(f, a).size, VMAX);
	/* Appending one byte to a full value, writing past the limit. */
	c = (struct qfs_cmd){
	    .op = QFS_OP_APPEND, .ino = a, .data = (const uint8_t *)"x", .data_len = 1};
	assert_int_equal(precheck(f, c), QFS_EFBIG);
	c.op = QFS_OP_WRITE;
	c.offset = VMAX;
	assert_int_equal(precheck(f, c), QFS_EFBIG);
	c.offset = VMAX - 1; /* the last byte: fine */
	assert_int_equal(precheck(f, c), 0);
	assert_int_equal(apply(f, c), 0);
	c.offset = UINT64_MAX; /* no overflow */
	assert_int_equal(precheck(f, c), QFS_EFBIG);
	assert_int_equal(apply(f, c), QFS_EFBIG);
	c = (struct qfs_cmd){
	    .op = QFS_OP_SETATTR, .ino = a, .mask = QFS_SET_SIZE, .size = VMAX + 1};
	assert_int_equal(precheck(f, c), QFS_EFBIG);
	c.size = 1;
	assert_int_equal(precheck(f, c), 0);
	assert_int_equal(apply(f, c), 0);
	/* Apply: a value another node's larger limit let through is applied
	 * here too; only the hard limit is refused, by every replica alike. */
	c = (struct qfs_cmd){
	    .op = QFS_OP_PUT, .ino = a, .data = (const uint8_t *)big, .data_len = VMAX + 1};
	assert_int_equal(apply(f, c), 0);
	assert_int_equal(attr(f, a).size, VMAX + 1);
	c.data_len = (uint32_t)hard;
	assert_int_equal(apply(f, c), 0);
	c = (struct qfs_cmd){
	    .op = QFS_OP_APPEND, .ino = a, .data = (const uint8_t *)"x", .data_len = 1};
	assert_int_equal(apply(f, c), QFS_EFBIG);
	c = (struct qfs_cmd){
	    .op = QFS_OP_SETATTR, .ino = a, .mask = QFS_SET_SIZE, .size = hard + 1};
	assert_int_equal(apply(f, c), QFS_EFBIG);
	assert_int_equal(attr(f, a).size, hard);
	free(big);
}

static void test_name_and_path_limits(void **state)
{
	struct fx *f = *state;
	char name[QFS_NAME_MAX + 1];
	memset(name, 'n', QFS_NAME_MAX);
	name[QFS_NAME_MAX] = '\0';
	uint64_t a = mkfile(f, ROOT, name); /* 255 bytes: fine */
	assert_int_equal(ino_of(f, ROOT, name), a);

	/* Directories with 255-byte names (depth k: a path of 256k - 1 bytes), then
	 * "x": a path of 3841 bytes.  A child may have 4095 - 3842 = 253 bytes. */
	uint64_t dir = ROOT;
	for (int k = 1; k <= 15; k++) {
		name[0] = (char)('a' + k);
		dir = mkdir_(f, dir, name);
	}
	dir = mkdir_(f, dir, "x");
	char child[QFS_NAME_MAX + 1];
	memset(child, 'c', sizeof child);
	child[254] = '\0';
	assert_int_equal(create(f, dir, child, S_IFREG | 0644, 0, NULL, NULL), QFS_ENAMETOOLONG);
	assert_int_equal(create(f, dir, child, S_IFDIR | 0755, 0, NULL, NULL), QFS_ENAMETOOLONG);
	child[253] = '\0';
	assert_int_equal(create(f, dir, child, S_IFREG | 0644, 0, NULL, NULL), 0);
	uint64_t deepest = ino_of(f, dir, child);
	char buf[QFS_PATH_MAX];
	struct store_rtxn *t;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_path(t, deepest, buf, sizeof buf), 0);
	assert_int_equal(strlen(buf), QFS_PATH_MAX - 1);
	assert_int_equal(store_path(t, deepest, buf, sizeof buf - 1), QFS_ENAMETOOLONG);
	store_rend(t);
	/* A rename that would make the path too long, and one that just fits. */
	char rootname[QFS_NAME_MAX + 1];
	memset(rootname, 'n', QFS_NAME_MAX);
	rootname[QFS_NAME_MAX] = '\0';
	memset(child, 'r', sizeof child);
	child[254] = '\0';
	assert_int_equal(rename_(f, ROOT, rootname, dir, child, 0), QFS_ENAMETOOLONG);
	assert_int_equal(ino_of(f, ROOT, rootname), a);
	child[253] = '\0';
	assert_int_equal(rename_(f, ROOT, rootname, dir, child, 0), 0);
	assert_int_equal(rename_(f, dir, child, ROOT, rootname, 0), 0);
	/* A too-long name. */
	char longname[QFS_NAME_MAX + 2];
	memset(longname, 'l', QFS_NAME_MAX + 1);
	longname[QFS_NAME_MAX + 1] = '\0';
	assert_int_equal(rename_(f, ROOT, rootname, ROOT, longname, 0), QFS_ENAMETOOLONG);
}

/* Fills a small store until precheck refuses; returns how many keys got in. */
static int fill(struct fx *f, uint64_t dir, const char *prefix, size_t value_len, int batch)
{
	char *val = malloc(value_len + 1);
	memset(val, 'f', value_len);
	int n = 0;
	for (;;) {
		struct store_wtxn *t;
		assert_int_equal(store_wbegin(f->s, &t), 0);
		int in_batch = 0;
		bool full = false;
		while (in_batch < batch) {
			char name[64];
			snprintf(name, sizeof name, "%s%06d", prefix, n);
			struct qfs_cmd c = {.op = QFS_OP_CREATE,
			                    .ino = dir,
			                    .name = name,
			                    .name_len = (uint16_t)strlen(name),
			                    .mode = S_IFREG | 0644,
			                    .time_ns = 1};
			/* Precheck reads committed state, as the proposer does. */
			if (precheck(f, c) == QFS_ENOSPC) {
				full = true;
				break;
			}
			struct store_result res;
			assert_int_equal(store_apply(t, ++f->index, &c, &res), 0);
			assert_int_equal(res.rc, 0);
			store_result_release(&res);
			struct qfs_cmd p = {.op = QFS_OP_PUT,
			                    .ino = res.attr.ino,
			                    .data = (const uint8_t *)val,
			                    .data_len = (uint32_t)value_len,
			                    .time_ns = 2};
			if (value_len && precheck(f, p) == QFS_ENOSPC) {
				full = true;
				break;
			}
			if (value_len) {
				assert_int_equal(store_apply(t, ++f->index, &p, &res), 0);
				assert_int_equal(res.rc, 0);
				store_result_release(&res);
			}
			in_batch++;
			n++;
		}
		assert_int_equal(store_wcommit(t), 0); /* never MDB_MAP_FULL */
		if (full)
			break;
		assert_true(n < 1000000);
	}
	free(val);
	return n;
}

static int setup_small(void **state)
{
	return fx_setup_with(state, 2ull << 20, 64u << 10, false);
}

static void test_enospc(void **state)
{
	struct fx *f = *state;
	uint64_t d = mkdir_(f, ROOT, "d");
	int n = fill(f, d, "k", 3000, 16);
	assert_true(n > 50);
	/* Over the quota at most by what one batch prechecked against the same
	 * state could add (proposals in flight), and never MDB_MAP_FULL. */
	struct store_stats st = stats(f);
	assert_true(st.bytes <= st.map_size / 100 * 45 + 16 * store_key_bytes(7, 3000));
	assert_true(st.bytes > st.map_size / 100 * 45 - store_key_bytes(7, 3000));
	/* Growing changes are refused; reads keep working. */
	struct qfs_cmd c = {
	    .op = QFS_OP_CREATE, .ino = d, .name = "more", .name_len = 4, .mode = S_IFREG | 0644};
	assert_int_equal(precheck(f, c), QFS_ENOSPC);
	uint64_t k0 = ino_of(f, d, "k000000");
	char *buf = malloc(4096);
	assert_int_equal(read_str(f, k0, buf, 4096), 0);
	assert_int_equal(strlen(buf), 3000);
	struct listing l = {.stop_after = 3, .stop_with = 1};
	assert_int_equal(list(f, d, NULL, &l), 0);
	/* Shrinking changes, renames and deletes pass. */
	struct qfs_cmd shrink = {
	    .op = QFS_OP_PUT, .ino = k0, .data = (const uint8_t *)"s", .data_len = 1};
	assert_int_equal(precheck(f, shrink), 0);
	struct qfs_cmd trunc = {.op = QFS_OP_SETATTR, .ino = k0, .mask = QFS_SET_SIZE, .size = 0};
	assert_int_equal(precheck(f, trunc), 0);
	struct qfs_cmd ren = {.op = QFS_OP_RENAME,
	                      .ino = d,
	                      .name = "k000000",
	                      .name_len = 7,
	                      .ino2 = ROOT,
	                      .name2 = "moved",
	                      .name2_len = 5};
	assert_int_equal(precheck(f, ren), 0);
	assert_int_equal(apply(f, ren), 0);
	assert_int_equal(
	    precheck(
	        f,
	        (struct qfs_cmd){.op = QFS_OP_UNLINK, .ino = ROOT, .name = "moved", .name_len = 5}),
	    0);
	/* One batch may have overshot the quota by 16 keys: delete 40. */
	for (int i = 1; i <= 40; i++) {
		char name[16];
		snprintf(name, sizeof name, "k%06d", i);
		assert_int_equal(unlink_(f, d, name), 0);
	}
	assert_false(stats(f).full);
	/* Room again. */
	assert_int_equal(precheck(f, c), 0);
	assert_int_equal(apply(f, c), 0);
	uint64_t more = ino_of(f, d, "more");
	struct qfs_cmd p = {
	    .op = QFS_OP_PUT, .ino = more, .data = (const uint8_t *)buf, .data_len = 3000};
	assert_int_equal(precheck(f, p), 0);
	assert_int_equal(apply(f, p), 0);
	free(buf);
}

/* The space charge covers at least the bytes, grows with them, and charges
 * values as LMDB stores them: inline below a page, whole pages above. */
static void test_space_charge(void **state)
{
	(void)state;
	assert_int_equal(store_value_bytes(0), 0);
	assert_int_equal(store_key_bytes(0, 0), STORE_KEY_OVERHEAD);
	assert_int_equal(store_value_bytes(4096), 8192);
	assert_int_equal(store_value_bytes(1u << 20), (1u << 20) + 4096);
	uint64_t prev = 0;
	for (uint64_t v = 0; v <= 70000; v++) {
		uint64_t c = store_value_bytes(v);
		assert_true(c >= v && c >= prev);
		if (v >= STORE_CHARGE_PAGE)
			assert_int_equal(c % STORE_CHARGE_PAGE, 0);
		prev = c;
	}
}

static void test_enospc_tiny_keys(void **state)
{
	/* The worst case for page overhead: empty keys, applied in big batches. */
	struct fx *f = *state;
	int n = fill(f, ROOT, "t", 0, 256);
	assert_true(n > 100);
	for (int i = 0; i < n; i += 2) {
		char name[16];
		snprintf(name, sizeof name, "t%06d", i);
		assert_int_equal(unlink_(f, ROOT, name), 0);
	}
	assert_int_equal(stats(f).keys, 1 + (uint64_t)n / 2);
	n = fill(f, ROOT, "u", 2100, 64); /* values just past LMDB's inline limit */
	assert_true(n > 10);
}

static void test_crash_consistency(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	assert_int_equal(put(f, a, "committed"), 0);
	uint64_t idx = f->index;
	uint64_t r = rev(f);

	/* Applied but aborted (the node died before the commit). */
	struct store_wtxn *t;
	struct store_result res;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	struct qfs_cmd c = {.op = QFS_OP_PUT,
	                    .ino = a,
	                    .data = (const uint8_t *)"lost",
	                    .data_len = 4,
	                    .time_ns = 1};
	assert_int_equal(store_apply(t, idx + 1, &c, &res), 0);
	store_result_release(&res);
	c = (struct qfs_cmd){.op = QFS_OP_CREATE,
	                     .ino = ROOT,
	                     .name = "b",
	                     .name_len = 1,
	                     .mode = S_IFREG | 0644,
	                     .time_ns = 1};
	assert_int_equal(store_apply(t, idx + 2, &c, &res), 0);
	store_result_release(&res);
	store_wabort(t);
	fx_close(f);
	fx_open(f);
	assert_int_equal(stats(f).applied, idx);
	assert_int_equal(rev(f), r);
	assert_value(f, a, "committed");
	assert_int_equal(lookup(f, ROOT, "b", NULL), QFS_ENOENT);

	/* A process that dies with a write txn open (no abort at all). */
	fx_close(f);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		if (store_open(&s, f->dir, &f->opt) != 0)
			_exit(2);
		if (store_wbegin(s, &t) != 0)
			_exit(3);
		c = (struct qfs_cmd){.op = QFS_OP_PUT,
		                     .ino = a,
		                     .data = (const uint8_t *)"died",
		                     .data_len = 4,
		                     .time_ns = 1};
		if (store_apply(t, idx + 1, &c, &res) != 0 || res.rc != 0)
			_exit(4);
		_exit(0); /* no commit, no close */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fx_open(f);
	assert_int_equal(stats(f).applied, idx);
	assert_value(f, a, "committed");

	/* Committed: there after a restart, even one without a clean close. */
	fx_close(f);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		if (store_open(&s, f->dir, &f->opt) != 0 || store_wbegin(s, &t) != 0)
			_exit(2);
		c = (struct qfs_cmd){.op = QFS_OP_PUT,
		                     .ino = a,
		                     .data = (const uint8_t *)"kept",
		                     .data_len = 4,
		                     .time_ns = 1};
		if (store_apply(t, idx + 5, &c, &res) != 0 || store_wcommit(t) != 0)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	fx_open(f);
	assert_int_equal(stats(f).applied, idx + 5); /* gaps are allowed */
	assert_int_equal(rev(f), r + 1);
	assert_value(f, a, "kept");
}

static void test_exactly_once(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	assert_int_equal(append(f, a, "x"), 0);
	uint64_t idx = f->index;
	struct store_wtxn *t;
	struct store_result res;
	struct qfs_cmd c = {.op = QFS_OP_APPEND,
	                    .ino = a,
	                    .data = (const uint8_t *)"x",
	                    .data_len = 1,
	                    .time_ns = 1};
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_apply(t, idx, &c, &res), QFS_EINVAL);
	assert_int_equal(store_apply(t, idx - 1, &c, &res), QFS_EINVAL);
	assert_int_equal(store_apply(t, 0, &c, &res), QFS_EINVAL);
	assert_int_equal(store_apply(t, idx + 1, &c, &res), 0);
	store_result_release(&res);
	assert_int_equal(store_apply(t, idx + 1, &c, &res), QFS_EINVAL); /* within the txn too */
	assert_int_equal(store_wcommit(t), 0);
	assert_value(f, a, "xx");
	assert_int_equal(stats(f).applied, idx + 1);
	/* A failed command consumes its index as well. */
	f->index = idx + 1;
	assert_int_equal(append(f, 999, "x"), QFS_ENOENT);
	assert_int_equal(stats(f).applied, idx + 2);
}

/* A transaction that hit an LMDB error refuses to commit. */
static void test_poisoned_txn(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	struct store_wtxn *t;
	struct store_result res;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	t->error = QFS_EIO; /* as a failed mdb_put would leave it */
	struct qfs_cmd c = {
	    .op = QFS_OP_PUT, .ino = a, .data = (const uint8_t *)"x", .data_len = 1};
	assert_int_equal(store_apply(t, f->index + 1, &c, &res), QFS_EIO);
	assert_int_equal(store_wcommit(t), QFS_EIO);
	assert_int_equal(stats(f).applied, f->index);
	assert_int_equal(store_wbegin(f->s, &t), 0); /* usable again */
	store_wabort(t);
}

static void test_read_snapshot(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	assert_int_equal(put(f, a, "old"), 0);
	struct store_rtxn *old;
	assert_int_equal(store_rbegin(f->s, &old), 0);
	const void *data;
	size_t len;
	assert_int_equal(store_read(old, a, 0, 16, &data, &len), 0);
	assert_int_equal(put(f, a, "new!"), 0);
	assert_int_equal(unlink_(f, ROOT, "a"), 0);
	/* Zero-copy data stays valid and unchanged until store_rend. */
	assert_int_equal(len, 3);
	assert_memory_equal(data, "old", 3);
	struct qfs_attr x;
	assert_int_equal(store_lookup(old, ROOT, "a", 1, &x), 0);
	assert_int_equal(x.size, 3);
	store_rend(old);
	assert_int_equal(lookup(f, ROOT, "a", NULL), QFS_ENOENT);
}

struct reader_arg {
	struct fx *f;
	uint64_t ino;
	int errors;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;
	for (int i = 0; i < 3000; i++) {
		struct store_rtxn *t;
		if (store_rbegin(r->f->s, &t) != 0) {
			r->errors++;
			continue;
		}
		struct qfs_attr a;
		const void *data;
		size_t len;
		if (store_getattr(t, r->ino, &a) != 0 ||
		    store_read(t, r->ino, 0, VMAX, &data, &len) != 0 || len != a.size)
			r->errors++;
		/* Every value is len copies of one byte: torn reads would show. */
		for (size_t j = 1; j < len; j++)
			if (((const char *)data)[j] != ((const char *)data)[0])
				r->errors++;
		store_rend(t);
	}
	return NULL;
}

static void test_concurrent_readers(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	pthread_t th[4];
	struct reader_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){.f = f, .ino = a};
		assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
	}
	char val[VMAX];
	for (int i = 0; i < 300; i++) {
		size_t len = (size_t)(i * 37) % VMAX;
		memset(val, 'a' + i % 26, len);
		assert_int_equal(put_n(f, a, val, len), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(args[i].errors, 0);
	}
}

static void test_open_rules(void **state)
{
	struct fx *f = *state;
	struct store *s2;
	/* One store per data directory. */
	assert_int_equal(store_open(&s2, f->dir, &f->opt), QFS_EAGAIN);
	struct store_options bad = {.map_size = 4096};
	assert_int_equal(store_open(&s2, "/tmp", &bad), QFS_EINVAL);
	bad = (struct store_options){.value_max = QFS_VALUE_MAX_HARD + 1};
	assert_int_equal(store_open(&s2, "/tmp", &bad), QFS_EINVAL);
	/* A data directory is created (mkdir -p, 0700). */
	char sub[128];
	snprintf(sub, sizeof sub, "%s/x/y/data/", f->dir);
	struct store_options o = {.map_size = QFS_MAP_SIZE_MIN, .no_sync = true};
	assert_int_equal(store_open(&s2, sub, &o), 0);
	struct stat st;
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(store_value_max(s2), QFS_VALUE_MAX_DEFAULT);
	store_close(s2);
	/* A path through a file is refused. */
	snprintf(sub, sizeof sub, "%s/data.mdb/x", f->dir);
	assert_true(store_open(&s2, sub, &o) < 0);
	/* The format record is checked: a newer layout is refused, not guessed. */
	fx_close(f);
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	uint8_t rec[STORE_FORMAT_SIZE];
	store_format_encode(rec);
	rec[8]++; /* version 2, crc now wrong too */
	MDB_val k = {6, "format"}, v = {sizeof rec, rec};
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(store_open(&s2, f->dir, &f->opt), QFS_ECORRUPT);
}

/* A damaged inode record is reported, never trusted. */
static void test_corrupt_record(void **state)
{
	struct fx *f = *state;
	uint64_t a = mkfile(f, ROOT, "a");
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	uint8_t kb[8];
	store_be64(kb, a);
	MDB_val k = {8, kb}, v;
	assert_int_equal(mdb_get(t->txn, f->s->dbi_inodes, &k, &v), 0);
	uint8_t rec[512];
	memcpy(rec, v.mv_data, v.mv_size);
	rec[20] ^= 1; /* nlink */
	v.mv_data = rec;
	assert_int_equal(mdb_put(t->txn, f->s->dbi_inodes, &k, &v, 0), 0);
	assert_int_equal(store_wcommit(t), 0);
	struct qfs_attr x;
	assert_int_equal(getattr(f, a, &x), QFS_ECORRUPT);
	assert_int_equal(lookup(f, ROOT, "a", &x), QFS_ECORRUPT);
	/* Apply stops with a transaction error: the replica must not diverge. */
	struct store_result res;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	struct qfs_cmd c = {
	    .op = QFS_OP_PUT, .ino = a, .data = (const uint8_t *)"x", .data_len = 1};
	assert_int_equal(store_apply(t, f->index + 1, &c, &res), QFS_ECORRUPT);
	store_wabort(t);
}

/* --- determinism: the same commands give the same state everywhere --- */

static void dump_dir(struct fx *f, struct store_rtxn *t, uint64_t dir, FILE *out);

static int dump_cb(void *ctx, const char *name, size_t len, const struct qfs_attr *a)
{
	void **c = ctx;
	struct fx *f = c[0];
	struct store_rtxn *t = c[1];
	FILE *out = c[2];
	const void *data = NULL;
	size_t dlen = 0;
	if (!S_ISDIR(a->mode))
		assert_int_equal(store_read(t, a->ino, 0, VMAX, &data, &dlen), 0);
	fprintf(out, "%.*s %lu %lu %o %u %u %u %lu %lu %lu %lu %lu %lu [%.*s]\n", (int)len, name,
	        (unsigned long)a->ino, (unsigned long)a->parent, a->mode, a->uid, a->gid, a->nlink,
	        (unsigned long)a->size, (unsigned long)a->mtime_ns, (unsigned long)a->ctime_ns,
	        (unsigned long)a->create_revision, (unsigned long)a->mod_revision,
	        (unsigned long)a->version, (int)dlen, data ? (const char *)data : "");
	if (S_ISDIR(a->mode))
		dump_dir(f, t, a->ino, out);
	return 0;
}

static void dump_dir(struct fx *f, struct store_rtxn *t, uint64_t dir, FILE *out)
{
	void *ctx[3] = {f, t, out};
	assert_int_equal(store_readdir(t, dir, NULL, 0, dump_cb, ctx), 0);
}

static char *dump(struct fx *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct store_rtxn *t;
	struct store_stats st;
	assert_int_equal(store_rbegin(f->s, &t), 0);
	assert_int_equal(store_stats(t, &st), 0);
	fprintf(out, "applied %lu revision %lu keys %lu bytes %lu\n", (unsigned long)st.applied,
	        (unsigned long)st.revision, (unsigned long)st.keys, (unsigned long)st.bytes);
	struct qfs_attr root;
	assert_int_equal(store_getattr(t, ROOT, &root), 0);
	fprintf(out, "root %o %u %lu %lu\n", root.mode, root.nlink,
	        (unsigned long)root.mod_revision, (unsigned long)root.mtime_ns);
	dump_dir(f, t, ROOT, out);
	store_rend(t);
	fclose(out);
	return buf;
}

static void workload(struct fx *f)
{
	uint64_t d = mkdir_(f, ROOT, "d");
	uint64_t e = mkdir_(f, d, "e");
	uint64_t a = mkfile(f, e, "a");
	put(f, a, "alpha");
	append(f, a, "+beta");
	write_at(f, a, 20, "gamma");
	create(f, ROOT, "lnk", S_IFLNK | 0777, 0, "d/e/a", NULL);
	create(f, e, "a", S_IFREG | 0644, QFS_CMD_EXCL, NULL, NULL); /* EEXIST */
	rmdir_(f, ROOT, "d");                                        /* ENOTEMPTY */
	rename_(f, ROOT, "d", e, "loop", 0);                         /* EINVAL */
	rename_(f, ROOT, "d", ROOT, "D", 0);
	uint64_t b = mkfile(f, ROOT, "b");
	put(f, b, "bee");
	rename_(f, ROOT, "b", e, "a", 0);
	rename_(f, ROOT, "lnk", ROOT, "D", QFS_CMD_EXCHANGE);
	truncate_(f, b, 2);
	apply(f, (struct qfs_cmd){.op = QFS_OP_SETATTR,
	                          .ino = e,
	                          .mask = QFS_SET_MODE | QFS_SET_MTIME,
	                          .mode = 0711,
	                          .mtime_ns = 99});
	unlink_(f, e, "nope");
	mkfile(f, e, "z");
	unlink_(f, e, "z");
}

static void test_determinism(void **state)
{
	struct fx *f1 = *state, *f2;
	/* The other replica: another map size, and nested-txn apply. */
	assert_int_equal(fx_setup_with((void **)&f2, 8ull << 20, VMAX, !f1->nested), 0);
	workload(f1);
	workload(f2);
	char *s1 = dump(f1), *s2 = dump(f2);
	assert_string_equal(s1, s2);
	assert_non_null(strstr(s1, "revision 16 "));
	free(s1);
	free(s2);
	void *st = f2;
	teardown(&st);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define N(name) cmocka_unit_test_setup_teardown(name, setup_nested, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_fresh_root),
	    T(test_create_lookup_read),
	    T(test_create_rules),
	    T(test_values),
	    T(test_revisions),
	    T(test_times),
	    T(test_setattr),
	    T(test_unlink_rmdir),
	    T(test_rename_file_over_file),
	    T(test_rename_directory),
	    T(test_rename_exchange),
	    T(test_rename_noreplace),
	    T(test_rename_errors),
	    T(test_readdir),
	    T(test_value_limit),
	    T(test_name_and_path_limits),
	    cmocka_unit_test_setup_teardown(test_enospc, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_enospc_tiny_keys, setup_small, teardown),
	    cmocka_unit_test(test_space_charge),
	    T(test_crash_consistency),
	    T(test_exactly_once),
	    T(test_poisoned_txn),
	    T(test_read_snapshot),
	    T(test_concurrent_readers),
	    T(test_open_rules),
	    T(test_corrupt_record),
	    T(test_determinism),
	    T(test_cas),
	    T(test_queue),
	    T(test_events),
	    N(test_cas),
	    N(test_queue),
	    N(test_events),
	    /* The same semantics with every command in a nested transaction. */
	    N(test_create_rules),
	    N(test_values),
	    N(test_revisions),
	    N(test_unlink_rmdir),
	    N(test_rename_file_over_file),
	    N(test_rename_directory),
	    N(test_rename_exchange),
	    N(test_rename_errors),
	    N(test_value_limit),
	    N(test_name_and_path_limits),
	    N(test_exactly_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
