/* http: the monitoring endpoint (--http URL), on nng's HTTP server.
 *
 *   GET /metrics  200, Content-Type text/plain; version=0.0.4 (Prometheus),
 *                 the body from the metrics callback (500 if it fails)
 *   GET /health   200 "ok\n", or 503 with the reason from the health callback
 *   anything else 404 (nng's own answer); HEAD works like GET without a body
 *
 * The callbacks run on nng threads, one request at a time, and never after
 * qfs_http_stop returned.  Start and stop from one thread (main).
 */
#ifndef QFS_HTTP_H
#define QFS_HTTP_H

#include <stddef.h>

struct qfs_http;
/* A malloc'd body (the server frees it) and its length in *len; NULL on error. */
typedef char *(*qfs_http_metrics_fn)(void *ctx, size_t *len);
/* 1 healthy, 0 not, with a short reason in why (NUL-terminated, cap bytes). */
typedef int (*qfs_http_health_fn)(void *ctx, char *why, size_t cap);

/* Listens on url ("http://HOST:PORT"; ctx borrowed until qfs_http_stop).
 * 0, or QFS_EINVAL (not an http:// URL, or an address nng cannot use),
 * QFS_EADDRINUSE (the port is taken), QFS_EACCES (a privileged port),
 * QFS_ENOMEM, QFS_EIO.  Nothing is left running on failure. */
int qfs_http_start(struct qfs_http **out, const char *url, qfs_http_metrics_fn metrics,
		   qfs_http_health_fn health, void *ctx);
/* Stops serving and frees h (NULL: nothing).  Bounded: if nng does not
 * finish closing within a few seconds (nng 1.5.2 can hang on close), the
 * rest of the teardown is left to a background thread; the callbacks are
 * never called again either way. */
void qfs_http_stop(struct qfs_http *h);

#endif
