/* node.c: lifecycle, the event queue and the loop. */
#include "node/node_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "util/log.h"
#include "util/sdnotify.h"

uint64_t node_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t node_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

uint64_t node_id_of(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	return h ? h : 1;
}

int node_claim_name(struct store *s, const char *requested, bool explicit_name, char *out,
		    size_t cap)
{
	char stored[256], want[256];
	size_t len = 0;
	struct store_rtxn *rt;
	snprintf(want, sizeof want, "%s", requested); /* `out` may alias it */
	requested = want;
	int rc = store_rbegin(s, &rt);
	if (rc < 0)
		return rc;
	rc = store_meta_get(rt, "node_name", stored, sizeof stored - 1, &len);
	store_rend(rt);
	if (rc == 0) {
		stored[len] = '\0';
		if (explicit_name && strcmp(stored, requested) != 0) {
			log_error("this data directory belongs to node '%s', not '%s': start it with "
				  "--name %s, or give this node its own --data",
				  stored, requested, stored);
			return QFS_EINVAL;
		}
		snprintf(out, cap, "%s", stored);
		return 0;
	}
	if (rc != QFS_ENOENT)
		return rc;
	struct store_wtxn *t;
	rc = store_wbegin(s, &t);
	if (rc == 0)
		rc = store_meta_put(t, "node_name", requested, strlen(requested));
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	snprintf(out, cap, "%s", requested);
	return rc;
}

/* The URL peers should dial: --advertise; else our own --peer entry; else
 * --listen, unless it listens on every address (0.0.0.0, [::]), which
 * nobody can dial: then NULL (we announce nothing). */
static const char *node_advertise_url(const struct node_options *opt)
{
	if (opt->advertise && *opt->advertise)
		return opt->advertise;
	for (unsigned i = 0; i < opt->n_peers; i++)
		if (opt->name && strcmp(opt->peers[i].name, opt->name) == 0)
			return opt->peers[i].url;
	if (!opt->listen || strstr(opt->listen, "://0.0.0.0") || strstr(opt->listen, "://[::]") ||
	    strstr(opt->listen, "://*"))
		return NULL;
	return opt->listen;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* --secret-file and --tls-*: read and checked before anything is mounted,
 * so a bad file fails the start with a clear message. */
static int node_security_init(struct node *n, const struct node_options *opt)
{
	char err[768];
	if (opt->secret_file && *opt->secret_file) {
		if (net_auth_key_load(opt->secret_file, n->net_key, err, sizeof err) < 0) {
			log_error("%s", err);
			return QFS_EINVAL;
		}
		n->net_auth = true;
	}
	if ((opt->tls_cert && *opt->tls_cert) || (opt->tls_key && *opt->tls_key) ||
	    (opt->tls_ca && *opt->tls_ca)) {
		if (!n->opt.tls_cert || !n->opt.tls_key || !n->opt.tls_ca) {
			log_error("--tls-cert, --tls-key and --tls-ca go together");
			return QFS_EINVAL;
		}
		if (net_tls_check(n->opt.tls_cert, n->opt.tls_key, n->opt.tls_ca, err,
				  sizeof err) < 0) {
			log_error("%s", err);
			return QFS_EINVAL;
		}
	}
	return 0;
}

#define NODE_META_NET_EPOCH "net_epoch"

/* The epoch of this run's authenticated peer messages: the wall clock in
 * ms, kept above every earlier run's even when the clock went back (peers
 * drop an older epoch's messages as replays). */
static uint64_t node_net_epoch(struct node *n)
{
	uint64_t now = node_now_ns() / 1000000ull, last = 0;
	size_t len = 0;
	struct store_rtxn *rt;
	if (store_rbegin(n->store, &rt) == 0) {
		if (store_meta_get(rt, NODE_META_NET_EPOCH, &last, sizeof last, &len) < 0 ||
		    len != sizeof last)
			last = 0;
		store_rend(rt);
	}
	uint64_t epoch = now > last ? now : last + 1;
	if (epoch != now)
		log_warn("the clock is behind this node's previous run: peer messages carry epoch "
			 "%llu instead", (unsigned long long)epoch);
	struct store_wtxn *t;
	int rc = store_wbegin(n->store, &t);
	if (rc == 0)
		rc = store_meta_put(t, NODE_META_NET_EPOCH, &epoch, sizeof epoch);
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	if (rc < 0)
		log_warn("cannot record the peer message epoch: %s", qfs_strerror(rc));
	return epoch;
}

int node_new(struct node **out, struct store *s, const struct node_options *opt)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n)
		return QFS_ENOMEM;
	n->store = s;
	n->opt = *opt;
	n->opt.backup_dir = dup_or_null(opt->backup_dir); /* node_free frees it */
	n->opt.secret_file = NULL; /* read once (node_security_init): only the key is kept */
	n->opt.tls_cert = dup_or_null(opt->tls_cert); /* node_free frees them */
	n->opt.tls_key = dup_or_null(opt->tls_key);
	n->opt.tls_ca = dup_or_null(opt->tls_ca);
	n->name = strdup(opt->name ? opt->name : "quorumfs");
	n->data_dir = strdup(opt->data_dir ? opt->data_dir : ".");
	n->listen = dup_or_null(opt->listen);
	n->advertise = dup_or_null(node_advertise_url(opt));
	n->join = dup_or_null(opt->join);
	n->decoded = malloc(sizeof *n->decoded);
	n->snap_chunk = malloc(RAFT_SNAP_CHUNK);
	if (!n->name || !n->data_dir || !n->decoded || !n->snap_chunk) {
		node_free(n);
		return QFS_ENOMEM;
	}
	/* Peer strings are copied too: the options may go away. */
	for (unsigned i = 0; i < opt->n_peers; i++) {
		n->opt.peers[i].name = strdup(opt->peers[i].name);
		n->opt.peers[i].url = strdup(opt->peers[i].url);
	}
	if (!n->opt.tick_ms)
		n->opt.tick_ms = 50;
	if (!n->opt.heartbeat_ticks)
		n->opt.heartbeat_ticks = 1;
	if (!n->opt.election_ticks)
		n->opt.election_ticks = 6;
	if (!n->opt.write_timeout_ms)
		n->opt.write_timeout_ms = 5000;
	if (!n->opt.snapshot_entries)
		n->opt.snapshot_entries = 4096;
	if (!n->opt.batch_max)
		n->opt.batch_max = QFS_BATCH_MAX;
	/* Under systemd's WatchdogSec=: ping at half the period. */
	uint64_t wd_usec = sdnotify_watchdog_usec();
	n->watchdog_ms = wd_usec ? (wd_usec / 2000 ? wd_usec / 2000 : 1) : 0;
	n->id = node_id_of(n->name);
	n->rng = n->id ^ node_now_ns();
	n->next_req_id = 1;
	pthread_mutex_init(&n->mu, NULL);
	/* The loop waits for ticks on the monotonic clock. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&n->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&n->status_mu, NULL);
	node_members_init(n);

	if (node_security_init(n, opt) < 0) {
		node_free(n);
		return QFS_EINVAL;
	}
	if (n->join && !n->advertise) {
		log_error("--join with --listen %s needs --advertise URL: the address the cluster "
			  "should dial to reach this node", n->listen);
		node_free(n);
		return QFS_EINVAL;
	}
	int rc = node_raft_open(n);
	if (rc < 0) {
		node_free(n);
		return rc;
	}
	node_members_refresh(n); /* members/ lists this node from the start */
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
	net_free(n->net);
	raft_free(n->raft);
	for (unsigned i = 0; i < n->opt.n_peers; i++) {
		free((char *)n->opt.peers[i].name);
		free((char *)n->opt.peers[i].url);
	}
	free((char *)n->opt.backup_dir);
	free((char *)n->opt.tls_cert);
	free((char *)n->opt.tls_key);
	free((char *)n->opt.tls_ca);
	explicit_bzero(n->net_key, sizeof n->net_key);
	pthread_cond_destroy(&n->cv);
	pthread_mutex_destroy(&n->mu);
	pthread_mutex_destroy(&n->status_mu);
	node_members_fini(n);
	free(n->decoded);
	free(n->snap_chunk);
	free(n->name);
	free(n->data_dir);
	free(n->listen);
	free(n->advertise);
	free(n->join);
	free(n);
}

static void node_push(struct node *n, struct node_event *ev)
{
	ev->next = NULL;
	if (n->tail)
		n->tail->next = ev;
	else
		n->head = ev;
	n->tail = ev;
	pthread_cond_broadcast(&n->cv); /* the loop, or a node_call waiter */
}

void node_propose(struct node *n, const struct qfs_cmd *c, bool kernel_knows, node_done_fn done,
		  void *ctx)
{
	uint64_t start_us = node_mono_us();
	atomic_fetch_add_explicit(&n->counters.proposals, 1, memory_order_relaxed);
	/* Space and size are checked here, before the change enters the log, so
	 * that apply stays deterministic on every replica. */
	struct store_rtxn *rt;
	int rc = store_rbegin(n->store, &rt);
	if (rc == 0) {
		rc = store_precheck(rt, c);
		store_rend(rt);
	}
	if (rc < 0) {
		node_metrics_proposal_done(n, rc, start_us);
		done(ctx, rc, NULL);
		return;
	}
	size_t clen = qfs_cmd_encoded_size(c);
	struct node_pending *p = calloc(1, sizeof *p + NODE_ENVELOPE_SIZE + clen);
	struct node_event *ev = calloc(1, sizeof *ev);
	if (!p || !ev) {
		free(p);
		free(ev);
		node_metrics_proposal_done(n, QFS_ENOMEM, start_us);
		done(ctx, QFS_ENOMEM, NULL);
		return;
	}
	long enc = qfs_cmd_encode(c, p->entry + NODE_ENVELOPE_SIZE, clen);
	if (enc < 0) {
		free(p);
		free(ev);
		node_metrics_proposal_done(n, (int)enc, start_us);
		done(ctx, (int)enc, NULL);
		return;
	}
	p->len = NODE_ENVELOPE_SIZE + (size_t)enc;
	p->done = done;
	p->ctx = ctx;
	p->kernel_knows = kernel_knows;
	p->start_us = start_us;
	ev->kind = NODE_EV_PROPOSE;
	ev->pending = p;

	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		free(p);
		free(ev);
		node_metrics_proposal_done(n, QFS_ESHUTDOWN, start_us);
		done(ctx, QFS_ESHUTDOWN, NULL);
		return;
	}
	p->req_id = n->next_req_id++;
	node_push(n, ev);
	pthread_mutex_unlock(&n->mu);
}

/* Peer messages arrive on an nng thread: re-encode (the decoded view points
 * into nng's buffer) and queue for the loop. */
static void node_on_net(void *ctx, const struct net_decoded *d)
{
	struct node *n = ctx;
	size_t len;
	if (net_encoded_size(&d->msg, &len) < 0)
		return;
	struct node_event *ev = malloc(sizeof *ev + len);
	if (!ev)
		return; /* lost like any message: Raft retries */
	if (net_encode(&d->msg, ev->bytes, len, NULL) < 0) {
		free(ev);
		return;
	}
	ev->kind = NODE_EV_NET;
	ev->pending = NULL;
	ev->len = len;
	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		free(ev);
		return;
	}
	node_push(n, ev);
	pthread_mutex_unlock(&n->mu);
}

static void node_handle_event(struct node *n, struct node_event *ev)
{
	switch (ev->kind) {
	case NODE_EV_PROPOSE:
		node_handle_proposal(n, ev->pending);
		break;
	case NODE_EV_NET:
		node_handle_net(n, ev->bytes, ev->len);
		break;
	case NODE_EV_READ:
		node_reads_add(n, ev->reader);
		break;
	case NODE_EV_CALL:
		ev->call->rc = ev->call->fn(n, ev->call->arg);
		pthread_mutex_lock(&n->mu);
		ev->call->done = true;
		pthread_cond_broadcast(&n->cv);
		pthread_mutex_unlock(&n->mu);
		break;
	}
	free(ev);
}

/* The loop's next timer: the Raft tick, or a watchdog ping when that
 * comes first (a --heartbeat longer than the watchdog period). */
static uint64_t node_next_wake_ms(const struct node *n)
{
	if (n->watchdog_ms && n->next_watchdog_ms < n->next_tick_ms)
		return n->next_watchdog_ms;
	return n->next_tick_ms;
}

/* WATCHDOG=1 to systemd when due.  Only the loop pings, between batches:
 * a loop stuck in a handler, a transaction or a lock stops pinging and
 * systemd restarts the daemon (WatchdogSec= in quorumfs.service). */
static void node_watchdog(struct node *n)
{
	if (!n->watchdog_ms || n->now_ms < n->next_watchdog_ms)
		return;
	n->next_watchdog_ms = n->now_ms + n->watchdog_ms;
	int rc = sdnotify_send("WATCHDOG=1");
	if (rc < 0 && !n->watchdog_warned) {
		n->watchdog_warned = true;
		log_warn("cannot ping the systemd watchdog at $NOTIFY_SOCKET: %s", strerror(-rc));
	}
}

/* Waits for events until the next tick; returns the batch taken (NULL on
 * timeout) and whether the node is stopping. */
static struct node_event *node_wait(struct node *n, bool *stopping)
{
	pthread_mutex_lock(&n->mu);
	while (!n->head && !n->stopping) {
		uint64_t now = node_mono_ms();
		uint64_t wake = node_next_wake_ms(n);
		if (now >= wake)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait_ms = wake - now;
		ts.tv_sec += (time_t)(wait_ms / 1000);
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&n->cv, &n->mu, &ts);
	}
	struct node_event *batch = n->head;
	n->head = n->tail = NULL;
	*stopping = n->stopping;
	pthread_mutex_unlock(&n->mu);
	return batch;
}

/* The only voter needs nobody's vote: it leads at once instead of after an
 * election timeout (a single node serves writes from its first request). */
static void node_campaign_if_alone(struct node *n)
{
	struct raft_status *st = malloc(sizeof *st);
	if (!st)
		return;
	raft_status(n->raft, st);
	if (st->is_voter && st->conf.n_voters == 1 && st->role != RAFT_LEADER)
		raft_campaign(n->raft);
	free(st);
}

static void *node_loop(void *arg)
{
	struct node *n = arg;
	bool stopping = false;
	n->next_tick_ms = node_mono_ms() + n->opt.tick_ms;
	n->next_watchdog_ms = node_mono_ms(); /* the first ping at once */
	node_process_ready(n); /* bootstrap or restore may have left work */
	while (!stopping) {
		struct node_event *ev = node_wait(n, &stopping);
		n->now_ms = node_mono_ms();
		/* Everything queued goes into one ready batch (one transaction,
		 * one fsync: group commit), cut at batch_max events so a long
		 * queue still makes progress in bounded steps. */
		while (ev) {
			for (uint32_t k = 0; ev && k < n->opt.batch_max; k++) {
				struct node_event *next = ev->next;
				node_handle_event(n, ev);
				ev = next;
			}
			node_retry_waiting(n);
			node_reads_ask(n);
			node_process_ready(n);
		}
		if (n->now_ms >= n->next_tick_ms) {
			n->next_tick_ms += n->opt.tick_ms;
			if (n->next_tick_ms <= n->now_ms)
				n->next_tick_ms = n->now_ms + n->opt.tick_ms;
			raft_tick(n->raft);
			node_cluster_tick(n);
			node_members_tick(n);
			node_expire_pending(n);
			node_reads_tick(n);
		}
		node_watchdog(n);
		node_process_ready(n);
		node_retry_waiting(n);
		node_reads_ask(n);
		node_process_ready(n);
		node_maybe_snapshot(n);
		node_status_refresh(n);
	}
	node_fail_all_pending(n, QFS_ESHUTDOWN);
	node_reads_fail_all(n, QFS_ESHUTDOWN);
	return NULL;
}

void node_read_barrier(struct node *n, node_read_fn fn, void *ctx)
{
	struct node_reader *r = calloc(1, sizeof *r);
	struct node_event *ev = calloc(1, sizeof *ev);
	if (!r || !ev) {
		free(r);
		free(ev);
		fn(ctx, QFS_ENOMEM);
		return;
	}
	r->fn = fn;
	r->ctx = ctx;
	ev->kind = NODE_EV_READ;
	ev->reader = r;
	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		free(r);
		free(ev);
		fn(ctx, QFS_ESHUTDOWN);
		return;
	}
	node_push(n, ev);
	pthread_mutex_unlock(&n->mu);
}

int node_call(struct node *n, int (*fn)(struct node *n, void *arg), void *arg)
{
	struct node_call call = {.fn = fn, .arg = arg};
	struct node_event *ev = calloc(1, sizeof *ev);
	if (!ev)
		return QFS_ENOMEM;
	ev->kind = NODE_EV_CALL;
	ev->call = &call;
	pthread_mutex_lock(&n->mu);
	if (n->stopping) {
		pthread_mutex_unlock(&n->mu);
		free(ev);
		return QFS_ESHUTDOWN;
	}
	node_push(n, ev);
	/* The loop broadcasts on cv when a call is done. */
	while (!call.done && !n->stopping)
		pthread_cond_wait(&n->cv, &n->mu);
	bool done = call.done;
	pthread_mutex_unlock(&n->mu);
	return done ? call.rc : QFS_ESHUTDOWN;
}

int node_start(struct node *n)
{
	if (n->listen) {
		struct net_config cfg = {.listen = n->listen, .self_id = n->id,
					 .cluster_id = n->cluster_id,
					 .auth_key = n->net_auth ? n->net_key : NULL,
					 .auth_epoch = n->net_auth ? node_net_epoch(n) : 0,
					 .tls_cert = n->opt.tls_cert, .tls_key = n->opt.tls_key,
					 .tls_ca = n->opt.tls_ca};
		struct net *net;
		int rc = net_new(&net, &cfg, node_on_net, n);
		if (rc < 0) {
			log_error("cannot listen on %s: %s", n->listen, qfs_strerror(rc));
			return rc;
		}
		pthread_mutex_lock(&n->status_mu); /* node_metrics_render reads it */
		n->net = net;
		pthread_mutex_unlock(&n->status_mu);
		node_cluster_connect(n);
	}
	/* The loop does not run yet: this thread may drive Raft until then. */
	node_campaign_if_alone(n);
	node_process_ready(n);
	node_status_refresh(n);
	node_members_refresh(n);
	if (pthread_create(&n->thread, NULL, node_loop, n) != 0)
		return QFS_ENOMEM;
	n->started = true;
	int rc = node_admin_start(n);
	if (rc == 0)
		rc = node_backup_start(n);
	return rc;
}

void node_stop(struct node *n)
{
	node_backup_stop(n);
	node_admin_stop(n);
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_cond_broadcast(&n->cv);
	struct node_event *ev = n->head;
	n->head = n->tail = NULL;
	pthread_mutex_unlock(&n->mu);
	if (n->started)
		pthread_join(n->thread, NULL);
	n->started = false;
	/* Proposals that never reached the loop. */
	while (ev) {
		struct node_event *next = ev->next;
		if (ev->kind == NODE_EV_PROPOSE) {
			node_metrics_proposal_done(n, QFS_ESHUTDOWN, ev->pending->start_us);
			ev->pending->done(ev->pending->ctx, QFS_ESHUTDOWN, NULL);
			free(ev->pending);
		}
		if (ev->kind == NODE_EV_READ) {
			ev->reader->fn(ev->reader->ctx, QFS_ESHUTDOWN);
			free(ev->reader);
		}
		/* NODE_EV_CALL: its caller sees `stopping` and returns. */
		free(ev);
		ev = next;
	}
	pthread_mutex_lock(&n->status_mu); /* node_metrics_render reads it */
	struct net *net = n->net;
	n->net = NULL;
	pthread_mutex_unlock(&n->status_mu);
	net_free(net);
}

void node_status(struct node *n, struct node_status *st)
{
	pthread_mutex_lock(&n->status_mu);
	*st = n->status;
	pthread_mutex_unlock(&n->status_mu);
}
