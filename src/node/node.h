/* node: the one loop that owns the Raft core, the write side of the store and
 * the peer links.
 *
 * Any thread may propose a change.  The loop hands it to Raft on the leader
 * (or forwards it to the leader), persists each ready batch in ONE LMDB
 * transaction with one fsync (new log entries, hard state, and the keyspace
 * changes of the entries it applies), sends what Raft asks, and completes the
 * proposal once the entry is applied here.  Proposers never block: FUSE
 * requests park until their completion runs on the loop thread.
 *
 * A single node is a cluster of one voter: the same path, no peers.
 */
#ifndef QFS_NODE_H
#define QFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "quorumfs/command.h"
#include "store/store.h"

struct node;

#define NODE_MAX_PEERS 16u

struct node_peer {
	const char *name;
	const char *url;
};

struct node_options {
	const char *name;      /* this node's name (its id is derived from it) */
	const char *data_dir;  /* for snapshot files and the admin socket */
	const char *listen;    /* peer listen URL; NULL: single node, no network */
	const char *advertise; /* URL peers dial (NULL: listen) */
	const char *join;      /* join an existing cluster through this member */
	struct node_peer peers[NODE_MAX_PEERS]; /* bootstrap voters (may include self) */
	unsigned n_peers;
	uint32_t tick_ms;            /* Raft tick (0: 50 ms) */
	uint32_t heartbeat_ticks;    /* (0: 1) */
	uint32_t election_ticks;     /* election timeout in [e, 2e) ticks (0: 6) */
	uint32_t write_timeout_ms;   /* (0: 5000) */
	uint64_t snapshot_entries;   /* applied entries between snapshots (0: 4096) */
	uint32_t batch_max;          /* proposals per loop turn (0: QFS_BATCH_MAX) */
	uint32_t dead_after_ms;      /* members/: a node silent this long is gone (0: 3000) */
	const char *backup_dir;      /* scheduled backups (node_backup.c); NULL: none */
	uint64_t backup_every_ms;    /* period of the backups (0: none) */
	uint32_t backup_keep;        /* backups kept in backup_dir (0: 7) */
	const char *secret_file;     /* --secret-file: MAC on every peer message; NULL: none */
	const char *tls_cert, *tls_key, *tls_ca; /* --tls-*: peer links over TLS; NULL: plain */
};

/* Completion of one proposal, on the loop thread, exactly once.  rc is 0 when
 * the command was applied (its own outcome is res->rc), or a negative QFS_E*
 * when it was not: QFS_ENOSPC/QFS_EFBIG (precheck), QFS_EROFS (no leader within
 * the write timeout: nothing was proposed), QFS_ETIMEDOUT (proposed, outcome
 * unknown), QFS_ESHUTDOWN.  res is NULL then; valid only during the call. */
typedef void (*node_done_fn)(void *ctx, int rc, const struct store_result *res);

/* Observer of every applied command, on the loop thread, after the proposer's
 * completion ran: fs/ invalidates kernel caches with it.  `kernel_knows`: the
 * command came from this node's kernel, whose caches already reflect it.
 * `orphan`: this run of this node proposed it but nobody waits any more
 * (the proposer gave up with ETIMEDOUT). */
typedef void (*node_applied_fn)(void *ctx, const struct store_result *res, bool kernel_knows,
				bool orphan);

/* `s` is borrowed and must outlive the node; opt strings are copied. */
int node_new(struct node **out, struct store *s, const struct node_options *opt);
void node_on_applied(struct node *n, node_applied_fn fn, void *ctx);
/* Opens the peer links and the admin socket, starts the loop thread. */
int node_start(struct node *n);
/* Stops the loop: queued and parked proposals complete with QFS_ESHUTDOWN
 * unless already applied. */
void node_stop(struct node *n);
void node_free(struct node *n);

/* Proposes `c` (borrowed: encoded before return).  `kernel_knows`: the change
 * was made through the kernel's own request.  done may run before
 * node_propose returns (a refused proposal). */
void node_propose(struct node *n, const struct qfs_cmd *c, bool kernel_knows, node_done_fn done,
		  void *ctx);

/* Linearizable reads (-o linearizable): fn runs on the loop thread once this
 * node has applied everything committed when the barrier was asked for
 * (Raft ReadIndex: the leader confirms it still leads, no log write).  rc is
 * 0, or QFS_ETIMEDOUT when no leader confirmed within the write timeout. */
typedef void (*node_read_fn)(void *ctx, int rc);
void node_read_barrier(struct node *n, node_read_fn fn, void *ctx);

/* Wall-clock time in ns, for command time stamps. */
uint64_t node_now_ns(void);

/* What this node knows of itself and the cluster (any thread; a copy). */
struct node_status {
	char name[256];
	uint64_t id;
	const char *role; /* leader, follower, candidate, learner */
	char leader[256]; /* name, "" when unknown */
	uint64_t term, commit, applied, revision;
	bool quorum;      /* a leader is known and in contact (or we are it) */
	unsigned voters, learners;
};
void node_status(struct node *n, struct node_status *st);

/* One live member as this node sees it (members/ in INTERFACE §5). */
struct node_member_info {
	char name[256];
	char address[513];     /* its advertised peer URL ("" for a single node) */
	char role[16];         /* leader, follower, candidate, learner */
	uint64_t term;         /* its current term as it last reported */
	uint64_t last_seen_ms; /* ms since it was last heard from (0: this node itself) */
	uint64_t applied;      /* its applied index as it last reported */
	double load;           /* its 1-minute load average (getloadavg) */
	uint64_t uptime_s;     /* seconds since its daemon started */
	char version[32];      /* its quorumfs version string (QFS_VERSION, as --version) */
};
/* The live members as this node sees them, sorted by name; returns how many
 * were written (<= cap).  Any thread (reads a copy under a mutex).  A member
 * is live while last_seen_ms < --dead-after; the leader's table reaches the
 * other nodes every heartbeat, so the leader's own last_seen_ms elsewhere is
 * the time since that table arrived (a heartbeat or less while healthy). */
unsigned node_members(struct node *n, struct node_member_info *out, unsigned cap);

/* Appends this node's metrics to t in the Prometheus text format (names
 * quorumfs_*; every metric is listed in docs/usage.md "Monitoring").  Any
 * thread, any time between node_new and node_free.  0, or QFS_ENOMEM when t
 * ran out of memory (t->err). */
struct qfs_text;
int node_metrics_render(struct node *n, struct qfs_text *t);

/* Health for load balancers and probes (any thread): 1 when a leader is
 * known, there is quorum and this node has applied everything it knows is
 * committed; else 0 with a short reason in why (NUL-terminated, cap bytes). */
int node_health(struct node *n, char *why, size_t cap);

/* A data directory belongs to one node name, recorded at first start.
 * Fills `out` with the name to run as: the recorded one, unless `requested`
 * was given explicitly (then it must match: QFS_EINVAL with a message logged
 * otherwise).  A fresh store records `requested`. */
int node_claim_name(struct store *s, const char *requested, bool explicit_name, char *out,
		    size_t cap);

/* Derived node id of a name (FNV-1a 64, never 0). */
uint64_t node_id_of(const char *name);

#endif
