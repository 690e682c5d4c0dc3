/* metrics.c: text buffer and Prometheus text format (metrics.h). */
#include "util/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/error.h"

/* A bad metric name is a programmer error: checked in every build, since a
 * scraper rejects the whole page for one bad line. */
#define METRICS_ASSERT(cond)                                                                       \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "quorumfs: %s:%d: assertion failed: %s\n", __FILE__,       \
				__LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

void qfs_text_init(struct qfs_text *t)
{
	memset(t, 0, sizeof *t);
}

void qfs_text_free(struct qfs_text *t)
{
	free(t->buf);
	qfs_text_init(t);
}

static bool text_reserve(struct qfs_text *t, size_t more)
{
	if (t->err)
		return false;
	if (more > SIZE_MAX / 2 - t->len - 1) {
		t->err = QFS_ENOMEM;
		return false;
	}
	size_t need = t->len + more + 1;
	if (need <= t->cap)
		return true;
	size_t cap = t->cap ? t->cap : 1024;
	while (cap < need)
		cap *= 2;
	char *b = realloc(t->buf, cap);
	if (!b) {
		t->err = QFS_ENOMEM;
		return false;
	}
	t->buf = b;
	t->cap = cap;
	return true;
}

static void text_vprintf(struct qfs_text *t, const char *fmt, va_list ap)
{
	if (t->err)
		return;
	va_list ap2;
	va_copy(ap2, ap);
	size_t room = t->cap > t->len ? t->cap - t->len : 0;
	int n = vsnprintf(room ? t->buf + t->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		t->err = QFS_EINVAL; /* a bad format: nothing sensible to append */
		return;
	}
	if ((size_t)n >= room) {
		/* Did not fit (the partial copy is overwritten): grow, print again. */
		if (!text_reserve(t, (size_t)n))
			return;
		vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	}
	t->len += (size_t)n;
}

void qfs_text_printf(struct qfs_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	text_vprintf(t, fmt, ap);
	va_end(ap);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool name_ok(const char *name)
{
	if (!name || !*name || (*name >= '0' && *name <= '9'))
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return false;
	return true;
}

void qfs_metric_help(struct qfs_text *t, const char *name, const char *type, const char *help)
{
	METRICS_ASSERT(name_ok(name));
	METRICS_ASSERT(type && (strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				strcmp(type, "histogram") == 0 || strcmp(type, "summary") == 0 ||
				strcmp(type, "untyped") == 0));
	qfs_text_printf(t, "# HELP %s ", name);
	/* HELP text escapes only backslash and newline. */
	for (const char *p = help ? help : ""; *p; p++) {
		if (*p == '\\')
			qfs_text_printf(t, "\\\\");
		else if (*p == '\n')
			qfs_text_printf(t, "\\n");
		else
			qfs_text_printf(t, "%c", *p);
	}
	qfs_text_printf(t, "\n# TYPE %s %s\n", name, type);
}

static void metric_head(struct qfs_text *t, const char *name, const char *labels)
{
	METRICS_ASSERT(name_ok(name));
	if (labels && *labels)
		qfs_text_printf(t, "%s{%s} ", name, labels);
	else
		qfs_text_printf(t, "%s ", name);
}

void qfs_metric_u64(struct qfs_text *t, const char *name, const char *labels, uint64_t v)
{
	metric_head(t, name, labels);
	qfs_text_printf(t, "%llu\n", (unsigned long long)v);
}

/* Prometheus spells the special values +Inf, -Inf and NaN; %.15g keeps
 * 15 significant digits (round numbers stay short: 0.25, not 0.2500...). */
static void print_f64(struct qfs_text *t, double v)
{
	if (isnan(v))
		qfs_text_printf(t, "NaN");
	else if (isinf(v))
		qfs_text_printf(t, v > 0 ? "+Inf" : "-Inf");
	else
		qfs_text_printf(t, "%.15g", v);
}

void qfs_metric_f64(struct qfs_text *t, const char *name, const char *labels, double v)
{
	metric_head(t, name, labels);
	print_f64(t, v);
	qfs_text_printf(t, "\n");
}

void qfs_hist_observe(struct qfs_hist *h, uint64_t us)
{
	unsigned i = 0;
	while (i < QFS_HIST_BUCKETS && us > ((uint64_t)QFS_HIST_FIRST_US << i))
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

void qfs_hist_render(struct qfs_text *t, const char *name, const char *help,
		     const struct qfs_hist *h)
{
	qfs_metric_help(t, name, "histogram", help);
	char series[256];
	METRICS_ASSERT(strlen(name) + sizeof "_bucket" <= sizeof series);
	/* Cumulative counts from one pass over the buckets; _count is their
	 * total (not h->count), so +Inf and _count agree even while other
	 * threads observe. */
	uint64_t cum = 0;
	snprintf(series, sizeof series, "%s_bucket", name);
	for (unsigned i = 0; i <= QFS_HIST_BUCKETS; i++) {
		cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
		if (i == QFS_HIST_BUCKETS) {
			qfs_metric_u64(t, series, "le=\"+Inf\"", cum);
			break;
		}
		char le[48];
		double bound_s = (double)((uint64_t)QFS_HIST_FIRST_US << i) / 1e6;
		snprintf(le, sizeof le, "le=\"%.15g\"", bound_s);
		qfs_metric_u64(t, series, le, cum);
	}
	snprintf(series, sizeof series, "%s_sum", name);
	qfs_metric_f64(t, series, NULL,
		       (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
	snprintf(series, sizeof series, "%s_count", name);
	qfs_metric_u64(t, series, NULL, cum);
}
