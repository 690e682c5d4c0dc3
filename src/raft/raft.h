/* raft: the pure Raft consensus core (etcd-io/raft's RawNode model, in C).
 *
 * Owns: one replica's consensus state (hard state, the in-memory log since the
 * last compaction point, configuration, per-peer progress on a leader).
 * Does no I/O, reads no clock, starts no thread, holds no global: everything
 * enters as a call (tick, message, proposal) and everything leaves as a batch
 * (struct raft_ready).  Randomness comes from a generator the caller owns.
 *
 * Callers: one thread at a time per `struct raft` (the node loop, or the
 * simulator).  Instances are independent; any number may live in one process.
 *
 * The cycle (DESIGN.md "The shape"):
 *
 *   inputs:  raft_tick / raft_step / raft_propose / raft_propose_conf_change /
 *            raft_read_index / raft_transfer_leader / raft_compact / ...
 *   if (raft_has_ready(r)) {
 *     raft_ready(r, &rd);
 *     1. send rd.msgs now (they promise nothing about local durable state;
 *        SNAP messages: fill snap_data/snap_len/snap_last first, see SNAPSHOTS)
 *     2. durably: install rd.snapshot if has_snapshot (replaces the state
 *        machine AND discards every persisted log entry), then write
 *        rd.entries (delete persisted entries >= rd.entries[0].index first:
 *        a suffix may be overwritten), then rd.hard_state if hard_state_changed
 *        (one transaction, one fsync is the intent)
 *     3. send rd.msgs_after_persist (vote grants, append acks, heartbeat
 *        responses, a candidate's vote requests: their promise depends on
 *        step 2 being durable)
 *     4. apply rd.committed in order (they are all persisted by step 2);
 *        answer rd.read_states once the applied index reaches their index
 *     5. raft_advance(r, &rd)
 *   }
 *
 * Between raft_ready() and raft_advance() the host must not call any function
 * that takes a non-const `struct raft *` (asserted); pointers inside rd stay
 * valid exactly until raft_advance().
 *
 * Ownership: every pointer handed IN (proposal data, a stepped message and its
 * entries, a configuration, restore entries) is borrowed for the call and
 * copied when kept.  Every pointer handed OUT (rd contents, entries inside
 * messages) is borrowed from the core and valid until raft_advance().
 *
 * Errors: functions return 0 or a negative RAFT_E* code.  Operating errors
 * (bad peer input, wrong role, limits) return codes and change nothing;
 * programmer errors (calling between ready and advance, broken invariants)
 * abort via RAFT_ASSERT, which stays on in release builds.
 *
 * PLANTED BUGS (simulator self-test; each OFF unless the macro is defined at
 * compile time for src/raft; src/raft/CMakeLists.txt builds one library per bug,
 * qfs_raft_bug_<name>, only when something links it):
 *   RAFT_BUG_COMMIT_OLD_TERM     a leader commits by counting replicas of any
 *                                entry, including old-term ones (Raft §5.4.2,
 *                                figure 8): committed entries can be lost.
 *   RAFT_BUG_VOTE_NO_LOG_CHECK   votes (and pre-votes) are granted without the
 *                                "candidate's log is at least as up-to-date"
 *                                check: a leader can miss committed entries.
 *   RAFT_BUG_ACK_BEFORE_PERSIST  append acknowledgements (APP_RESP) go to
 *                                rd.msgs instead of rd.msgs_after_persist: a
 *                                crash before persisting loses acked entries.
 */
#ifndef QFS_RAFT_H
#define QFS_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- limits */

#define RAFT_MAX_NODES 16u                      /* voters + learners in one configuration */
#define RAFT_MAX_ENTRY_BYTES (4u * 1024 * 1024) /* data of one log entry */
#define RAFT_MAX_MSG_ENTRIES 1024u              /* entries in one APP message (hard cap) */
#define RAFT_MAX_MSG_BYTES (16u * 1024 * 1024)  /* entry data in one APP message (hard cap) */
#define RAFT_MAX_INFLIGHT 256u                  /* APP messages in flight to one peer (hard cap) */
#define RAFT_SNAP_CHUNK (256u * 1024)           /* bytes of snapshot data per SNAP message */
#define RAFT_MAX_PENDING_READS 1024u            /* read-index requests queued on a leader */
#define RAFT_MAX_READ_STATES RAFT_MAX_PENDING_READS /* read states in one ready */
/* Messages in one ready; excess is dropped (raft_status.dropped_msgs). */
#define RAFT_MAX_READY_MSGS 16384u
#define RAFT_MAX_READY_COMMITTED 4096u /* committed entries handed out per ready */
#define RAFT_MAX_CC_CONTEXT 1024u      /* opaque bytes carried by a conf change */
#define RAFT_MAX_ELECTION_TICK 100000u /* sanity bound on configured ticks */
/* Larger terms in messages are garbage (and term + 1 never overflows). */
#define RAFT_MAX_TERM (UINT64_MAX / 4)

/* Defaults used when a raft_config field is 0. */
#define RAFT_DEFAULT_ELECTION_TICK 10u
#define RAFT_DEFAULT_HEARTBEAT_TICK 1u
#define RAFT_DEFAULT_MAX_INFLIGHT 64u
#define RAFT_DEFAULT_MAX_MSG_ENTRIES 64u
#define RAFT_DEFAULT_MAX_MSG_BYTES (1024u * 1024)
#define RAFT_DEFAULT_MAX_UNCOMMITTED_BYTES (64ull * 1024 * 1024)

/* Encoded sizes (see raft_conf_encode / raft_conf_change_decode). */
#define RAFT_CONF_ENCODED_MAX (4u + 8u * RAFT_MAX_NODES)
#define RAFT_CC_HEADER_SIZE 10u /* version, type, node (u64 LE) */

_Static_assert(RAFT_MAX_ENTRY_BYTES <= RAFT_MAX_MSG_BYTES,
               "a single entry must fit the per-message byte cap");
_Static_assert(RAFT_DEFAULT_MAX_MSG_BYTES <= RAFT_MAX_MSG_BYTES, "default above cap");
_Static_assert(RAFT_DEFAULT_MAX_MSG_ENTRIES <= RAFT_MAX_MSG_ENTRIES, "default above cap");
_Static_assert(RAFT_DEFAULT_MAX_INFLIGHT <= RAFT_MAX_INFLIGHT, "default above cap");
_Static_assert(RAFT_SNAP_CHUNK <= RAFT_MAX_MSG_BYTES, "a snapshot chunk must fit a message");
_Static_assert(RAFT_DEFAULT_HEARTBEAT_TICK < RAFT_DEFAULT_ELECTION_TICK,
               "heartbeats must come faster than election timeouts");
_Static_assert(RAFT_MAX_NODES <= 255u, "conf encoding counts nodes in one byte");
_Static_assert(RAFT_CC_HEADER_SIZE + RAFT_MAX_CC_CONTEXT <= RAFT_MAX_ENTRY_BYTES,
               "a conf change entry must fit an entry");
_Static_assert(RAFT_MAX_READ_STATES >= RAFT_MAX_PENDING_READS,
               "every pending read must be answerable in one ready");

/* ---------------------------------------------------------------- errors */

/* X(name, value, message) */
#define RAFT_ERRORS(X)                                                                             \
	X(RAFT_EINVAL, -1, "invalid argument or malformed message")                                \
	X(RAFT_ENOMEM, -2, "out of memory")                                                        \
	X(RAFT_ENOTLEADER, -3, "not the leader")                                                   \
	X(RAFT_ENOLEADER, -4, "no known leader")                                                   \
	X(RAFT_EBUSY, -5, "a configuration change or leadership transfer is pending")              \
	X(RAFT_ECOMPACTED, -6, "index already compacted")                                          \
	X(RAFT_ETOOBIG, -7, "entry too large")                                                     \
	X(RAFT_EAGAIN, -8, "limit reached, retry later")                                           \
	X(RAFT_ESTATE, -9, "not allowed in the current state")

enum raft_error {
#define RAFT_X_ENUM_(name, val, msg) name = (val),
	RAFT_ERRORS(RAFT_X_ENUM_)
#undef RAFT_X_ENUM_
};

/* ---------------------------------------------------------------- enums */

enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRE_CANDIDATE = 1,
	RAFT_CANDIDATE = 2,
	RAFT_LEADER = 3,
};

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 0,      /* host data (a proposal) */
	RAFT_ENTRY_NOOP = 1,        /* appended by a new leader; no data; host skips it */
	RAFT_ENTRY_CONF = 2,        /* a whole configuration (raft_bootstrap); data:
	                               raft_conf_encode() format */
	RAFT_ENTRY_CONF_CHANGE = 3, /* one single-server change; data: see
	                               raft_conf_change_decode() */
	RAFT_ENTRY_TYPE_MAX_ = 4,
};

enum raft_cc_type {
	RAFT_CC_ADD_LEARNER = 1, /* node joins as a learner (must be absent) */
	RAFT_CC_PROMOTE = 2,     /* learner -> voter */
	RAFT_CC_DEMOTE = 3,      /* voter -> learner (not the last voter) */
	RAFT_CC_REMOVE = 4,      /* voter or learner leaves (not the last voter) */
	RAFT_CC_TYPE_MAX_ = 5,
};

enum raft_msg_type {
	RAFT_MSG_APP = 1,      /* leader -> peer: entries after (index, log_term) */
	RAFT_MSG_APP_RESP = 2, /* peer -> leader: accept (index = last matched) / reject */
	RAFT_MSG_VOTE = 3,     /* candidate -> voter */
	RAFT_MSG_VOTE_RESP = 4,
	RAFT_MSG_PRE_VOTE = 5, /* pre-candidate -> voter, term = its term + 1 */
	RAFT_MSG_PRE_VOTE_RESP = 6,
	RAFT_MSG_HEARTBEAT = 7,        /* leader -> peer: commit, seq, host context */
	RAFT_MSG_HEARTBEAT_RESP = 8,   /* peer -> leader: seq echoed, host context */
	RAFT_MSG_SNAP = 9,             /* leader -> peer: one snapshot chunk (metadata) */
	RAFT_MSG_SNAP_RESP = 10,       /* peer -> leader: next expected chunk offset */
	RAFT_MSG_TIMEOUT_NOW = 11,     /* leader -> transferee: campaign now */
	RAFT_MSG_READ_INDEX = 12,      /* follower -> leader: read-index request */
	RAFT_MSG_READ_INDEX_RESP = 13, /* leader -> follower: read index for context */
	RAFT_MSG_TYPE_MAX_ = 14,
};

/* Leader's view of how a peer is being replicated to. */
enum raft_progress_state {
	RAFT_PROGRESS_PROBE = 0,     /* one APP at a time until the match point is found */
	RAFT_PROGRESS_REPLICATE = 1, /* pipelined APPs, up to max_inflight in flight */
	RAFT_PROGRESS_SNAPSHOT = 2,  /* sending a snapshot chunk by chunk */
};

/* ---------------------------------------------------------------- data types */

/* A configuration: who votes and who only receives.  Ids are nonzero, unique,
 * and voters and learners are disjoint; lists the core hands out are sorted
 * ascending.  n_voters + n_learners <= RAFT_MAX_NODES. */
struct raft_conf {
	uint32_t n_voters;
	uint32_t n_learners;
	uint64_t voters[RAFT_MAX_NODES];
	uint64_t learners[RAFT_MAX_NODES];
};

/* One log entry.  `data` is borrowed wherever an entry crosses the API (see
 * Ownership above); len <= RAFT_MAX_ENTRY_BYTES; data may be NULL iff len 0. */
struct raft_entry {
	uint64_t term;
	uint64_t index;
	uint8_t type; /* enum raft_entry_type */
	uint32_t len;
	const void *data;
};

/* What must be durable before votes or acks are sent (step 2 of the cycle). */
struct raft_hard_state {
	uint64_t term;   /* current term; never decreases */
	uint64_t vote;   /* node voted for in `term`, 0 for none */
	uint64_t commit; /* highest index known committed */
};

/* The point the log starts after: the snapshot's last included entry and the
 * configuration in force at it.  index 0 means "no snapshot". */
struct raft_snapshot_meta {
	uint64_t index;
	uint64_t term;
	struct raft_conf conf;
};

/* A peer message: one plain struct with fixed-width fields for the codec.
 * Fields not listed for a type are 0 and must be ignored by receivers.
 *
 *  APP            index = index preceding entries, log_term = its term,
 *                 entries[0..n_entries), commit = leader's commit
 *  APP_RESP       accept: index = last index now matching the leader's log
 *                 reject (reject=1): index = the rejected APP's index,
 *                 reject_hint/reject_hint_term = where the leader should probe
 *                 (fast back-off), commit = follower's commit
 *  VOTE/PRE_VOTE  index/log_term = candidate's last log index/term,
 *                 transfer = 1 when caused by leadership transfer (bypasses
 *                 leader leases); PRE_VOTE term = candidate's term + 1
 *  *VOTE_RESP     reject = 1 when refused; term = the request's term if granted
 *  HEARTBEAT      commit = min(leader commit, peer's match), seq = leader's
 *                 heartbeat round, context = HOST opaque (liveness; the core
 *                 sets 0, the leader's host may fill it before sending)
 *  HEARTBEAT_RESP seq echoed; context = HOST opaque (follower's host fills)
 *  SNAP           snap_index/snap_term/snap_conf = snapshot metadata,
 *                 snap_offset = byte offset of this chunk; the leader's HOST
 *                 sets snap_data/snap_len (<= RAFT_SNAP_CHUNK) and snap_last
 *  SNAP_RESP      snap_index, snap_offset = next offset expected (reject = 1
 *                 when the chunk was not at the expected offset)
 *  TIMEOUT_NOW    (term only)
 *  READ_INDEX     context = requester's opaque read context
 *  READ_INDEX_RESP context echoed, index = read index; reject = 1 if refused
 */
struct raft_msg {
	uint8_t type;      /* enum raft_msg_type */
	uint8_t reject;    /* responses: 1 = refused */
	uint8_t transfer;  /* VOTE/PRE_VOTE: campaign forced by leadership transfer */
	uint8_t snap_last; /* SNAP: final chunk (set by the leader's host) */
	uint32_t n_entries;
	uint64_t from;
	uint64_t to;
	uint64_t term;
	uint64_t log_term;
	uint64_t index;
	uint64_t commit;
	uint64_t reject_hint;
	uint64_t reject_hint_term;
	uint64_t context;
	uint64_t seq;
	const struct raft_entry *entries; /* APP: n_entries entries (borrowed) */
	uint64_t snap_index;
	uint64_t snap_term;
	uint64_t snap_offset;
	struct raft_conf snap_conf;
	const void *snap_data; /* SNAP: chunk bytes; filled and owned by the host,
	                          never read by the core */
	uint32_t snap_len;
};

/* A confirmed linearizable read: once applied >= index, the state machine
 * may serve the read identified by ctx.  index == 0 means the request was
 * refused or dropped (leader changed, queue full): retry it. */
struct raft_read_state {
	uint64_t index;
	uint64_t ctx;
};

/* Volatile state that changed since the last ready (for the host's views). */
struct raft_soft_state {
	uint64_t leader; /* 0: unknown */
	uint8_t role;    /* enum raft_role */
};

/* One batch of work for the host; see the cycle at the top of this file. */
struct raft_ready {
	bool soft_state_changed;
	struct raft_soft_state soft_state;

	bool hard_state_changed;
	struct raft_hard_state hard_state;

	bool has_snapshot; /* install before appending entries */
	struct raft_snapshot_meta snapshot;

	const struct raft_entry *entries; /* append (may overwrite a suffix) */
	size_t n_entries;

	const struct raft_msg *msgs; /* send before persisting */
	size_t n_msgs;

	const struct raft_msg *msgs_after_persist; /* send after persisting */
	size_t n_msgs_after_persist;

	/* Apply in order, after step 2 (may include entries of this ready's
	 * `entries`; at most RAFT_MAX_READY_COMMITTED, the rest come next). */
	const struct raft_entry *committed;
	size_t n_committed;

	const struct raft_read_state *read_states; /* index 0: refused, retry */
	size_t n_read_states;
};

/* Configuration of one instance.  Ticks are logical: the host calls
 * raft_tick() at a fixed period (e.g. 100 ms heartbeat -> 1 tick). */
struct raft_config {
	uint64_t id;                    /* this node, nonzero */
	uint32_t election_tick;         /* election timeout is random in [e, 2e) ticks
	                                   (0: RAFT_DEFAULT_ELECTION_TICK) */
	uint32_t heartbeat_tick;        /* leader heartbeat period (0: default);
	                                   must be < election_tick */
	bool pre_vote;                  /* run a pre-vote round before raising the term */
	bool check_quorum;              /* leader steps down without a quorum of recently
	                                   active voters; followers honour leader leases */
	uint32_t max_inflight;          /* APP messages in flight per peer (0: default) */
	uint32_t max_msg_entries;       /* entries per APP (0: default) */
	uint32_t max_msg_bytes;         /* entry bytes per APP, at least one entry is
	                                   always sent (0: default) */
	uint64_t max_uncommitted_bytes; /* leader refuses proposals (RAFT_EAGAIN)
	                                   above this (0: default) */
	/* Randomness: if `rand` is set it is called with `rand_ctx` (owned by the
	 * caller, e.g. the simulator's seeded PRNG); otherwise the core runs a
	 * private splitmix64 seeded with rand_seed (deterministic per seed). */
	uint64_t (*rand)(void *rand_ctx);
	void *rand_ctx;
	uint64_t rand_seed;
};

/* Per-peer replication progress (leaders only). */
struct raft_progress_status {
	uint64_t id;
	uint64_t match;     /* highest index known replicated on the peer */
	uint64_t next;      /* next index to send */
	uint8_t state;      /* enum raft_progress_state */
	bool recent_active; /* heard from within the current check-quorum window */
	bool is_learner;
	uint32_t inflight;    /* APP messages in flight */
	uint64_t snap_offset; /* RAFT_PROGRESS_SNAPSHOT: next chunk offset */
};

struct raft_status {
	uint64_t id;
	uint8_t role;    /* enum raft_role */
	bool is_voter;   /* id is a voter in conf */
	bool is_learner; /* id is a learner in conf */
	uint64_t term;
	uint64_t vote;
	uint64_t leader; /* 0: unknown */
	uint64_t commit;
	uint64_t applied;     /* as told by raft_advance (or raft_restore) */
	uint64_t first_index; /* first entry held in memory (snap_index + 1) */
	uint64_t last_index;
	uint64_t last_term;
	uint64_t snap_index;
	uint64_t snap_term;
	uint64_t transferee;   /* leadership transfer target, 0: none */
	uint64_t conf_index;   /* index of the entry that set conf (0: snapshot/none) */
	struct raft_conf conf; /* latest in the log, committed or not (single-server
	                          changes take effect when appended) */
	uint32_t n_progress;   /* leaders only; includes this node */
	struct raft_progress_status progress[RAFT_MAX_NODES];
	uint64_t dropped_msgs; /* outgoing messages dropped (queue cap or ENOMEM) */
};

struct raft; /* opaque */

/* ---------------------------------------------------------------- lifecycle */

/* Creates an empty instance (term 0, empty log, empty configuration).  Follow
 * with raft_restore() (existing data), raft_bootstrap() (new cluster), or
 * nothing (a node joining: it waits for a leader to contact it).
 * RAFT_EINVAL on a bad config, RAFT_ENOMEM. */
int raft_new(const struct raft_config *cfg, struct raft **out);
void raft_free(struct raft *r); /* NULL is fine */

/* New cluster: appends entry {index 1, term 1, RAFT_ENTRY_CONF(conf)} and
 * commits it (every initial voter bootstraps the same conf, so the entries are
 * identical).  The host persists/applies it through the next ready.
 * RAFT_ESTATE unless the instance is empty; RAFT_EINVAL for a bad conf. */
int raft_bootstrap(struct raft *r, const struct raft_conf *conf);

/* Startup from persisted state: hard state, snapshot metadata (NULL: none),
 * the persisted entries after the snapshot (contiguous from snap->index + 1,
 * copied), and the host's applied index (snap index <= applied <= commit).
 * Everything restored counts as persisted.  RAFT_ESTATE unless the instance is
 * empty; RAFT_EINVAL for inconsistent input (corrupt data directory). */
int raft_restore(struct raft *r, const struct raft_hard_state *hs,
                 const struct raft_snapshot_meta *snap, const struct raft_entry *entries,
                 size_t n_entries, uint64_t applied);

/* ---------------------------------------------------------------- inputs */

/* One logical clock tick: elections, heartbeats, check-quorum, timeouts. */
void raft_tick(struct raft *r);

/* A message from a peer (the host already decoded it; m->entries are copied;
 * SNAP chunk bytes must already be written by the host, see SNAPSHOTS).
 * Returns 0 when handled or ignored as normal protocol noise (stale term,
 * response from a removed peer), RAFT_EINVAL for malformed input (wrong `to`,
 * from 0 or self, unknown type, inconsistent entries, impossible indexes),
 * RAFT_ENOMEM.  Never aborts on peer input.  Senders outside our
 * configuration are accepted (a joining node does not know it yet; votes are
 * safe to answer), but a leader ignores responses from non-members. */
int raft_step(struct raft *r, const struct raft_msg *m);

/* Leader only: appends a RAFT_ENTRY_NORMAL entry holding a copy of data.
 * index_out and term_out (optional) identify the entry: it is applied as
 * proposed iff the entry applied at that index has that term.
 * RAFT_ENOTLEADER (the host forwards), RAFT_EBUSY during leadership transfer,
 * RAFT_ETOOBIG, RAFT_EAGAIN (uncommitted bytes limit), RAFT_ENOMEM. */
int raft_propose(struct raft *r, const void *data, uint32_t len, uint64_t *index_out,
                 uint64_t *term_out);

/* Leader only: a single-server membership change carrying an opaque context
 * (e.g. the node's address; <= RAFT_MAX_CC_CONTEXT bytes, copied).  It takes
 * effect on every node when appended to its log (not when committed); only
 * one may be uncommitted at a time, and only after the leader committed an
 * entry of its own term.  A leader removed or demoted steps down once the
 * change commits (handing over with TIMEOUT_NOW when a voter is up to date);
 * until then a node removed/demoted by an uncommitted change may still
 * campaign, without counting its own vote (thesis §4.2.2).  A change whose
 * entry is invalid for the configuration it lands on is ignored by every
 * replica alike.  RAFT_ENOTLEADER, RAFT_EBUSY (change pending, nothing
 * committed in this term yet, or transfer), RAFT_EINVAL (type does not apply:
 * adding a present node, promoting a non-learner, removing/demoting the last
 * voter, over RAFT_MAX_NODES), RAFT_ENOMEM. */
int raft_propose_conf_change(struct raft *r, uint8_t type, uint64_t node, const void *ctx,
                             uint32_t ctx_len, uint64_t *index_out);

/* Linearizable read.  Leader: the read index is its commit index at request
 * time, released as a read state once a heartbeat round confirms a quorum
 * still follows it (queued until the leader has committed an entry of its
 * term).  Follower/learner: forwarded to the leader, the answer comes back as
 * a read state.  Requests can be lost (messages dropped): the host needs its
 * own timeout.  RAFT_ENOLEADER, RAFT_EAGAIN (RAFT_MAX_PENDING_READS), ENOMEM. */
int raft_read_index(struct raft *r, uint64_t ctx);

/* Leader only: hand leadership to voter `to`.  Proposals get RAFT_EBUSY until
 * it finishes or aborts (after one election timeout).  `to` is brought up to
 * date first, then sent TIMEOUT_NOW.  RAFT_ENOTLEADER, RAFT_EINVAL (not a
 * voter, self), RAFT_EBUSY (a transfer is already running). */
int raft_transfer_leader(struct raft *r, uint64_t to);

/* Forces an election now (tests, simulator, operator).  RAFT_ESTATE when not a
 * voter or already leader. */
int raft_campaign(struct raft *r);

/* The host took a snapshot of its state machine at applied index `index`:
 * the core drops entries <= index, remembering index/term/conf as the new
 * snapshot point (written to *meta_out, optional: the host persists it with
 * its snapshot file and may then delete log entries <= index from disk).
 * The leader sends this snapshot to peers that need older entries.
 * RAFT_ECOMPACTED when index <= current snapshot index, RAFT_EINVAL when
 * index > applied. */
int raft_compact(struct raft *r, uint64_t index, struct raft_snapshot_meta *meta_out);

/* The host could not deliver to `peer` (link down, snapshot file missing):
 * a leader stops pipelining to it and probes again.  Ignored otherwise. */
void raft_report_unreachable(struct raft *r, uint64_t peer);

/* ---------------------------------------------------------------- outputs */

bool raft_has_ready(const struct raft *r);
/* Fills *rd (see the cycle).  Asserts that no ready is outstanding. */
void raft_ready(struct raft *r, struct raft_ready *rd);
/* Everything in rd was done: persisted, sent, applied.  rd must be the one
 * returned by the last raft_ready(). */
void raft_advance(struct raft *r, const struct raft_ready *rd);

void raft_status(const struct raft *r, struct raft_status *st);

/* ---------------------------------------------------------------- helpers
 * Pure functions, usable by hosts, codecs and the simulator. */

const char *raft_strerror(int rc);
const char *raft_msg_type_name(int type);
const char *raft_role_name(int role);
const char *raft_entry_type_name(int type);
const char *raft_cc_type_name(int type);
const char *raft_progress_state_name(int state);

bool raft_conf_is_voter(const struct raft_conf *c, uint64_t id);
bool raft_conf_is_learner(const struct raft_conf *c, uint64_t id);
/* 0 when c is well-formed (ids nonzero, unique, disjoint, counts bounded,
 * at least one voter), RAFT_EINVAL otherwise.  Order does not matter: the
 * core keeps its own copies sorted. */
int raft_conf_check(const struct raft_conf *c);

/* RAFT_ENTRY_CONF data: u8 version(1), u8 n_voters, u8 n_learners, u8 0,
 * then n_voters + n_learners u64 little-endian ids.  Encode returns the
 * length written (<= RAFT_CONF_ENCODED_MAX) or RAFT_EINVAL; decode never
 * trusts a length and validates with raft_conf_check(). */
int raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap);
int raft_conf_decode(const void *buf, size_t len, struct raft_conf *c);

/* RAFT_ENTRY_CONF_CHANGE data: u8 version(1), u8 type, u64 LE node, then the
 * context bytes.  Decoded pointers borrow from buf. */
struct raft_conf_change {
	uint8_t type; /* enum raft_cc_type */
	uint64_t node;
	const void *ctx;
	uint32_t ctx_len;
};
int raft_conf_change_decode(const void *buf, size_t len, struct raft_conf_change *cc);

/* SNAPSHOTS, step by step (the core never sees snapshot bytes):
 * - Leader core: a peer needs entries below the leader's first index ->
 *   progress enters SNAPSHOT and the core emits SNAP {snap_index, snap_term,
 *   snap_conf, snap_offset} in rd.msgs, one chunk in flight per peer.
 * - Leader host: before sending, reads [snap_offset, +RAFT_SNAP_CHUNK) of its
 *   snapshot file for snap_index into snap_data/snap_len, sets snap_last on
 *   the final chunk.  If it has no such snapshot it drops the message and
 *   calls raft_report_unreachable(peer).
 * - Follower host: keeps one staging file tagged (snap_index, snap_term) and
 *   its staged length.  For each SNAP, before raft_step(): if snap_offset is 0
 *   or the tag differs, empty the file and retag it; then, only if snap_offset
 *   equals the staged length, append the chunk (else write nothing).  Step
 *   every chunk either way.  The core applies the very same rule to its own
 *   notion of the staged length, so both agree on what is staged.
 * - Follower core: a chunk that does not continue the staged prefix gets
 *   SNAP_RESP reject {expected offset}; one that does gets SNAP_RESP {next
 *   offset}; the snap_last chunk that does makes it emit rd.snapshot (unless
 *   its log already holds that index and term: then nothing to install).
 *   After the host installed it and called raft_advance, the core's APP_RESP
 *   {index = snap_index} (in msgs_after_persist) tells the leader.
 * - Leader core: a missing SNAP_RESP is retried after an election timeout; the
 *   APP_RESP switches the peer back to replication from snap_index + 1. */

#endif
