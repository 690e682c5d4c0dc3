/* Directed tests: ReadIndex on the leader and through a follower. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_raft_harness.h"

static void test_read_index_on_leader(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t idx = tc_propose(&c, 1, "w");
	tc_stabilize(&c);
	uint64_t hb = c.sent[RAFT_MSG_HEARTBEAT];
	assert_int_equal(raft_read_index(tc_raft(&c, 1), 42), 0);
	/* Nothing before a quorum confirmed leadership. */
	tc_process(&c, 1);
	assert_int_equal(tc_node(&c, 1)->n_reads, 0);
	assert_true(c.sent[RAFT_MSG_HEARTBEAT] >= hb + 2);
	tc_stabilize(&c);
	struct tnode *n1 = tc_node(&c, 1);
	assert_int_equal(n1->n_reads, 1);
	assert_int_equal(n1->reads[0].ctx, 42);
	assert_int_equal(n1->reads[0].index, idx);
	tc_close(&c);
}

static bool drop_hb_resp(struct tcluster *c, struct raft_msg *m, void *arg)
{
	(void)c;
	(void)arg;
	return m->type != RAFT_MSG_HEARTBEAT_RESP;
}

/* A leader cut off from the others never confirms a read; when it steps down
 * the read is failed (index 0) instead of hanging. */
static void test_read_index_needs_quorum(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	c.filter = drop_hb_resp;
	assert_int_equal(raft_read_index(tc_raft(&c, 1), 7), 0);
	tc_stabilize(&c);
	assert_int_equal(tc_node(&c, 1)->n_reads, 0);
	c.filter = NULL;
	tc_isolate(&c, 1);
	tc_tick(&c, 1, 25); /* check-quorum: step down */
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).role, RAFT_FOLLOWER);
	assert_int_equal(tc_node(&c, 1)->n_reads, 1);
	assert_int_equal(tc_node(&c, 1)->reads[0].ctx, 7);
	assert_int_equal(tc_node(&c, 1)->reads[0].index, 0);
	tc_close(&c);
}

static void test_read_index_via_follower(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t idx = tc_propose(&c, 1, "w");
	tc_stabilize(&c);
	assert_int_equal(raft_read_index(tc_raft(&c, 2), 99), 0);
	tc_stabilize(&c);
	struct tnode *n2 = tc_node(&c, 2);
	assert_int_equal(n2->n_reads, 1);
	assert_int_equal(n2->reads[0].ctx, 99);
	assert_int_equal(n2->reads[0].index, idx);
	assert_int_equal(tc_node(&c, 1)->n_reads, 0);
	/* Learners can read too. */
	tc_close(&c);
	tc_init(&c, 3, 2, NULL);
	tc_elect(&c, 1);
	assert_int_equal(raft_read_index(tc_raft(&c, 3), 5), 0);
	tc_stabilize(&c);
	assert_int_equal(tc_node(&c, 3)->n_reads, 1);
	assert_true(tc_node(&c, 3)->reads[0].index >= 2);
	tc_close(&c);
}

static void test_read_index_without_leader(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	assert_int_equal(raft_read_index(tc_raft(&c, 2), 1), RAFT_ENOLEADER);
	tc_close(&c);
}

static bool strip_noop(struct tcluster *c, struct raft_msg *m, void *arg)
{
	(void)c;
	(void)arg;
	if (m->type == RAFT_MSG_APP)
		m->n_entries = 0;
	return true;
}

/* A new leader answers reads only after committing its no-op: before that
 * its commit index may be behind what was already acknowledged. */
static void test_read_index_waits_for_commit_in_term(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	c.filter = strip_noop;
	tc_elect(&c, 1);
	assert_int_equal(tc_status(&c, 1).commit, 1);
	assert_int_equal(raft_read_index(tc_raft(&c, 1), 3), 0);
	tc_tick_all(&c, 3);
	assert_int_equal(tc_node(&c, 1)->n_reads, 0);
	c.filter = NULL;
	tc_tick_all(&c, 2);
	assert_int_equal(tc_node(&c, 1)->n_reads, 1);
	assert_int_equal(tc_node(&c, 1)->reads[0].index, 2);
	tc_close(&c);
}

static void test_read_index_single_node_and_limit(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 1, 1, NULL);
	tc_elect(&c, 1);
	for (uint64_t i = 0; i < 10; i++)
		assert_int_equal(raft_read_index(tc_raft(&c, 1), i), 0);
	tc_stabilize(&c);
	assert_int_equal(tc_node(&c, 1)->n_reads, 10);
	for (uint64_t i = 0; i < 10; i++) {
		assert_int_equal(tc_node(&c, 1)->reads[i].ctx, i);
		assert_int_equal(tc_node(&c, 1)->reads[i].index, 2);
	}
	tc_close(&c);
	/* The pending queue is bounded. */
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	tc_isolate(&c, 1);
	struct raft *r = tc_raft(&c, 1);
	for (uint64_t i = 0; i < RAFT_MAX_PENDING_READS; i++)
		assert_int_equal(raft_read_index(r, i), 0);
	assert_int_equal(raft_read_index(r, 0), RAFT_EAGAIN);
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_index_on_leader),
	    cmocka_unit_test(test_read_index_needs_quorum),
	    cmocka_unit_test(test_read_index_via_follower),
	    cmocka_unit_test(test_read_index_without_leader),
	    cmocka_unit_test(test_read_index_waits_for_commit_in_term),
	    cmocka_unit_test(test_read_index_single_node_and_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
