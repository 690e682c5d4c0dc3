/* metrics: a growable text buffer and the Prometheus text exposition format
 * (version 0.0.4), for /cluster/.metrics and the HTTP /metrics endpoint.
 *
 * A struct qfs_text belongs to one thread at a time.  A struct qfs_hist may
 * be observed from any thread (relaxed atomics, no lock) while another
 * renders it: a render is a consistent-enough view (its _count equals its
 * +Inf bucket, as Prometheus requires), never a torn one.
 */
#ifndef QFS_METRICS_H
#define QFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* A growable text buffer with a sticky error (out of memory): append freely,
 * check err once at the end.  buf is NUL-terminated (or NULL while empty). */
struct qfs_text {
	char *buf;
	size_t len, cap;
	int err; /* 0, or QFS_ENOMEM once an append failed (later appends do nothing) */
};
void qfs_text_init(struct qfs_text *t);
void qfs_text_printf(struct qfs_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void qfs_text_free(struct qfs_text *t);

/* Prometheus text exposition helpers.  name: a valid metric name (asserted);
 * labels: NULL or the inside of the braces, e.g. "op=\"read\"" (the caller
 * escapes values).  help may hold any text: backslashes and newlines are
 * escaped here. */
void qfs_metric_help(struct qfs_text *t, const char *name, const char *type,
		     const char *help); /* # HELP + # TYPE */
void qfs_metric_u64(struct qfs_text *t, const char *name, const char *labels, uint64_t v);
void qfs_metric_f64(struct qfs_text *t, const char *name, const char *labels, double v);

/* Latency histogram: bucket i counts observations in (bound(i-1), bound(i)]
 * with bound(i) = 250 us << i, i.e. 0.25 ms .. 8.192 s, doubling; the last
 * bucket counts the rest (+Inf).  Zero-initialize it (static or calloc). */
#define QFS_HIST_BUCKETS 16 /* upper bounds 0.25ms .. ~8s, doubling, then +Inf */
#define QFS_HIST_FIRST_US 250u
struct qfs_hist {
	_Atomic uint64_t bucket[QFS_HIST_BUCKETS + 1];
	_Atomic uint64_t count, sum_us;
};
void qfs_hist_observe(struct qfs_hist *h, uint64_t us); /* any thread, lock-free */
/* # HELP/# TYPE histogram, then cumulative name_bucket{le="..."} in seconds,
 * name_sum (seconds) and name_count. */
void qfs_hist_render(struct qfs_text *t, const char *name, const char *help,
		     const struct qfs_hist *h);

#endif
