/* Directed tests: learners, single-server membership changes, leadership
 * transfer. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_raft_harness.h"

static int conf_change(struct tcluster *c, uint64_t l, uint8_t type, uint64_t node)
{
	uint64_t idx = 0;
	int rc = raft_propose_conf_change(tc_raft(c, l), type, node, NULL, 0, &idx);
	if (rc == 0)
		tc_stabilize(c);
	return rc;
}

/* A learner receives and applies entries, but neither counts toward commit
 * nor campaigns. */
static void test_learner_replicates_but_does_not_vote(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 2, NULL); /* 1, 2 voters; 3 learner */
	uint64_t l = tc_wait_leader(&c);
	assert_true(l == 1 || l == 2);
	struct raft_status s3 = tc_status(&c, 3);
	assert_true(s3.is_learner);
	assert_false(s3.is_voter);
	uint64_t idx = tc_propose(&c, l, "to-learner");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 3).applied, idx);
	/* With the other voter gone, leader + learner do not make a quorum. */
	uint64_t other = 3 - l;
	tc_isolate(&c, other);
	uint64_t idx2 = tc_propose(&c, l, "stuck");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 3).last_index, idx2);
	assert_true(tc_status(&c, l).commit < idx2);
	/* A learner never campaigns, however long it waits. */
	tc_heal(&c);
	tc_stabilize(&c);
	tc_isolate(&c, 3);
	uint64_t t3 = tc_status(&c, 3).term;
	uint64_t campaigns = c.sent[RAFT_MSG_PRE_VOTE] + c.sent[RAFT_MSG_VOTE];
	tc_tick_all(&c, 100);
	assert_int_equal(c.sent[RAFT_MSG_PRE_VOTE] + c.sent[RAFT_MSG_VOTE], campaigns);
	assert_int_equal(tc_status(&c, 3).term, t3);
	assert_int_equal(tc_status(&c, 3).role, RAFT_FOLLOWER);
	assert_int_equal(raft_campaign(tc_raft(&c, 3)), RAFT_ESTATE);
	/* A learner's vote does not count: voter + learner cannot elect. */
	tc_heal(&c);
	tc_stabilize(&c);
	uint64_t v = tc_leader(&c);
	uint64_t w = 3 - v;
	tc_crash(&c, w);
	tc_tick_all(&c, 100);
	assert_int_equal(tc_leader(&c), 0);
	assert_true(c.delivered[RAFT_MSG_PRE_VOTE] > 0);
	tc_restart(&c, w);
	tc_tick_all(&c, 60);
	assert_true(tc_leader(&c) == 1 || tc_leader(&c) == 2);
	tc_close(&c);
}

static void test_add_and_promote_learner(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	uint64_t n = tc_add_empty(&c, NULL);
	assert_int_equal(conf_change(&c, l, RAFT_CC_ADD_LEARNER, n), 0);
	tc_tick_all(&c, 5);
	struct raft_status ns = tc_status(&c, n);
	assert_true(ns.is_learner);
	assert_int_equal(ns.applied, tc_status(&c, l).commit);
	assert_int_equal(ns.conf.n_voters, 3);
	assert_int_equal(ns.conf.n_learners, 1);
	/* Invalid changes are refused up front. */
	assert_int_equal(conf_change(&c, l, RAFT_CC_ADD_LEARNER, n), RAFT_EINVAL);
	assert_int_equal(conf_change(&c, l, RAFT_CC_PROMOTE, l), RAFT_EINVAL);
	assert_int_equal(conf_change(&c, l, 99, n), RAFT_EINVAL);
	assert_int_equal(conf_change(&c, l, RAFT_CC_REMOVE, 77), RAFT_EINVAL);
	/* Promote: now a voter everywhere, and quorum is 3 of 4. */
	assert_int_equal(conf_change(&c, l, RAFT_CC_PROMOTE, n), 0);
	for (uint64_t id = 1; id <= n; id++) {
		struct raft_status st = tc_status(&c, id);
		assert_int_equal(st.conf.n_voters, 4);
		assert_int_equal(st.conf.n_learners, 0);
	}
	assert_true(tc_status(&c, n).is_voter);
	/* Two voters down (of 4): no commit.  One back: commit. */
	uint64_t a = l == 1 ? 2 : 1, b = l == 3 ? 2 : 3;
	if (b == a)
		b = 6 - l - a;
	tc_isolate(&c, a);
	tc_isolate(&c, b);
	uint64_t idx = tc_propose(&c, l, "q");
	tc_stabilize(&c);
	assert_true(tc_status(&c, l).commit < idx);
	tc_heal(&c);
	tc_isolate(&c, a);
	tc_tick_all(&c, 3);
	assert_int_equal(tc_status(&c, l).commit, idx);
	assert_int_equal(tc_status(&c, n).applied, idx);
	/* The promoted node can now be elected. */
	tc_heal(&c);
	tc_tick_all(&c, 3);
	assert_int_equal(raft_transfer_leader(tc_raft(&c, l), n), 0);
	tc_tick_all(&c, 3);
	assert_int_equal(tc_leader(&c), n);
	tc_close(&c);
}

/* One change at a time: a second proposal while one is uncommitted is busy. */
static void test_one_conf_change_at_a_time(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t n = tc_add_empty(&c, NULL);
	tc_isolate(&c, 2);
	tc_isolate(&c, 3);
	uint64_t idx;
	assert_int_equal(
	    raft_propose_conf_change(tc_raft(&c, 1), RAFT_CC_ADD_LEARNER, n, NULL, 0, &idx), 0);
	tc_stabilize(&c);
	/* Takes effect on append, before commit. */
	assert_int_equal(tc_status(&c, 1).conf.n_learners, 1);
	assert_int_equal(raft_propose_conf_change(tc_raft(&c, 1), RAFT_CC_REMOVE, 3, NULL, 0, NULL),
	                 RAFT_EBUSY);
	tc_heal(&c);
	tc_tick_all(&c, 3);
	assert_true(tc_status(&c, 1).commit >= idx);
	assert_int_equal(raft_propose_conf_change(tc_raft(&c, 1), RAFT_CC_REMOVE, n, NULL, 0, NULL),
	                 0);
	/* Not on followers. */
	assert_int_equal(raft_propose_conf_change(tc_raft(&c, 2), RAFT_CC_REMOVE, n, NULL, 0, NULL),
	                 RAFT_ENOTLEADER);
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 2).conf.n_learners, 0);
	/* The change entry is decodable by the host. */
	tc_close(&c);
}

static void test_remove_follower(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	assert_int_equal(conf_change(&c, 1, RAFT_CC_REMOVE, 3), 0);
	tc_tick_all(&c, 2);
	struct raft_status st = tc_status(&c, 1);
	assert_int_equal(st.conf.n_voters, 2);
	assert_false(raft_conf_is_voter(&st.conf, 3));
	assert_int_equal(st.n_progress, 2);
	/* Node 3 gone for good: 1 and 2 still commit. */
	tc_crash(&c, 3);
	uint64_t idx = tc_propose(&c, 1, "two-left");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 2).applied, idx);
	/* The last voter cannot be removed or demoted. */
	assert_int_equal(conf_change(&c, 1, RAFT_CC_REMOVE, 2), 0);
	tc_tick_all(&c, 2);
	assert_int_equal(conf_change(&c, 1, RAFT_CC_REMOVE, 1), RAFT_EINVAL);
	assert_int_equal(conf_change(&c, 1, RAFT_CC_DEMOTE, 1), RAFT_EINVAL);
	tc_close(&c);
}

/* A leader that removes itself leads until the change commits, then hands
 * over and steps down; it never campaigns again. */
static void test_remove_leader(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t t = tc_status(&c, 1).term;
	assert_int_equal(conf_change(&c, 1, RAFT_CC_REMOVE, 1), 0);
	tc_tick_all(&c, 30);
	uint64_t nl = tc_leader(&c);
	assert_true(nl == 2 || nl == 3);
	assert_true(tc_status(&c, nl).term > t);
	struct raft_status s1 = tc_status(&c, 1);
	assert_int_equal(s1.role, RAFT_FOLLOWER);
	assert_false(s1.is_voter);
	assert_int_equal(tc_status(&c, nl).conf.n_voters, 2);
	uint64_t idx = tc_propose(&c, nl, "after-removal");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 5 - nl).applied, idx);
	tc_close(&c);
}

static void test_demote_voter(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	assert_int_equal(conf_change(&c, 1, RAFT_CC_DEMOTE, 2), 0);
	struct raft_status s2 = tc_status(&c, 2);
	assert_true(s2.is_learner);
	assert_int_equal(s2.conf.n_voters, 2);
	/* 1 and 3 are the quorum now: 2 alone is not needed. */
	tc_isolate(&c, 2);
	uint64_t idx = tc_propose(&c, 1, "x");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).commit, idx);
	tc_close(&c);
}

/* Thesis §4.2.2: a node demoted by an uncommitted change may hold the only
 * up-to-date log; it must still campaign (without counting its own vote) or
 * the cluster deadlocks.  (Found by the simulator, seed 129.) */
static void test_demoted_by_uncommitted_change_still_campaigns(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 2, 2, NULL);
	tc_elect(&c, 1);
	tc_propose(&c, 1, "base");
	tc_stabilize(&c);
	tc_isolate(&c, 1);
	uint64_t idx = 0;
	assert_int_equal(raft_propose_conf_change(tc_raft(&c, 1), RAFT_CC_DEMOTE, 1, NULL, 0, &idx),
	                 0);
	tc_propose(&c, 1, "ahead");
	tc_stabilize(&c);
	struct raft_status s1 = tc_status(&c, 1);
	assert_true(s1.is_learner); /* in its own latest configuration */
	assert_true(s1.commit < idx);
	tc_tick_all(&c, 30); /* 1 steps down (check-quorum), 2 cannot win alone */
	assert_int_equal(tc_leader(&c), 0);
	tc_heal(&c);
	tc_tick_all(&c, 100);
	uint64_t l = tc_leader(&c);
	assert_int_equal(l, 2);
	struct raft_status s2 = tc_status(&c, 2);
	assert_true(s2.commit >= idx + 1); /* the demotion and "ahead" survived */
	assert_int_equal(s2.conf.n_voters, 1);
	assert_true(raft_conf_is_learner(&s2.conf, 1));
	uint64_t more = tc_propose(&c, 2, "after");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).applied, more);
	tc_close(&c);
}

static void test_transfer_leadership(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t t = tc_status(&c, 1).term;
	assert_int_equal(raft_transfer_leader(tc_raft(&c, 1), 1), RAFT_EINVAL);
	assert_int_equal(raft_transfer_leader(tc_raft(&c, 2), 3), RAFT_ENOTLEADER);
	assert_int_equal(raft_transfer_leader(tc_raft(&c, 1), 2), 0);
	tc_stabilize(&c);
	assert_int_equal(tc_leader(&c), 2);
	assert_int_equal(tc_status(&c, 2).term, t + 1);
	assert_int_equal(tc_status(&c, 1).role, RAFT_FOLLOWER);
	assert_int_equal(tc_status(&c, 1).leader, 2);
	tc_close(&c);
}

/* Transfer to a node that lags: the leader first brings it up to date,
 * refusing proposals meanwhile. */
static void test_transfer_to_lagging_node(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	tc_cut(&c, 1, 3);
	uint64_t last = 0;
	for (int i = 0; i < 10; i++)
		last = tc_propose(&c, 1, "lag");
	tc_stabilize(&c);
	assert_true(tc_status(&c, 3).last_index < last);
	assert_int_equal(raft_transfer_leader(tc_raft(&c, 1), 3), 0);
	assert_int_equal(raft_propose(tc_raft(&c, 1), "no", 2, NULL, NULL), RAFT_EBUSY);
	assert_int_equal(raft_transfer_leader(tc_raft(&c, 1), 2), RAFT_EBUSY);
	tc_stabilize(&c);
	assert_int_equal(c.sent[RAFT_MSG_TIMEOUT_NOW], 0);
	tc_heal(&c);
	tc_tick_all(&c, 3);
	assert_int_equal(c.sent[RAFT_MSG_TIMEOUT_NOW], 1);
	assert_int_equal(tc_leader(&c), 3);
	struct raft_status s3 = tc_status(&c, 3);
	assert_true(s3.last_index > last);
	assert_true(s3.commit > last);
	tc_close(&c);
}

/* A transfer to an unreachable node gives up after an election timeout and
 * the old leader accepts proposals again. */
static void test_transfer_aborts(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	tc_isolate(&c, 3);
	assert_int_equal(raft_transfer_leader(tc_raft(&c, 1), 3), 0);
	assert_int_equal(tc_status(&c, 1).transferee, 3);
	tc_tick(&c, 1, 10);
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).transferee, 0);
	assert_int_equal(tc_status(&c, 1).role, RAFT_LEADER);
	tc_propose(&c, 1, "ok-again");
	tc_close(&c);
}

static void test_conf_change_entry_decodes(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 1, 1, NULL);
	tc_elect(&c, 1);
	uint64_t idx = 0;
	assert_int_equal(raft_propose_conf_change(tc_raft(&c, 1), RAFT_CC_ADD_LEARNER, 9,
	                                          "tcp://x:7400", 12, &idx),
	                 0);
	tc_stabilize(&c);
	struct tentry *e = NULL;
	struct tdisk *d = &tc_node(&c, 1)->disk;
	for (size_t i = 0; i < d->n; i++)
		if (d->ents[i].index == idx)
			e = &d->ents[i];
	assert_non_null(e);
	assert_int_equal(e->type, RAFT_ENTRY_CONF_CHANGE);
	struct raft_conf_change cc;
	assert_int_equal(raft_conf_change_decode(e->data, e->len, &cc), 0);
	assert_int_equal(cc.type, RAFT_CC_ADD_LEARNER);
	assert_int_equal(cc.node, 9);
	assert_int_equal(cc.ctx_len, 12);
	assert_memory_equal(cc.ctx, "tcp://x:7400", 12);
	assert_int_equal(raft_conf_change_decode(e->data, 5, &cc), RAFT_EINVAL);
	/* The bootstrap entry decodes to the initial configuration. */
	struct raft_conf conf;
	assert_int_equal(d->ents[0].type, RAFT_ENTRY_CONF);
	assert_int_equal(raft_conf_decode(d->ents[0].data, d->ents[0].len, &conf), 0);
	assert_int_equal(conf.n_voters, 1);
	assert_int_equal(conf.voters[0], 1);
	assert_int_equal(raft_conf_decode(d->ents[0].data, d->ents[0].len - 1, &conf), RAFT_EINVAL);
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_learner_replicates_but_does_not_vote),
	    cmocka_unit_test(test_add_and_promote_learner),
	    cmocka_unit_test(test_one_conf_change_at_a_time),
	    cmocka_unit_test(test_remove_follower),
	    cmocka_unit_test(test_remove_leader),
	    cmocka_unit_test(test_demote_voter),
	    cmocka_unit_test(test_demoted_by_uncommitted_change_still_campaigns),
	    cmocka_unit_test(test_transfer_leadership),
	    cmocka_unit_test(test_transfer_to_lagging_node),
	    cmocka_unit_test(test_transfer_aborts),
	    cmocka_unit_test(test_conf_change_entry_decodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
