/* Directed tests: log replication, the commit rule, fast back-off,
 * pipelining limits, persistence before acknowledgement. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "test_raft_harness.h"

static void test_replicate_and_apply_everywhere(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	char buf[32];
	uint64_t last = 0;
	for (int i = 0; i < 20; i++) {
		snprintf(buf, sizeof buf, "v%02d;", i);
		last = tc_propose(&c, l, buf);
	}
	tc_stabilize(&c);
	for (uint64_t id = 1; id <= 3; id++) {
		struct raft_status st = tc_status(&c, id);
		assert_int_equal(st.commit, last);
		assert_int_equal(st.applied, last);
		assert_int_equal(tc_node(&c, id)->n_applied_normal, 20);
		assert_int_equal(tc_node(&c, id)->disk.state_len, 80);
	}
	/* Proposals on followers are refused: the host forwards them. */
	uint64_t f = l == 1 ? 2 : 1;
	assert_int_equal(raft_propose(tc_raft(&c, f), "x", 1, NULL, NULL), RAFT_ENOTLEADER);
	assert_int_equal(c.step_errors, 0);
	tc_close(&c);
}

/* Strips entries with index >= limit from APPs: they are "lost". */
static bool strip_from(struct tcluster *c, struct raft_msg *m, void *arg)
{
	(void)c;
	uint64_t limit = *(uint64_t *)arg;
	if (m->type == RAFT_MSG_APP) {
		while (m->n_entries > 0 && m->entries[m->n_entries - 1].index >= limit)
			m->n_entries--;
	}
	return true;
}

/* Raft §5.4.2 / figure 8: a new leader replicating an entry of an older term
 * to a majority must not commit it by counting; only its own term's entry
 * commits it (indirectly). */
static void test_figure8_no_commit_by_counting_old_term(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.max_msg_entries = 1;
	struct tcluster c;
	tc_init_empty(&c, 3, &cfg);
	/* Node 1 holds entry 2 from term 2 that was never committed. */
	uint64_t s1[] = {2};
	tc_restore_log(&c, 1, 3, s1, 1, 3, 0, 1);
	tc_restore_log(&c, 2, 3, NULL, 0, 3, 0, 1);
	tc_restore_log(&c, 3, 3, NULL, 0, 3, 0, 1);
	/* Entries from index 3 (the new leader's no-op, term 4) are lost. */
	uint64_t limit = 3;
	c.filter = strip_from;
	c.filter_arg = &limit;
	tc_elect(&c, 1);
	tc_tick_all(&c, 5);
	struct raft_status st = tc_status(&c, 1);
	assert_int_equal(st.term, 4);
	assert_int_equal(st.last_index, 3);
	/* Both followers now hold entry 2 (term 2): a majority of 3 ... */
	assert_int_equal(tc_status(&c, 2).last_index, 2);
	assert_int_equal(tc_status(&c, 3).last_index, 2);
	bool both_matched = true;
	for (uint32_t i = 0; i < st.n_progress; i++)
		if (st.progress[i].id != 1 && st.progress[i].match != 2)
			both_matched = false;
	assert_true(both_matched);
	/* ... yet it is not committed. */
	for (uint64_t id = 1; id <= 3; id++)
		assert_int_equal(tc_status(&c, id).commit, 1);
	/* Once the term-4 entry replicates, both commit together. */
	c.filter = NULL;
	tc_tick_all(&c, 3);
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(tc_status(&c, id).commit, 3);
		assert_int_equal(tc_status(&c, id).applied, 3);
	}
	tc_close(&c);
}

static bool count_rejects(struct tcluster *c, struct raft_msg *m, void *arg)
{
	(void)c;
	if (m->type == RAFT_MSG_APP_RESP && m->reject)
		(*(int *)arg)++;
	return true;
}

/* A follower with a long conflicting suffix is repaired in a few round trips
 * (fast back-off by term), and its conflicting entries are truncated. */
static void test_conflicting_log_truncated_fast_backoff(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init_empty(&c, 3, NULL);
	uint64_t good[12], bad[40];
	for (int i = 0; i < 12; i++)
		good[i] = i < 3 ? 2 : 5; /* index 2..4 term 2, 5..13 term 5 */
	for (int i = 0; i < 40; i++)
		bad[i] = i < 3 ? 2 : 3; /* index 2..4 term 2, 5..41 term 3 */
	tc_restore_log(&c, 1, 3, good, 12, 5, 0, 4);
	tc_restore_log(&c, 2, 3, good, 12, 5, 0, 4);
	tc_restore_log(&c, 3, 3, bad, 40, 5, 0, 4);
	int rejects = 0;
	c.filter = count_rejects;
	c.filter_arg = &rejects;
	tc_elect(&c, 1);
	tc_tick_all(&c, 3);
	/* Naive back-off would need ~37 rejections. */
	assert_true(rejects >= 1);
	assert_true(rejects <= 3);
	struct raft_status l = tc_status(&c, 1), f = tc_status(&c, 3);
	assert_int_equal(f.last_index, l.last_index);
	assert_int_equal(f.last_term, l.last_term);
	assert_int_equal(f.commit, l.commit);
	/* The follower's disk holds exactly the leader's entries. */
	struct tdisk *d1 = &tc_node(&c, 1)->disk, *d3 = &tc_node(&c, 3)->disk;
	assert_int_equal(d1->n, d3->n);
	for (size_t i = 0; i < d1->n; i++) {
		assert_int_equal(d1->ents[i].term, d3->ents[i].term);
		assert_int_equal(d1->ents[i].len, d3->ents[i].len);
	}
	assert_int_equal(c.step_errors, 0);
	tc_close(&c);
}

static bool drop_app_to(struct tcluster *c, struct raft_msg *m, void *arg)
{
	(void)c;
	uint64_t *to = arg;
	if (m->type == RAFT_MSG_APP && m->to == to[0] && m->n_entries > 0) {
		to[1]++;
		return false;
	}
	return true;
}

/* Pipelining: at most max_inflight unacknowledged APPs per peer; lost ones
 * are recovered through heartbeats and probing. */
static void test_pipelining_respects_inflight_limit(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.max_inflight = 3;
	cfg.max_msg_entries = 1;
	struct tcluster c;
	tc_init(&c, 3, 3, &cfg);
	uint64_t l = tc_wait_leader(&c);
	uint64_t f = l == 1 ? 2 : 1;
	uint64_t arg[2] = {f, 0};
	c.filter = drop_app_to;
	c.filter_arg = arg;
	uint64_t last = 0;
	for (int i = 0; i < 10; i++)
		last = tc_propose(&c, l, "p");
	tc_stabilize(&c);
	/* Ten single-entry APPs were due, only three left for f. */
	assert_int_equal(arg[1], 3);
	struct raft_status st = tc_status(&c, l);
	for (uint32_t i = 0; i < st.n_progress; i++) {
		if (st.progress[i].id == f) {
			assert_int_equal(st.progress[i].state, RAFT_PROGRESS_REPLICATE);
			assert_int_equal(st.progress[i].inflight, 3);
		}
	}
	/* The other follower got everything: the majority committed. */
	assert_int_equal(st.commit, last);
	c.filter = NULL;
	tc_tick_all(&c, 10);
	assert_int_equal(tc_status(&c, f).applied, last);
	tc_close(&c);
}

/* Entry size limit per APP: large entries go one per message. */
static void test_msg_bytes_limit(void **state)
{
	(void)state;
	struct raft_config cfg = tc_config(0);
	cfg.max_msg_bytes = 100;
	struct tcluster c;
	tc_init(&c, 2, 2, &cfg);
	tc_elect(&c, 1);
	char big[81];
	memset(big, 'b', 80);
	big[80] = 0;
	uint64_t before = c.sent[RAFT_MSG_APP];
	uint64_t last = 0;
	for (int i = 0; i < 4; i++)
		last = tc_propose(&c, 1, big);
	tc_stabilize(&c);
	assert_true(c.sent[RAFT_MSG_APP] - before >= 4);
	assert_int_equal(tc_status(&c, 2).applied, last);
	assert_int_equal(raft_propose(tc_raft(&c, 1), big, RAFT_MAX_ENTRY_BYTES + 1, NULL, NULL),
	                 RAFT_ETOOBIG);
	tc_close(&c);
}

/* An acknowledgement is a promise about durable state: a follower that
 * crashes before persisting must not have acked, so nothing commits. */
static void test_no_ack_before_persist(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t commit0 = tc_status(&c, 1).commit;
	uint64_t idx = tc_propose(&c, 1, "must-not-commit");
	tc_process(&c, 1);
	/* Deliver the APPs, then both followers crash right after sending
	 * their pre-persist messages. */
	tc_deliver_no_process(&c);
	tc_process_crash_before_persist(&c, 2);
	tc_process_crash_before_persist(&c, 3);
	tc_stabilize(&c);
	struct raft_status st = tc_status(&c, 1);
	assert_int_equal(st.commit, commit0);
	assert_true(st.commit < idx);
	/* They come back without the entry; after replication it commits. */
	tc_restart(&c, 2);
	tc_restart(&c, 3);
	assert_int_equal(tc_status(&c, 2).last_index, idx - 1);
	tc_tick_all(&c, 5);
	assert_int_equal(tc_status(&c, 1).commit, idx);
	tc_close(&c);
}

/* An ack still queued when a newer leader truncates those entries must not
 * go out: it would promise entries that are never persisted.  (Found by the
 * simulator, seeds 9759 and 11451.) */
static void test_queued_ack_dropped_on_truncation(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init_empty(&c, 3, NULL);
	tc_restore_log(&c, 2, 3, NULL, 0, 4, 0, 1);
	struct raft *f = tc_raft(&c, 2);
	struct raft_entry old[3], neu[1];
	for (int i = 0; i < 3; i++)
		old[i] = (struct raft_entry){
		    .term = 5, .index = 2 + i, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = "o"};
	neu[0] = (struct raft_entry){
	    .term = 6, .index = 2, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = "n"};
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_APP;
	m.from = 1;
	m.to = 2;
	m.term = 5;
	m.index = 1;
	m.log_term = 1;
	m.commit = 1;
	m.entries = old;
	m.n_entries = 3;
	assert_int_equal(raft_step(f, &m), 0); /* ack for 4 queued, not sent */
	m.from = 3;
	m.term = 6;
	m.entries = neu;
	m.n_entries = 1;
	assert_int_equal(raft_step(f, &m), 0); /* truncates 2..4 */
	struct raft_ready rd;
	raft_ready(f, &rd);
	assert_int_equal(rd.n_entries, 1);
	assert_int_equal(rd.entries[0].term, 6);
	size_t acks = 0;
	for (size_t i = 0; i < rd.n_msgs + rd.n_msgs_after_persist; i++) {
		const struct raft_msg *o =
		    i < rd.n_msgs ? &rd.msgs[i] : &rd.msgs_after_persist[i - rd.n_msgs];
		if (o->type != RAFT_MSG_APP_RESP || o->reject)
			continue;
		acks++;
		assert_int_equal(o->to, 3);
		assert_int_equal(o->index, 2);
	}
	assert_int_equal(acks, 1);
	raft_advance(f, &rd);
	tc_close(&c);
}

/* Crash and restart everything: committed entries survive and apply once. */
static void test_restart_all_keeps_committed(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	uint64_t l = tc_wait_leader(&c);
	uint64_t last = 0;
	for (int i = 0; i < 5; i++)
		last = tc_propose(&c, l, "k");
	tc_stabilize(&c);
	for (uint64_t id = 1; id <= 3; id++)
		tc_crash(&c, id);
	for (uint64_t id = 1; id <= 3; id++) {
		tc_restart(&c, id);
		struct raft_status st = tc_status(&c, id);
		assert_int_equal(st.commit, last);
		assert_int_equal(st.applied, last);
	}
	l = tc_wait_leader(&c);
	uint64_t more = tc_propose(&c, l, "after");
	tc_stabilize(&c);
	for (uint64_t id = 1; id <= 3; id++) {
		assert_int_equal(tc_status(&c, id).applied, more);
		assert_int_equal(tc_node(&c, id)->disk.state_len, 5 + 5);
	}
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_replicate_and_apply_everywhere),
	    cmocka_unit_test(test_figure8_no_commit_by_counting_old_term),
	    cmocka_unit_test(test_conflicting_log_truncated_fast_backoff),
	    cmocka_unit_test(test_pipelining_respects_inflight_limit),
	    cmocka_unit_test(test_msg_bytes_limit),
	    cmocka_unit_test(test_no_ack_before_persist),
	    cmocka_unit_test(test_queued_ack_dropped_on_truncation),
	    cmocka_unit_test(test_restart_all_keeps_committed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
