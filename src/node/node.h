/* node: the one loop that owns the write side of the store (and, with
 * replication, the Raft core and the peer links).
 *
 * Any thread may propose a change; the loop batches everything queued into one
 * LMDB transaction and one fsync (group commit), applies each command through
 * store_apply(), and then completes every proposal on the loop thread.  A
 * proposer never blocks: FUSE requests park until their completion runs.
 */
#ifndef QFS_NODE_H
#define QFS_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "quorumfs/command.h"
#include "store/store.h"

struct node;

struct node_options {
	uint32_t batch_max; /* commands per transaction (0: QFS_BATCH_MAX) */
};

/* Completion of one proposal, on the loop thread, exactly once.  rc is 0 when
 * the command was applied (its own outcome is res->rc), or a negative QFS_E*
 * when it was never applied (ENOSPC/EFBIG precheck, ESHUTDOWN, EIO); then res
 * is NULL.  res is valid only during the call. */
typedef void (*node_done_fn)(void *ctx, int rc, const struct store_result *res);

/* Observer of every applied command, on the loop thread, after the proposer's
 * completion ran: fs/ uses it to invalidate kernel caches.  `mine` says the
 * command came through this node's node_propose() with kernel_knows set. */
typedef void (*node_applied_fn)(void *ctx, const struct store_result *res, bool kernel_knows);

/* `s` is borrowed and must outlive the node. */
int node_new(struct node **out, struct store *s, const struct node_options *opt);
void node_on_applied(struct node *n, node_applied_fn fn, void *ctx);
/* Starts the loop thread. */
int node_start(struct node *n);
/* Stops the loop: queued proposals complete with QFS_ESHUTDOWN. */
void node_stop(struct node *n);
void node_free(struct node *n);

/* Proposes `c` (borrowed: encoded before return).  `kernel_knows`: the change
 * was made through the kernel's own request, so its caches already reflect it.
 * done may run before node_propose returns (on a refused proposal). */
void node_propose(struct node *n, const struct qfs_cmd *c, bool kernel_knows, node_done_fn done,
		  void *ctx);

/* Wall-clock time in ns, for command time stamps. */
uint64_t node_now_ns(void);

#endif
