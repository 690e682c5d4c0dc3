/* A tiny in-test Raft cluster: nodes with a simulated disk and state machine,
 * a FIFO network with cuts and a filter, all driven by hand.  Every applied
 * entry is checked against a cluster-wide history (State Machine Safety). */
#ifndef TEST_RAFT_HARNESS_H
#define TEST_RAFT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define TC_MAX 8
#define TC_MAX_READS 64

struct tentry {
	uint64_t term, index;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
};

/* What survives a crash. */
struct tdisk {
	struct raft_hard_state hs;
	struct raft_snapshot_meta snap;
	uint8_t *snap_data;
	size_t snap_len;
	struct tentry *ents; /* after snap.index */
	size_t n, cap;
	uint64_t applied;
	uint8_t *state; /* state machine: applied NORMAL data, concatenated */
	size_t state_len;
};

struct tnode {
	uint64_t id;
	struct raft *r;
	bool up;
	struct raft_config cfg;
	struct tdisk disk;
	uint64_t stg_index, stg_term; /* snapshot staging "file" */
	uint8_t *stg;
	size_t stg_len;
	struct raft_read_state reads[TC_MAX_READS];
	size_t n_reads;
	size_t n_applied_normal;
	size_t n_snap_installed;
};

struct tmsg {
	struct raft_msg m;
	struct raft_entry *ents;
	uint32_t n_ents; /* as sent: filters may shorten m.n_entries */
	uint8_t *snap;
};

struct tcluster;
/* Called for every message about to be delivered; false drops it.  May edit m
 * (e.g. shorten n_entries). */
typedef bool (*tc_filter_fn)(struct tcluster *c, struct raft_msg *m, void *arg);

struct thist {
	bool set;
	uint64_t term;
	uint8_t type;
	uint32_t len;
	uint8_t *data;
};

struct tcluster {
	size_t n;
	struct tnode nodes[TC_MAX];
	struct tmsg *q;
	size_t qn, qcap, qhead;
	bool cut[TC_MAX + 1][TC_MAX + 1];
	tc_filter_fn filter;
	void *filter_arg;
	size_t snap_chunk;
	uint64_t sent[RAFT_MSG_TYPE_MAX_];      /* emitted by cores */
	uint64_t delivered[RAFT_MSG_TYPE_MAX_]; /* stepped into cores */
	bool no_history_check;                  /* fuzzing: forged messages may fork histories */
	uint64_t step_errors;
	int last_step_error;
	struct thist *hist;
	size_t hist_cap;
};

/* Default config for node `id`: election 10, heartbeat 1, pre-vote and
 * check-quorum on, deterministic seed. */
struct raft_config tc_config(uint64_t id);

/* n nodes with ids 1..n; the first n_voters are voters, the rest learners;
 * all bootstrapped with that configuration.  tmpl (optional) overrides the
 * config of every node (id is set per node). */
void tc_init(struct tcluster *c, size_t n, size_t n_voters, const struct raft_config *tmpl);
/* n empty nodes (no bootstrap): for restore-based scenarios and joiners. */
void tc_init_empty(struct tcluster *c, size_t n, const struct raft_config *tmpl);
/* Adds one empty node (id n+1) to a running cluster; returns its id. */
uint64_t tc_add_empty(struct tcluster *c, const struct raft_config *tmpl);
void tc_close(struct tcluster *c);

struct tnode *tc_node(struct tcluster *c, uint64_t id);
struct raft *tc_raft(struct tcluster *c, uint64_t id);

/* Builds a log: index 1 = CONF(voters 1..n_voters) at term 1, then one NORMAL
 * entry per terms[i] (index i+2).  Writes it to node id's disk with the given
 * hard state and restores the core from it. */
void tc_restore_log(struct tcluster *c, uint64_t id, size_t n_voters, const uint64_t *terms,
                    size_t n_terms, uint64_t term, uint64_t vote, uint64_t commit);

/* Handles every pending ready of node id (persist, send, apply, advance). */
void tc_process(struct tcluster *c, uint64_t id);
/* Like tc_process but crashes right after sending rd.msgs, before persisting. */
void tc_process_crash_before_persist(struct tcluster *c, uint64_t id);
/* Delivers messages and processes readies until nothing moves. */
void tc_stabilize(struct tcluster *c);
/* Delivers only the messages queued now (one hop), processing readies. */
void tc_deliver_once(struct tcluster *c);
/* Delivers the messages queued now without processing any ready. */
void tc_deliver_no_process(struct tcluster *c);
/* Drops every message in flight. */
void tc_drop_all(struct tcluster *c);
size_t tc_in_flight(const struct tcluster *c);

void tc_tick(struct tcluster *c, uint64_t id, int n);
/* n rounds of: tick every up node once, then stabilize. */
void tc_tick_all(struct tcluster *c, int n);
/* The up node that is leader with the highest term, 0 if none. */
uint64_t tc_leader(struct tcluster *c);
/* Ticks until some node leads (asserting within a bound); returns it. */
uint64_t tc_wait_leader(struct tcluster *c);
/* Forces node id to campaign and stabilizes; asserts it won. */
void tc_elect(struct tcluster *c, uint64_t id);

void tc_isolate(struct tcluster *c, uint64_t id);
void tc_cut(struct tcluster *c, uint64_t a, uint64_t b);
void tc_heal(struct tcluster *c);

void tc_crash(struct tcluster *c, uint64_t id);
void tc_restart(struct tcluster *c, uint64_t id);

/* Proposes "data" on node id (must lead); returns the entry index. */
uint64_t tc_propose(struct tcluster *c, uint64_t id, const char *data);
/* Takes a snapshot at node id's applied index and compacts. */
void tc_compact(struct tcluster *c, uint64_t id);

struct raft_status tc_status(struct tcluster *c, uint64_t id);

#endif
