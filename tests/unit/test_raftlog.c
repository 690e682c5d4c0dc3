/* store/raftlog: the Raft log, hard state, snapshot point, applied index and
 * cluster meta in the LMDB store (src/store/raftlog.c). */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "store/raftlog.h"
#include "store/store_int.h"

struct fx {
	char dir[64];
	struct store *s;
	struct store_options opt;
};

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void fx_open(struct fx *f)
{
	assert_int_equal(store_open(&f->s, f->dir, &f->opt), 0);
}

static void fx_reopen(struct fx *f)
{
	store_close(f->s);
	f->s = NULL;
	fx_open(f);
}

static int setup_map(void **state, uint64_t map_size)
{
	struct fx *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/qfs-raftlog-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->opt = (struct store_options){.map_size = map_size, .no_sync = true};
	fx_open(f);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_map(state, 64ull << 20);
}

static int setup_small(void **state)
{
	return setup_map(state, 1ull << 20);
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

/* ---------- entries with recognisable contents ---------- */

/* Deterministic data of entry (index, term): len (index * 7) % 50, 0 every
 * fifth index (data NULL). */
static uint32_t data_len(uint64_t index)
{
	return index % 5 == 0 ? 0 : (uint32_t)((index * 7) % 50);
}

static uint8_t data_byte(uint64_t index, uint64_t term, uint32_t i)
{
	return (uint8_t)(index * 31 + term * 17 + i);
}

struct batch {
	struct raft_entry e[1100];
	uint8_t buf[1100][64];
	size_t n;
};

static struct batch *mk(uint64_t first, size_t n, uint64_t term)
{
	struct batch *b = calloc(1, sizeof *b);
	assert_non_null(b);
	assert_true(n <= 1100);
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		uint64_t idx = first + i;
		struct raft_entry *e = &b->e[i];
		e->index = idx;
		e->term = term;
		e->type = (uint8_t)(idx % 7 == 0 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL);
		e->len = data_len(idx);
		for (uint32_t j = 0; j < e->len; j++)
			b->buf[i][j] = data_byte(idx, term, j);
		e->data = e->len ? b->buf[i] : NULL;
	}
	return b;
}

static void append(struct fx *f, uint64_t first, size_t n, uint64_t term)
{
	struct batch *b = mk(first, n, term);
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_append(t, b->e, b->n), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(b);
}

/* The loaded entries are exactly [first, last], of the terms given by
 * term_of(index), with their data, all inside the one malloc'd block. */
static void check_entries(const struct store_raft_state *st, uint64_t first, uint64_t last,
                          uint64_t (*term_of)(uint64_t))
{
	size_t n = last >= first ? (size_t)(last - first + 1) : 0;
	assert_int_equal(st->n_entries, n);
	if (n == 0) {
		assert_null(st->entries);
		return;
	}
	const uint8_t *hi = (const uint8_t *)(st->entries + n); /* data follows the array */
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &st->entries[i];
		uint64_t idx = first + i;
		assert_int_equal(e->index, idx);
		assert_int_equal(e->term, term_of(idx));
		assert_int_equal(e->type, idx % 7 == 0 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL);
		assert_int_equal(e->len, data_len(idx));
		if (e->len == 0) {
			assert_null(e->data);
			continue;
		}
		const uint8_t *d = e->data;
		assert_ptr_equal(d, hi + total);
		for (uint32_t j = 0; j < e->len; j++)
			if (d[j] != data_byte(idx, e->term, j))
				fail_msg("entry %llu byte %u differs", (unsigned long long)idx, j);
		total += e->len;
	}
}

static uint64_t term1(uint64_t i)
{
	(void)i;
	return 1;
}

static void load(struct fx *f, struct store_raft_state *st)
{
	assert_int_equal(store_raft_load(f->s, st), 0);
}

/* ---------- log ---------- */

static void test_fresh(void **state)
{
	struct fx *f = *state;
	struct store_raft_state st;
	memset(&st, 0xab, sizeof st);
	load(f, &st);
	assert_int_equal(st.hs.term, 0);
	assert_int_equal(st.hs.vote, 0);
	assert_int_equal(st.hs.commit, 0);
	assert_int_equal(st.snap.index, 0);
	assert_int_equal(st.snap.term, 0);
	assert_int_equal(st.snap.conf.n_voters, 0);
	assert_null(st.entries);
	assert_int_equal(st.n_entries, 0);
	assert_int_equal(st.applied, 0);
	store_raft_state_free(&st);
	store_raft_state_free(&st); /* idempotent */
}

static void test_append_load_reopen(void **state)
{
	struct fx *f = *state;
	append(f, 1, 50, 1);
	append(f, 51, 50, 1);
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	struct raft_hard_state hs = {.term = 3, .vote = 2, .commit = 90};
	assert_int_equal(store_hard_state_put(t, &hs), 0);
	assert_int_equal(store_log_append(t, NULL, 0), 0); /* nothing */
	assert_int_equal(store_wcommit(t), 0);

	for (int round = 0; round < 2; round++) {
		struct store_raft_state st;
		load(f, &st);
		assert_int_equal(st.hs.term, 3);
		assert_int_equal(st.hs.vote, 2);
		assert_int_equal(st.hs.commit, 90);
		check_entries(&st, 1, 100, term1);
		store_raft_state_free(&st);
		assert_null(st.entries);
		fx_reopen(f);
	}
}

static uint64_t term_overwritten(uint64_t i)
{
	return i <= 5 ? 1 : i <= 8 ? 2 : 3;
}

static void test_overwrite_suffix(void **state)
{
	struct fx *f = *state;
	append(f, 1, 10, 1);
	append(f, 6, 3, 2); /* a new leader overwrites 6..10 with 6..8 */
	struct store_raft_state st;
	load(f, &st);
	check_entries(&st, 1, 8, term_overwritten);
	store_raft_state_free(&st);

	/* Overwrite and extend in the same txn as another append. */
	struct store_wtxn *t;
	struct batch *a = mk(9, 4, 3), *b = mk(11, 5, 3);
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_append(t, a->e, a->n), 0); /* 9..12 */
	assert_int_equal(store_log_append(t, b->e, b->n), 0); /* 11..15 over 11, 12 */
	assert_int_equal(store_wcommit(t), 0);
	free(a);
	free(b);
	fx_reopen(f);
	load(f, &st);
	check_entries(&st, 1, 15, term_overwritten);
	store_raft_state_free(&st);

	/* Overwriting from index 1 replaces everything. */
	append(f, 1, 3, 4);
	load(f, &st);
	assert_int_equal(st.n_entries, 3);
	assert_int_equal(st.entries[2].index, 3);
	assert_int_equal(st.entries[2].term, 4);
	store_raft_state_free(&st);
}

static uint64_t term_snap(uint64_t i)
{
	(void)i;
	return 2;
}

static void test_compact_and_snapshot_point(void **state)
{
	struct fx *f = *state;
	struct batch *b = mk(1, 40, 2);
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_append(t, b->e, b->n), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(b);

	/* Snapshot point at 10, log compacted to it. */
	struct raft_snapshot_meta sm = {.index = 10, .term = 2};
	sm.conf.n_voters = 3;
	sm.conf.voters[0] = 7;
	sm.conf.voters[1] = 3;
	sm.conf.voters[2] = 5;
	sm.conf.n_learners = 1;
	sm.conf.learners[0] = 9;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_snap_meta_put(t, &sm), 0);
	assert_int_equal(store_log_compact(t, 10), 0);
	assert_int_equal(store_log_compact(t, 10), 0); /* nothing left to delete */
	assert_int_equal(store_log_compact(t, 3), 0);
	assert_int_equal(store_wcommit(t), 0);
	fx_reopen(f);
	struct store_raft_state st;
	load(f, &st);
	assert_int_equal(st.snap.index, 10);
	assert_int_equal(st.snap.term, 2);
	assert_int_equal(st.snap.conf.n_voters, 3);
	assert_int_equal(st.snap.conf.voters[0], 3); /* sorted */
	assert_int_equal(st.snap.conf.voters[1], 5);
	assert_int_equal(st.snap.conf.voters[2], 7);
	assert_int_equal(st.snap.conf.n_learners, 1);
	assert_int_equal(st.snap.conf.learners[0], 9);
	check_entries(&st, 11, 40, term_snap);
	store_raft_state_free(&st);

	/* The snapshot point moves on before the log is compacted: entries at
	 * or below it are skipped, not a gap. */
	sm.index = 25;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_snap_meta_put(t, &sm), 0);
	assert_int_equal(store_wcommit(t), 0);
	load(f, &st);
	check_entries(&st, 26, 40, term_snap);
	store_raft_state_free(&st);

	/* A snapshot past the log: everything goes, the log restarts after it. */
	sm.index = 100;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_snap_meta_put(t, &sm), 0);
	assert_int_equal(store_log_compact(t, UINT64_MAX), 0);
	assert_int_equal(store_wcommit(t), 0);
	load(f, &st);
	assert_int_equal(st.snap.index, 100);
	assert_int_equal(st.n_entries, 0);
	assert_null(st.entries);
	store_raft_state_free(&st);
	append(f, 101, 5, 2);
	fx_reopen(f);
	load(f, &st);
	check_entries(&st, 101, 105, term_snap);
	store_raft_state_free(&st);

	/* A log that starts after the snapshot point has a hole. */
	sm.index = 90;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_snap_meta_put(t, &sm), 0);
	assert_int_equal(store_wcommit(t), 0);
	assert_int_equal(store_raft_load(f->s, &st), QFS_ECORRUPT);
	assert_null(st.entries);
}

static void test_crash_between_transactions(void **state)
{
	struct fx *f = *state;
	struct store_wtxn *t;
	struct raft_hard_state hs1 = {.term = 1, .vote = 1, .commit = 3};
	struct batch *b = mk(1, 5, 1);
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_append(t, b->e, b->n), 0);
	assert_int_equal(store_hard_state_put(t, &hs1), 0);
	assert_int_equal(store_mark_applied(t, 3), 0);
	assert_int_equal(store_meta_put(t, "cluster.id", "c1", 2), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(b);

	/* The next batch never commits. */
	b = mk(4, 7, 2);
	struct raft_hard_state hs2 = {.term = 2, .vote = 0, .commit = 8};
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_append(t, b->e, b->n), 0);
	assert_int_equal(store_hard_state_put(t, &hs2), 0);
	assert_int_equal(store_mark_applied(t, 8), 0);
	assert_int_equal(store_meta_put(t, "cluster.id", "c2", 2), 0);
	assert_int_equal(store_log_compact(t, 2), 0);
	store_wabort(t);
	free(b);

	struct store_raft_state st;
	load(f, &st);
	assert_int_equal(st.hs.term, 1);
	assert_int_equal(st.hs.commit, 3);
	assert_int_equal(st.applied, 3);
	check_entries(&st, 1, 5, term1);
	store_raft_state_free(&st);

	/* A real crash: a child process commits one batch, starts another and
	 * dies without closing anything. */
	store_close(f->s);
	f->s = NULL;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct store *s;
		struct store_wtxn *w;
		struct batch *c = mk(6, 5, 1);
		if (store_open(&s, f->dir, &f->opt) != 0 || store_wbegin(s, &w) != 0 ||
		    store_log_append(w, c->e, c->n) != 0 || store_mark_applied(w, 6) != 0 ||
		    store_wcommit(w) != 0)
			_exit(1);
		struct batch *d = mk(8, 10, 5);
		if (store_wbegin(s, &w) != 0 || store_log_append(w, d->e, d->n) != 0 ||
		    store_hard_state_put(w, &hs2) != 0)
			_exit(1);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_open(f);
	load(f, &st);
	assert_int_equal(st.hs.term, 1);
	assert_int_equal(st.applied, 6);
	check_entries(&st, 1, 10, term1);
	store_raft_state_free(&st);
}

/* Rewrites the stored record of `index` through LMDB (a disk fault). */
static void tamper(struct fx *f, uint64_t index, int how)
{
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	uint8_t kb[8];
	store_be64(kb, index);
	MDB_val k = {8, kb}, v;
	assert_int_equal(mdb_get(t->txn, f->s->dbi_log, &k, &v), 0);
	uint8_t *copy = malloc(v.mv_size + 1);
	assert_non_null(copy);
	memcpy(copy, v.mv_data, v.mv_size);
	MDB_val nv = {v.mv_size, copy};
	switch (how) {
	case 0: /* one flipped bit in the data */
		copy[v.mv_size - 1] ^= 0x10;
		break;
	case 1: /* the entry is gone: a gap */
		assert_int_equal(mdb_del(t->txn, f->s->dbi_log, &k, NULL), 0);
		nv.mv_data = NULL;
		break;
	case 2: /* cut short */
		nv.mv_size = 20;
		break;
	case 3: /* a valid record under the wrong key (replaces the next one) */
		store_be64(kb, index + 1);
		break;
	}
	if (nv.mv_data)
		assert_int_equal(mdb_put(t->txn, f->s->dbi_log, &k, &nv, 0), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(copy);
}

static void test_corrupt_log_detected(void **state)
{
	struct fx *f = *state;
	for (int how = 0; how < 4; how++) {
		struct store_wtxn *t;
		assert_int_equal(store_wbegin(f->s, &t), 0);
		assert_int_equal(store_log_compact(t, UINT64_MAX), 0);
		assert_int_equal(store_wcommit(t), 0);
		append(f, 1, 20, 1);
		struct store_raft_state st;
		load(f, &st);
		store_raft_state_free(&st);
		tamper(f, 13, how); /* 13: has data */
		memset(&st, 0, sizeof st);
		assert_int_equal(store_raft_load(f->s, &st), QFS_ECORRUPT);
		assert_null(st.entries);
		assert_int_equal(st.n_entries, 0);
	}

	/* A term that goes down. */
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_compact(t, UINT64_MAX), 0);
	assert_int_equal(store_wcommit(t), 0);
	append(f, 1, 5, 3);
	struct batch *b = mk(6, 2, 2);
	assert_int_equal(store_wbegin(f->s, &t), 0);
	/* The API does not compare terms across batches; load does. */
	assert_int_equal(store_log_append(t, b->e, b->n), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(b);
	struct store_raft_state st;
	assert_int_equal(store_raft_load(f->s, &st), QFS_ECORRUPT);

	/* Corrupt hard state record. */
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_compact(t, UINT64_MAX), 0);
	struct raft_hard_state hs = {.term = 5};
	assert_int_equal(store_hard_state_put(t, &hs), 0);
	MDB_val k = {4, "hard"}, v;
	assert_int_equal(mdb_get(t->txn, f->s->dbi_raft, &k, &v), 0);
	uint8_t rec[64];
	memcpy(rec, v.mv_data, v.mv_size);
	rec[9] ^= 1;
	v.mv_data = rec;
	assert_int_equal(mdb_put(t->txn, f->s->dbi_raft, &k, &v, 0), 0);
	assert_int_equal(store_wcommit(t), 0);
	assert_int_equal(store_raft_load(f->s, &st), QFS_ECORRUPT);
}

static void test_append_refuses_bad_batches(void **state)
{
	struct fx *f = *state;
	append(f, 1, 3, 1);
	struct batch *b = mk(4, 4, 1);
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	b->e[2].index = 9; /* not contiguous */
	assert_int_equal(store_log_append(t, b->e, b->n), QFS_EINVAL);
	b->e[2].index = 6;
	b->e[1].data = NULL; /* len > 0 without data */
	b->e[1].len = 3;
	assert_int_equal(store_log_append(t, b->e, b->n), QFS_EINVAL);
	b->e[1].data = b->buf[1];
	b->e[1].len = data_len(5);
	b->e[0].type = RAFT_ENTRY_TYPE_MAX_;
	assert_int_equal(store_log_append(t, b->e, b->n), QFS_EINVAL);
	b->e[0].type = RAFT_ENTRY_NORMAL;
	struct raft_entry zero = {.index = 0, .term = 1};
	assert_int_equal(store_log_append(t, &zero, 1), QFS_EINVAL);
	struct raft_snapshot_meta bad = {.index = 5, .term = 1}; /* no voters */
	assert_int_equal(store_snap_meta_put(t, &bad), QFS_EINVAL);
	/* Refusals changed nothing and did not poison the txn. */
	assert_int_equal(store_wcommit(t), 0);
	free(b);
	struct store_raft_state st;
	load(f, &st);
	check_entries(&st, 1, 3, term1);
	store_raft_state_free(&st);
}

static void test_map_full_poisons(void **state)
{
	struct fx *f = *state; /* 1 MiB map */
	static uint8_t big[256 * 1024];
	memset(big, 0x42, sizeof big);
	struct raft_entry e = {
	    .term = 1, .type = RAFT_ENTRY_NORMAL, .len = sizeof big, .data = big};
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	int rc = 0;
	for (uint64_t i = 1; i <= 8 && rc == 0; i++) {
		e.index = i;
		rc = store_log_append(t, &e, 1);
	}
	assert_int_equal(rc, QFS_ENOSPC);
	struct raft_hard_state hs = {.term = 1};
	assert_int_equal(store_hard_state_put(t, &hs), QFS_ENOSPC); /* sticky */
	assert_int_equal(store_wcommit(t), QFS_ENOSPC);
	struct store_raft_state st;
	load(f, &st);
	assert_int_equal(st.n_entries, 0);
	store_raft_state_free(&st);
	/* The store still works afterwards. */
	append(f, 1, 2, 1);
}

static void test_big_entries(void **state)
{
	struct fx *f = *state;
	uint8_t *big = malloc(RAFT_MAX_ENTRY_BYTES);
	assert_non_null(big);
	for (size_t i = 0; i < RAFT_MAX_ENTRY_BYTES; i++)
		big[i] = (uint8_t)(i * 13);
	struct raft_entry e[3] = {
	    {.index = 1,
	     .term = 1,
	     .type = RAFT_ENTRY_NORMAL,
	     .len = RAFT_MAX_ENTRY_BYTES,
	     .data = big},
	    {.index = 2, .term = 1, .type = RAFT_ENTRY_CONF, .len = 0, .data = NULL},
	    {.index = 3, .term = 1, .type = RAFT_ENTRY_NORMAL, .len = 10, .data = big + 5},
	};
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_append(t, e, 3), 0);
	assert_int_equal(store_wcommit(t), 0);
	free(big); /* entry data was copied */
	struct store_raft_state st;
	load(f, &st);
	assert_int_equal(st.n_entries, 3);
	const uint8_t *d = st.entries[0].data;
	assert_int_equal(st.entries[0].len, RAFT_MAX_ENTRY_BYTES);
	for (size_t i = 0; i < RAFT_MAX_ENTRY_BYTES; i += 4093)
		assert_int_equal(d[i], (uint8_t)(i * 13));
	assert_int_equal(st.entries[1].type, RAFT_ENTRY_CONF);
	assert_null(st.entries[1].data);
	d = st.entries[2].data;
	assert_int_equal(d[0], (uint8_t)(5 * 13));
	store_raft_state_free(&st);
}

/* ---------- applied index ---------- */

static void test_mark_applied(void **state)
{
	struct fx *f = *state;
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_mark_applied(t, 2), 0);
	assert_int_equal(store_mark_applied(t, 2), QFS_EINVAL);
	assert_int_equal(store_mark_applied(t, 1), QFS_EINVAL);
	struct qfs_cmd c = {.op = QFS_OP_NOOP};
	struct store_result res;
	assert_int_equal(store_apply(t, 2, &c, &res), QFS_EINVAL); /* already applied */
	assert_int_equal(store_apply(t, 3, &c, &res), 0);
	store_result_release(&res);
	assert_int_equal(store_mark_applied(t, 5), 0); /* gaps allowed */
	assert_int_equal(store_wcommit(t), 0);
	fx_reopen(f);
	struct store_raft_state st;
	load(f, &st);
	assert_int_equal(st.applied, 5);
	store_raft_state_free(&st);
}

/* ---------- proposal sessions ---------- */

static int seen(struct store_wtxn *t, uint64_t origin, uint64_t id)
{
	int r = store_session_seen(t, origin, id);
	assert_true(r == 0 || r == 1);
	return r;
}

static void test_sessions(void **state)
{
	struct fx *f = *state;
	const uint64_t W = STORE_SESSION_WINDOW;
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(seen(t, 1, 5100), 0);
	assert_int_equal(seen(t, 1, 5100), 1); /* the second copy */
	assert_int_equal(seen(t, 2, 5100), 0); /* another origin */
	assert_int_equal(seen(t, 1, 5098), 0); /* out of order, not seen yet */
	assert_int_equal(seen(t, 1, 5098), 1);
	assert_int_equal(seen(t, 1, 5099), 0);
	assert_int_equal(seen(t, 1, 5103), 0); /* the window moves by 3 */
	for (uint64_t id = 5098; id <= 5100; id++)
		assert_int_equal(seen(t, 1, id), 1);
	assert_int_equal(seen(t, 1, 5101), 0);
	assert_int_equal(seen(t, 1, 5102), 0);
	assert_int_equal(seen(t, 1, 5103 - W), 1); /* older than the window */
	assert_int_equal(seen(t, 1, 5104 - W), 0); /* the oldest id still inside */
	assert_int_equal(seen(t, 1, 5104 - W), 1);
	assert_int_equal(store_wcommit(t), 0);
	fx_reopen(f);

	/* Persisted; shifts by every amount keep exactly the ids inside. */
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(seen(t, 1, 5100), 1);
	assert_int_equal(seen(t, 2, 5100), 1);
	uint64_t high = 103;
	for (uint64_t d = 1; d <= W + 1; d += 1 + d / 3) {
		assert_int_equal(seen(t, 3, high), high == 103 ? 0 : 1);
		assert_int_equal(seen(t, 3, high + d), 0);
		/* high is still inside iff d < W; high + d - 1 was never seen */
		assert_int_equal(seen(t, 3, high), 1);
		if (d > 1)
			assert_int_equal(seen(t, 3, high + d - 1), 0);
		high += d;
	}
	assert_int_equal(seen(t, 4, 0), 0); /* id 0 is an id like any other */
	assert_int_equal(seen(t, 4, 0), 1);
	assert_int_equal(seen(t, 4, UINT64_MAX), 0);
	assert_int_equal(seen(t, 4, UINT64_MAX - 1), 0);
	assert_int_equal(seen(t, 4, UINT64_MAX), 1);
	store_wabort(t); /* an aborted batch records nothing */
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(seen(t, 4, 0), 0);
	store_wabort(t);

	/* A damaged record poisons the txn. */
	assert_int_equal(store_wbegin(f->s, &t), 0);
	uint8_t kb[8];
	store_be64(kb, 1);
	MDB_val k = {8, kb}, v;
	assert_int_equal(mdb_get(t->txn, f->s->dbi_sess, &k, &v), 0);
	uint8_t rec[STORE_SESS_SIZE];
	memcpy(rec, v.mv_data, sizeof rec);
	rec[40] ^= 4;
	v.mv_data = rec;
	assert_int_equal(mdb_put(t->txn, f->s->dbi_sess, &k, &v, 0), 0);
	assert_int_equal(store_session_seen(t, 1, 5000), QFS_ECORRUPT);
	assert_int_equal(store_wcommit(t), QFS_ECORRUPT);
}

/* ---------- cluster meta ---------- */

struct scan_ctx {
	char keys[16][64];
	char vals[16][64];
	int n;
	int stop_after;
};

static int scan_cb(void *ctx, const char *key, const void *val, size_t len)
{
	struct scan_ctx *c = ctx;
	assert_true(c->n < 16);
	snprintf(c->keys[c->n], 64, "%s", key);
	size_t n = len < 63 ? len : 63;
	memcpy(c->vals[c->n], val, n);
	c->vals[c->n][n] = '\0';
	c->n++;
	if (c->stop_after > 0 && c->n == c->stop_after)
		return 1;
	if (c->stop_after < 0 && c->n == -c->stop_after)
		return QFS_ECANCELED;
	return 0;
}

static void test_meta_kv(void **state)
{
	struct fx *f = *state;
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_meta_put(t, "cluster.id", "abc", 3), 0);
	assert_int_equal(store_meta_put(t, "node.id", "7", 1), 0);
	assert_int_equal(store_meta_put(t, "peer/2", "10.0.0.2:7000", 13), 0);
	assert_int_equal(store_meta_put(t, "peer/1", "10.0.0.1:7000", 13), 0);
	assert_int_equal(store_meta_put(t, "peer/3", "x", 1), 0);
	assert_int_equal(store_meta_put(t, "peer/3", "10.0.0.3:7000", 13), 0); /* replace */
	assert_int_equal(store_meta_put(t, "peerless", "", 0), 0);             /* empty value */
	assert_int_equal(store_meta_put(t, "empty", NULL, 0), 0);
	static uint8_t big[STORE_CMETA_VAL_MAX + 1];
	assert_int_equal(store_meta_put(t, "big", big, STORE_CMETA_VAL_MAX), 0);
	assert_int_equal(store_meta_put(t, "big2", big, STORE_CMETA_VAL_MAX + 1), QFS_EINVAL);
	assert_int_equal(store_meta_put(t, "", "x", 1), QFS_EINVAL);
	assert_int_equal(store_meta_put(t, "has space", "x", 1), QFS_EINVAL);
	assert_int_equal(store_meta_put(t, "caf\xc3\xa9", "x", 1), QFS_EINVAL);
	char longkey[300];
	memset(longkey, 'k', sizeof longkey);
	longkey[256] = '\0';
	assert_int_equal(store_meta_put(t, longkey, "x", 1), QFS_EINVAL);
	longkey[255] = '\0';
	assert_int_equal(store_meta_put(t, longkey, "x", 1), 0);
	assert_int_equal(store_meta_del(t, "node.id"), 0);
	assert_int_equal(store_meta_del(t, "never-there"), 0);
	assert_int_equal(store_wcommit(t), 0);
	fx_reopen(f);

	struct store_rtxn *r;
	assert_int_equal(store_rbegin(f->s, &r), 0);
	char buf[64];
	size_t len = 99;
	assert_int_equal(store_meta_get(r, "cluster.id", buf, sizeof buf, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(store_meta_get(r, "node.id", buf, sizeof buf, &len), QFS_ENOENT);
	assert_int_equal(store_meta_get(r, "peer/3", buf, 5, &len), QFS_ERANGE);
	assert_int_equal(len, 13); /* the size needed */
	assert_int_equal(store_meta_get(r, "empty", NULL, 0, &len), 0);
	assert_int_equal(len, 0);
	uint8_t bb[STORE_CMETA_VAL_MAX];
	assert_int_equal(store_meta_get(r, "big", bb, sizeof bb, &len), 0);
	assert_int_equal(len, STORE_CMETA_VAL_MAX);
	assert_int_equal(store_meta_get(r, longkey, buf, sizeof buf, &len), 0);

	struct scan_ctx c = {0};
	assert_int_equal(store_meta_scan(r, "peer/", scan_cb, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.keys[0], "peer/1");
	assert_string_equal(c.vals[0], "10.0.0.1:7000");
	assert_string_equal(c.keys[2], "peer/3");
	assert_string_equal(c.vals[2], "10.0.0.3:7000");
	memset(&c, 0, sizeof c);
	assert_int_equal(store_meta_scan(r, "peer", scan_cb, &c), 0);
	assert_int_equal(c.n, 4); /* peer/1..3, peerless */
	memset(&c, 0, sizeof c);
	assert_int_equal(store_meta_scan(r, "zzz", scan_cb, &c), 0);
	assert_int_equal(c.n, 0);
	memset(&c, 0, sizeof c);
	assert_int_equal(store_meta_scan(r, "", scan_cb, &c), 0);
	assert_int_equal(c.n, 8); /* big, cluster.id, empty, kkk.., peer/1..3, peerless */
	assert_string_equal(c.keys[0], "big");
	memset(&c, 0, sizeof c);
	c.stop_after = 2;
	assert_int_equal(store_meta_scan(r, NULL, scan_cb, &c), 0); /* positive: stop, no error */
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof c);
	c.stop_after = -1;
	assert_int_equal(store_meta_scan(r, "peer/", scan_cb, &c), QFS_ECANCELED);
	assert_int_equal(c.n, 1);
	store_rend(r);

	/* Cluster meta lives beside the keyspace: no key shows up in it. */
	assert_int_equal(store_rbegin(f->s, &r), 0);
	struct store_stats st;
	assert_int_equal(store_stats(r, &st), 0);
	assert_int_equal(st.keys, 1);
	assert_int_equal(st.revision, 0);
	store_rend(r);
}

/* ---------- load performance shape: one block, many entries ---------- */

static void test_many_entries(void **state)
{
	struct fx *f = *state;
	for (uint64_t first = 1; first <= 10000; first += 1000)
		append(f, first, 1000, 1);
	struct store_wtxn *t;
	assert_int_equal(store_wbegin(f->s, &t), 0);
	assert_int_equal(store_log_compact(t, 2500), 0);
	struct raft_snapshot_meta sm = {.index = 2500, .term = 1};
	sm.conf.n_voters = 1;
	sm.conf.voters[0] = 1;
	assert_int_equal(store_snap_meta_put(t, &sm), 0);
	assert_int_equal(store_wcommit(t), 0);
	struct store_raft_state st;
	load(f, &st);
	check_entries(&st, 2501, 10000, term1);
	store_raft_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_load_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_overwrite_suffix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compact_and_snapshot_point, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_crash_between_transactions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_log_detected, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_refuses_bad_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_map_full_poisons, setup_small, teardown),
	    cmocka_unit_test_setup_teardown(test_big_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mark_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sessions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta_kv, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_many_entries, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
