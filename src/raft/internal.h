/* raft internals: the instance struct and the functions the files share.
 * Not part of the API: hosts and the simulator use raft.h only. */
#ifndef QFS_RAFT_INTERNAL_H
#define QFS_RAFT_INTERNAL_H

#include "raft/raft.h"

/* Always-on invariant check (release builds too): a broken invariant means a
 * replica may diverge, so stopping beats continuing. */
void raft_assert_fail_(const char *expr, const char *file, int line);
#define RAFT_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			raft_assert_fail_(#cond, __FILE__, __LINE__);                              \
	} while (0)

/* ---------------------------------------------------------------- log (log.c) */

/* Entries (snap_index, last] in memory, each owning its data.  Storage is one
 * contiguous array so a range can be handed out as a pointer. */
struct raft_log {
	struct raft_entry *ents;
	size_t off; /* ents[off] has index snap_index + 1 */
	size_t n;
	size_t cap;
	uint64_t snap_index;
	uint64_t snap_term;
	uint64_t stable; /* entries <= stable are persisted */
};

void log_init(struct raft_log *l);
void log_close(struct raft_log *l);
uint64_t log_first(const struct raft_log *l);
uint64_t log_last(const struct raft_log *l);
uint64_t log_last_term(const struct raft_log *l);
/* Term of entry i; false when i is compacted away or beyond the log. */
bool log_term(const struct raft_log *l, uint64_t i, uint64_t *term);
/* Term of i or 0 when unknown: for "does it match" comparisons. */
uint64_t log_term_or0(const struct raft_log *l, uint64_t i);
const struct raft_entry *log_get(const struct raft_log *l, uint64_t i);
/* Appends copies of ents (ents[0].index == last + 1).  All-or-nothing. */
int log_append(struct raft_log *l, const struct raft_entry *ents, size_t n);
/* Drops entries >= from (from > snap_index). */
void log_truncate(struct raft_log *l, uint64_t from);
/* Drops entries <= index (index in (snap_index, last]). */
void log_compact(struct raft_log *l, uint64_t index);
/* Empties the log and restarts it after (index, term). */
void log_reset(struct raft_log *l, uint64_t index, uint64_t term);
/* Largest index <= i whose term is <= term (fast back-off); at least snap_index. */
uint64_t log_find_conflict_by_term(const struct raft_log *l, uint64_t i, uint64_t term);
/* Is (index, term) at least as up to date as our last entry? */
bool log_up_to_date(const struct raft_log *l, uint64_t index, uint64_t term);
/* Validates a host- or peer-provided entry's own fields. */
bool entry_valid(const struct raft_entry *e);

/* ---------------------------------------------------------------- conf (conf.c) */

void conf_normalize(struct raft_conf *c);
/* Applies a CONF or CONF_CHANGE entry to c; invalid ones change nothing
 * (deterministically on every replica).  Returns true when c changed. */
bool conf_apply_entry(struct raft_conf *c, const struct raft_entry *e);
/* Would `type` on `node` be valid for c? 0 or RAFT_EINVAL. */
int conf_change_check(const struct raft_conf *c, uint8_t type, uint64_t node);
int conf_change_encode(uint8_t type, uint64_t node, const void *ctx, uint32_t ctx_len, uint8_t *buf,
                       size_t cap);
uint32_t conf_quorum(const struct raft_conf *c);

/* ---------------------------------------------------------------- progress */

struct raft_progress {
	uint64_t id;
	uint64_t match;
	uint64_t next;
	uint8_t state;
	bool is_learner;
	bool probe_sent;     /* PROBE: one APP out, wait for an answer */
	bool recent_active;  /* heard from during this check-quorum window */
	uint32_t infl_start; /* ring of last indexes of APPs in flight */
	uint32_t infl_count;
	uint64_t infl[RAFT_MAX_INFLIGHT];
	uint64_t snap_index;  /* SNAPSHOT: snapshot being sent */
	uint64_t snap_offset; /* SNAPSHOT: next chunk offset */
	bool snap_inflight;
	uint32_t snap_wait; /* ticks since the chunk in flight was sent */
	uint64_t read_seq;  /* highest heartbeat round acknowledged */
};

/* ---------------------------------------------------------------- queues */

struct raft_msgq {
	struct raft_msg *v;
	size_t n;
	size_t cap;
};

struct raft_read_req {
	uint64_t ctx;
	uint64_t from;  /* requester; our id for local requests */
	uint64_t index; /* 0 until the leader committed in its term */
	uint64_t seq;   /* heartbeat round that confirms it; 0 while waiting */
};

/* ---------------------------------------------------------------- instance */

struct raft {
	/* configuration (immutable after raft_new) */
	uint64_t id;
	uint32_t election_tick;
	uint32_t heartbeat_tick;
	bool pre_vote;
	bool check_quorum;
	uint32_t max_inflight;
	uint32_t max_msg_entries;
	uint32_t max_msg_bytes;
	uint64_t max_uncommitted_bytes;
	uint64_t (*rand)(void *);
	void *rand_ctx;
	uint64_t rng; /* private splitmix64 state when rand is NULL */

	/* hard state */
	uint64_t term;
	uint64_t vote;
	uint64_t commit;

	struct raft_log log;
	uint64_t applied;
	struct raft_snapshot_meta snap; /* current compaction point */

	/* configuration: latest in the log */
	struct raft_conf conf;
	uint64_t conf_index;

	/* soft state */
	uint8_t role;
	uint64_t lead;
	uint32_t election_elapsed;
	uint32_t heartbeat_elapsed;
	uint32_t randomized_timeout;

	/* candidates: votes from voters (ids and outcome) */
	uint32_t n_votes;
	uint64_t vote_from[RAFT_MAX_NODES];
	bool vote_granted[RAFT_MAX_NODES];

	/* leaders */
	uint32_t n_prs;
	struct raft_progress prs[RAFT_MAX_NODES];
	uint64_t transferee;
	uint64_t uncommitted_bytes;
	uint64_t term_start_index; /* index of this leader's no-op */
	bool bcast_pending;        /* new entries to send at the next ready */
	uint64_t hb_seq;
	bool hb_pending; /* a heartbeat round for read-index is due at the next ready */
	uint32_t n_reads;
	struct raft_read_req reads[RAFT_MAX_PENDING_READS];

	/* followers: snapshot being received */
	bool recv_active;
	uint64_t recv_index;
	uint64_t recv_term;
	uint64_t recv_next;
	bool snap_pending; /* install r->snap at the next ready */

	/* outputs */
	struct raft_msgq msgs;
	struct raft_msgq msgs_after;
	uint32_t n_read_states;
	struct raft_read_state read_states[RAFT_MAX_READ_STATES];
	struct raft_hard_state prev_hs;
	struct raft_soft_state prev_ss;
	uint64_t dropped_msgs;

	/* the outstanding ready, between raft_ready and raft_advance */
	bool in_ready;
	bool rd_snapshot;
	uint64_t rd_snap_index;
	uint64_t rd_stable;  /* last index handed out for persisting */
	uint64_t rd_applied; /* last committed index handed out */
};

/* raft.c */
uint64_t raft_rand_(struct raft *r);
void raft_set_term(struct raft *r, uint64_t term);
void become_follower(struct raft *r, uint64_t term, uint64_t lead);
void become_pre_candidate(struct raft *r);
void become_candidate(struct raft *r);
void become_leader(struct raft *r);
bool raft_is_voter(const struct raft *r);
bool raft_promotable(const struct raft *r);
void raft_check_invariants(const struct raft *r);
void raft_conf_changed(struct raft *r);
void raft_conf_recompute(struct raft *r);
bool raft_committed_in_term(const struct raft *r);
uint64_t raft_self_match(const struct raft *r);

/* ready.c */
void send_msg(struct raft *r, struct raft_msg *m);
void msg_init(struct raft *r, struct raft_msg *m, uint8_t type, uint64_t to);
void msgs_drop_from(struct raft *r, uint64_t from);
void push_read_state(struct raft *r, uint64_t index, uint64_t ctx);

/* election.c */
void start_election(struct raft *r, bool transfer);
int handle_vote_request(struct raft *r, const struct raft_msg *m);
int handle_vote_response(struct raft *r, const struct raft_msg *m);
void send_timeout_now(struct raft *r, uint64_t to);

/* progress.c */
struct raft_progress *progress_find(struct raft *r, uint64_t id);
void progress_reset_all(struct raft *r);
void progress_sync_conf(struct raft *r);
void progress_become_probe(struct raft_progress *pr);
void progress_become_replicate(struct raft_progress *pr);
void progress_become_snapshot(struct raft_progress *pr, uint64_t snap_index);
bool progress_paused(const struct raft *r, const struct raft_progress *pr);
bool progress_maybe_update(struct raft_progress *pr, uint64_t index);
bool progress_maybe_decr(struct raft_progress *pr, uint64_t rejected, uint64_t hint);
void infl_add(struct raft_progress *pr, uint64_t last);
void infl_free_to(struct raft_progress *pr, uint64_t index);
void infl_free_first(struct raft_progress *pr);
bool infl_full(const struct raft *r, const struct raft_progress *pr);

/* replication.c */
int leader_append(struct raft *r, uint8_t type, const void *data, uint32_t len,
                  uint64_t *index_out);
bool send_append(struct raft *r, struct raft_progress *pr, bool send_if_empty);
void bcast_append(struct raft *r);
void bcast_heartbeat(struct raft *r);
bool maybe_commit(struct raft *r);
void commit_advanced(struct raft *r, uint64_t old_commit);
int handle_append(struct raft *r, const struct raft_msg *m);
int handle_heartbeat(struct raft *r, const struct raft_msg *m);
int handle_append_response(struct raft *r, const struct raft_msg *m);
int handle_heartbeat_response(struct raft *r, const struct raft_msg *m);
void follower_commit_to(struct raft *r, uint64_t index);

/* snapshot.c */
void send_snapshot_chunk(struct raft *r, struct raft_progress *pr);
int handle_snapshot(struct raft *r, const struct raft_msg *m);
int handle_snapshot_response(struct raft *r, const struct raft_msg *m);
void snapshot_tick(struct raft *r);

/* readindex.c */
int readindex_request(struct raft *r, uint64_t from, uint64_t ctx);
void readindex_on_commit_in_term(struct raft *r);
void readindex_confirm(struct raft *r);
void readindex_fail_all(struct raft *r);
int handle_read_index(struct raft *r, const struct raft_msg *m);
int handle_read_index_response(struct raft *r, const struct raft_msg *m);

#endif
