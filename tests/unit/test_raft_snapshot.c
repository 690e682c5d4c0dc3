/* Directed tests: compaction and chunked snapshots to lagging followers. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "test_raft_harness.h"

static uint64_t fill(struct tcluster *c, uint64_t l, int n)
{
	char buf[32];
	uint64_t last = 0;
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "entry-%03d|", i);
		last = tc_propose(c, l, buf);
	}
	tc_stabilize(c);
	return last;
}

static void test_compact_keeps_term_and_refuses_bad_index(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 1, 1, NULL);
	tc_elect(&c, 1);
	uint64_t last = fill(&c, 1, 10);
	struct raft *r = tc_raft(&c, 1);
	struct raft_snapshot_meta sm;
	assert_int_equal(raft_compact(r, last + 1, &sm), RAFT_EINVAL); /* beyond applied */
	assert_int_equal(raft_compact(r, 5, &sm), 0);
	assert_int_equal(sm.index, 5);
	assert_int_equal(sm.term, 2);
	assert_int_equal(sm.conf.n_voters, 1);
	assert_int_equal(raft_compact(r, 5, &sm), RAFT_ECOMPACTED);
	assert_int_equal(raft_compact(r, 3, &sm), RAFT_ECOMPACTED);
	struct raft_status st = tc_status(&c, 1);
	assert_int_equal(st.first_index, 6);
	assert_int_equal(st.snap_index, 5);
	assert_int_equal(st.last_index, last);
	/* Still works after compaction, and after compacting everything. */
	tc_compact(&c, 1);
	uint64_t more = tc_propose(&c, 1, "more");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).applied, more);
	tc_close(&c);
}

static bool drop_snap_once(struct tcluster *c, struct raft_msg *m, void *arg)
{
	(void)c;
	int *n = arg;
	if (m->type == RAFT_MSG_SNAP && m->snap_offset > 0 && *n == 0) {
		(*n)++;
		return false;
	}
	return true;
}

/* A follower that missed entries the leader compacted away gets the
 * snapshot in chunks (one lost on the way), installs it, then resumes
 * normal replication. */
static void test_snapshot_to_lagging_follower(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	uint64_t f = l == 3 ? 2 : 3;
	tc_isolate(&c, f);
	uint64_t last = fill(&c, l, 40);
	uint64_t other = 6 - l - f;
	assert_int_equal(tc_status(&c, other).applied, last);
	tc_compact(&c, l);
	assert_int_equal(tc_status(&c, l).snap_index, last);
	size_t snap_len = tc_node(&c, l)->disk.snap_len;
	assert_true(snap_len > 5 * c.snap_chunk); /* several chunks */
	int dropped = 0;
	c.filter = drop_snap_once;
	c.filter_arg = &dropped;
	tc_heal(&c);
	tc_tick_all(&c, 40);
	assert_int_equal(dropped, 1);
	struct tnode *fn = tc_node(&c, f);
	assert_int_equal(fn->n_snap_installed, 1);
	assert_true(c.delivered[RAFT_MSG_SNAP] > snap_len / c.snap_chunk);
	assert_true(c.delivered[RAFT_MSG_SNAP_RESP] >= snap_len / c.snap_chunk);
	struct raft_status fs = tc_status(&c, f);
	assert_int_equal(fs.snap_index, last);
	assert_int_equal(fs.applied, last);
	assert_int_equal(fs.conf.n_voters, 3);
	/* Its state machine is the leader's, byte for byte. */
	struct tdisk *ld = &tc_node(&c, l)->disk;
	assert_int_equal(fn->disk.state_len, ld->state_len);
	assert_memory_equal(fn->disk.state, ld->state, ld->state_len);
	/* Back to normal replication. */
	uint64_t after = fill(&c, l, 3);
	assert_int_equal(tc_status(&c, f).applied, after);
	assert_int_equal(fn->n_snap_installed, 1);
	struct raft_status ls = tc_status(&c, l);
	for (uint32_t i = 0; i < ls.n_progress; i++)
		if (ls.progress[i].id == f)
			assert_int_equal(ls.progress[i].state, RAFT_PROGRESS_REPLICATE);
	/* And it survives a restart from the installed snapshot. */
	tc_crash(&c, f);
	tc_restart(&c, f);
	fs = tc_status(&c, f);
	assert_int_equal(fs.snap_index, last);
	assert_int_equal(fs.last_index, after);
	assert_int_equal(c.step_errors, 0);
	tc_close(&c);
}

/* Chunks out of order are refused with the expected offset; offset 0
 * restarts the transfer. */
static void test_snapshot_chunk_offsets(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 2, 2, NULL);
	tc_elect(&c, 1);
	struct raft *f = tc_raft(&c, 2);
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_SNAP;
	m.from = 1;
	m.to = 2;
	m.term = tc_status(&c, 1).term;
	m.snap_index = 100;
	m.snap_term = m.term;
	m.snap_conf.n_voters = 2;
	m.snap_conf.voters[0] = 1;
	m.snap_conf.voters[1] = 2;
	m.snap_len = 10;
	m.snap_offset = 10; /* nothing started yet */
	assert_int_equal(raft_step(f, &m), 0);
	m.snap_offset = 0;
	assert_int_equal(raft_step(f, &m), 0);
	m.snap_offset = 30; /* gap */
	assert_int_equal(raft_step(f, &m), 0);
	m.snap_offset = 10;
	m.snap_last = 1;
	m.snap_len = 5;
	m.snap_len = 5;
	struct raft_ready rd;
	raft_ready(f, &rd);
	/* Three answers: expected 0, then 10 after the first chunk, then 10. */
	assert_int_equal(rd.n_msgs, 3);
	assert_int_equal(rd.msgs[0].type, RAFT_MSG_SNAP_RESP);
	assert_true(rd.msgs[0].reject);
	assert_int_equal(rd.msgs[0].snap_offset, 0);
	assert_false(rd.msgs[1].reject);
	assert_int_equal(rd.msgs[1].snap_offset, 10);
	assert_true(rd.msgs[2].reject);
	assert_int_equal(rd.msgs[2].snap_offset, 10);
	assert_false(rd.has_snapshot);
	raft_advance(f, &rd);
	/* The last chunk at the right offset installs it. */
	assert_int_equal(raft_step(f, &m), 0);
	raft_ready(f, &rd);
	assert_true(rd.has_snapshot);
	assert_int_equal(rd.snapshot.index, 100);
	assert_int_equal(rd.n_msgs_after_persist, 1);
	assert_int_equal(rd.msgs_after_persist[0].type, RAFT_MSG_APP_RESP);
	assert_int_equal(rd.msgs_after_persist[0].index, 100);
	assert_true(rd.hard_state_changed);
	assert_int_equal(rd.hard_state.commit, 100);
	raft_advance(f, &rd);
	struct raft_status st = tc_status(&c, 2);
	assert_int_equal(st.applied, 100);
	assert_int_equal(st.first_index, 101);
	/* An old snapshot is answered with our commit, not installed. */
	m.snap_index = 50;
	m.snap_offset = 0;
	assert_int_equal(raft_step(f, &m), 0);
	raft_ready(f, &rd);
	assert_false(rd.has_snapshot);
	assert_int_equal(rd.n_msgs_after_persist, 1);
	assert_int_equal(rd.msgs_after_persist[0].index, 100);
	raft_advance(f, &rd);
	tc_drop_all(&c);
	tc_close(&c);
}

/* A late chunk of an older snapshot (the leader compacted again meanwhile)
 * retags the host's staging file; the core must agree and restart too, or it
 * would install a file missing its first chunk.  (Found by the simulator,
 * seed 767.) */
static void test_snapshot_stale_chunk_restarts_transfer(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 2, 2, NULL);
	tc_elect(&c, 1);
	struct raft *f = tc_raft(&c, 2);
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_SNAP;
	m.from = 1;
	m.to = 2;
	m.term = tc_status(&c, 1).term;
	m.snap_term = m.term;
	m.snap_conf.n_voters = 2;
	m.snap_conf.voters[0] = 1;
	m.snap_conf.voters[1] = 2;
	m.snap_len = 10;
	m.snap_index = 100; /* new snapshot, first chunk */
	assert_int_equal(raft_step(f, &m), 0);
	m.snap_index = 90; /* old snapshot, second chunk: retags staging */
	m.snap_offset = 10;
	assert_int_equal(raft_step(f, &m), 0);
	m.snap_index = 100; /* new snapshot, last chunk: staging lacks chunk 0 */
	m.snap_last = 1;
	assert_int_equal(raft_step(f, &m), 0);
	struct raft_ready rd;
	raft_ready(f, &rd);
	assert_false(rd.has_snapshot);
	assert_int_equal(rd.n_msgs, 3);
	assert_int_equal(rd.msgs[0].snap_offset, 10);
	assert_true(rd.msgs[1].reject);
	assert_int_equal(rd.msgs[1].snap_offset, 0);
	assert_true(rd.msgs[2].reject);
	assert_int_equal(rd.msgs[2].snap_offset, 0);
	raft_advance(f, &rd);
	tc_drop_all(&c);
	tc_close(&c);
}

/* A brand-new node joining after compaction starts from a snapshot. */
static void test_new_learner_catches_up_by_snapshot(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	fill(&c, l, 20);
	for (uint64_t id = 1; id <= 3; id++)
		tc_compact(&c, id);
	uint64_t n = tc_add_empty(&c, NULL);
	uint64_t idx = 0;
	assert_int_equal(
	    raft_propose_conf_change(tc_raft(&c, l), RAFT_CC_ADD_LEARNER, n, "addr", 4, &idx), 0);
	tc_tick_all(&c, 30);
	struct raft_status ns = tc_status(&c, n);
	assert_int_equal(tc_node(&c, n)->n_snap_installed, 1);
	assert_true(ns.is_learner);
	assert_int_equal(ns.applied, tc_status(&c, l).commit);
	assert_memory_equal(tc_node(&c, n)->disk.state, tc_node(&c, l)->disk.state,
	                    tc_node(&c, l)->disk.state_len);
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compact_keeps_term_and_refuses_bad_index),
	    cmocka_unit_test(test_snapshot_to_lagging_follower),
	    cmocka_unit_test(test_snapshot_chunk_offsets),
	    cmocka_unit_test(test_snapshot_stale_chunk_restarts_transfer),
	    cmocka_unit_test(test_new_learner_catches_up_by_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
