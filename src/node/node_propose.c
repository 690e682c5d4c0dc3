/* node_propose.c: proposals from this node until they are applied here.
 *
 * A proposal waits for a leader (WAITING), is appended to our own log when we
 * lead (PROPOSED at index/term), or forwarded to the leader (FORWARDED).  It
 * completes when an entry carrying our id and its req_id is applied.  It is
 * sent again when the leader changes or a forward goes unanswered: apply
 * skips a (origin, req_id) it has seen (store_session_seen), so a proposal
 * takes effect once however often it is sent.  At the write timeout: EROFS if
 * it never left this node, ETIMEDOUT if it did (it may still commit). */
#include "node/node_internal.h"

#include <stdlib.h>
#include <string.h>

#include "quorumfs/error.h"
#include "util/log.h"

static size_t bucket_of(uint64_t req_id)
{
	return (size_t)(req_id * 0x9E3779B97F4A7C15ull >> 54) % NODE_PENDING_BUCKETS;
}

void node_pending_add(struct node *n, struct node_pending *p)
{
	size_t b = bucket_of(p->req_id);
	p->next_hash = n->pending_hash[b];
	n->pending_hash[b] = p;
	p->prev_all = NULL;
	p->next_all = n->pending_all;
	if (n->pending_all)
		n->pending_all->prev_all = p;
	n->pending_all = p;
}

struct node_pending *node_pending_find(struct node *n, uint64_t req_id)
{
	for (struct node_pending *p = n->pending_hash[bucket_of(req_id)]; p; p = p->next_hash)
		if (p->req_id == req_id)
			return p;
	return NULL;
}

void node_pending_finish(struct node *n, struct node_pending *p, int rc,
			 const struct store_result *res)
{
	struct node_pending **pp = &n->pending_hash[bucket_of(p->req_id)];
	while (*pp != p)
		pp = &(*pp)->next_hash;
	*pp = p->next_hash;
	if (p->prev_all)
		p->prev_all->next_all = p->next_all;
	else
		n->pending_all = p->next_all;
	if (p->next_all)
		p->next_all->prev_all = p->prev_all;
	node_metrics_proposal_done(n, rc, p->start_us);
	p->done(p->ctx, rc, res);
	free(p);
}

static void put64le(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

/* Hands p to the leader: our log, or a forward.  Leaves it WAITING when no
 * leader can take it now. */
static void node_submit(struct node *n, struct node_pending *p)
{
	if (n->leader == n->id) {
		uint64_t index, term;
		int rc = raft_propose(n->raft, p->entry, (uint32_t)p->len, &index, &term);
		if (rc == 0) {
			p->state = NODE_P_PROPOSED;
			p->left_node = true;
			p->index = index;
			p->term = term;
		} else if (rc == RAFT_ETOOBIG) {
			node_pending_finish(n, p, QFS_EFBIG, NULL);
		}
		/* ENOTLEADER, EBUSY (transfer), EAGAIN (backlog): retry later. */
		return;
	}
	if (!n->leader || !n->net)
		return;
	struct net_msg m = {.kind = NET_FORWARD, .to = n->leader};
	m.u.forward.req_id = p->req_id;
	m.u.forward.data = p->entry;
	m.u.forward.len = (uint32_t)p->len;
	if (net_send(n->net, &m) == 0) {
		p->state = NODE_P_FORWARDED;
		p->left_node = true;
		p->sent_ms = n->now_ms;
	}
}

void node_handle_proposal(struct node *n, struct node_pending *p)
{
	p->entry[0] = NODE_ENVELOPE_VERSION;
	p->entry[1] = NODE_ENTRY_CMD;
	put64le(p->entry + 2, n->id);
	put64le(p->entry + 10, p->req_id);
	p->state = NODE_P_WAITING;
	p->deadline_ms = n->now_ms + n->opt.write_timeout_ms;
	node_pending_add(n, p);
	node_submit(n, p);
}

void node_retry_waiting(struct node *n)
{
	if (!n->leader)
		return;
	for (struct node_pending *p = n->pending_all, *next; p; p = next) {
		next = p->next_all;
		if (p->state == NODE_P_WAITING && p->retry_ms <= n->now_ms)
			node_submit(n, p);
	}
}

void node_pending_leader_changed(struct node *n)
{
	/* What went to the old leader may be lost with it: send it again. */
	for (struct node_pending *p = n->pending_all; p; p = p->next_all)
		if (p->state == NODE_P_FORWARDED ||
		    (p->state == NODE_P_PROPOSED && n->leader != n->id)) {
			p->state = NODE_P_WAITING;
			p->retry_ms = 0;
		}
}

void node_expire_pending(struct node *n)
{
	for (struct node_pending *p = n->pending_all, *next; p; p = next) {
		next = p->next_all;
		if (p->state == NODE_P_FORWARDED && n->now_ms - p->sent_ms >= NODE_REFORWARD_MS) {
			p->state = NODE_P_WAITING; /* the message may have been lost */
			p->retry_ms = 0;
		}
		if (p->deadline_ms > n->now_ms)
			continue;
		node_pending_finish(n, p, p->left_node ? QFS_ETIMEDOUT : QFS_EROFS, NULL);
	}
}

void node_fail_all_pending(struct node *n, int rc)
{
	/* What already left this node may still commit: its outcome is unknown. */
	while (n->pending_all)
		node_pending_finish(n, n->pending_all, n->pending_all->left_node ? QFS_ETIMEDOUT : rc,
				    NULL);
}

/* Leader side of a forward: append it, or say why not. */
void node_handle_forward(struct node *n, const struct net_msg *m)
{
	const struct net_forward *f = &m->u.forward;
	int rc = QFS_ENOTLEADER;
	if (n->leader == n->id) {
		/* The envelope must name the sender as origin: a peer cannot
		 * complete another node's requests. */
		const uint8_t *e = f->data;
		uint64_t origin = 0;
		if (f->len >= NODE_ENVELOPE_SIZE)
			for (int i = 0; i < 8; i++)
				origin |= (uint64_t)e[2 + i] << (8 * i);
		if (origin != m->from || e[0] != NODE_ENVELOPE_VERSION) {
			rc = QFS_EINVAL;
		} else {
			int r = raft_propose(n->raft, f->data, f->len, NULL, NULL);
			rc = r == 0 ? 0 : r == RAFT_ETOOBIG ? QFS_EFBIG : QFS_ENOTLEADER;
		}
	}
	if (rc == 0)
		return;
	struct net_msg nack = {.kind = NET_FORWARD_NACK, .to = m->from};
	nack.u.nack.req_id = f->req_id;
	nack.u.nack.rc = rc;
	net_send(n->net, &nack);
}

void node_handle_nack(struct node *n, const struct net_msg *m)
{
	struct node_pending *p = node_pending_find(n, m->u.nack.req_id);
	if (!p || p->state != NODE_P_FORWARDED)
		return;
	if (m->u.nack.rc == QFS_EFBIG || m->u.nack.rc == QFS_EINVAL) {
		node_pending_finish(n, p, m->u.nack.rc, NULL);
		return;
	}
	/* Not appended anywhere: safe to send again, once the leader we know
	 * may have changed (a tick later). */
	p->state = NODE_P_WAITING;
	p->retry_ms = n->now_ms + n->opt.tick_ms;
}
