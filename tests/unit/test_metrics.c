/* Unit tests of the Prometheus text helpers (src/util/metrics.c): the text
 * buffer, metric lines, HELP escaping, histogram buckets and their
 * cumulative rendering, also while other threads observe. */
#include "util/metrics.h"

#include "quorumfs/error.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_text_grows(void **state)
{
	(void)state;
	struct qfs_text t;
	qfs_text_init(&t);
	assert_null(t.buf);
	assert_int_equal(t.len, 0);
	/* Far past the first allocation: every line must be there, in order. */
	for (int i = 0; i < 5000; i++)
		qfs_text_printf(&t, "line %d\n", i);
	assert_int_equal(t.err, 0);
	assert_non_null(t.buf);
	assert_int_equal(strlen(t.buf), t.len);
	int expect = 0;
	for (const char *p = t.buf; *p; expect++) {
		char want[32];
		int n = snprintf(want, sizeof want, "line %d\n", expect);
		assert_memory_equal(p, want, (size_t)n);
		p += n;
	}
	assert_int_equal(expect, 5000);
	/* One append much larger than the buffer. */
	char big[10000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	size_t before = t.len;
	qfs_text_printf(&t, "%s", big);
	assert_int_equal(t.len, before + sizeof big - 1);
	assert_string_equal(t.buf + before, big);
	qfs_text_free(&t);
	assert_null(t.buf);
	assert_int_equal(t.len, 0);
}

static void test_text_sticky_error(void **state)
{
	(void)state;
	struct qfs_text t;
	qfs_text_init(&t);
	qfs_text_printf(&t, "a");
	t.err = QFS_ENOMEM; /* as after a failed allocation */
	qfs_text_printf(&t, "b");
	qfs_metric_u64(&t, "x", NULL, 1);
	assert_int_equal(t.len, 1);
	assert_string_equal(t.buf, "a");
	qfs_text_free(&t);
	assert_int_equal(t.err, 0);
}

static void test_metric_lines(void **state)
{
	(void)state;
	struct qfs_text t;
	qfs_text_init(&t);
	qfs_metric_help(&t, "quorumfs_term", "gauge", "Current term.");
	qfs_metric_u64(&t, "quorumfs_term", NULL, 7);
	qfs_metric_u64(&t, "quorumfs_ops_total", "op=\"read\"", 18446744073709551615ull);
	qfs_metric_u64(&t, "quorumfs_ops_total", "", 0);
	qfs_metric_f64(&t, "f", NULL, 0.25);
	qfs_metric_f64(&t, "f", "a=\"b\",c=\"d\"", 1.5e-7);
	qfs_metric_f64(&t, "f", NULL, 3.0);
	qfs_metric_f64(&t, "f", NULL, NAN);
	qfs_metric_f64(&t, "f", NULL, INFINITY);
	qfs_metric_f64(&t, "f", NULL, -INFINITY);
	assert_int_equal(t.err, 0);
	assert_string_equal(t.buf, "# HELP quorumfs_term Current term.\n"
				   "# TYPE quorumfs_term gauge\n"
				   "quorumfs_term 7\n"
				   "quorumfs_ops_total{op=\"read\"} 18446744073709551615\n"
				   "quorumfs_ops_total 0\n"
				   "f 0.25\n"
				   "f{a=\"b\",c=\"d\"} 1.5e-07\n"
				   "f 3\n"
				   "f NaN\n"
				   "f +Inf\n"
				   "f -Inf\n");
	qfs_text_free(&t);
}

static void test_help_escapes(void **state)
{
	(void)state;
	struct qfs_text t;
	qfs_text_init(&t);
	qfs_metric_help(&t, "m_total", "counter", "a \\ b\nc \"q\"");
	assert_string_equal(t.buf, "# HELP m_total a \\\\ b\\nc \"q\"\n# TYPE m_total counter\n");
	qfs_text_free(&t);
}

/* Value of the line starting with `prefix` (a series and its labels). */
static unsigned long long value_of(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	fail_msg("no line '%s' in:\n%s", prefix, text);
	return 0;
}

static void test_hist_buckets(void **state)
{
	(void)state;
	struct qfs_hist *h = calloc(1, sizeof *h);
	assert_non_null(h);
	/* Bounds are inclusive (Prometheus `le`): 250 us is in the first bucket,
	 * 251 in the second; 8.192 s is the last finite one, above it +Inf. */
	uint64_t obs[] = {0, 250, 251, 500, 1000, 1001, 8192000, 8192001, 60000000};
	uint64_t sum = 0;
	for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
		qfs_hist_observe(h, obs[i]);
		sum += obs[i];
	}
	struct qfs_text t;
	qfs_text_init(&t);
	qfs_hist_render(&t, "lat_seconds", "Latency.", h);
	assert_int_equal(t.err, 0);
	const char *head = "# HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n"
			   "lat_seconds_bucket{le=\"0.00025\"} 2\n"
			   "lat_seconds_bucket{le=\"0.0005\"} 4\n"
			   "lat_seconds_bucket{le=\"0.001\"} 5\n"
			   "lat_seconds_bucket{le=\"0.002\"} 6\n"
			   "lat_seconds_bucket{le=\"0.004\"} 6\n";
	assert_memory_equal(t.buf, head, strlen(head));
	assert_int_equal(value_of(t.buf, "lat_seconds_bucket{le=\"4.096\"}"), 6);
	assert_int_equal(value_of(t.buf, "lat_seconds_bucket{le=\"8.192\"}"), 7);
	assert_int_equal(value_of(t.buf, "lat_seconds_bucket{le=\"+Inf\"}"), 9);
	assert_int_equal(value_of(t.buf, "lat_seconds_count"), 9);
	/* 16 finite buckets + Inf, then _sum and _count, nothing else. */
	int lines = 0;
	for (const char *p = t.buf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 2 + QFS_HIST_BUCKETS + 1 + 2);
	char want[64];
	snprintf(want, sizeof want, "lat_seconds_sum %.15g\n", (double)sum / 1e6);
	assert_non_null(strstr(t.buf, want));
	/* Cumulative: never decreasing. */
	unsigned long long prev = 0;
	for (const char *p = strstr(t.buf, "_bucket"); p; p = strstr(p + 1, "_bucket")) {
		unsigned long long v = strtoull(strchr(p, ' ') + 1, NULL, 10);
		assert_true(v >= prev);
		prev = v;
	}
	qfs_text_free(&t);
	free(h);
}

static void test_hist_empty(void **state)
{
	(void)state;
	static struct qfs_hist h; /* zero-initialized */
	struct qfs_text t;
	qfs_text_init(&t);
	qfs_hist_render(&t, "e", "", &h);
	assert_int_equal(value_of(t.buf, "e_bucket{le=\"+Inf\"}"), 0);
	assert_int_equal(value_of(t.buf, "e_count"), 0);
	assert_non_null(strstr(t.buf, "\ne_sum 0\n"));
	qfs_text_free(&t);
}

#define OBSERVERS 4
#define PER_OBSERVER 200000

static void *observer(void *arg)
{
	struct qfs_hist *h = arg;
	for (unsigned i = 0; i < PER_OBSERVER; i++)
		qfs_hist_observe(h, (i * 7919u) % 20000000u);
	return NULL;
}

/* Renders while others observe: each render's +Inf bucket equals its
 * _count (scrapers reject a histogram where they differ), and nothing is
 * lost once the observers are done. */
static void test_hist_concurrent(void **state)
{
	(void)state;
	struct qfs_hist *h = calloc(1, sizeof *h);
	assert_non_null(h);
	pthread_t th[OBSERVERS];
	for (int i = 0; i < OBSERVERS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, observer, h), 0);
	unsigned long long last = 0;
	for (int r = 0; r < 200; r++) {
		struct qfs_text t;
		qfs_text_init(&t);
		qfs_hist_render(&t, "c", "h", h);
		unsigned long long inf = value_of(t.buf, "c_bucket{le=\"+Inf\"}");
		assert_int_equal(inf, value_of(t.buf, "c_count"));
		assert_true(inf >= last);
		last = inf;
		qfs_text_free(&t);
	}
	for (int i = 0; i < OBSERVERS; i++)
		pthread_join(th[i], NULL);
	struct qfs_text t;
	qfs_text_init(&t);
	qfs_hist_render(&t, "c", "h", h);
	assert_int_equal(value_of(t.buf, "c_count"), (unsigned long long)OBSERVERS * PER_OBSERVER);
	assert_int_equal(h->count, (uint64_t)OBSERVERS * PER_OBSERVER);
	qfs_text_free(&t);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_grows),       cmocka_unit_test(test_text_sticky_error),
		cmocka_unit_test(test_metric_lines),     cmocka_unit_test(test_help_escapes),
		cmocka_unit_test(test_hist_buckets),     cmocka_unit_test(test_hist_empty),
		cmocka_unit_test(test_hist_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
