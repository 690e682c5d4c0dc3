#include "node/node.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "util/log.h"

struct proposal {
	struct proposal *next;
	node_done_fn done;
	void *ctx;
	bool kernel_knows;
	size_t len;
	uint8_t bytes[]; /* the encoded command: exactly what a log entry holds */
};

struct node {
	struct store *store;
	uint32_t batch_max;
	node_applied_fn on_applied;
	void *on_applied_ctx;

	pthread_mutex_t mu; /* guards the queue and `stopping` */
	pthread_cond_t cv;
	struct proposal *head, *tail;
	bool stopping;
	bool started;
	pthread_t thread;

	uint64_t applied; /* loop thread only */
};

uint64_t node_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int node_new(struct node **out, struct store *s, const struct node_options *opt)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		return QFS_ENOMEM;
	n->store = s;
	n->batch_max = opt && opt->batch_max ? opt->batch_max : QFS_BATCH_MAX;
	pthread_mutex_init(&n->mu, NULL);
	pthread_cond_init(&n->cv, NULL);

	struct store_rtxn *rt;
	int rc = store_rbegin(s, &rt);
	if (rc == 0) {
		struct store_stats st;
		rc = store_stats(rt, &st);
		store_rend(rt);
		n->applied = st.applied;
	}
	if (rc < 0) {
		node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void node_on_applied(struct node *n, node_applied_fn fn, void *ctx)
{
	n->on_applied = fn;
	n->on_applied_ctx = ctx;
}

void node_free(struct node *n)
{
	if (!n)
		return;
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

void node_propose(struct node *n, const struct qfs_cmd *c, bool kernel_knows, node_done_fn done,
		  void *ctx)
{
	/* Space and size are checked here, before the change enters the log, so
	 * that apply stays deterministic on every replica. */
	struct store_rtxn *rt;
	int rc = store_rbegin(n->store, &rt);
	if (rc == 0) {
		rc = store_precheck(rt, c);
		store_rend(rt);
	}
	if (rc < 0) {
		done(ctx, rc, NULL);
		return;
	}
	size_t len = qfs_cmd_encoded_size(c);
	struct proposal *p = malloc(sizeof *p + len);
	if (!p) {
		done(ctx, QFS_ENOMEM, NULL);
		return;
	}
	long enc = qfs_cmd_encode(c, p->bytes, len);
	if (enc < 0) {
		free(p);
		done(ctx, (int)enc, NULL);
		return;
	}
	p->len = (size_t)enc;
	p->next = NULL;
	p->done = done;
	p->ctx = ctx;
	p->kernel_knows = kernel_knows;

	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		free(p);
		done(ctx, QFS_ESHUTDOWN, NULL);
		return;
	}
	if (n->tail)
		n->tail->next = p;
	else
		n->head = p;
	n->tail = p;
	pthread_cond_signal(&n->cv);
	pthread_mutex_unlock(&n->mu);
}

/* Takes up to batch_max queued proposals; NULL once stopping and drained. */
static struct proposal *node_take_batch(struct node *n)
{
	pthread_mutex_lock(&n->mu);
	while (!n->head && !n->stopping)
		pthread_cond_wait(&n->cv, &n->mu);
	struct proposal *batch = n->head, *last = n->head;
	for (uint32_t i = 1; last && last->next && i < n->batch_max; i++)
		last = last->next;
	if (last) {
		n->head = last->next;
		if (!n->head)
			n->tail = NULL;
		last->next = NULL;
	}
	pthread_mutex_unlock(&n->mu);
	return batch;
}

static void node_fail_all(struct proposal *p, int rc)
{
	while (p) {
		struct proposal *next = p->next;
		p->done(p->ctx, rc, NULL);
		free(p);
		p = next;
	}
}

/* Applies one batch in one transaction.  Results are kept until the commit
 * is durable: nobody hears of a change before it would survive a crash. */
static void node_apply_batch(struct node *n, struct proposal *batch)
{
	size_t count = 0;
	for (struct proposal *p = batch; p; p = p->next)
		count++;
	struct store_result *res = calloc(count, sizeof *res);
	if (!res) {
		node_fail_all(batch, QFS_ENOMEM);
		return;
	}
	struct store_wtxn *t;
	int rc = store_wbegin(n->store, &t);
	uint64_t index = n->applied;
	size_t i = 0;
	for (struct proposal *p = batch; rc == 0 && p; p = p->next, i++) {
		struct qfs_cmd c;
		rc = qfs_cmd_decode(p->bytes, p->len, &c);
		if (rc < 0) {
			res[i].rc = rc; /* cannot happen for our own encoding */
			rc = 0;
			continue;
		}
		rc = store_apply(t, ++index, &c, &res[i]);
	}
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	if (rc < 0) {
		log_error("commit of %zu changes failed: %s", count, qfs_strerror(rc));
		free(res);
		node_fail_all(batch, rc);
		return;
	}
	n->applied = index;
	i = 0;
	for (struct proposal *p = batch; p; i++) {
		struct proposal *next = p->next;
		p->done(p->ctx, 0, &res[i]);
		if (n->on_applied)
			n->on_applied(n->on_applied_ctx, &res[i], p->kernel_knows);
		free(p);
		p = next;
	}
	free(res);
}

static void *node_loop(void *arg)
{
	struct node *n = arg;
	struct proposal *batch;
	while ((batch = node_take_batch(n)))
		node_apply_batch(n, batch);
	return NULL;
}

int node_start(struct node *n)
{
	if (pthread_create(&n->thread, NULL, node_loop, n) != 0)
		return QFS_ENOMEM;
	n->started = true;
	return 0;
}

void node_stop(struct node *n)
{
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_broadcast(&n->cv);
	pthread_mutex_unlock(&n->mu);
	if (n->started)
		pthread_join(n->thread, NULL);
	n->started = false;
	/* The loop drains the queue before it exits; anything proposed since
	 * was refused by node_propose. */
}
