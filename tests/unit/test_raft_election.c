/* Directed tests: elections, pre-vote, check-quorum, the vote's log check. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "test_raft_harness.h"

static void test_single_node(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 1, 1, NULL);
	assert_int_equal(tc_wait_leader(&c), 1);
	uint64_t idx = tc_propose(&c, 1, "hello");
	tc_stabilize(&c);
	struct raft_status st = tc_status(&c, 1);
	assert_int_equal(st.commit, idx);
	assert_int_equal(st.applied, idx);
	assert_int_equal(tc_node(&c, 1)->disk.state_len, 5);
	assert_memory_equal(tc_node(&c, 1)->disk.state, "hello", 5);
	tc_close(&c);
}

static void test_election_prevote_checkquorum(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	struct raft_status ls = tc_status(&c, l);
	/* Bootstrap is term 1; pre-vote leaves no trace, so one real election. */
	assert_int_equal(ls.term, 2);
	for (uint64_t id = 1; id <= 3; id++) {
		struct raft_status st = tc_status(&c, id);
		assert_int_equal(st.term, 2);
		assert_int_equal(st.leader, l);
		assert_int_equal(st.role, id == l ? RAFT_LEADER : RAFT_FOLLOWER);
		/* The leader's no-op (index 2) is committed and applied everywhere. */
		assert_int_equal(st.commit, 2);
		assert_int_equal(st.applied, 2);
	}
	assert_true(c.sent[RAFT_MSG_PRE_VOTE] > 0);
	/* Steady state: heartbeats keep everyone in place. */
	tc_tick_all(&c, 50);
	assert_int_equal(tc_leader(&c), l);
	assert_int_equal(tc_status(&c, l).term, 2);
	assert_int_equal(c.step_errors, 0);
	tc_close(&c);
}

/* A follower cut off for a long time must not raise its term (pre-vote), and
 * when it comes back the healthy leader stays leader. */
static void test_partitioned_node_rejoins(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	uint64_t f = l == 3 ? 2 : 3;
	uint64_t term = tc_status(&c, l).term;
	tc_isolate(&c, f);
	tc_tick_all(&c, 100);
	struct raft_status fs = tc_status(&c, f);
	assert_int_equal(fs.term, term);
	assert_true(fs.role == RAFT_PRE_CANDIDATE || fs.role == RAFT_FOLLOWER);
	/* The majority kept committing meanwhile. */
	uint64_t idx = tc_propose(&c, l, "while-away");
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, l).commit, idx);
	tc_heal(&c);
	tc_tick_all(&c, 30);
	assert_int_equal(tc_leader(&c), l);
	assert_int_equal(tc_status(&c, l).term, term);
	fs = tc_status(&c, f);
	assert_int_equal(fs.role, RAFT_FOLLOWER);
	assert_int_equal(fs.leader, l);
	assert_int_equal(fs.applied, idx);
	tc_close(&c);
}

/* Contrast: without pre-vote the isolated node's term climbs and on return it
 * forces an election (what pre-vote prevents). */
static void test_without_prevote_term_climbs(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.pre_vote = false;
	cfg.check_quorum = false;
	struct tcluster c;
	tc_init(&c, 3, 3, &cfg);
	uint64_t l = tc_wait_leader(&c);
	uint64_t f = l == 3 ? 2 : 3;
	uint64_t term = tc_status(&c, l).term;
	tc_isolate(&c, f);
	tc_tick_all(&c, 100);
	assert_true(tc_status(&c, f).term > term + 2);
	tc_heal(&c);
	tc_tick_all(&c, 60);
	assert_true(tc_status(&c, tc_wait_leader(&c)).term > term);
	tc_close(&c);
}

/* A leader that cannot hear from a quorum steps down (check-quorum). */
static void test_leader_steps_down_without_quorum(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	tc_isolate(&c, l);
	/* Within two election timeouts it must notice. */
	tc_tick(&c, l, 20);
	tc_stabilize(&c);
	struct raft_status st = tc_status(&c, l);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	assert_int_equal(st.leader, 0);
	assert_int_equal(raft_propose(tc_raft(&c, l), "x", 1, NULL, NULL), RAFT_ENOTLEADER);
	/* The other two elect a new leader. */
	tc_tick_all(&c, 40);
	uint64_t nl = tc_leader(&c);
	assert_true(nl != 0 && nl != l);
	tc_close(&c);
}

/* Contrast: without check-quorum an isolated leader keeps believing. */
static void test_no_checkquorum_leader_stays(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.check_quorum = false;
	struct tcluster c;
	tc_init(&c, 3, 3, &cfg);
	uint64_t l = tc_wait_leader(&c);
	tc_isolate(&c, l);
	tc_tick(&c, l, 40);
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, l).role, RAFT_LEADER);
	tc_close(&c);
}

/* A stale leader is always told the newer term, even without pre-vote and
 * check-quorum: the node that moved on may never send it a vote request (its
 * configuration may not even name the stale leader).  (Found by the
 * simulator, seed 50016.) */
static void test_stale_leader_learns_newer_term(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.pre_vote = false;
	cfg.check_quorum = false;
	struct tcluster c;
	tc_init(&c, 3, 3, &cfg);
	tc_elect(&c, 1);
	uint64_t t = tc_status(&c, 1).term;
	/* 2 and 3 move on without 1 ever hearing a vote request. */
	tc_isolate(&c, 1);
	tc_elect(&c, 2);
	assert_int_equal(tc_status(&c, 1).role, RAFT_LEADER);
	assert_int_equal(tc_status(&c, 2).term, t + 1);
	tc_heal(&c);
	tc_cut(&c, 2, 1); /* only the stale leader's own traffic gets through */
	tc_tick(&c, 1, 1);
	tc_stabilize(&c);
	struct raft_status s1 = tc_status(&c, 1);
	assert_int_equal(s1.role, RAFT_FOLLOWER);
	assert_int_equal(s1.term, t + 1);
	tc_close(&c);
}

/* A candidate whose log lacks committed entries gets no vote (§5.4.1). */
static void test_vote_requires_up_to_date_log(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init_empty(&c, 3, NULL);
	uint64_t long_log[] = {2, 2, 2};
	uint64_t short_log[] = {2};
	tc_restore_log(&c, 1, 3, short_log, 1, 3, 0, 2);
	tc_restore_log(&c, 2, 3, long_log, 3, 3, 0, 4);
	tc_restore_log(&c, 3, 3, long_log, 3, 3, 0, 4);
	assert_int_equal(raft_campaign(tc_raft(&c, 1)), 0);
	tc_stabilize(&c);
	assert_int_not_equal(tc_status(&c, 1).role, RAFT_LEADER);
	assert_true(c.delivered[RAFT_MSG_PRE_VOTE_RESP] >= 2);
	/* Without pre-vote too: the real vote is refused and terms move on. */
	struct raft_config cfg = tc_config(1);
	cfg.pre_vote = false;
	tc_close(&c);
	tc_init_empty(&c, 3, &cfg);
	tc_restore_log(&c, 1, 3, short_log, 1, 3, 0, 2);
	tc_restore_log(&c, 2, 3, long_log, 3, 3, 0, 4);
	tc_restore_log(&c, 3, 3, long_log, 3, 3, 0, 4);
	assert_int_equal(raft_campaign(tc_raft(&c, 1)), 0);
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).term, 4);
	assert_int_not_equal(tc_status(&c, 1).role, RAFT_LEADER);
	/* A node with the full log wins. */
	tc_elect(&c, 2);
	tc_stabilize(&c);
	assert_int_equal(tc_status(&c, 1).last_index, 5);
	tc_close(&c);
}

/* Votes are promises: they leave only after the vote is persisted, and a
 * node that restarts remembers whom it voted for. */
static void test_vote_is_persisted_before_sent(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.pre_vote = false;
	struct tcluster c;
	tc_init(&c, 3, 3, &cfg);
	assert_int_equal(raft_campaign(tc_raft(&c, 1)), 0);
	tc_process(&c, 1);
	/* Deliver VOTE to 2, then crash 2 after it sent rd.msgs only. */
	c.cut[1][3] = true;
	tc_deliver_once(&c); /* delivers and processes: 2 persisted and replied */
	assert_int_equal(tc_node(&c, 2)->disk.hs.vote, 1);
	tc_crash(&c, 2);
	tc_restart(&c, 2);
	assert_int_equal(tc_status(&c, 2).vote, 1);
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_node),
	    cmocka_unit_test(test_election_prevote_checkquorum),
	    cmocka_unit_test(test_partitioned_node_rejoins),
	    cmocka_unit_test(test_without_prevote_term_climbs),
	    cmocka_unit_test(test_leader_steps_down_without_quorum),
	    cmocka_unit_test(test_no_checkquorum_leader_stays),
	    cmocka_unit_test(test_stale_leader_learns_newer_term),
	    cmocka_unit_test(test_vote_requires_up_to_date_log),
	    cmocka_unit_test(test_vote_is_persisted_before_sent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
