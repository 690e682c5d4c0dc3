/* fs_queue.c: opening DIR/.dequeue.
 *
 * The open proposes a DEQUEUE command: the replicated apply deletes the
 * oldest item and hands its value to this node, which replies to the open
 * with a handle holding that value (re-reads see the same bytes).  An empty
 * queue parks the open (no FUSE thread waits) until a key appears in DIR on
 * any node, then tries again; O_NONBLOCK gets EAGAIN instead.
 *
 * A DEQUEUE that commits after its opener gave up (ETIMEDOUT: outcome
 * unknown) is put back the same way when it applies here, in the same run
 * (a node replaying its earlier runs' entries after a wipe must not put
 * back what was handed over then).
 *
 * A signal interrupts a parked open at once.  One whose DEQUEUE is already
 * in flight may still get an item: it is put back under its own name (a
 * create-if-absent, so it keeps its place in the queue) and the open fails
 * with EINTR, so no item is lost to a consumer that went away.
 *
 * Threads: proposals complete and applied changes arrive on the node loop;
 * interrupts on FUSE threads.  dq_mu guards the parked list and the flags. */
#include "fs/fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"
#include "util/log.h"

enum fs_dq_state { FS_DQ_INFLIGHT, FS_DQ_PARKED };

struct fs_dq {
	struct fs_dq *next; /* in fs->dq_parked */
	struct fs *fs;
	fuse_req_t req;
	struct fuse_file_info fi;
	uint64_t dir;
	enum fs_dq_state state;
	bool interrupted;
};

static void fs_dq_propose(struct fs_dq *dq);

/* Puts a popped item back (its consumer is gone): a create-if-absent of
 * the same name with the same value. */
static void fs_dq_done_requeue(void *ctx, int rc, const struct store_result *res)
{
	char *name = ctx;
	if (rc == 0)
		rc = res->rc;
	if (rc < 0)
		log_error("could not put back queue item %s: %s", name, qfs_strerror(rc));
	free(name);
}

static void fs_dq_requeue(struct fs *fs, uint64_t dir, const struct store_result *res)
{
	const char *name = res->n_changed_entry ? res->changed_entry[0].name : NULL;
	char *copy = name ? strdup(name) : NULL;
	if (!copy) {
		log_error("a dequeued item was lost: out of memory");
		return;
	}
	struct qfs_cmd c = {.op = QFS_OP_CAS_PUT, .ino = dir, .name = copy,
			    .name_len = (uint16_t)strlen(copy), .mode = res->attr.mode & 07777,
			    .uid = res->attr.uid, .gid = res->attr.gid, .data = res->value,
			    .data_len = (uint32_t)res->value_len, .time_ns = node_now_ns()};
	node_propose(fs->node, &c, false, fs_dq_done_requeue, copy);
}

static void fs_dq_unpark_locked(struct fs *fs, struct fs_dq *dq)
{
	for (struct fs_dq **pp = &fs->dq_parked; *pp; pp = &(*pp)->next)
		if (*pp == dq) {
			*pp = dq->next;
			dq->next = NULL;
			return;
		}
}

static void fs_dq_done(void *ctx, int rc, const struct store_result *res)
{
	struct fs_dq *dq = ctx;
	struct fs *fs = dq->fs;
	if (rc == 0)
		rc = res->rc;
	pthread_mutex_lock(&fs->dq_mu);
	if (rc == QFS_EAGAIN && !dq->interrupted && !(dq->fi.flags & O_NONBLOCK)) {
		/* Empty: wait for a key in DIR.  Changes after this entry's
		 * apply reach fs_dq_applied after us, on this same thread. */
		dq->state = FS_DQ_PARKED;
		dq->next = fs->dq_parked;
		fs->dq_parked = dq;
		pthread_mutex_unlock(&fs->dq_mu);
		return;
	}
	pthread_mutex_unlock(&fs->dq_mu);
	/* Waits for a running interrupt callback; none runs after this, so
	 * dq may be freed once replied. */
	fuse_req_interrupt_func(dq->req, NULL, NULL);
	pthread_mutex_lock(&fs->dq_mu);
	bool gone = dq->interrupted;
	pthread_mutex_unlock(&fs->dq_mu);
	if (rc < 0) {
		fuse_reply_err(dq->req, gone ? EINTR : qfs_errno(rc));
		free(dq);
		return;
	}
	struct fs_handle *h = gone ? NULL : fs_handle_new(fs, dq->dir, dq->fi.flags);
	if (h && fs_handle_set_snap(h, res->value ? (const void *)res->value : "",
				    res->value_len) < 0) {
		fs_handle_free(h);
		h = NULL;
	}
	if (!h) {
		fs_dq_requeue(fs, dq->dir, res);
		fuse_reply_err(dq->req, gone ? EINTR : ENOMEM);
		free(dq);
		return;
	}
	h->vkind = FS_V_DEQUEUE;
	h->vdir = dq->dir;
	dq->fi.fh = (uint64_t)(uintptr_t)h;
	dq->fi.direct_io = 1;
	dq->fi.keep_cache = 0;
	if (fuse_reply_open(dq->req, &dq->fi) == -ENOENT) {
		/* The opener went away before it got the item. */
		fs_handle_free(h);
		fs_dq_requeue(fs, dq->dir, res);
	}
	free(dq);
}

static void fs_dq_propose(struct fs_dq *dq)
{
	struct qfs_cmd c = {.op = QFS_OP_DEQUEUE, .ino = dq->dir, .time_ns = node_now_ns()};
	dq->state = FS_DQ_INFLIGHT;
	node_propose(dq->fs->node, &c, false, fs_dq_done, dq);
}

static void fs_dq_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	struct fs_dq *dq = data;
	struct fs *fs = dq->fs;
	pthread_mutex_lock(&fs->dq_mu);
	dq->interrupted = true;
	bool parked = dq->state == FS_DQ_PARKED;
	if (parked)
		fs_dq_unpark_locked(fs, dq);
	pthread_mutex_unlock(&fs->dq_mu);
	if (parked) {
		fuse_reply_err(dq->req, EINTR);
		free(dq);
	} /* else the in-flight DEQUEUE completes it (fs_dq_done) */
}

void fs_dq_open(fuse_req_t req, uint64_t dir, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_dq *dq = calloc(1, sizeof *dq);
	if (!dq) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	dq->fs = fs;
	dq->req = req;
	dq->fi = *fi;
	dq->dir = dir;
	dq->state = FS_DQ_INFLIGHT;
	/* Runs the callback at once if the request was interrupted already:
	 * then the flag is set before the proposal goes out. */
	fuse_req_interrupt_func(req, fs_dq_interrupt, dq);
	fs_dq_propose(dq);
}

/* On the loop thread for every applied change: a key that appeared in a
 * directory with parked dequeues wakes them to try again. */
void fs_dq_applied(struct fs *fs, const struct store_result *res, bool orphan)
{
	if (res->rc < 0 || res->n_changed_entry == 0)
		return;
	if (orphan && res->op == QFS_OP_DEQUEUE) {
		/* Our consumer (this run's) gave up (ETIMEDOUT) before this pop
		 * committed: nobody will read the item, so it goes back. */
		fs_dq_requeue(fs, res->changed_entry[0].parent, res);
		return;
	}
	pthread_mutex_lock(&fs->dq_mu);
	if (!fs->dq_parked) {
		pthread_mutex_unlock(&fs->dq_mu);
		return;
	}
	struct fs_dq *wake = NULL;
	for (struct fs_dq **pp = &fs->dq_parked; *pp;) {
		struct fs_dq *dq = *pp;
		bool hit = false;
		for (unsigned i = 0; i < res->n_changed_entry; i++)
			hit |= res->changed_entry[i].parent == dq->dir;
		if (hit) {
			*pp = dq->next;
			dq->state = FS_DQ_INFLIGHT;
			dq->next = wake;
			wake = dq;
		} else {
			pp = &dq->next;
		}
	}
	pthread_mutex_unlock(&fs->dq_mu);
	while (wake) {
		struct fs_dq *dq = wake;
		wake = dq->next;
		dq->next = NULL;
		fs_dq_propose(dq);
	}
}

/* At unmount: parked opens fail (the node loop has stopped). */
void fs_dq_stop(struct fs *fs)
{
	pthread_mutex_lock(&fs->dq_mu);
	struct fs_dq *dq = fs->dq_parked;
	fs->dq_parked = NULL;
	for (struct fs_dq *x = dq; x; x = x->next)
		x->state = FS_DQ_INFLIGHT; /* an interrupt now only marks it */
	pthread_mutex_unlock(&fs->dq_mu);
	while (dq) {
		struct fs_dq *next = dq->next;
		fuse_req_interrupt_func(dq->req, NULL, NULL);
		fuse_reply_err(dq->req, EINTR);
		free(dq);
		dq = next;
	}
}
