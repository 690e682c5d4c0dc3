/* Directed tests: garbage from peers and bad API input never crash the core
 * and change nothing; a seeded fuzz loop throws random messages at a live
 * cluster. */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_raft_harness.h"

static struct raft_msg msg(uint8_t type, uint64_t from, uint64_t to, uint64_t term)
{
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = type;
	m.from = from;
	m.to = to;
	m.term = term;
	return m;
}

static void test_malformed_messages_rejected(void **state)
{
	(void)state;
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	tc_elect(&c, 1);
	uint64_t idx = tc_propose(&c, 1, "base");
	tc_stabilize(&c);
	struct raft *f = tc_raft(&c, 2), *l = tc_raft(&c, 1);
	struct raft_status before = tc_status(&c, 2);
	uint64_t t = before.term;
	struct raft_msg m;

	assert_int_equal(raft_step(f, NULL), RAFT_EINVAL);
	m = msg(0, 1, 2, t);
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(99, 1, 2, t);
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(255, 1, 2, t);
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(RAFT_MSG_APP, 0, 2, t);
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(RAFT_MSG_APP, 2, 2, t); /* from self */
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(RAFT_MSG_APP, 1, 3, t); /* not for us */
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(RAFT_MSG_HEARTBEAT, 1, 2, 0);
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(RAFT_MSG_APP, 1, 2, t);
	m.log_term = t + 1; /* term of an entry above the message's term */
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);

	/* Entries: huge count with no array, inconsistent entries. */
	m = msg(RAFT_MSG_APP, 1, 2, t);
	m.index = idx;
	m.log_term = t;
	m.n_entries = 1000000;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m.n_entries = 2;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	struct raft_entry e[2] = {
	    {.term = t, .index = idx + 1, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = "a"},
	    {.term = t, .index = idx + 3, .type = RAFT_ENTRY_NORMAL, .len = 1, .data = "b"},
	};
	m.entries = e;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* gap */
	e[1].index = idx + 2;
	e[1].term = t - 1;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* term goes down */
	e[1].term = t + 5;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* above message term */
	e[1].term = t;
	e[1].data = NULL;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* len without data */
	e[1].data = "b";
	e[1].type = 77;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	e[1].type = RAFT_ENTRY_NORMAL;
	e[1].len = RAFT_MAX_ENTRY_BYTES + 1;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	e[1].len = 1;
	m.entries = NULL;
	m.type = RAFT_MSG_HEARTBEAT; /* entries on a non-APP */
	m.entries = e;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m = msg(RAFT_MSG_APP, 1, 2, t);
	m.index = UINT64_MAX;
	m.n_entries = 1;
	e[0].index = 0;
	m.entries = e;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* index overflow */

	/* Nothing changed on the follower. */
	struct raft_status after = tc_status(&c, 2);
	assert_int_equal(after.term, before.term);
	assert_int_equal(after.last_index, before.last_index);
	assert_int_equal(after.commit, before.commit);
	assert_int_equal(after.leader, 1);

	/* Rewriting a committed entry is refused. */
	m = msg(RAFT_MSG_APP, 1, 2, t);
	m.index = idx - 1;
	m.log_term = tc_status(&c, 2).last_term;
	struct raft_entry ow = {
	    .term = t, .index = idx, .type = RAFT_ENTRY_NORMAL, .len = 2, .data = "zz"};
	/* idx - 1 < commit: answered with our commit, nothing rewritten. */
	m.entries = &ow;
	m.n_entries = 1;
	assert_int_equal(raft_step(f, &m), 0);
	assert_int_equal(tc_status(&c, 2).last_index, idx);

	/* A leader gets an APP in its own term: impossible, refused. */
	m = msg(RAFT_MSG_APP, 2, 1, t);
	assert_int_equal(raft_step(l, &m), RAFT_EINVAL);
	/* Acks for indexes it never had. */
	m = msg(RAFT_MSG_APP_RESP, 2, 1, t);
	m.index = UINT64_MAX;
	assert_int_equal(raft_step(l, &m), RAFT_EINVAL);
	/* Responses from nodes outside the configuration are ignored. */
	m = msg(RAFT_MSG_APP_RESP, 9, 1, t);
	m.index = 1;
	assert_int_equal(raft_step(l, &m), 0);
	m = msg(RAFT_MSG_HEARTBEAT_RESP, 9, 1, t);
	m.seq = UINT64_MAX;
	assert_int_equal(raft_step(l, &m), 0);
	m = msg(RAFT_MSG_SNAP_RESP, 9, 1, t);
	assert_int_equal(raft_step(l, &m), 0);

	/* Snapshot metadata garbage. */
	m = msg(RAFT_MSG_SNAP, 1, 2, t);
	m.snap_index = 1000;
	m.snap_term = t;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* no voters */
	m.snap_conf.n_voters = 200;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m.snap_conf.n_voters = 2;
	m.snap_conf.voters[0] = 1;
	m.snap_conf.voters[1] = 1;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* duplicate */
	m.snap_conf.voters[1] = 0;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* id 0 */
	m.snap_conf.voters[1] = 2;
	m.snap_len = RAFT_SNAP_CHUNK + 1;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m.snap_len = 10;
	m.snap_offset = UINT64_MAX - 5;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m.snap_offset = 0;
	m.snap_term = t + 1;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m.snap_term = 0;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL);
	m.snap_term = t;
	m.snap_len = 0;
	assert_int_equal(raft_step(f, &m), RAFT_EINVAL); /* empty middle chunk */

	/* Well-formed but odd: answered, not crashed. */
	m = msg(RAFT_MSG_APP, 1, 2, t);
	m.index = 1000000; /* beyond our log */
	m.log_term = t;
	assert_int_equal(raft_step(f, &m), 0);
	m = msg(RAFT_MSG_HEARTBEAT, 1, 2, t);
	m.commit = UINT64_MAX;
	assert_int_equal(raft_step(f, &m), 0);
	assert_int_equal(tc_status(&c, 2).commit, idx);
	m = msg(RAFT_MSG_READ_INDEX_RESP, 1, 2, t);
	m.index = UINT64_MAX;
	assert_int_equal(raft_step(f, &m), 0);
	m = msg(RAFT_MSG_VOTE_RESP, 3, 2, t);
	assert_int_equal(raft_step(f, &m), 0);
	m = msg(RAFT_MSG_VOTE, 9, 2, t); /* unknown candidate, same term */
	assert_int_equal(raft_step(f, &m), 0);

	/* The cluster still works. */
	tc_drop_all(&c);
	uint64_t idx2 = tc_propose(&c, 1, "still-fine");
	tc_tick_all(&c, 3);
	assert_int_equal(tc_status(&c, 2).applied, idx2);
	assert_int_equal(tc_status(&c, 3).applied, idx2);
	assert_int_equal(tc_leader(&c), 1);
	tc_close(&c);
}

static void test_bad_api_input(void **state)
{
	(void)state;
	struct raft *r = NULL;
	struct raft_config cfg = tc_config(1);
	cfg.id = 0;
	assert_int_equal(raft_new(&cfg, &r), RAFT_EINVAL);
	cfg = tc_config(1);
	cfg.heartbeat_tick = 10;
	cfg.election_tick = 10;
	assert_int_equal(raft_new(&cfg, &r), RAFT_EINVAL);
	cfg = tc_config(1);
	cfg.max_inflight = RAFT_MAX_INFLIGHT + 1;
	assert_int_equal(raft_new(&cfg, &r), RAFT_EINVAL);
	cfg = tc_config(1);
	assert_int_equal(raft_new(&cfg, &r), 0);

	struct raft_conf conf;
	memset(&conf, 0, sizeof conf);
	assert_int_equal(raft_bootstrap(r, &conf), RAFT_EINVAL); /* no voters */
	conf.n_voters = 1;
	conf.voters[0] = 2;
	assert_int_equal(raft_bootstrap(r, &conf), RAFT_EINVAL); /* not us */
	conf.n_voters = 2;
	conf.voters[0] = 1;
	conf.voters[1] = 1;
	assert_int_equal(raft_bootstrap(r, &conf), RAFT_EINVAL);

	/* Restore: inconsistent persisted state is refused. */
	struct raft_hard_state hs = {.term = 2, .vote = 0, .commit = 5};
	struct raft_entry e[2] = {
	    {.term = 1, .index = 1, .type = RAFT_ENTRY_NOOP},
	    {.term = 3, .index = 2, .type = RAFT_ENTRY_NOOP},
	};
	assert_int_equal(raft_restore(r, &hs, NULL, e, 2, 0), RAFT_EINVAL); /* term > hs */
	hs.term = 3;
	assert_int_equal(raft_restore(r, &hs, NULL, e, 2, 0), RAFT_EINVAL); /* commit > last */
	hs.commit = 2;
	assert_int_equal(raft_restore(r, &hs, NULL, e, 2, 3), RAFT_EINVAL); /* applied > commit */
	e[1].index = 3;
	assert_int_equal(raft_restore(r, &hs, NULL, e, 2, 0), RAFT_EINVAL); /* gap */
	e[1].index = 2;
	assert_int_equal(raft_restore(r, &hs, NULL, e, 2, 2), 0);
	assert_int_equal(raft_restore(r, &hs, NULL, e, 2, 2), RAFT_ESTATE);
	conf.n_voters = 1;
	assert_int_equal(raft_bootstrap(r, &conf), RAFT_ESTATE);
	/* Not a member of any configuration: it waits, it does not campaign. */
	assert_int_equal(raft_campaign(r), RAFT_ESTATE);
	assert_int_equal(raft_propose(r, "x", 1, NULL, NULL), RAFT_ENOTLEADER);
	assert_int_equal(raft_transfer_leader(r, 2), RAFT_ENOTLEADER);
	assert_int_equal(raft_compact(r, 0, NULL), RAFT_ECOMPACTED);
	assert_int_equal(raft_compact(r, 3, NULL), RAFT_EINVAL);
	raft_report_unreachable(r, 5);
	for (int i = 0; i < 100; i++)
		raft_tick(r);
	struct raft_status st;
	raft_status(r, &st);
	assert_int_equal(st.term, 3);
	assert_int_equal(st.role, RAFT_FOLLOWER);
	raft_free(r);
	raft_free(NULL);

	/* Names never return NULL. */
	assert_string_equal(raft_msg_type_name(RAFT_MSG_APP), "APP");
	assert_string_equal(raft_msg_type_name(-1), "UNKNOWN");
	assert_string_equal(raft_msg_type_name(1000), "UNKNOWN");
	assert_string_equal(raft_role_name(RAFT_LEADER), "leader");
	assert_string_equal(raft_strerror(RAFT_EBUSY),
	                    "a configuration change or leadership transfer is pending");
	assert_string_equal(raft_strerror(-12345), "unknown raft error");
	assert_non_null(raft_entry_type_name(9));
	assert_non_null(raft_cc_type_name(9));
	assert_non_null(raft_progress_state_name(9));
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Seeded fuzz: random, mostly plausible messages into a live cluster.  The
 * only requirements: no crash, no sanitizer report, valid return codes. */
static void fuzz_round(uint64_t seed);

static void test_random_garbage_never_crashes(void **state)
{
	(void)state;
	for (uint64_t seed0 = 1; seed0 <= 8; seed0++)
		fuzz_round(seed0 * 0x9a7ba9e5ull);
}

static void fuzz_round(uint64_t seed)
{
	struct tcluster c;
	tc_init(&c, 3, 3, NULL);
	c.no_history_check = true; /* forged leaders can make histories differ */
	struct raft_entry ents[4];
	char data[4][8] = {"a", "bb", "ccc", "dddd"};
	for (int round = 0; round < 10000; round++) {
		uint64_t to = 1 + rnd(&seed) % 3;
		struct raft_msg m;
		memset(&m, 0, sizeof m);
		uint64_t term = tc_status(&c, to).term;
		m.type = (uint8_t)(rnd(&seed) % (RAFT_MSG_TYPE_MAX_ + 1));
		m.from = rnd(&seed) % 8 ? 1 + rnd(&seed) % 3 : rnd(&seed) % 5;
		m.to = rnd(&seed) % 8 ? to : rnd(&seed) % 5;
		m.term = rnd(&seed) % 64 ? term + rnd(&seed) % 3 - 1 : rnd(&seed);
		m.index = rnd(&seed) % 4 ? rnd(&seed) % 40 : rnd(&seed);
		m.log_term = rnd(&seed) % 4 ? rnd(&seed) % (m.term + 1) : rnd(&seed);
		m.commit = rnd(&seed) % 4 ? rnd(&seed) % 40 : rnd(&seed);
		m.reject = rnd(&seed) % 2;
		m.reject_hint = rnd(&seed) % 50;
		m.reject_hint_term = rnd(&seed) % 5;
		m.seq = rnd(&seed) % 100;
		m.context = rnd(&seed);
		m.transfer = rnd(&seed) % 8 == 0;
		if (m.type == RAFT_MSG_APP && rnd(&seed) % 2) {
			m.n_entries = 1 + rnd(&seed) % 4;
			uint64_t tt = m.log_term;
			for (uint32_t i = 0; i < m.n_entries; i++) {
				if (rnd(&seed) % 3 == 0 && tt < m.term)
					tt++;
				ents[i] = (struct raft_entry){
				    .term = rnd(&seed) % 16 ? tt : rnd(&seed),
				    .index = m.index + 1 + i + (rnd(&seed) % 16 == 0),
				    .type = (uint8_t)(rnd(&seed) % 5),
				    .len = (uint32_t)strlen(data[i]),
				    .data = data[i]};
			}
			m.entries = ents;
		}
		if (m.type == RAFT_MSG_SNAP || m.type == RAFT_MSG_SNAP_RESP) {
			m.snap_index = rnd(&seed) % 60;
			m.snap_term = rnd(&seed) % (m.term + 2);
			m.snap_offset = rnd(&seed) % 3 ? (rnd(&seed) % 4) * 64 : rnd(&seed);
			m.snap_len = (uint32_t)(rnd(&seed) % 100);
			m.snap_last = rnd(&seed) % 4 == 0;
			m.snap_conf.n_voters = (uint32_t)(rnd(&seed) % 4);
			for (uint32_t i = 0; i < m.snap_conf.n_voters; i++)
				m.snap_conf.voters[i] = 1 + i;
			static const uint8_t zeros[100];
			m.snap_data = zeros;
		}
		int rc = raft_step(tc_raft(&c, to), &m);
		assert_true(rc == 0 || rc == RAFT_EINVAL);
		/* One hop at a time: forged messages can fork even committed
		 * history, and two forked nodes may then argue forever (a livelock
		 * that only forgery can cause); only crashes matter here. */
		switch (rnd(&seed) % 8) {
		case 0:
			for (uint64_t id = 1; id <= 3; id++)
				raft_tick(tc_raft(&c, id));
			break;
		case 1: {
			uint64_t l = tc_leader(&c);
			if (l)
				raft_propose(tc_raft(&c, l), "p", 1, NULL, NULL);
			break;
		}
		case 2:
		case 3:
			tc_deliver_once(&c);
			break;
		default:
			break;
		}
		/* The harness installs snapshots from staged chunks: forged
		 * snapshots have no real bytes behind them, which is fine. */
	}
	tc_drop_all(&c);
	tc_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_malformed_messages_rejected),
	    cmocka_unit_test(test_bad_api_input),
	    cmocka_unit_test(test_random_garbage_never_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
