/* sim: deterministic cluster simulator for the pure Raft core (tests only).
 *
 * Owns: a simulated cluster (nodes hosting `struct raft`, a network, per-node
 * disks, a clock), a scenario derived from one seed, and the invariant checker.
 * Everything is driven by one event queue ordered by (time, sequence): the
 * same seed gives the same run and the same trace, byte for byte.  No wall
 * clock, no threads.
 *
 * Files: rng.c (PRNG), trace.c (event ring), cluster.c (network, disk, host
 * cycle), checker.c (invariants), driver.c (scenario, phases), main.c (CLI).
 */
#ifndef QFS_SIM_H
#define QFS_SIM_H

#include "raft/raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_NODES 8u
#define SIM_TICK 16u          /* simulated time units per raft tick */
#define SIM_TRACE_LINES 2000u /* last events kept for a violation report */
#define SIM_TRACE_WIDTH 240u
#define SIM_SNAP_MAX_CHUNKS 64u
#define SIM_MAX_READS 64u /* outstanding read-index requests per node */
#define SIM_MAX_PAYLOAD 512u
#define SIM_MAX_BACKLOG 64u /* uncommitted entries a leader may hold before clients wait */

_Static_assert(SIM_MAX_NODES <= RAFT_MAX_NODES, "cluster bigger than a configuration");
_Static_assert(SIM_SNAP_MAX_CHUNKS <= 64u, "staging bitmap is 64-bit");

/* ---------------------------------------------------------------- rng.c */

struct sim_rng {
	uint64_t s[4];
};

uint64_t sim_splitmix64(uint64_t *state);
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
uint64_t sim_rng_below(struct sim_rng *r, uint64_t n);               /* [0, n) */
uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi); /* [lo, hi] */
bool sim_rng_ppm(struct sim_rng *r, uint32_t ppm);                   /* P = ppm/1e6 */
uint64_t sim_rng_pick(struct sim_rng *r, const uint32_t *v, size_t n);
uint64_t sim_rng_core(void *ctx); /* raft_config.rand; ctx is a struct sim_rng */
uint64_t sim_fnv(uint64_t h, const void *p, size_t n);
void *sim_xrealloc(void *p, size_t n); /* aborts when out of memory */
#define SIM_FNV_INIT 1469598103934665603ull

/* ---------------------------------------------------------------- scenario */

struct sim_scenario {
	uint32_t profile; /* 0: general, 1: leader churn (figure 8 hunting) */
	uint32_t n_voters, n_learners, n_joiners, n_nodes;
	struct raft_config cfg; /* id/rand filled per node */
	/* network (time units; SIM_TICK per tick) */
	uint32_t delay_min, delay_max;
	uint32_t long_delay_ppm, long_delay_max;
	uint32_t loss_ppm, dup_ppm;
	/* disks */
	uint32_t disk_slow_ppm, disk_delay_max;
	uint32_t sm_sync_ppm; /* chance the state machine is synced at an apply batch */
	/* faults, per tick */
	uint32_t crash_ppm, crash_leader_ppm, restart_ppm;
	uint32_t partition_ppm, heal_ppm;
	/* workload, per tick */
	uint32_t propose_ppm, propose_burst, read_ppm, conf_ppm, transfer_ppm;
	uint32_t compact_ppm, campaign_ppm;
	uint32_t depose_ppm, depose_max; /* per new leader; within depose_max units */
	uint32_t snap_pad, payload_max;
	/* phases */
	uint32_t safety_ticks, liveness_ticks;
};

void sim_scenario_gen(struct sim_rng *r, struct sim_scenario *sc, int force_profile);

/* ---------------------------------------------------------------- storage */

struct sim_ent {
	uint64_t term;
	uint64_t fp; /* fingerprint of type + data */
	uint8_t type;
	uint32_t len;
	uint8_t *data; /* owned */
};

/* Entries snap_index+1 .. snap_index+n. */
struct sim_log {
	uint64_t snap_index, snap_term;
	struct sim_ent *v;
	size_t n, cap;
};

/* State machine: one record per applied index (v[i-1] is index i). */
struct sim_rec {
	uint64_t term;
	uint64_t fp;
	uint8_t type;
};
struct sim_sm {
	struct sim_rec *v;
	size_t n, cap;
};

struct sim_msg {
	struct raft_msg m; /* entries / data / snap_data point into this allocation */
	uint64_t id;       /* network sequence number, for the trace */
};

#define SIM_STAGING_FILES 4u
struct sim_staging {
	uint64_t index, term; /* 0: empty */
	uint64_t used;        /* for eviction of the least recently written */
	uint8_t *buf;
	size_t len, cap;
	uint64_t chunks; /* bitmap of received chunks */
	size_t total;    /* known once the last chunk arrived, else 0 */
};

struct sim_read {
	uint64_t ctx;
	uint64_t need;    /* highest acknowledged write index when issued */
	uint64_t need_id; /* that proposal */
	uint64_t index;   /* released read index (0: not yet) */
};

struct sim_inbox_item {
	struct sim_msg *msg; /* NULL: a tick */
};

struct sim_node {
	uint64_t id;
	bool up, retired, initial_member;
	uint64_t incarnation;
	struct raft *r;
	struct sim_rng core_rng;

	/* durable */
	struct raft_hard_state dhs;
	struct sim_log dlog;
	struct raft_conf dsnap_conf;
	uint8_t *dsnap; /* snapshot file for dlog.snap_index, NULL if none */
	size_t dsnap_len;
	uint64_t dapplied;

	/* volatile */
	struct sim_sm sm;
	bool in_ready; /* between raft_ready and raft_advance (disk busy) */
	struct raft_ready rd;
	struct sim_inbox_item *inbox;
	size_t n_inbox, cap_inbox;
	struct sim_staging staging[SIM_STAGING_FILES]; /* one file per (index, term) */
	uint64_t staging_clock;
	struct sim_read reads[SIM_MAX_READS];
	uint32_t n_reads;
	uint64_t unreachable; /* peers to report after advance (bit = index) */

	/* checker bookkeeping */
	struct raft_status st; /* after the last step */
	uint64_t last_commit, last_applied, last_term;
	uint64_t commit_seen;    /* commit indexes up to here were recorded */
	uint64_t leader_checked; /* term whose leader completeness was checked */
};

/* ---------------------------------------------------------------- events */

enum sim_ev_kind {
	SIM_EV_DRIVER = 0,
	SIM_EV_TICK = 1,
	SIM_EV_DELIVER = 2,
	SIM_EV_DISK = 3,
	SIM_EV_DEPOSE = 4, /* cut a new leader off soon after its election (gen = term) */
};

struct sim_event {
	uint64_t time, seq;
	uint8_t kind, node;
	uint64_t gen;
	struct sim_msg *msg;
};

struct sim_heap {
	struct sim_event *v;
	size_t n, cap;
};

/* ---------------------------------------------------------------- checker */

struct sim_committed {
	uint64_t term, fp, commit_term;
	uint8_t type, set;
};

struct sim_gent { /* one (index, term) ever written to any log */
	uint64_t index, term, fp, prev_term;
	uint8_t type, used;
};

struct sim_proposal {
	uint64_t node, incarnation, index, term;
	uint64_t committed_index; /* where it was applied first (0: not yet) */
	bool acked;
	bool liveness;
};

/* ---------------------------------------------------------------- sim */

enum sim_phase { SIM_SAFETY = 0, SIM_LIVENESS = 1, SIM_DONE = 2 };

struct sim_stats {
	uint64_t steps, ticks, msgs_sent, msgs_delivered, msgs_dropped, readies, crashes, restarts,
	    partitions, proposals, proposals_ok, reads_ok, conf_ok, transfers_ok, compactions,
	    snapshots_installed, step_errors, elections, max_term, max_commit, skipped_busy;
};

struct sim {
	uint64_t seed;
	struct sim_rng rng;
	struct sim_scenario sc;
	struct raft_conf conf0;
	bool verbose;
	bool check_ack_durable; /* invariant 7 (can be turned off to study a bug's effect) */
	bool self_conf_changes; /* the leader may demote/remove itself */
	bool check_commit_rule; /* optional invariant 9 (diagnostics) */
	unsigned trace_lines;

	uint64_t now, seq, msg_ids;
	enum sim_phase phase;
	uint64_t liveness_start, liveness_end, next_liveness_propose;
	bool converged;

	struct sim_node nodes[SIM_MAX_NODES];
	uint32_t n_nodes;
	bool link[SIM_MAX_NODES][SIM_MAX_NODES];
	struct sim_heap heap;

	/* checker state */
	struct sim_committed *committed;
	size_t n_committed, cap_committed;
	struct sim_gent *g;
	size_t n_g, cap_g;
	uint64_t *term_leader;
	size_t cap_term_leader;
	struct sim_proposal *props; /* props[id], id >= 1 */
	size_t n_props, cap_props;
	uint64_t max_acked_index, max_acked_id;
	uint64_t next_read_ctx;

	/* violation */
	bool violated;
	char violation[512];

	/* trace ring */
	char (*trace)[SIM_TRACE_WIDTH];
	uint64_t n_trace;

	struct sim_stats stats;
	uint8_t payload[SIM_MAX_PAYLOAD];
};

/* sim lifecycle (driver.c) */
struct sim_opts {
	bool verbose;
	bool check_ack_durable;
	bool self_conf_changes;
	bool check_commit_rule;
	int profile;          /* -1: drawn from the seed */
	unsigned trace_lines; /* events printed with a violation report */
};
void sim_init(struct sim *s, uint64_t seed, const struct sim_opts *o);
int sim_run(struct sim *s); /* 0 ok, 1 violation */
void sim_destroy(struct sim *s);
void sim_report(struct sim *s, FILE *f); /* seed, invariant, trace, node states */

/* trace.c */
void sim_trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_trace_dump(const struct sim *s, FILE *f, unsigned last);
const char *sim_fmt_msg(char *buf, size_t cap, const struct raft_msg *m);
void sim_fail(struct sim *s, const char *inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cluster.c */
void sim_cluster_init(struct sim *s);
void sim_cluster_free(struct sim *s);
void sim_node_start(struct sim *s, struct sim_node *n);
void sim_node_crash(struct sim *s, struct sim_node *n, const char *why);
void sim_node_pump(struct sim *s, struct sim_node *n);
void sim_handle_event(struct sim *s, struct sim_event *ev);
void sim_on_new_leader(struct sim *s, struct sim_node *n);
void sim_heap_push(struct sim *s, struct sim_event ev);
bool sim_heap_pop(struct sim *s, struct sim_event *out);
struct sim_msg *sim_msg_clone(const struct raft_msg *m, const void *snap_data, uint32_t snap_len);
void sim_msg_free(struct sim_msg *m);
void sim_net_deliver(struct sim *s, struct sim_msg *c, unsigned to);
void sim_node_tick(struct sim *s, struct sim_node *n);
void sim_node_disk_done(struct sim *s, struct sim_node *n, uint64_t gen);
bool sim_node_compact(struct sim *s, struct sim_node *n, uint64_t idx);
bool sim_payload_valid(const struct sim *s, const void *data, uint32_t len);
size_t sim_payload(struct sim *s, uint64_t id); /* fills s->payload, returns length */
bool sim_payload_id(const void *data, uint32_t len, uint64_t *id);
uint64_t sim_entry_fp(uint8_t type, const void *data, uint32_t len);
uint64_t sim_log_last(const struct sim_log *l);
bool sim_log_term(const struct sim_log *l, uint64_t idx, uint64_t *term);
const struct sim_ent *sim_log_get(const struct sim_log *l, uint64_t idx);
struct sim_node *sim_node_by_id(struct sim *s, uint64_t id);
void sim_status_all(struct sim *s);

/* checker.c */
enum sim_view { SIM_VIEW_ABSENT = 0, SIM_VIEW_ENTRY = 1, SIM_VIEW_SNAP = 2 };
enum sim_view sim_view_entry(const struct sim_node *n, uint64_t idx, uint64_t *term, uint64_t *fp);
void sim_check_ready(struct sim *s, struct sim_node *n);
void sim_check_msg_out(struct sim *s, struct sim_node *n, const struct raft_msg *m);
void sim_check_committed(struct sim *s, struct sim_node *n, uint64_t idx, uint64_t term,
                         uint64_t fp, uint8_t type, uint64_t commit_term, const char *how);
void sim_check_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e);
void sim_check_snapshot_records(struct sim *s, struct sim_node *n, const struct sim_rec *v,
                                size_t cnt, uint64_t snap_term);
void sim_check_read_released(struct sim *s, struct sim_node *n, struct sim_read *rd);
void sim_check_reads_served(struct sim *s, struct sim_node *n);
void sim_check_step(struct sim *s);
void sim_checker_free(struct sim *s);

#endif
