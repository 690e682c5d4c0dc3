/* node_read.c: linearizable reads by ReadIndex.
 *
 * Readers that arrive together share one raft_read_index() request.  Its read
 * state names the commit index at the time the leader confirmed it still
 * leads; once this node has applied that far, every reader of the batch may
 * read its local replica and see every change that completed before it
 * asked.  Requests get lost (a message, a leader): they are asked again, and
 * a reader that no leader confirms within the write timeout gets ETIMEDOUT. */
#include "node/node_internal.h"

#include <stdlib.h>

#include "quorumfs/error.h"

void node_reads_add(struct node *n, struct node_reader *r)
{
	r->deadline_ms = n->now_ms + n->opt.write_timeout_ms;
	r->next = n->reads_new;
	n->reads_new = r;
}

static void node_reads_finish(struct node_reader *r, int rc)
{
	while (r) {
		struct node_reader *next = r->next;
		r->fn(r->ctx, rc);
		free(r);
		r = next;
	}
}

void node_reads_ask(struct node *n)
{
	if (!n->reads_new || !n->leader)
		return;
	struct node_read_batch *b = calloc(1, sizeof *b);
	if (!b)
		return;
	b->id = ++n->read_seq;
	if (raft_read_index(n->raft, b->id) < 0) {
		free(b); /* no leader or queue full: asked again at the next tick */
		return;
	}
	b->asked_ms = n->now_ms;
	b->readers = n->reads_new;
	n->reads_new = NULL;
	b->next = n->read_batches;
	n->read_batches = b;
}

/* Moves a batch's readers back to the new ones (to be asked again). */
static void node_reads_requeue(struct node *n, struct node_read_batch *b)
{
	struct node_reader *r = b->readers;
	while (r) {
		struct node_reader *next = r->next;
		r->next = n->reads_new;
		n->reads_new = r;
		r = next;
	}
	b->readers = NULL;
}

static void node_batches_sweep(struct node *n, uint64_t applied, bool tick)
{
	for (struct node_read_batch **pb = &n->read_batches; *pb;) {
		struct node_read_batch *b = *pb;
		bool done = false;
		if (b->index && applied >= b->index) {
			node_reads_finish(b->readers, 0);
			done = true;
		} else if (tick && !b->index && n->now_ms - b->asked_ms >= NODE_READ_RETRY_MS) {
			node_reads_requeue(n, b);
			done = true;
		}
		if (done) {
			*pb = b->next;
			free(b);
		} else {
			pb = &b->next;
		}
	}
}

void node_reads_state(struct node *n, const struct raft_read_state *rs)
{
	for (struct node_read_batch *b = n->read_batches; b; b = b->next) {
		if (b->id != rs->ctx)
			continue;
		if (rs->index == 0) {
			b->asked_ms = 0; /* refused: ask again at the next tick */
			b->index = 0;
		} else {
			b->index = rs->index;
		}
		return;
	}
}

void node_reads_applied(struct node *n, uint64_t applied)
{
	node_batches_sweep(n, applied, false);
}

void node_reads_tick(struct node *n)
{
	struct raft_status st;
	raft_status(n->raft, &st);
	node_batches_sweep(n, st.applied, true);
	/* Readers past their deadline, wherever they wait. */
	struct node_reader *expired = NULL;
	for (struct node_reader **pr = &n->reads_new; *pr;) {
		struct node_reader *r = *pr;
		if (r->deadline_ms <= n->now_ms) {
			*pr = r->next;
			r->next = expired;
			expired = r;
		} else {
			pr = &r->next;
		}
	}
	node_reads_finish(expired, QFS_ETIMEDOUT);
}

void node_reads_fail_all(struct node *n, int rc)
{
	node_reads_finish(n->reads_new, rc);
	n->reads_new = NULL;
	while (n->read_batches) {
		struct node_read_batch *b = n->read_batches;
		n->read_batches = b->next;
		node_reads_finish(b->readers, rc);
		free(b);
	}
}
