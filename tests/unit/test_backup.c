/* store/backup: backup snapshot files (src/store/backup.c, disk-format §10):
 * write, verify (every truncation and every flipped byte is refused, with
 * the message that says which), restore into a new data directory (same
 * keyspace, no sessions, applied 0, meta recorded), refusals of restore,
 * and a copy stopped by its cancel flag. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/command.h"
#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "store/backup.h"
#include "store/raftlog.h"
#include "store/store_int.h"

struct fx {
	char dir[64];
	char data[128], file[128], tmp[128], copy[128], restored[128];
	struct store *s;
	uint64_t index;
};

static const struct store_options opts = {
    .map_size = 64ull << 20, .value_max = QFS_VALUE_MAX_HARD, .no_sync = true};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static uint64_t apply(struct fx *f, struct store_wtxn *t, struct qfs_cmd c)
{
	struct store_result res;
	c.time_ns = 1000000000ull + f->index;
	assert_int_equal(store_apply(t, ++f->index, &c, &res), 0);
	assert_int_equal(res.rc, 0);
	store_result_release(&res);
	return res.attr.ino;
}

/* A small tree: dirs, files (one 300 KB, one binary), a symlink, a session. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/qfs-backup-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->data, sizeof f->data, "%s/data", f->dir);
	snprintf(f->file, sizeof f->file, "%s/b.qfsnap", f->dir);
	snprintf(f->tmp, sizeof f->tmp, "%s/b.qfsnap.tmp", f->dir);
	snprintf(f->copy, sizeof f->copy, "%s/copy.qfsnap", f->dir);
	snprintf(f->restored, sizeof f->restored, "%s/restored", f->dir);
	assert_int_equal(store_open(&f->s, f->data, &opts), 0);
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	uint64_t d = apply(f, t, (struct qfs_cmd){.op = QFS_OP_CREATE, .ino = QFS_ROOT_INO,
						  .name = "dir", .name_len = 3,
						  .mode = S_IFDIR | 0750, .uid = 7, .gid = 8});
	static uint8_t big[300000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	for (int i = 0; i < 20; i++) {
		char name[16];
		int nl = snprintf(name, sizeof name, "f%02d", i);
		uint64_t ino = apply(f, t, (struct qfs_cmd){.op = QFS_OP_CREATE, .ino = d,
							    .name = name, .name_len = (uint16_t)nl,
							    .mode = S_IFREG | 0640});
		apply(f, t, (struct qfs_cmd){.op = QFS_OP_PUT, .ino = ino, .data = big,
					     .data_len = i == 3 ? sizeof big : (uint32_t)(i + 1)});
	}
	apply(f, t, (struct qfs_cmd){.op = QFS_OP_CREATE, .ino = d, .name = "ln", .name_len = 2,
				     .mode = S_IFLNK | 0777, .data = (const uint8_t *)"f01",
				     .data_len = 3});
	assert_int_equal(store_session_seen(t, 42, 99), 0);
	assert_int_equal(store_wcommit(t), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (f->s)
		store_close(f->s);
	nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void write_backup(struct fx *f, struct store_backup_info *info)
{
	char err[512];
	assert_int_equal(store_backup_write(f->s, f->tmp, 0x1234, 5555, NULL, info, err, sizeof err),
			 0);
	assert_int_equal(store_backup_rename(f->tmp, f->file), 0);
	assert_int_equal(access(f->tmp, F_OK), -1);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	*len = (size_t)ftell(fp);
	rewind(fp);
	uint8_t *b = malloc(*len + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, *len, fp), *len);
	fclose(fp);
	return b;
}

static void spit(const char *path, const void *b, size_t len)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b, 1, len, fp), len);
	fclose(fp);
}

static void test_write_verify(void **state)
{
	struct fx *f = *state;
	struct store_backup_info w, v;
	write_backup(f, &w);
	char err[512];
	assert_int_equal(store_backup_verify(f->file, &v, err, sizeof err), 0);
	assert_int_equal(v.cluster_id, 0x1234);
	assert_int_equal(v.created_ns, 5555);
	assert_int_equal(v.index, f->index);
	assert_int_equal(v.revision, w.revision);
	assert_int_equal(v.keys, 23); /* root, dir, 20 files, the link */
	assert_int_equal(v.file_len, w.file_len);
	assert_memory_equal(v.digest, w.digest, sizeof v.digest);
	struct stat st;
	assert_int_equal(stat(f->file, &st), 0);
	assert_int_equal((uint64_t)st.st_size, 96 + v.content_len + 32);
}

static void expect_refused(const char *path, const char *what)
{
	char err[512] = "";
	int rc = store_backup_verify(path, NULL, err, sizeof err);
	if (rc == 0 || !strstr(err, what))
		fail_msg("%s: rc %d, message '%s', expected '%s'", path, rc, err, what);
}

static void test_truncated(void **state)
{
	struct fx *f = *state;
	struct store_backup_info w;
	write_backup(f, &w);
	size_t len;
	uint8_t *b = slurp(f->file, &len);
	/* Every length short of the whole file (a sample of them past the header). */
	for (size_t n = 1; n < len; n += n < 200 ? 1 : 997) {
		spit(f->copy, b, n);
		expect_refused(f->copy, n < 8 ? "truncated" : "truncated: ");
	}
	spit(f->copy, b, len - 1);
	expect_refused(f->copy, "truncated: ");
	/* A byte too many. */
	uint8_t *c = malloc(len + 1);
	memcpy(c, b, len);
	c[len] = 0;
	spit(f->copy, c, len + 1);
	expect_refused(f->copy, "unexpected bytes after the checksum");
	free(c);
	free(b);
}

static void test_flipped(void **state)
{
	struct fx *f = *state;
	struct store_backup_info w;
	write_backup(f, &w);
	size_t len;
	uint8_t *b = slurp(f->file, &len);
	char err[512];
	for (size_t off = 0; off < len; off += off < 256 ? 1 : 613) {
		b[off] ^= 0x40;
		spit(f->copy, b, len);
		int rc = store_backup_verify(f->copy, NULL, err, sizeof err);
		if (rc == 0)
			fail_msg("a flipped byte at %zu was accepted", off);
		const char *want = off < 8                ? "not a quorumfs snapshot"
				   : off < 12             ? "unsupported snapshot format version"
				   : off < 24 || (off >= 80 && off < 96) ? "malformed header"
				   : off >= 64 && off < 72 ? "" /* the content length: any refusal */
							   : "checksum mismatch";
		if (!strstr(err, want))
			fail_msg("flipped byte at %zu: '%s', expected '%s'", off, err, want);
		b[off] ^= 0x40;
	}
	free(b);
}

static void test_foreign(void **state)
{
	struct fx *f = *state;
	spit(f->copy, "", 0);
	expect_refused(f->copy, "not a quorumfs snapshot (empty file)");
	const char *json = "{\"format\": \"quorumfs-export\", \"version\": 1}\n";
	spit(f->copy, json, strlen(json));
	expect_refused(f->copy, "not a quorumfs snapshot (bad magic)");
	spit(f->copy, "QFS", 3);
	expect_refused(f->copy, "truncated");
	/* A §9 snapshot file of a data directory is named as such. */
	struct store_snap_info in = {.cluster_id = 1, .index = f->index}, out;
	assert_int_equal(store_snapshot_write(f->s, f->copy, &in, &out), 0);
	expect_refused(f->copy, "internal Raft snapshot");
	char err[512];
	assert_int_equal(store_backup_verify("/nonexistent/x", NULL, err, sizeof err), QFS_ENOENT);
	assert_non_null(strstr(err, "cannot open"));
}

static void test_restore(void **state)
{
	struct fx *f = *state;
	struct store_backup_info w, r;
	write_backup(f, &w);
	struct store_meta_kv meta[] = {{"restored_from", w.digest, sizeof w.digest},
				       {"node_name", "n9", 2}};
	char err[512];
	assert_int_equal(store_backup_restore(f->file, f->restored, &opts, meta, 2, &r, err,
					      sizeof err),
			 0);
	assert_int_equal(r.revision, w.revision);
	struct store *s;
	assert_int_equal(store_open(&s, f->restored, &opts), 0);
	struct store_rtxn *rt;
	assert_int_equal(store_rbegin(s, &rt), 0);
	struct store_stats ss;
	assert_int_equal(store_stats(rt, &ss), 0);
	assert_int_equal(ss.applied, 0);
	assert_int_equal(ss.revision, w.revision);
	assert_int_equal(ss.keys, 23);
	struct qfs_attr d, fa, ln;
	assert_int_equal(store_lookup(rt, QFS_ROOT_INO, "dir", 3, &d), 0);
	assert_int_equal(d.mode, S_IFDIR | 0750);
	assert_int_equal(d.uid, 7);
	assert_int_equal(store_lookup(rt, d.ino, "f03", 3, &fa), 0);
	assert_int_equal(fa.size, 300000);
	const void *data;
	size_t len;
	assert_int_equal(store_read(rt, fa.ino, 299999, 1, &data, &len), 0);
	assert_int_equal(((const uint8_t *)data)[0], (uint8_t)(299999 * 7 + 3));
	assert_int_equal(store_lookup(rt, d.ino, "ln", 2, &ln), 0);
	assert_true(S_ISLNK(ln.mode));
	char name[16];
	size_t nl;
	assert_int_equal(store_meta_get(rt, "node_name", name, sizeof name, &nl), 0);
	assert_int_equal(nl, 2);
	uint8_t dg[32];
	assert_int_equal(store_meta_get(rt, "restored_from", dg, sizeof dg, &nl), 0);
	assert_memory_equal(dg, w.digest, 32);
	MDB_stat ms;
	assert_int_equal(mdb_stat(rt->txn, s->dbi_sess, &ms), 0);
	assert_int_equal(ms.ms_entries, 0); /* the old cluster's sessions are gone */
	store_rend(rt);
	struct store_raft_state rs;
	assert_int_equal(store_raft_load(s, &rs), 0);
	assert_int_equal(rs.hs.term, 0);
	assert_int_equal(rs.n_entries, 0);
	assert_int_equal(rs.snap.index, 0);
	store_raft_state_free(&rs);
	store_close(s);
	/* Not into a directory in use, nor a file; a bad file leaves nothing. */
	assert_int_equal(store_backup_restore(f->file, f->restored, &opts, NULL, 0, NULL, err,
					      sizeof err),
			 QFS_EEXIST);
	assert_non_null(strstr(err, "not empty"));
	char nodir[160];
	snprintf(nodir, sizeof nodir, "%s/nodir", f->dir);
	spit(f->copy, "garbage", 7);
	assert_int_equal(store_backup_restore(f->copy, nodir, &opts, NULL, 0, NULL, err, sizeof err),
			 QFS_ECORRUPT);
	assert_int_equal(access(nodir, F_OK), -1);
	/* An empty existing directory is fine. */
	assert_int_equal(mkdir(nodir, 0700), 0);
	assert_int_equal(store_backup_restore(f->file, nodir, &opts, NULL, 0, NULL, err, sizeof err),
			 0);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	atomic_bool cancel;
	atomic_init(&cancel, true);
	char err[512];
	assert_int_equal(store_backup_write(f->s, f->tmp, 1, 1, &cancel, NULL, err, sizeof err),
			 QFS_EINTR);
	assert_int_equal(access(f->tmp, F_OK), -1);
	/* An unwritable place: an error naming it, nothing left. */
	char bad[160];
	snprintf(bad, sizeof bad, "%s/b.qfsnap/x.tmp", f->dir);
	struct store_backup_info w;
	write_backup(f, &w);
	assert_int_not_equal(store_backup_write(f->s, bad, 1, 1, NULL, NULL, err, sizeof err), 0);
	assert_non_null(strstr(err, "cannot create"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_flipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_foreign, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
