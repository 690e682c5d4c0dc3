/* store/snapshot: keyspace snapshot files (src/store/snapshot.c): write from
 * a read txn, verify every refusal a user could meet, install and compare
 * the two keyspaces key by key.
 *
 * QFS_SNAP_BENCH=N (environment) adds a timing run with N small keys. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "quorumfs/command.h"
#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "store/raftlog.h"
#include "store/store_int.h"

#define ROOT QFS_ROOT_INO

struct st {
	char dir[80];
	struct store *s;
	struct store_wtxn *t; /* open batch, or NULL */
	unsigned in_batch;
	uint64_t index;
	uint64_t now;
};

struct fx {
	char dir[64];
	char snap[128];
	struct st a, b;
};

static const struct store_options opts = {
    .map_size = 256ull << 20, .value_max = QFS_VALUE_MAX_HARD, .no_sync = true};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void st_open(struct st *x)
{
	assert_int_equal(store_open(&x->s, x->dir, &opts), 0);
	struct store_rtxn *r;
	struct store_stats s;
	assert_int_equal(store_rbegin(x->s, &r), 0);
	assert_int_equal(store_stats(r, &s), 0);
	store_rend(r);
	x->index = s.applied;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/qfs-snap-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->a.dir, sizeof f->a.dir, "%s/a", f->dir);
	snprintf(f->b.dir, sizeof f->b.dir, "%s/b", f->dir);
	snprintf(f->snap, sizeof f->snap, "%s/snap", f->dir);
	f->a.now = f->b.now = 1000000000ull;
	st_open(&f->a);
	st_open(&f->b);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->a.s);
	store_close(f->b.s);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---------- applying commands in batches ---------- */

static void st_flush(struct st *x)
{
	if (x->t) {
		assert_int_equal(store_wcommit(x->t), 0);
		x->t = NULL;
		x->in_batch = 0;
	}
}

/* Applies c as the next index (batched, 200 per txn); returns the result. */
static struct store_result st_apply(struct st *x, struct qfs_cmd c)
{
	if (!x->t)
		assert_int_equal(store_wbegin(x->s, &x->t), 0);
	c.time_ns = (x->now += 1000);
	struct store_result res;
	assert_int_equal(store_apply(x->t, ++x->index, &c, &res), 0);
	store_result_release(&res); /* only attr and rc are used */
	if (++x->in_batch == 200)
		st_flush(x);
	return res;
}

static uint64_t mk(struct st *x, uint64_t parent, const char *name, uint32_t mode, uint32_t uid,
                   const char *target)
{
	struct qfs_cmd c = {.op = QFS_OP_CREATE,
	                    .ino = parent,
	                    .name = name,
	                    .name_len = (uint16_t)strlen(name),
	                    .mode = mode,
	                    .uid = uid,
	                    .gid = uid / 2,
	                    .flags = QFS_CMD_EXCL};
	if (target) {
		c.data = (const uint8_t *)target;
		c.data_len = (uint32_t)strlen(target);
	}
	struct store_result r = st_apply(x, c);
	assert_int_equal(r.rc, 0);
	return r.attr.ino;
}

static void put(struct st *x, uint64_t ino, const uint8_t *data, uint32_t len)
{
	struct qfs_cmd c = {.op = QFS_OP_PUT, .ino = ino, .data = data, .data_len = len};
	assert_int_equal(st_apply(x, c).rc, 0);
}

static uint32_t rng(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* About `n` keys: directories (some nested), files with values of 0..3000
 * bytes, symlinks, one 1 MiB value (big), then unlinks, renames and chmods so
 * inode numbers have holes and revisions differ. */
static void populate(struct st *x, const char *tag, unsigned n, uint64_t seed, bool big)
{
	static uint8_t buf[QFS_VALUE_MAX_HARD];
	unsigned ndirs = n / 40 + 1;
	uint64_t *dirs = calloc(ndirs, sizeof *dirs);
	uint64_t *files = calloc(n, sizeof *files);
	assert_true(dirs && files);
	char name[64];
	for (unsigned i = 0; i < ndirs; i++) {
		snprintf(name, sizeof name, "%s-d%04u", tag, i);
		uint64_t parent = i > 2 && i % 3 == 0 ? dirs[i / 3] : ROOT;
		dirs[i] = mk(x, parent, name, S_IFDIR | 0755, i % 4, NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t parent = dirs[rng(&seed) % ndirs];
		snprintf(name, sizeof name, "%s-key-%06u-%llu", tag, i,
		         (unsigned long long)seed % 1000);
		if (i % 50 == 7) {
			char target[64];
			snprintf(target, sizeof target, "../%s-d%04u/key-%u", tag, i % ndirs, i);
			files[i] = mk(x, parent, name, S_IFLNK | 0777, 0, target);
			continue;
		}
		files[i] = mk(x, parent, name, S_IFREG | 0644, i % 7, NULL);
		uint32_t len = rng(&seed) % 3001;
		if (i % 9 == 0)
			len = 0;
		for (uint32_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rng(&seed);
		if (len || i % 2)
			put(x, files[i], buf, len);
	}
	if (big) {
		for (uint32_t j = 0; j < QFS_VALUE_MAX_HARD; j++)
			buf[j] = (uint8_t)(j * 7 + (j >> 12));
		snprintf(name, sizeof name, "%s-big", tag);
		uint64_t ino = mk(x, dirs[0], name, S_IFREG | 0600, 1000, NULL);
		put(x, ino, buf, QFS_VALUE_MAX_HARD);
	}
	for (unsigned i = 1; i < n; i += 17) { /* unlink */
		struct store_rtxn *r;
		st_flush(x);
		assert_int_equal(store_rbegin(x->s, &r), 0);
		struct qfs_attr a;
		assert_int_equal(store_getattr(r, files[i], &a), 0);
		char nm[300];
		assert_int_equal(store_path(r, files[i], nm, sizeof nm), 0);
		store_rend(r);
		const char *base = strrchr(nm, '/');
		base = base ? base + 1 : nm;
		struct qfs_cmd c = {.op = QFS_OP_UNLINK,
		                    .ino = a.parent,
		                    .name = base,
		                    .name_len = (uint16_t)strlen(base)};
		assert_int_equal(st_apply(x, c).rc, 0);
	}
	for (unsigned i = 5; i < n; i += 23) { /* rename to another directory; chmod */
		if (i % 17 == 1)
			continue;
		struct store_rtxn *r;
		st_flush(x);
		assert_int_equal(store_rbegin(x->s, &r), 0);
		struct qfs_attr a;
		assert_int_equal(store_getattr(r, files[i], &a), 0);
		char nm[300];
		assert_int_equal(store_path(r, files[i], nm, sizeof nm), 0);
		store_rend(r);
		const char *base = strrchr(nm, '/');
		base = base ? base + 1 : nm;
		char to[64];
		snprintf(to, sizeof to, "%s-moved-%u", tag, i);
		struct qfs_cmd c = {.op = QFS_OP_RENAME,
		                    .ino = a.parent,
		                    .name = base,
		                    .name_len = (uint16_t)strlen(base),
		                    .ino2 = dirs[i % ndirs],
		                    .name2 = to,
		                    .name2_len = (uint16_t)strlen(to)};
		assert_int_equal(st_apply(x, c).rc, 0);
		if (!S_ISLNK(a.mode)) {
			struct qfs_cmd m = {.op = QFS_OP_SETATTR,
			                    .ino = files[i],
			                    .mask = QFS_SET_MODE | QFS_SET_UID,
			                    .mode = 0600,
			                    .uid = 4242};
			assert_int_equal(st_apply(x, m).rc, 0);
		}
	}
	st_flush(x);
	free(dirs);
	free(files);
}

/* ---------- comparing two keyspaces ---------- */

struct ent {
	char name[QFS_NAME_MAX + 1];
	struct qfs_attr a;
};
struct ents {
	struct ent *v;
	size_t n, cap;
};

static int collect(void *ctx, const char *name, size_t len, const struct qfs_attr *a)
{
	struct ents *e = ctx;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 64;
		e->v = realloc(e->v, e->cap * sizeof *e->v);
		assert_non_null(e->v);
	}
	memcpy(e->v[e->n].name, name, len + 1);
	e->v[e->n].a = *a;
	e->n++;
	return 0;
}

static void attr_equal(const char *path, const struct qfs_attr *x, const struct qfs_attr *y)
{
	if (memcmp(x, y, sizeof *x) != 0)
		fail_msg("/%s: attributes differ (ino %llu/%llu, mode %o/%o, uid %u/%u, size "
		         "%llu/%llu, mod_revision %llu/%llu)",
		         path, (unsigned long long)x->ino, (unsigned long long)y->ino, x->mode,
		         y->mode, x->uid, y->uid, (unsigned long long)x->size,
		         (unsigned long long)y->size, (unsigned long long)x->mod_revision,
		         (unsigned long long)y->mod_revision);
}

/* Walks directory `ino` in both; returns the keys below it. */
static uint64_t cmp_dir(struct store_rtxn *ra, struct store_rtxn *rb, uint64_t ino, char *path)
{
	struct ents ea = {0}, eb = {0};
	assert_int_equal(store_readdir(ra, ino, NULL, 0, collect, &ea), 0);
	assert_int_equal(store_readdir(rb, ino, NULL, 0, collect, &eb), 0);
	if (ea.n != eb.n)
		fail_msg("/%s: %zu entries vs %zu", path, ea.n, eb.n);
	uint64_t keys = 0;
	size_t plen = strlen(path);
	for (size_t i = 0; i < ea.n; i++) {
		snprintf(path + plen, QFS_PATH_MAX - plen, "%s%s", plen ? "/" : "", ea.v[i].name);
		if (strcmp(ea.v[i].name, eb.v[i].name) != 0)
			fail_msg("/%s: named %s in the other store", path, eb.v[i].name);
		attr_equal(path, &ea.v[i].a, &eb.v[i].a);
		struct qfs_attr ga, gb;
		assert_int_equal(store_getattr(ra, ea.v[i].a.ino, &ga), 0);
		assert_int_equal(store_getattr(rb, eb.v[i].a.ino, &gb), 0);
		attr_equal(path, &ga, &gb);
		keys++;
		if (S_ISDIR(ga.mode)) {
			keys += cmp_dir(ra, rb, ga.ino, path);
		} else {
			const void *da, *db;
			size_t la, lb;
			assert_int_equal(store_read(ra, ga.ino, 0, SIZE_MAX, &da, &la), 0);
			assert_int_equal(store_read(rb, gb.ino, 0, SIZE_MAX, &db, &lb), 0);
			assert_int_equal(la, ga.size);
			if (la != lb || memcmp(da, db, la) != 0)
				fail_msg("/%s: value differs (%zu vs %zu bytes)", path, la, lb);
		}
		path[plen] = '\0';
	}
	free(ea.v);
	free(eb.v);
	return keys;
}

/* Both raw tables hold the same records, byte for byte. */
static void cmp_table(MDB_txn *ta, MDB_txn *tb, MDB_dbi da, MDB_dbi db, const char *what)
{
	MDB_cursor *ca, *cb;
	assert_int_equal(mdb_cursor_open(ta, da, &ca), 0);
	assert_int_equal(mdb_cursor_open(tb, db, &cb), 0);
	MDB_val ka, va, kb, vb;
	int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
	int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
	uint64_t n = 0;
	while (ra == 0 && rb == 0) {
		if (ka.mv_size != kb.mv_size || memcmp(ka.mv_data, kb.mv_data, ka.mv_size) != 0 ||
		    va.mv_size != vb.mv_size || memcmp(va.mv_data, vb.mv_data, va.mv_size) != 0)
			fail_msg("%s: record %llu differs", what, (unsigned long long)n);
		n++;
		ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
		rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
	}
	if (ra != MDB_NOTFOUND || rb != MDB_NOTFOUND)
		fail_msg("%s: one store has more records (after %llu)", what,
		         (unsigned long long)n);
	mdb_cursor_close(ca);
	mdb_cursor_close(cb);
}

static void cmp_rtxn(struct store_rtxn *ra, struct store_rtxn *rb)
{
	struct store_stats sa, sb;
	assert_int_equal(store_stats(ra, &sa), 0);
	assert_int_equal(store_stats(rb, &sb), 0);
	assert_int_equal(sa.applied, sb.applied);
	assert_int_equal(sa.revision, sb.revision);
	assert_int_equal(sa.keys, sb.keys);
	assert_int_equal(sa.bytes, sb.bytes);
	struct qfs_attr a, b;
	assert_int_equal(store_getattr(ra, ROOT, &a), 0);
	assert_int_equal(store_getattr(rb, ROOT, &b), 0);
	attr_equal("", &a, &b);
	char path[QFS_PATH_MAX] = "";
	assert_int_equal(cmp_dir(ra, rb, ROOT, path) + 1, sa.keys);
	struct store *s = ra->s, *t = rb->s;
	cmp_table(ra->txn, rb->txn, s->dbi_inodes, t->dbi_inodes, "inodes");
	cmp_table(ra->txn, rb->txn, s->dbi_names, t->dbi_names, "names");
	cmp_table(ra->txn, rb->txn, s->dbi_data, t->dbi_data, "data");
	cmp_table(ra->txn, rb->txn, s->dbi_sess, t->dbi_sess, "sess");
	struct store_meta ma, mb;
	assert_int_equal(store_get_meta(s, ra->txn, &ma), 0);
	assert_int_equal(store_get_meta(t, rb->txn, &mb), 0);
	assert_memory_equal(&ma, &mb, sizeof ma); /* next_ino included */
}

static void cmp_stores(struct store *a, struct store *b)
{
	struct store_rtxn *ra, *rb;
	assert_int_equal(store_rbegin(a, &ra), 0);
	assert_int_equal(store_rbegin(b, &rb), 0);
	cmp_rtxn(ra, rb);
	store_rend(ra);
	store_rend(rb);
}

/* ---------- snapshot helpers ---------- */

static struct store_snap_info info_for(struct st *x)
{
	struct store_snap_info in = {.cluster_id = 0xc1c1c1c1deadull, .index = x->index, .term = 3};
	in.conf.n_voters = 3;
	in.conf.voters[0] = 1;
	in.conf.voters[1] = 2;
	in.conf.voters[2] = 3;
	in.conf.n_learners = 1;
	in.conf.learners[0] = 9;
	return in;
}

static void install(struct st *x, const char *path, struct store_snap_info *info)
{
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(x->s, &t), 0);
	assert_int_equal(store_snapshot_install(t, path, info), 0);
	assert_int_equal(store_wcommit(t), 0);
	x->index = info->index;
}

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	assert_true(in && out);
	static char buf[1 << 16];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static off_t file_size(const char *path)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

/* verify refuses `path` with QFS_ECORRUPT and a message containing `want`. */
static void refused(const char *path, const char *want, const char *what)
{
	char err[512];
	struct store_snap_info i;
	int rc = store_snapshot_verify(path, &i, err, sizeof err);
	if (rc != QFS_ECORRUPT)
		fail_msg("%s: verify returned %d (%s), want ECORRUPT", what, rc, err);
	if (want && !strstr(err, want))
		fail_msg("%s: message \"%s\" lacks \"%s\"", what, err, want);
	if (!strstr(err, path))
		fail_msg("%s: message \"%s\" does not name the file", what, err);
}

/* ---------- tests ---------- */

static void test_roundtrip(void **state)
{
	struct fx *f = *state;
	populate(&f->a, "t1", 1000, 1, true);

	/* b has Raft state and cluster meta that must survive the install. */
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->b.s, &t), 0);
	struct raft_entry e = {.index = 1, .term = 7, .len = 3, .data = "abc"};
	struct raft_hard_state hs = {.term = 7, .vote = 2, .commit = 1};
	assert_int_equal(store_log_append(t, &e, 1), 0);
	assert_int_equal(store_hard_state_put(t, &hs), 0);
	assert_int_equal(store_meta_put(t, "node.id", "2", 1), 0);
	assert_int_equal(store_session_seen(t, 77, 1), 0); /* replaced by a's sessions */
	assert_int_equal(store_wcommit(t), 0);
	/* a: proposal sessions of three nodes (replicated state, in the snapshot). */
	assert_int_equal(store_wbegin(f->a.s, &t), 0);
	for (uint64_t id = 1; id < 3000; id += 3)
		for (uint64_t o = 1; o <= 3; o++)
			assert_int_equal(store_session_seen(t, o, id * o), 0);
	assert_int_equal(store_wcommit(t), 0);

	struct store_snap_info in = info_for(&f->a), out, vi, ii;
	memset(&out, 0xee, sizeof out);
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, &out), 0);
	assert_int_equal(access(f->dir, F_OK), 0);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", f->snap);
	assert_int_not_equal(access(tmp, F_OK), 0); /* renamed away */
	struct store_rtxn *r;
	struct store_stats sa;
	assert_int_equal(store_rbegin(f->a.s, &r), 0);
	assert_int_equal(store_stats(r, &sa), 0);
	store_rend(r);
	assert_true(sa.keys > 900);
	assert_int_equal(out.cluster_id, in.cluster_id);
	assert_int_equal(out.index, sa.applied);
	assert_int_equal(out.term, 3);
	assert_int_equal(out.revision, sa.revision);
	assert_int_equal(out.keys, sa.keys);
	assert_int_equal(out.bytes, (uint64_t)file_size(f->snap));
	assert_memory_equal(&out.conf, &in.conf, sizeof in.conf);

	char err[256] = "x";
	assert_int_equal(store_snapshot_verify(f->snap, &vi, err, sizeof err), 0);
	assert_memory_equal(&vi, &out, sizeof vi);
	assert_string_equal(err, "");
	assert_int_equal(store_snapshot_verify(f->snap, NULL, NULL, 0), 0);

	install(&f->b, f->snap, &ii);
	assert_memory_equal(&ii, &out, sizeof ii);
	cmp_stores(f->a.s, f->b.s);

	/* Log, hard state and cluster meta of b are untouched. */
	struct store_raft_state rs;
	assert_int_equal(store_raft_load(f->b.s, &rs), 0);
	assert_int_equal(rs.hs.term, 7);
	assert_int_equal(rs.hs.vote, 2);
	assert_int_equal(rs.n_entries, 1);
	assert_memory_equal(rs.entries[0].data, "abc", 3);
	assert_int_equal(rs.applied, out.index);
	store_raft_state_free(&rs);
	assert_int_equal(store_rbegin(f->b.s, &r), 0);
	char v[8];
	size_t vl;
	assert_int_equal(store_meta_get(r, "node.id", v, sizeof v, &vl), 0);
	store_rend(r);
	assert_int_equal(store_wbegin(f->b.s, &t), 0);
	assert_int_equal(store_session_seen(t, 2, 2 * 2998), 1); /* a's sessions came */
	assert_int_equal(store_session_seen(t, 77, 1), 0);       /* b's own are gone */
	store_wabort(t);

	/* Both apply the next commands identically (same next inode, revision),
	 * also after a reopen; and b refuses already-applied indexes. */
	store_close(f->b.s);
	st_open(&f->b);
	assert_int_equal(f->b.index, f->a.index);
	struct qfs_cmd c = {.op = QFS_OP_NOOP};
	struct store_result res;
	assert_int_equal(store_wbegin(f->b.s, &t), 0);
	assert_int_equal(store_apply(t, f->b.index, &c, &res), QFS_EINVAL);
	store_wabort(t);
	f->b.now = f->a.now; /* same command times on both */
	for (int i = 0; i < 2; i++) {
		struct st *x = i ? &f->b : &f->a;
		uint64_t ino = mk(x, ROOT, "after-snapshot", S_IFREG | 0644, 5, NULL);
		put(x, ino, (const uint8_t *)"hello", 5);
		st_flush(x);
	}
	cmp_stores(f->a.s, f->b.s);
}

static void test_empty_store(void **state)
{
	struct fx *f = *state;
	struct store_snap_info in = {.index = 0}, out, ii; /* no configuration */
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, &out), 0);
	assert_int_equal(out.keys, 1);
	assert_int_equal(out.conf.n_voters, 0);
	populate(&f->b, "t9", 30, 9, false);
	install(&f->b, f->snap, &ii);
	assert_int_equal(ii.keys, 1);
	cmp_stores(f->a.s, f->b.s);
}

static void test_write_checks_index(void **state)
{
	struct fx *f = *state;
	populate(&f->a, "t2", 20, 2, false);
	struct store_snap_info in = info_for(&f->a);
	in.index--;
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), QFS_EINVAL);
	in.index += 2;
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), QFS_EINVAL);
	assert_int_not_equal(access(f->snap, F_OK), 0);
	char tmp[160];
	snprintf(tmp, sizeof tmp, "%s.tmp", f->snap);
	assert_int_not_equal(access(tmp, F_OK), 0);
	in.index--;
	in.conf.voters[1] = 1; /* duplicate voter: not a configuration */
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), QFS_EINVAL);
	char bad[160];
	snprintf(bad, sizeof bad, "%s/no/such/dir/snap", f->dir);
	in = info_for(&f->a);
	assert_int_equal(store_snapshot_write(f->a.s, bad, &in, NULL), QFS_ENOENT);
}

/* Header length of the snapshot at path (bytes 12..15). */
static uint32_t header_len(const char *path)
{
	uint8_t b[16];
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(b, 1, 16, fp), 16);
	fclose(fp);
	return store_le32_get(b + 12);
}

static void test_verify_truncated(void **state)
{
	struct fx *f = *state;
	populate(&f->a, "t3", 400, 3, true);
	struct store_snap_info in = info_for(&f->a);
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), 0);
	off_t size = file_size(f->snap);
	uint32_t hlen = header_len(f->snap);
	assert_int_equal(hlen, 88 + 4 + 8 * 4);
	char cut[160];
	snprintf(cut, sizeof cut, "%s/cut", f->dir);
	copy_file(f->snap, cut);
	/* Cuts from the longest down, so one copy serves: the last byte, every
	 * tenth, then every byte of the header and the first records. */
	off_t cuts[32 + 600];
	size_t nc = 0;
	cuts[nc++] = size - 1;
	for (int k = 9; k >= 1; k--)
		cuts[nc++] = size * k / 10;
	for (off_t c = hlen + 400; c >= 0; c--)
		cuts[nc++] = c;
	for (size_t i = 0; i < nc; i++) {
		assert_int_equal(truncate(cut, cuts[i]), 0);
		char want[64], what[64];
		snprintf(want, sizeof want, "truncated at byte %lld", (long long)cuts[i]);
		snprintf(what, sizeof what, "cut at %lld of %lld", (long long)cuts[i],
		         (long long)size);
		refused(cut, want, what);
	}
}

static void test_verify_flipped(void **state)
{
	struct fx *f = *state;
	populate(&f->a, "t4", 400, 4, true);
	struct store_snap_info in = info_for(&f->a);
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), 0);
	off_t size = file_size(f->snap);
	uint32_t hlen = header_len(f->snap);
	char bad[160];
	snprintf(bad, sizeof bad, "%s/flipped", f->dir);
	copy_file(f->snap, bad);
	int fd = open(bad, O_RDWR);
	assert_true(fd >= 0);
	uint64_t seed = 77;
	unsigned tried = 0;
	/* Every header byte, the trailer, and ~200 positions spread over the
	 * records (half evenly, half at random). */
	for (off_t pos = 0; pos < size; pos++) {
		bool take = pos < (off_t)hlen || pos >= size - 24 || pos % (size / 100) == 0 ||
		            rng(&seed) % (uint32_t)(size / 100) == 0;
		if (!take)
			continue;
		uint8_t old, neu;
		assert_int_equal(pread(fd, &old, 1, pos), 1);
		neu = old ^ (uint8_t)(1u << (rng(&seed) % 8));
		assert_int_equal(pwrite(fd, &neu, 1, pos), 1);
		char what[64];
		snprintf(what, sizeof what, "byte %lld of %lld flipped", (long long)pos,
		         (long long)size);
		refused(bad,
		        pos < 8    ? "not a quorumfs snapshot (bad magic)"
		        : pos < 12 ? "unsupported snapshot version"
		                   : NULL,
		        what);
		assert_int_equal(pwrite(fd, &old, 1, pos), 1);
		tried++;
	}
	close(fd);
	print_message("flipped %u positions of %lld bytes\n", tried, (long long)size);
	assert_true(tried > 300);
	assert_int_equal(store_snapshot_verify(bad, NULL, NULL, 0), 0); /* restored */

	/* A flipped bit in a value is only seen by the checksum. */
	fd = open(bad, O_RDWR);
	uint8_t old, neu;
	off_t pos = size - 24 - 5000; /* inside the last value */
	assert_int_equal(pread(fd, &old, 1, pos), 1);
	neu = old ^ 0x80;
	assert_int_equal(pwrite(fd, &neu, 1, pos), 1);
	close(fd);
	refused(bad, "checksum mismatch", "value byte flipped");
}

static void test_verify_foreign(void **state)
{
	struct fx *f = *state;
	refused("/etc/passwd", "not a quorumfs snapshot (bad magic)", "/etc/passwd");
	char p[160];
	snprintf(p, sizeof p, "%s/empty", f->dir);
	FILE *fp = fopen(p, "wb");
	fclose(fp);
	refused(p, "truncated at byte 0", "empty file");
	char err[256];
	snprintf(p, sizeof p, "%s/missing", f->dir);
	assert_int_equal(store_snapshot_verify(p, NULL, err, sizeof err), QFS_ENOENT);
	assert_non_null(strstr(err, "cannot open"));

	/* A future version. */
	struct store_snap_info in = info_for(&f->a);
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), 0);
	snprintf(p, sizeof p, "%s/v2", f->dir);
	copy_file(f->snap, p);
	int fd = open(p, O_RDWR);
	uint8_t two = 2;
	assert_int_equal(pwrite(fd, &two, 1, 8), 1);
	close(fd);
	refused(p, "unsupported snapshot version 2", "version 2");

	/* Bytes after the trailer; a snapshot glued to itself. */
	snprintf(p, sizeof p, "%s/long", f->dir);
	copy_file(f->snap, p);
	fp = fopen(p, "ab");
	fputc(0, fp);
	fclose(fp);
	refused(p, "after the trailer", "one extra byte");

	/* Install refuses too, and leaves the txn usable and the store as it was. */
	populate(&f->b, "t5", 50, 5, false);
	struct store_rtxn *r;
	struct store_stats before, after;
	assert_int_equal(store_rbegin(f->b.s, &r), 0);
	assert_int_equal(store_stats(r, &before), 0);
	store_rend(r);
	struct store_wtxn *t;
	struct store_snap_info ii;
	assert_int_equal(store_wbegin(f->b.s, &t), 0);
	assert_int_equal(store_snapshot_install(t, p, &ii), QFS_ECORRUPT);
	assert_int_equal(store_snapshot_install(t, "/etc/passwd", &ii), QFS_ECORRUPT);
	assert_int_equal(store_mark_applied(t, before.applied + 1), 0);
	assert_int_equal(store_wcommit(t), 0);
	assert_int_equal(store_rbegin(f->b.s, &r), 0);
	assert_int_equal(store_stats(r, &after), 0);
	store_rend(r);
	assert_int_equal(after.keys, before.keys);
	assert_int_equal(after.revision, before.revision);
	assert_int_equal(after.applied, before.applied + 1);
}

static void test_install_replaces_other_keys(void **state)
{
	struct fx *f = *state;
	populate(&f->a, "t6", 300, 6, false);
	/* b: a different, larger keyspace further ahead. */
	populate(&f->b, "t7", 700, 7, true);
	assert_true(f->b.index > f->a.index);
	struct store_snap_info in = info_for(&f->a), ii;
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, NULL), 0);
	install(&f->b, f->snap, &ii);
	cmp_stores(f->a.s, f->b.s);
	/* And back again onto itself: installing over the same keys. */
	install(&f->b, f->snap, &ii);
	cmp_stores(f->a.s, f->b.s);
}

/* A writer applying while the snapshot streams: the snapshot holds exactly
 * the state at the index it names. */
struct race {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int phase; /* 1: snapshot's read txn open; 2: writes done */
	struct store *s;
	const char *path;
	struct store_snap_info in, out;
	int rc;
};

static void race_hook(void *ctx)
{
	struct race *r = ctx;
	pthread_mutex_lock(&r->mu);
	r->phase = 1;
	pthread_cond_broadcast(&r->cv);
	while (r->phase != 2)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

static void *race_writer(void *arg)
{
	struct race *r = arg;
	r->rc = store_snapshot_write(r->s, r->path, &r->in, &r->out);
	return NULL;
}

static void test_consistent_while_writing(void **state)
{
	struct fx *f = *state;
	populate(&f->a, "t8", 500, 8, false);
	/* The state the snapshot must hold: a read txn at this point. */
	struct store_rtxn *at;
	assert_int_equal(store_rbegin(f->a.s, &at), 0);

	struct race r = {.s = f->a.s, .path = f->snap, .in = info_for(&f->a)};
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	f->a.s->snap_hook = race_hook;
	f->a.s->snap_hook_ctx = &r;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, race_writer, &r), 0);
	pthread_mutex_lock(&r.mu);
	while (r.phase != 1)
		pthread_cond_wait(&r.cv, &r.mu);
	pthread_mutex_unlock(&r.mu);

	/* Header written, records not yet: change keys all over the order. */
	populate(&f->a, "t9", 200, 9, false);
	uint64_t ino = mk(&f->a, ROOT, "late", S_IFREG | 0644, 1, NULL);
	put(&f->a, ino, (const uint8_t *)"late", 4);
	st_flush(&f->a);

	pthread_mutex_lock(&r.mu);
	r.phase = 2;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	assert_int_equal(pthread_join(th, NULL), 0);
	f->a.s->snap_hook = NULL;
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	assert_int_equal(r.rc, 0);

	struct store_stats sat;
	assert_int_equal(store_stats(at, &sat), 0);
	assert_int_equal(r.out.index, sat.applied);
	assert_int_equal(r.out.revision, sat.revision);
	assert_int_equal(r.out.keys, sat.keys);
	assert_true(f->a.index > sat.applied);

	struct store_snap_info ii;
	install(&f->b, f->snap, &ii);
	struct store_rtxn *rb;
	assert_int_equal(store_rbegin(f->b.s, &rb), 0);
	cmp_rtxn(at, rb);
	store_rend(rb);
	store_rend(at);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Timing run (QFS_SNAP_BENCH=N): N keys of 100 bytes in directories of 1,000. */
static void test_bench(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("QFS_SNAP_BENCH");
	unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 0;
	if (n == 0)
		skip();
	uint8_t val[100];
	memset(val, 'v', sizeof val);
	uint64_t dir = ROOT;
	char name[32];
	for (unsigned i = 0; i < n; i++) {
		if (i % 1000 == 0) {
			snprintf(name, sizeof name, "dir%u", i / 1000);
			dir = mk(&f->a, ROOT, name, S_IFDIR | 0755, 0, NULL);
		}
		snprintf(name, sizeof name, "key%07u", i);
		put(&f->a, mk(&f->a, dir, name, S_IFREG | 0644, 0, NULL), val, sizeof val);
	}
	st_flush(&f->a);
	struct store_snap_info in = info_for(&f->a), out, ii;
	double t0 = now_s();
	assert_int_equal(store_snapshot_write(f->a.s, f->snap, &in, &out), 0);
	double t1 = now_s();
	assert_int_equal(store_snapshot_verify(f->snap, NULL, NULL, 0), 0);
	double t2 = now_s();
	install(&f->b, f->snap, &ii);
	double t3 = now_s();
	printf("snapshot bench: %u keys, %llu bytes: write %.3f s, verify %.3f s, "
	       "install (verify + load + commit) %.3f s\n",
	       n, (unsigned long long)out.bytes, t1 - t0, t2 - t1, t3 - t2);
	cmp_stores(f->a.s, f->b.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_checks_index, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_foreign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_install_replaces_other_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_consistent_while_writing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bench, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
