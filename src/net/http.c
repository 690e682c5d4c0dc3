/* http.c: /metrics and /health on nng's HTTP server (http.h).
 *
 * The handlers call back into the daemon (the node) under `mu`, and only
 * while `closed` is false: qfs_http_stop sets it first, so once it returns
 * no callback runs or will run, even if nng's own teardown is still going
 * on in the background.  NNG_E* codes are translated in http_err only. */
#include "net/http.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quorumfs/error.h"
#include "util/log.h"

/* nng 1.5.2 (Debian 12) can block in close (nanomsg/nng#1543, as in
 * link.c): stopping waits this long, then leaves the rest to its thread. */
#define HTTP_STOP_WAIT_MS 2000
#define HTTP_WHY_MAX 256

struct qfs_http {
	nng_url *url; /* kept for the server's lifetime */
	nng_http_server *srv;
	qfs_http_metrics_fn metrics;
	qfs_http_health_fn health;
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool closed;    /* no more callbacks into ctx */
	bool stopped;   /* nng's server is stopped and released */
	bool abandoned; /* qfs_http_stop gave up waiting: the stopper frees h */
};

static int http_err(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ENOMEM:
		return QFS_ENOMEM;
	case NNG_EADDRINUSE:
		return QFS_EADDRINUSE;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
		return QFS_EINVAL;
	case NNG_EPERM:
		return QFS_EACCES;
	default:
		if (rv & NNG_ESYSERR)
			return qfs_from_errno(rv & ~NNG_ESYSERR);
		return QFS_EIO;
	}
}

static void http_free(struct qfs_http *h)
{
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	if (h->url)
		nng_url_free(h->url);
	free(h);
}

/* Answers with status and body (copied); the connection is dropped when
 * even that cannot be built. */
static void http_reply(nng_aio *aio, uint16_t status, const char *type, const char *body,
		       size_t len)
{
	nng_http_res *res;
	int rv = nng_http_res_alloc(&res);
	if (rv != 0) {
		nng_aio_finish(aio, rv);
		return;
	}
	if ((rv = nng_http_res_set_status(res, status)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", type)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Cache-Control", "no-store")) != 0 ||
	    (rv = nng_http_res_copy_data(res, body, len)) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static struct qfs_http *http_of(nng_aio *aio)
{
	return nng_http_handler_get_data(nng_aio_get_input(aio, 1));
}

static const char text_plain[] = "text/plain; charset=utf-8";
static const char closing[] = "shutting down\n";

static void http_metrics(nng_aio *aio)
{
	struct qfs_http *h = http_of(aio);
	size_t len = 0;
	char *body = NULL;
	pthread_mutex_lock(&h->mu);
	bool closed = h->closed;
	if (!closed)
		body = h->metrics(h->ctx, &len);
	pthread_mutex_unlock(&h->mu);
	if (closed) {
		http_reply(aio, 503, text_plain, closing, sizeof closing - 1);
		return;
	}
	if (!body) {
		static const char failed[] = "cannot render the metrics\n";
		http_reply(aio, 500, text_plain, failed, sizeof failed - 1);
		return;
	}
	http_reply(aio, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
	free(body);
}

static void http_health(nng_aio *aio)
{
	struct qfs_http *h = http_of(aio);
	char why[HTTP_WHY_MAX + 2] = "";
	int ok = 0;
	pthread_mutex_lock(&h->mu);
	bool closed = h->closed;
	if (!closed)
		ok = h->health(h->ctx, why, HTTP_WHY_MAX);
	pthread_mutex_unlock(&h->mu);
	if (closed) {
		http_reply(aio, 503, text_plain, closing, sizeof closing - 1);
		return;
	}
	why[HTTP_WHY_MAX - 1] = '\0';
	if (ok) {
		http_reply(aio, 200, text_plain, "ok\n", 3);
		return;
	}
	size_t len = strlen(why);
	if (!len)
		len = (size_t)snprintf(why, sizeof why, "unhealthy");
	why[len++] = '\n';
	http_reply(aio, 503, text_plain, why, len);
}

static int http_add(struct qfs_http *h, const char *path, void (*cb)(nng_aio *))
{
	nng_http_handler *hd;
	int rv = nng_http_handler_alloc(&hd, path, cb);
	if (rv != 0)
		return rv;
	/* Requests carry no body: refuse one rather than buffer it. */
	if ((rv = nng_http_handler_collect_body(hd, true, 0)) != 0 ||
	    (rv = nng_http_handler_set_data(hd, h, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(h->srv, hd)) != 0) {
		nng_http_handler_free(hd);
		return rv;
	}
	return 0; /* the server owns it now */
}

int qfs_http_start(struct qfs_http **out, const char *url, qfs_http_metrics_fn metrics,
		   qfs_http_health_fn health, void *ctx)
{
	*out = NULL;
	/* https would need a TLS configuration we do not have. */
	if (!url || strncmp(url, "http://", 7) != 0 || !metrics || !health)
		return QFS_EINVAL;
	struct qfs_http *h = calloc(1, sizeof *h);
	if (!h)
		return QFS_ENOMEM;
	h->metrics = metrics;
	h->health = health;
	h->ctx = ctx;
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	int rv = nng_url_parse(&h->url, url);
	if (rv != 0) {
		h->url = NULL;
		http_free(h);
		return rv == NNG_ENOMEM ? QFS_ENOMEM : QFS_EINVAL;
	}
	if ((rv = nng_http_server_hold(&h->srv, h->url)) != 0) {
		http_free(h);
		return http_err(rv);
	}
	if ((rv = http_add(h, "/metrics", http_metrics)) != 0 ||
	    (rv = http_add(h, "/health", http_health)) != 0 ||
	    (rv = nng_http_server_start(h->srv)) != 0) {
		/* Nothing listens yet: releasing cannot hang on a connection. */
		nng_http_server_release(h->srv);
		http_free(h);
		return http_err(rv);
	}
	*out = h;
	return 0;
}

static void *http_stopper(void *arg)
{
	struct qfs_http *h = arg;
	nng_http_server_stop(h->srv);
	nng_http_server_release(h->srv);
	pthread_mutex_lock(&h->mu);
	h->stopped = true;
	bool abandoned = h->abandoned;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	if (abandoned) /* nobody waits any more: ours to free */
		http_free(h);
	return NULL;
}

void qfs_http_stop(struct qfs_http *h)
{
	if (!h)
		return;
	/* Taking mu waits for a callback in progress; none starts after. */
	pthread_mutex_lock(&h->mu);
	h->closed = true;
	pthread_mutex_unlock(&h->mu);
	pthread_t t;
	if (pthread_create(&t, NULL, http_stopper, h) != 0) {
		http_stopper(h); /* unbounded, but we cannot do better */
		http_free(h);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += HTTP_STOP_WAIT_MS / 1000;
	until.tv_nsec += (long)(HTTP_STOP_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->mu);
	while (!h->stopped && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
		;
	bool stopped = h->stopped;
	h->abandoned = !stopped;
	pthread_mutex_unlock(&h->mu);
	if (stopped) {
		pthread_join(t, NULL);
		http_free(h);
	} else {
		pthread_detach(t);
		log_warn("http: stopping the server did not finish in %d ms (nng 1.5.2); "
			 "leaving it behind", HTTP_STOP_WAIT_MS);
	}
}
