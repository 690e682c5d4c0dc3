/* Internal to node/: the loop's state, shared by its files.  Everything here
 * is touched by the loop thread only, except the event queue (mu), the
 * status copy (status_mu) and the members/ copy (members_mu). */
#ifndef QFS_NODE_INTERNAL_H
#define QFS_NODE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"
#include "node/node.h"
#include "quorumfs/error.h"
#include "raft/raft.h"
#include "store/raftlog.h"
#include "util/metrics.h"

#define NODE_PENDING_BUCKETS 1024u
#define NODE_ENVELOPE_VERSION 1u
#define NODE_ENVELOPE_SIZE 18u /* version u8, kind u8, origin u64, req_id u64 */
#define NODE_JOIN_RETRY_MS 1000u
#define NODE_SNAP_KEEP_ENTRIES 1024u /* log kept behind a snapshot for slow followers */
#define NODE_LOG_SHARE 16u           /* compact once the log holds map/16 bytes */

/* What a log entry of ours carries, before the command bytes. */
enum node_entry_kind {
	NODE_ENTRY_CMD = 1, /* a keyspace command (include/quorumfs/command.h) */
};

enum node_event_kind {
	NODE_EV_PROPOSE = 1, /* a local proposal (struct node_pending) */
	NODE_EV_NET = 2,     /* a peer message, re-encoded (bytes) */
	NODE_EV_CALL = 3,    /* run call->fn on the loop thread (admin requests) */
	NODE_EV_READ = 4,    /* a read barrier (struct node_reader) */
};

/* A linearizable read waiting for its ReadIndex and then for apply. */
struct node_reader {
	struct node_reader *next;
	node_read_fn fn;
	void *ctx;
	uint64_t deadline_ms;
};

/* Readers that asked together share one ReadIndex request. */
struct node_read_batch {
	struct node_read_batch *next;
	uint64_t id;       /* the context given to raft_read_index */
	uint64_t index;    /* 0 until the read state arrives */
	uint64_t asked_ms;
	struct node_reader *readers;
};
#define NODE_READ_RETRY_MS 500u /* a ReadIndex unanswered by then is asked again */

/* A function another thread needs run on the loop thread, synchronously. */
struct node_call {
	int (*fn)(struct node *n, void *arg);
	void *arg;
	int rc;
	bool done;
};

struct node_pending;

/* One entry of the address book: who a node id is and where it listens.
 * Learned from --peer (bootstrap), from conf changes (ADD_LEARNER carries
 * "name\0url"), and from the announcements every node sends its peers. */
struct node_member {
	uint64_t id;
	char name[NET_MAX_NAME + 1];
	char url[NET_MAX_URL + 1];
};
#define NODE_ANNOUNCE_MS 1000u
#define NODE_REFORWARD_MS 1000u /* a forward not applied by then is sent again */

/* members/ (node_members.c): one member as last heard.  On the leader, heard
 * from the member itself; elsewhere, a copy of the leader's table. */
struct node_live {
	uint64_t id, term, applied;
	uint32_t load_milli, uptime_s;
	uint8_t role;      /* enum net_role */
	uint32_t age_ms;   /* its age when it arrived (the sender's last_seen_ms) */
	uint64_t heard_ms; /* local monotonic time it arrived */
	char name[NET_MAX_NAME + 1];
	char address[NET_MAX_URL + 1];
	char version[NET_MAX_VERSION + 1];
};
#define NODE_DEAD_AFTER_MS 3000u /* --dead-after default */

struct node_event {
	struct node_event *next;
	enum node_event_kind kind;
	struct node_pending *pending; /* NODE_EV_PROPOSE */
	struct node_call *call;       /* NODE_EV_CALL */
	struct node_reader *reader;   /* NODE_EV_READ */
	size_t len;                   /* NODE_EV_NET */
	uint8_t bytes[];
};

enum node_pending_state {
	NODE_P_WAITING = 0,   /* no leader known yet: nothing proposed */
	NODE_P_PROPOSED = 1,  /* in our own log at (index, term) */
	NODE_P_FORWARDED = 2, /* sent to the leader: outcome unknown until applied */
};

/* A proposal from this node, until its entry is applied here or it fails. */
struct node_pending {
	struct node_pending *next_hash;
	struct node_pending *prev_all, *next_all;
	uint64_t req_id;
	enum node_pending_state state;
	uint64_t index, term;   /* NODE_P_PROPOSED */
	uint64_t sent_ms;       /* NODE_P_FORWARDED: when */
	bool left_node;         /* ever appended or forwarded: it may commit, so a
	                           failure is ETIMEDOUT (unknown), never EROFS */
	uint64_t deadline_ms;
	uint64_t retry_ms;       /* NODE_P_WAITING: not before (after a refusal) */
	uint64_t start_us;       /* node_propose, monotonic: commit latency */
	node_done_fn done;
	void *ctx;
	bool kernel_knows;
	size_t len;
	uint8_t entry[];        /* envelope + command bytes: the log entry's data */
};

/* Counters for node_metrics_render (node_metrics.c).  Bumped by the loop
 * thread (and by proposers, in node_propose), read by any thread: relaxed
 * atomics, no lock.  failed[] is indexed by rc - QFS_ERROR_BASE_ (slot 0:
 * a code outside the table). */
#define NODE_RC_SLOTS ((unsigned)(QFS_ERROR_END_ - QFS_ERROR_BASE_))
struct node_counters {
	_Atomic uint64_t proposals;             /* node_propose calls */
	_Atomic uint64_t failed[NODE_RC_SLOTS]; /* completed with rc < 0, by rc */
	struct qfs_hist commit_latency;         /* node_propose -> applied here (rc 0) */
	_Atomic uint64_t entries_applied;       /* log entries applied (all kinds) */
	_Atomic uint64_t leader_changes;        /* a new leader became known */
	_Atomic uint64_t term_changes;          /* the term this node is in grew */
	_Atomic uint64_t snapshots_written;
	_Atomic uint64_t snapshots_installed;
	_Atomic uint64_t backups;               /* scheduled backups written and verified */
	_Atomic uint64_t backup_failures;       /* scheduled backups that failed */
	_Atomic uint64_t backup_last_success_s; /* wall clock of the last good one (0: none) */
};

struct node {
	struct store *store;
	struct node_options opt;
	char *name, *data_dir, *listen, *advertise, *join;
	uint64_t id;
	uint64_t cluster_id;
	node_applied_fn on_applied;
	void *on_applied_ctx;

	/* Event queue: any thread pushes, the loop pops. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct node_event *head, *tail;
	bool stopping;
	bool started;
	pthread_t thread;
	uint32_t boot_epoch;  /* this run's: the high half of its request ids */
	uint64_t next_req_id; /* guarded by mu; (boot epoch << 32) + sequence, so
	                         ids never repeat across restarts */

	/* Peer security (--secret-file, --tls-*): set by node_new. */
	bool net_auth;
	uint8_t net_key[NET_AUTH_KEY_SIZE];

	/* Loop thread only. */
	struct raft *raft;
	struct net *net;
	uint64_t rng;
	uint64_t now_ms, next_tick_ms, next_join_ms;
	/* systemd watchdog (node.c): WATCHDOG=1 every watchdog_ms from the loop,
	 * so a wedged loop stops pinging; 0: not asked for. */
	uint64_t watchdog_ms, next_watchdog_ms;
	bool watchdog_warned;
	uint64_t leader;        /* as of the last ready */
	uint8_t role;
	struct node_pending *pending_hash[NODE_PENDING_BUCKETS];
	struct node_pending *pending_all; /* every pending, for timeouts */
	uint64_t applied_term;  /* term of the last applied entry */
	uint64_t snap_index;    /* the core's snapshot point */
	uint64_t next_snap_index, next_snap_term; /* written, not yet compacted to */
	struct node_reader *reads_new;        /* not yet asked for */
	struct node_read_batch *read_batches; /* asked, or waiting for apply */
	uint64_t read_seq;
	uint64_t unreachable[NET_MAX_PEERS]; /* reported to Raft after advance */
	unsigned n_unreachable;
	struct node_member book[NET_MAX_PEERS];
	unsigned n_book;
	uint64_t next_announce_ms;
	struct net_decoded *decoded; /* scratch for decoding events (large) */
	uint8_t *snap_chunk;         /* scratch for one outgoing snapshot chunk */

	/* Admin socket for quorumctl (node_admin.c). */
	struct node_admin *admin;
	/* Scheduled backups (node_backup.c); NULL without --backup-dir. */
	struct node_backup *backup;

	/* Copy for node_status(), refreshed by the loop.  status_mu also
	 * guards publishing and withdrawing `net` (node_start/node_stop), so
	 * node_metrics_render may read its counters from any thread. */
	pthread_mutex_t status_mu;
	struct node_status status;

	/* members/ (node_members.c).  The table is the loop's (this node's
	 * own record included); node_members() reads the sorted copy under
	 * members_mu, a leaf lock (never taken with mu or status_mu held). */
	uint64_t start_ms;     /* monotonic, at node_new: uptime_s */
	uint32_t live_ticks;   /* ticks since the last report or table sent */
	struct node_live live[NET_MAX_MEMBERS];
	unsigned n_live;
	pthread_mutex_t members_mu;
	struct node_live members_copy[NET_MAX_MEMBERS]; /* sorted by name */
	unsigned n_members_copy;

	struct node_counters counters;
	uint64_t seen_term; /* loop thread: for counters.term_changes */
};

uint64_t node_mono_ms(void);

/* node_metrics.c */
uint64_t node_mono_us(void);
/* A proposal completed with rc (any thread): failure counters, and the
 * commit latency when rc is 0 (start_us: from node_mono_us). */
void node_metrics_proposal_done(struct node *n, int rc, uint64_t start_us);

/* node_propose.c */
void node_pending_add(struct node *n, struct node_pending *p);
struct node_pending *node_pending_find(struct node *n, uint64_t req_id);
void node_pending_finish(struct node *n, struct node_pending *p, int rc,
			 const struct store_result *res);
void node_handle_proposal(struct node *n, struct node_pending *p);
void node_retry_waiting(struct node *n);
void node_expire_pending(struct node *n);
void node_fail_all_pending(struct node *n, int rc);
void node_pending_leader_changed(struct node *n);
void node_handle_forward(struct node *n, const struct net_msg *m);
void node_handle_nack(struct node *n, const struct net_msg *m);

/* node_raft.c */
int node_raft_open(struct node *n);
void node_process_ready(struct node *n);
void node_maybe_snapshot(struct node *n);
void node_handle_net(struct node *n, const uint8_t *bytes, size_t len);

/* node.c: runs fn on the loop thread and returns its result (admin thread). */
int node_call(struct node *n, int (*fn)(struct node *n, void *arg), void *arg);

/* node_admin.c */
int node_admin_start(struct node *n);
void node_admin_stop(struct node *n);

/* node_backup.c: snapshot files (store/backup.h).  node_snapshot_save runs on
 * the admin thread (one read transaction; the loop goes on). */
#define NODE_BACKUP_KEEP_DEFAULT 7u
struct store_backup_info;
uint64_t node_cluster_id_stored(struct node *n);
int node_snapshot_save(struct node *n, const char *path, const _Atomic bool *cancel,
		       struct store_backup_info *info, char *err, size_t errlen);
int node_backup_start(struct node *n);
void node_backup_stop(struct node *n);

/* node_export.c: quorumctl export / import, on the admin thread.  Replies
 * go to t ("ok\n..." or "error: ...\n"); `stop` ends an import early. */
void node_export(struct node *n, const char *path, struct qfs_text *t);
void node_import(struct node *n, const char *path, const char *json, size_t len,
		 const _Atomic bool *stop, struct qfs_text *t);

/* node_read.c */
void node_reads_add(struct node *n, struct node_reader *r);
void node_reads_ask(struct node *n);
void node_reads_state(struct node *n, const struct raft_read_state *rs);
void node_reads_applied(struct node *n, uint64_t applied);
void node_reads_tick(struct node *n);
void node_reads_fail_all(struct node *n, int rc);

/* node_cluster.c */
int node_cluster_init(struct node *n, bool fresh);
void node_cluster_connect(struct node *n);
const struct node_member *node_book_find(const struct node *n, uint64_t id);
void node_cluster_apply_conf_change(struct node *n, struct store_wtxn *t,
				    const struct raft_conf_change *cc);
void node_cluster_tick(struct node *n);
void node_handle_join(struct node *n, const struct net_msg *m);
void node_handle_conf_forward(struct node *n, const struct net_msg *m);
void node_cluster_adopt(struct node *n, uint64_t cluster_id);
void node_snap_path(const struct node *n, char *buf, size_t cap, const char *what,
		    uint64_t index, uint64_t term);
void node_status_refresh(struct node *n);

/* node_members.c */
void node_members_init(struct node *n);
void node_members_fini(struct node *n);
void node_members_tick(struct node *n);
void node_members_refresh(struct node *n);
void node_handle_liveness(struct node *n, const struct net_msg *m);

#endif
