/* link: peer links on nng.  One pull0 socket receives from every peer; one
 * push0 socket per peer sends to it, dialed in the background.  See net.h
 * for the threading rules.  With --secret-file every message carries a MAC
 * and the receiver keeps a replay window per sender; with --tls-* every
 * link is tls+tcp:// with mutual certificate checks (one client and one
 * server nng_tls_config, shared by all links). */
#include "net/net.h"

#include "quorumfs/error.h"
#include "util/log.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/tls/tls.h>

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* nng 1.5.2's push0 (Debian 12; rewritten upstream later) can leave a pipe
 * on the socket's ready list after the pipe closed (a send completing, or
 * the pipe starting, while the connection drops puts it back), and then
 * frees it.  The next send on that socket, or the next connection its
 * dialer makes, uses the freed pipe: the fault soak hit it as a SIGSEGV in
 * nni_list_remove under nng_sendmsg right after a killed peer came back.
 * So a push socket serves one connection only.  Once a pipe of it is being
 * destroyed (REM_POST, which nng runs before it frees the pipe) the guard
 * is broken: new pipes are refused before push0 sees them (ADD_PRE) and we
 * never send on that socket again; the next send replaces it with a fresh
 * socket and dialer.  Sends hold the guard's lock around nng_sendmsg, so a
 * pipe cannot be freed under a send that checked the guard just before.
 * The socket's closer frees the guard once nng_close returned (no callback
 * runs after that). */
struct link_guard {
	pthread_mutex_t mu; /* a leaf lock */
	bool broken;
};

/* One outgoing link: a push0 socket dialing `url`.  Peers have an id; URL
 * links (net_send_url) have id 0 and are recycled least recently used. */
struct link {
	bool used;
	uint64_t id;
	uint64_t last_use; /* URL links: n->link_clock at the last send */
	nng_socket sock;
	nng_dialer dialer;
	struct link_guard *guard;
	uint64_t tls_auth_seen; /* nng's "auth" count of the dialer, as last read */
	char url[NET_MAX_URL + 1];
};

struct net {
	net_recv_fn on_recv;
	void *ctx;
	uint64_t self;
	_Atomic uint64_t cluster_id;
	int send_queue;
	nng_duration reconnect_min;
	nng_duration reconnect_max;

	bool listening;
	nng_socket pull;
	nng_listener listener;
	nng_aio *recv_aio;

	/* --secret-file (immutable after net_new). */
	bool auth;
	uint8_t key[NET_AUTH_KEY_SIZE];
	uint64_t epoch;
	_Atomic uint64_t auth_seq; /* the last sequence number sent */

	/* --tls-* (immutable after net_new); NULL: plain tcp. */
	nng_tls_config *tls_client, *tls_server;
	nng_aio *poll_aio; /* TLS failure counters, every NET_TLS_POLL_MS */
	_Atomic uint64_t tls_accept_failed, tls_dial_failed;
	/* Poll callback only. */
	uint64_t tls_listen_seen;
	int64_t tls_log_ms[2];     /* accept, dial: when the last line was logged */
	uint64_t tls_log_count[2]; /* the counter at that time */

	pthread_mutex_t mu; /* peers, url_links, link_clock */
	struct link peers[NET_MAX_PEERS];
	struct link url_links[NET_MAX_URL_LINKS];
	uint64_t link_clock;

	_Atomic uint64_t sent, sent_bytes, received, received_bytes;
	_Atomic uint64_t dropped[NET_DROP_MAX_];
	_Atomic uint64_t send_full, send_no_peer, send_failed;
	_Atomic uint64_t relinked; /* push sockets replaced after a lost connection */

	/* Receive callback only (nng runs it one at a time for our one aio). */
	bool drop_logged[NET_DROP_MAX_];
	int64_t drop_log_ms[NET_DROP_MAX_];     /* when the last line was logged */
	uint64_t drop_log_count[NET_DROP_MAX_]; /* dropped[] at that time */
	struct net_replay replay;               /* with auth */
	struct net_decoded dec;
};

/* The one translation of NNG_E* codes. */
static int net_err(int rv)
{
	if (rv == 0)
		return 0;
	if (rv & NNG_ESYSERR)
		return qfs_from_errno(rv & ~NNG_ESYSERR);
	switch (rv) {
	case NNG_ENOMEM:
		return QFS_ENOMEM;
	case NNG_EAGAIN:
	case NNG_ETIMEDOUT:
	case NNG_ECONNREFUSED:
	case NNG_EUNREACHABLE:
	case NNG_ECONNRESET:
	case NNG_ECONNABORTED:
	case NNG_ECONNSHUT:
		return QFS_EAGAIN;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_EBADTYPE:
	case NNG_EMSGSIZE:
		return QFS_EINVAL;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
		return QFS_ESHUTDOWN;
	case NNG_EPERM:
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
		return QFS_EACCES;
	case NNG_ENOENT:
		return QFS_ENOENT;
	case NNG_EINTR:
		return QFS_EINTR;
	case NNG_ENOSPC:
	case NNG_ENOFILES:
		return QFS_ENOSPC;
	default: /* EADDRINUSE, EPROTO, ESTATE, EINTERNAL, transport errors */
		return QFS_EIO;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void count(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static uint64_t load(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---------------------------------------------------------------- receiving */

static void format_addr(nng_msg *msg, char *buf, size_t cap)
{
	nng_sockaddr sa;
	nng_pipe p = nng_msg_get_pipe(msg);
	snprintf(buf, cap, "?");
	if (nng_pipe_id(p) < 0 || nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return;
	char ip[INET6_ADDRSTRLEN];
	switch (sa.s_family) {
	case NNG_AF_INET:
		if (inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof ip))
			snprintf(buf, cap, "%s:%u", ip, ntohs(sa.s_in.sa_port));
		break;
	case NNG_AF_INET6:
		if (inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof ip))
			snprintf(buf, cap, "[%s]:%u", ip, ntohs(sa.s_in6.sa_port));
		break;
	case NNG_AF_IPC:
		snprintf(buf, cap, "ipc:%.*s", (int)sizeof sa.s_ipc.sa_path, sa.s_ipc.sa_path);
		break;
	case NNG_AF_INPROC:
		snprintf(buf, cap, "inproc");
		break;
	}
}

/* Counts a dropped message; logs at most one line per reason per interval,
 * with how many were dropped since the previous line. */
static void note_drop(struct net *n, enum net_drop why, nng_msg *msg, const struct net_msg *m,
                      const char *detail)
{
	count(&n->dropped[why], 1);
	uint64_t total = load(&n->dropped[why]);
	int64_t now = now_ms();
	if (n->drop_logged[why] && now - n->drop_log_ms[why] < NET_DROP_LOG_INTERVAL_MS)
		return;
	char addr[160];
	format_addr(msg, addr, sizeof addr);
	uint64_t since = total - n->drop_log_count[why];
	char more[160] = "";
	if (detail)
		snprintf(more, sizeof more, ": %s", detail);
	if (m)
		log_warn("net: dropped a %s message from node %" PRIu64 " (%s, cluster %" PRIu64
		         ") to node %" PRIu64 ": %s%s (%" PRIu64 " such drops since the last report)",
		         net_kind_name(m->kind), m->from, addr, m->cluster_id, m->to,
		         net_drop_name(why), more, since);
	else
		log_warn("net: dropped a %zu-byte peer message from %s: %s%s (%" PRIu64
		         " such drops since the last report)",
		         nng_msg_len(msg), addr, net_drop_name(why), more, since);
	n->drop_logged[why] = true;
	n->drop_log_ms[why] = now;
	n->drop_log_count[why] = total;
}

static void handle(struct net *n, nng_msg *msg)
{
	size_t len = nng_msg_len(msg);
	struct net_decoded *d = &n->dec;
	if (net_decode_auth(nng_msg_body(msg), len, n->auth ? n->key : NULL, d) != 0) {
		note_drop(n, d->why, msg, NULL, d->detail);
		return;
	}
	const struct net_msg *m = &d->msg;
	if (!(m->to == n->self || (m->kind == NET_JOIN && m->to == 0))) {
		note_drop(n, NET_DROP_DEST, msg, m, NULL);
		return;
	}
	uint64_t cid = atomic_load(&n->cluster_id);
	bool ok = cid == 0 ? m->kind == NET_RAFT
	                   : m->cluster_id == cid || (m->kind == NET_JOIN && m->cluster_id == 0);
	if (!ok) {
		note_drop(n, NET_DROP_CLUSTER, msg, m, NULL);
		return;
	}
	/* Last: only messages for us, from our cluster, move a sender's window
	 * (a node of another cluster that shares the secret and a name cannot
	 * push our window past our own peer's messages). */
	const char *why = NULL;
	if (n->auth && !net_replay_accept(&n->replay, m->from, d->auth_epoch, d->auth_seq, &why)) {
		note_drop(n, NET_DROP_REPLAY, msg, m, why);
		return;
	}
	count(&n->received, 1);
	count(&n->received_bytes, len);
	n->on_recv(n->ctx, d);
}

static void recv_cb(void *arg)
{
	struct net *n = arg;
	int rv = nng_aio_result(n->recv_aio);
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return; /* net_free */
	if (rv == 0) {
		nng_msg *msg = nng_aio_get_msg(n->recv_aio);
		nng_aio_set_msg(n->recv_aio, NULL);
		handle(n, msg);
		nng_msg_free(msg);
	} else {
		log_warn("net: receive failed: %s", nng_strerror(rv));
	}
	nng_recv_aio(n->pull, n->recv_aio);
}

static int listen_open(struct net *n, const char *url)
{
	int rv = nng_pull0_open(&n->pull);
	if (rv != 0)
		return net_err(rv);
	n->listening = true;
	if ((rv = nng_socket_set_size(n->pull, NNG_OPT_RECVMAXSZ, NET_MAX_MSG + NET_RECV_SLACK)) ||
	    (rv = nng_listener_create(&n->listener, n->pull, url)) ||
	    (n->tls_server &&
	     (rv = nng_listener_set_ptr(n->listener, NNG_OPT_TLS_CONFIG, n->tls_server))) ||
	    (rv = nng_listener_start(n->listener, 0))) {
		log_error("net: cannot listen on %s: %s", url, nng_strerror(rv));
		return net_err(rv);
	}
	if ((rv = nng_aio_alloc(&n->recv_aio, recv_cb, n)) != 0)
		return net_err(rv);
	nng_recv_aio(n->pull, n->recv_aio);
	return 0;
}

/* ---------------------------------------------------------------- links */

/* The one rule for URLs: TLS URLs with TLS, plain ones without. */
static bool url_fits(const struct net *n, const char *url)
{
	return net_url_is_tls(url) == (n->tls_client != NULL);
}

static const char *url_misfit(const struct net *n)
{
	return n->tls_client ? "peer links use TLS (--tls-*): the URL must be tls+tcp://"
	                     : "a tls+tcp:// URL, but this node has no --tls-cert/--tls-key/--tls-ca";
}

static bool guard_broken(struct link_guard *g)
{
	pthread_mutex_lock(&g->mu);
	bool b = g->broken;
	pthread_mutex_unlock(&g->mu);
	return b;
}

static void guard_free(struct link_guard *g)
{
	if (g) {
		pthread_mutex_destroy(&g->mu);
		free(g);
	}
}

static void on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)ev;
	if (guard_broken(arg))
		nng_pipe_close(p); /* refused before push0 sees it */
}

static void on_pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	struct link_guard *g = arg;
	pthread_mutex_lock(&g->mu); /* waits for a send in progress */
	g->broken = true;
	pthread_mutex_unlock(&g->mu);
}

static int link_open(struct net *n, struct link *l, uint64_t id, const char *url)
{
	nng_socket s;
	nng_dialer d;
	if (!url_fits(n, url))
		return QFS_EINVAL;
	struct link_guard *g = calloc(1, sizeof *g);
	if (!g)
		return QFS_ENOMEM;
	pthread_mutex_init(&g->mu, NULL);
	int rv = nng_push0_open(&s);
	if (rv != 0) {
		guard_free(g);
		return net_err(rv);
	}
	/* Our client config replaces the dialer's own, which would check the
	 * peer's certificate for the URL's host name: peers are verified
	 * against the CA only (docs/usage.md "Securing peer traffic"). */
	if ((rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, on_pipe_added, g)) ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_pipe_removed, g)) ||
	    (rv = nng_socket_set_int(s, NNG_OPT_SENDBUF, n->send_queue)) ||
	    (rv = nng_dialer_create(&d, s, url)) ||
	    (rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, n->reconnect_min)) ||
	    (rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, n->reconnect_max)) ||
	    (n->tls_client && (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, n->tls_client)))) {
		nng_close(s);
		guard_free(g);
		return net_err(rv);
	}
	(void)nng_dialer_set_bool(d, NNG_OPT_TCP_KEEPALIVE, true); /* ENOTSUP off tcp */
	/* NONBLOCK: an absent peer does not fail or delay this; nng retries. */
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		nng_close(s);
		guard_free(g);
		return net_err(rv);
	}
	l->used = true;
	l->id = id;
	l->sock = s;
	l->dialer = d;
	l->guard = g;
	l->tls_auth_seen = 0;
	l->last_use = 0;
	snprintf(l->url, sizeof l->url, "%s", url);
	return 0;
}

/* nng 1.5.2 (Debian 12) can block forever in nng_close of a socket whose
 * pipes are busy (nanomsg/nng#1543, fixed upstream after 1.5.2).  The close
 * runs on a thread of its own; after NET_CLOSE_WAIT_MS we stop waiting and
 * leave that thread behind rather than hang the caller. */
#define NET_CLOSE_WAIT_MS 2000

struct closer {
	nng_socket s;
	struct link_guard *guard; /* a push socket's: freed once closed */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, abandoned;
	bool background; /* counted in bg_running */
};

/* Closes still running in the background (link_renew), process-wide:
 * net_free waits for them, bounded, so that none outlives its caller. */
static pthread_mutex_t bg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cv = PTHREAD_COND_INITIALIZER;
static unsigned bg_running;

static void *closer_main(void *arg)
{
	struct closer *c = arg;
	nng_close(c->s);
	guard_free(c->guard); /* no pipe callback runs after nng_close returned */
	c->guard = NULL;
	pthread_mutex_lock(&c->mu);
	c->done = true;
	bool abandoned = c->abandoned, background = c->background;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (abandoned) /* nobody waits any more: ours to free */
		free(c);
	if (background) {
		pthread_mutex_lock(&bg_mu);
		bg_running--;
		pthread_cond_broadcast(&bg_cv);
		pthread_mutex_unlock(&bg_mu);
	}
	return NULL;
}

static void wait_background_closes(void)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += NET_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&bg_mu);
	while (bg_running && pthread_cond_timedwait(&bg_cv, &bg_mu, &until) == 0)
		;
	pthread_mutex_unlock(&bg_mu);
}

/* Closes s (and frees g after it) on a thread of its own; waits up to
 * NET_CLOSE_WAIT_MS when `wait`, else returns at once. */
static void close_socket(nng_socket s, struct link_guard *g, bool wait)
{
	struct closer *c = calloc(1, sizeof *c);
	pthread_t t;
	if (!c) {
		nng_close(s);
		guard_free(g);
		return;
	}
	c->s = s;
	c->guard = g;
	c->abandoned = !wait;
	c->background = !wait;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (c->background) {
		pthread_mutex_lock(&bg_mu);
		bg_running++;
		pthread_mutex_unlock(&bg_mu);
	}
	if (pthread_create(&t, NULL, closer_main, c) != 0) {
		if (c->background) {
			pthread_mutex_lock(&bg_mu);
			bg_running--;
			pthread_mutex_unlock(&bg_mu);
		}
		nng_close(s);
		guard_free(g);
		free(c);
		return;
	}
	if (!wait) {
		pthread_detach(t);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += NET_CLOSE_WAIT_MS / 1000;
	pthread_mutex_lock(&c->mu);
	while (!c->done && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
		;
	bool done = c->done;
	c->abandoned = !done;
	pthread_mutex_unlock(&c->mu);
	if (done) {
		pthread_join(t, NULL);
		free(c);
	} else {
		pthread_detach(t);
		log_warn("net: closing a socket did not finish in %d ms (nng 1.5.2 issue #1543); "
			 "leaving it behind", NET_CLOSE_WAIT_MS);
	}
}

static void close_bounded(nng_socket s)
{
	close_socket(s, NULL, true);
}

static void link_close(struct link *l)
{
	if (l->used)
		close_socket(l->sock, l->guard, true);
	memset(l, 0, sizeof *l);
}

/* A link whose connection is gone gets a fresh socket (see struct
 * link_guard); the old one closes in the background.  On failure the
 * link stays broken and the next send tries again. */
static int link_renew(struct net *n, struct link *l)
{
	struct link old = *l;
	int rc = link_open(n, l, old.id, old.url);
	if (rc != 0)
		return rc;
	l->last_use = old.last_use;
	close_socket(old.sock, old.guard, false);
	count(&n->relinked, 1);
	return 0;
}

static bool url_ok(const char *url)
{
	return url && url[0] && strlen(url) <= NET_MAX_URL;
}

static struct link *find_peer(struct net *n, uint64_t id)
{
	for (size_t i = 0; i < NET_MAX_PEERS; i++)
		if (n->peers[i].used && n->peers[i].id == id)
			return &n->peers[i];
	return NULL;
}

static struct link *find_url(struct link *v, size_t cnt, const char *url)
{
	for (size_t i = 0; i < cnt; i++)
		if (v[i].used && strcmp(v[i].url, url) == 0)
			return &v[i];
	return NULL;
}

int net_peer_set(struct net *n, uint64_t id, const char *url)
{
	if (id == 0 || !url_ok(url))
		return QFS_EINVAL;
	if (id == n->self)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&n->mu);
	struct link *l = find_peer(n, id);
	if (l && strcmp(l->url, url) == 0)
		goto out;
	if (l) {
		link_close(l);
	} else {
		for (size_t i = 0; i < NET_MAX_PEERS && !l; i++)
			if (!n->peers[i].used)
				l = &n->peers[i];
		if (!l) {
			rc = QFS_ENOSPC;
			goto out;
		}
	}
	/* A URL link to the same address (a JOIN sent before the peer was
	 * known) becomes the peer link, queue and connection included. */
	struct link *u = find_url(n->url_links, NET_MAX_URL_LINKS, url);
	if (u) {
		*l = *u;
		l->id = id;
		memset(u, 0, sizeof *u);
	} else {
		rc = link_open(n, l, id, url);
		if (rc != 0)
			log_warn("net: peer %" PRIu64 " at %s: %s", id, url,
			         url_fits(n, url) ? qfs_strerror(rc) : url_misfit(n));
	}
out:
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int net_peer_remove(struct net *n, uint64_t id)
{
	pthread_mutex_lock(&n->mu);
	struct link *l = find_peer(n, id);
	if (l)
		link_close(l);
	pthread_mutex_unlock(&n->mu);
	return l ? 0 : QFS_ENOENT;
}

/* ---------------------------------------------------------------- sending */

/* Encodes m (from and cluster id filled in, and with auth the next
 * sequence number) into a new nng message. */
static int build(struct net *n, const struct net_msg *in, nng_msg **out)
{
	struct net_msg m = *in;
	m.from = n->self;
	m.cluster_id = atomic_load(&n->cluster_id);
	size_t size;
	int rc = net_encoded_size(&m, &size);
	if (rc != 0) {
		count(&n->send_failed, 1);
		return rc;
	}
	struct net_auth a, *ap = NULL;
	if (n->auth) {
		a = (struct net_auth){.key = n->key, .epoch = n->epoch,
		                      .seq = atomic_fetch_add(&n->auth_seq, 1) + 1};
		ap = &a;
		size += NET_AUTH_SIZE;
	}
	nng_msg *msg;
	int rv = nng_msg_alloc(&msg, size);
	if (rv != 0) {
		count(&n->send_failed, 1);
		return net_err(rv);
	}
	rc = net_encode_auth(&m, ap, nng_msg_body(msg), size, NULL);
	if (rc != 0) { /* cannot happen: the size call validated m */
		nng_msg_free(msg);
		count(&n->send_failed, 1);
		return rc;
	}
	*out = msg;
	return 0;
}

/* Queues msg on l (mutex held).  Ownership of msg passes to nng only on
 * success: on failure it is still ours, and freed here. */
static int link_send(struct net *n, struct link *l, nng_msg *msg)
{
	size_t len = nng_msg_len(msg);
	if (guard_broken(l->guard)) {
		int rc = link_renew(n, l);
		if (rc != 0) {
			nng_msg_free(msg);
			count(&n->send_failed, 1);
			return rc;
		}
	}
	struct link_guard *g = l->guard;
	pthread_mutex_lock(&g->mu);
	int rv = g->broken ? NNG_ECLOSED : nng_sendmsg(l->sock, msg, NNG_FLAG_NONBLOCK);
	pthread_mutex_unlock(&g->mu);
	if (rv == 0) {
		count(&n->sent, 1);
		count(&n->sent_bytes, len);
		return 0;
	}
	nng_msg_free(msg);
	if (rv == NNG_EAGAIN) {
		count(&n->send_full, 1);
		return QFS_EAGAIN;
	}
	count(&n->send_failed, 1);
	return net_err(rv);
}

int net_send(struct net *n, const struct net_msg *m)
{
	nng_msg *msg;
	int rc = build(n, m, &msg);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&n->mu);
	struct link *l = find_peer(n, m->to);
	if (l) {
		rc = link_send(n, l, msg);
	} else {
		nng_msg_free(msg);
		count(&n->send_no_peer, 1);
		rc = QFS_ENOENT;
	}
	pthread_mutex_unlock(&n->mu);
	return rc;
}

int net_send_raft(struct net *n, const struct raft_msg *rm)
{
	if (rm->from != n->self) {
		count(&n->send_failed, 1);
		return QFS_EINVAL;
	}
	struct net_msg m;
	memset(&m, 0, sizeof m);
	m.kind = NET_RAFT;
	m.from = rm->from;
	m.to = rm->to;
	m.u.raft = *rm;
	return net_send(n, &m);
}

int net_send_url(struct net *n, const char *url, const struct net_msg *m)
{
	if (!url_ok(url)) {
		count(&n->send_failed, 1);
		return QFS_EINVAL;
	}
	nng_msg *msg;
	int rc = build(n, m, &msg);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&n->mu);
	struct link *l = find_url(n->peers, NET_MAX_PEERS, url);
	if (!l)
		l = find_url(n->url_links, NET_MAX_URL_LINKS, url);
	if (!l) {
		struct link *victim = &n->url_links[0];
		for (size_t i = 0; i < NET_MAX_URL_LINKS; i++) {
			struct link *c = &n->url_links[i];
			if (!c->used || (victim->used && c->last_use < victim->last_use))
				victim = c;
			if (!c->used)
				break;
		}
		link_close(victim);
		rc = link_open(n, victim, 0, url);
		if (rc == 0)
			l = victim;
	}
	if (l) {
		if (l->id == 0)
			l->last_use = ++n->link_clock;
		rc = link_send(n, l, msg);
	} else {
		nng_msg_free(msg);
		count(&n->send_failed, 1);
	}
	pthread_mutex_unlock(&n->mu);
	return rc;
}

/* ---------------------------------------------------------------- TLS */

#define NET_PEM_MAX (1u << 20) /* a certificate chain or a key file */

/* Reads a whole small file, NUL-terminated (PEM strings for nng). */
static char *read_pem(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(NET_PEM_MAX + 1);
	size_t len = buf ? fread(buf, 1, NET_PEM_MAX + 1, f) : 0;
	bool bad = !buf || ferror(f) || len > NET_PEM_MAX;
	fclose(f);
	if (bad || len == 0) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		         !buf ? "out of memory" : len == 0 ? "empty" : "unreadable or too large");
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* One TLS config (client or server side): our certificate and key, the
 * CA that must have signed the peer's, peer certificates REQUIRED. */
static int tls_config_new(nng_tls_config **out, nng_tls_mode mode, const char *cert,
                          const char *key, const char *ca, char *err, size_t errlen)
{
	char *cert_pem = NULL, *key_pem = NULL;
	nng_tls_config *c = NULL;
	int rc = QFS_EINVAL, rv;
	if (!(cert_pem = read_pem("--tls-cert", cert, err, errlen)) ||
	    !(key_pem = read_pem("--tls-key", key, err, errlen)))
		goto out;
	if ((rv = nng_tls_config_alloc(&c, mode)) != 0) {
		snprintf(err, errlen, "TLS: %s (is nng built with TLS?)", nng_strerror(rv));
		rc = net_err(rv);
		goto out;
	}
	if ((rv = nng_tls_config_own_cert(c, cert_pem, key_pem, NULL)) != 0) {
		snprintf(err, errlen, "--tls-cert %s with --tls-key %s: %s (PEM certificate and "
		         "unencrypted PEM key expected)", cert, key, nng_strerror(rv));
		goto out;
	}
	if ((rv = nng_tls_config_ca_file(c, ca)) != 0) {
		snprintf(err, errlen, "--tls-ca %s: %s", ca,
		         rv == NNG_ENOENT ? "no such file" : nng_strerror(rv));
		goto out;
	}
	if ((rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED)) != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		goto out;
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	if (c)
		nng_tls_config_free(c);
	free(cert_pem);
	if (key_pem) {
		memset(key_pem, 0, strlen(key_pem));
		free(key_pem);
	}
	return rc;
}

int net_tls_check(const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (!cert || !key || !ca) {
		snprintf(err, errlen, "--tls-cert, --tls-key and --tls-ca go together");
		return QFS_EINVAL;
	}
	nng_tls_config *c;
	int rc = tls_config_new(&c, NNG_TLS_MODE_SERVER, cert, key, ca, err, errlen);
	if (rc == 0)
		nng_tls_config_free(c);
	struct stat st;
	if (rc == 0 && stat(key, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warn("--tls-key %s may be read or written by group or others (mode %04o): "
		         "chmod 600 it",
		         key, (unsigned)(st.st_mode & 07777));
	return rc;
}

static uint64_t stat_auth(nng_stat *s)
{
	nng_stat *a = s ? nng_stat_find(s, "auth") : NULL;
	return a ? nng_stat_value(a) : 0;
}

/* Adds what a counter of nng's grew since *seen to *total. */
static void take_delta(_Atomic uint64_t *total, uint64_t *seen, uint64_t now)
{
	if (now > *seen)
		count(total, now - *seen);
	*seen = now;
}

static void tls_log(struct net *n, int side, uint64_t total)
{
	int64_t now = now_ms();
	uint64_t since = total - n->tls_log_count[side];
	if (since == 0 ||
	    (n->tls_log_ms[side] && now - n->tls_log_ms[side] < NET_DROP_LOG_INTERVAL_MS))
		return;
	if (side == 0)
		log_warn("net: %" PRIu64 " connection(s) to our listener failed the TLS handshake "
		         "since the last report (no certificate signed by --tls-ca)",
		         since);
	else
		log_warn("net: %" PRIu64 " TLS handshake(s) with peers we dial failed since the last "
		         "report (their certificate not signed by --tls-ca, or ours refused)",
		         since);
	n->tls_log_ms[side] = now;
	n->tls_log_count[side] = total;
}

/* nng counts failed TLS handshakes as "auth" errors of the listener and
 * of each dialer; we read them on a timer (nng offers no callback). */
static void tls_poll(struct net *n)
{
	nng_stat *all;
	if (nng_stats_get(&all) != 0)
		return;
	if (n->listening)
		take_delta(&n->tls_accept_failed, &n->tls_listen_seen,
		           stat_auth(nng_stat_find_listener(all, n->listener)));
	pthread_mutex_lock(&n->mu);
	struct link *sets[2] = {n->peers, n->url_links};
	size_t sizes[2] = {NET_MAX_PEERS, NET_MAX_URL_LINKS};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < sizes[k]; i++) {
			struct link *l = &sets[k][i];
			if (l->used)
				take_delta(&n->tls_dial_failed, &l->tls_auth_seen,
				           stat_auth(nng_stat_find_dialer(all, l->dialer)));
		}
	pthread_mutex_unlock(&n->mu);
	nng_stats_free(all);
	tls_log(n, 0, load(&n->tls_accept_failed));
	tls_log(n, 1, load(&n->tls_dial_failed));
}

static void poll_cb(void *arg)
{
	struct net *n = arg;
	if (nng_aio_result(n->poll_aio) != 0)
		return; /* net_free */
	tls_poll(n);
	nng_sleep_aio(NET_TLS_POLL_MS, n->poll_aio);
}

/* ---------------------------------------------------------------- lifecycle */

int net_new(struct net **out, const struct net_config *cfg, net_recv_fn on_recv, void *ctx)
{
	if (!cfg || cfg->self_id == 0 || !on_recv || cfg->send_queue > NET_MAX_SEND_QUEUE ||
	    (cfg->listen && !url_ok(cfg->listen)))
		return QFS_EINVAL;
	uint32_t rmin =
	    cfg->reconnect_min_ms ? cfg->reconnect_min_ms : NET_DEFAULT_RECONNECT_MIN_MS;
	uint32_t rmax =
	    cfg->reconnect_max_ms ? cfg->reconnect_max_ms : NET_DEFAULT_RECONNECT_MAX_MS;
	if (rmin > rmax || rmax > INT32_MAX)
		return QFS_EINVAL;
	bool tls = cfg->tls_cert || cfg->tls_key || cfg->tls_ca;
	if (tls && !(cfg->tls_cert && cfg->tls_key && cfg->tls_ca)) {
		log_error("net: --tls-cert, --tls-key and --tls-ca go together");
		return QFS_EINVAL;
	}
	if (cfg->listen && net_url_is_tls(cfg->listen) != tls) {
		log_error("net: cannot listen on %s: %s", cfg->listen,
		          tls ? "peer links use TLS (--tls-*): the URL must be tls+tcp://"
		              : "a tls+tcp:// URL needs --tls-cert, --tls-key and --tls-ca");
		return QFS_EINVAL;
	}
	if (cfg->auth_key && sodium_init() < 0)
		return QFS_EIO;

	struct net *n = calloc(1, sizeof *n);
	if (!n)
		return QFS_ENOMEM;
	n->on_recv = on_recv;
	n->ctx = ctx;
	n->self = cfg->self_id;
	atomic_init(&n->cluster_id, cfg->cluster_id);
	n->send_queue = (int)(cfg->send_queue ? cfg->send_queue : NET_DEFAULT_SEND_QUEUE);
	n->reconnect_min = (nng_duration)rmin;
	n->reconnect_max = (nng_duration)rmax;
	if (cfg->auth_key) {
		n->auth = true;
		memcpy(n->key, cfg->auth_key, NET_AUTH_KEY_SIZE);
		n->epoch = cfg->auth_epoch ? cfg->auth_epoch : (uint64_t)wall_ms();
		net_replay_init(&n->replay);
	}
	if (pthread_mutex_init(&n->mu, NULL) != 0) {
		free(n);
		return QFS_ENOMEM;
	}
	if (tls) {
		char err[600];
		int rc = tls_config_new(&n->tls_server, NNG_TLS_MODE_SERVER, cfg->tls_cert,
		                        cfg->tls_key, cfg->tls_ca, err, sizeof err);
		if (rc == 0)
			rc = tls_config_new(&n->tls_client, NNG_TLS_MODE_CLIENT, cfg->tls_cert,
			                    cfg->tls_key, cfg->tls_ca, err, sizeof err);
		if (rc == 0)
			rc = net_err(nng_aio_alloc(&n->poll_aio, poll_cb, n));
		if (rc != 0) {
			log_error("net: %s", err[0] ? err : qfs_strerror(rc));
			net_free(n);
			return rc;
		}
	}
	if (cfg->listen && !net_url_is_local(cfg->listen) && !n->auth && !tls)
		log_warn("net: listening on %s beyond loopback with neither --secret-file nor TLS: "
		         "anyone who can reach it can join the cluster, read and change it (see "
		         "\"Securing peer traffic\" in docs/usage.md)",
		         cfg->listen);
	if (cfg->listen) {
		int rc = listen_open(n, cfg->listen);
		if (rc != 0) {
			net_free(n);
			return rc;
		}
	}
	if (n->poll_aio)
		nng_sleep_aio(NET_TLS_POLL_MS, n->poll_aio);
	*out = n;
	return 0;
}

void net_free(struct net *n)
{
	if (!n)
		return;
	if (n->poll_aio) {
		nng_aio_stop(n->poll_aio); /* waits for a running poll; none starts after */
		nng_aio_free(n->poll_aio);
	}
	if (n->listening) {
		/* After nng_aio_stop no callback runs and none can start: the
		 * callback's re-arm fails once the aio is stopped. */
		if (n->recv_aio)
			nng_aio_stop(n->recv_aio);
		/* The listener first: the address is free once we return. */
		nng_listener_close(n->listener);
		if (n->recv_aio)
			nng_aio_free(n->recv_aio);
		close_bounded(n->pull);
	}
	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < NET_MAX_PEERS; i++)
		link_close(&n->peers[i]);
	for (size_t i = 0; i < NET_MAX_URL_LINKS; i++)
		link_close(&n->url_links[i]);
	pthread_mutex_unlock(&n->mu);
	wait_background_closes();
	pthread_mutex_destroy(&n->mu);
	/* The sockets hold their own references to the configs. */
	if (n->tls_client)
		nng_tls_config_free(n->tls_client);
	if (n->tls_server)
		nng_tls_config_free(n->tls_server);
	memset(n->key, 0, sizeof n->key);
	free(n);
}

void net_set_cluster_id(struct net *n, uint64_t cluster_id)
{
	atomic_store(&n->cluster_id, cluster_id);
}

uint64_t net_get_cluster_id(const struct net *n)
{
	return load(&n->cluster_id);
}

int net_bound_port(const struct net *n)
{
	int port;
	if (!n->listening || nng_listener_get_int(n->listener, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
		return QFS_EINVAL;
	return port;
}

void net_stats(const struct net *n, struct net_stats *st)
{
	memset(st, 0, sizeof *st);
	st->sent = load(&n->sent);
	st->sent_bytes = load(&n->sent_bytes);
	st->received = load(&n->received);
	st->received_bytes = load(&n->received_bytes);
	for (size_t i = 0; i < NET_DROP_MAX_; i++)
		st->dropped[i] = load(&n->dropped[i]);
	st->send_full = load(&n->send_full);
	st->send_no_peer = load(&n->send_no_peer);
	st->send_failed = load(&n->send_failed);
	st->relinked = load(&n->relinked);
	st->tls_accept_failed = load(&n->tls_accept_failed);
	st->tls_dial_failed = load(&n->tls_dial_failed);
}
