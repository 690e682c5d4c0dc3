/* Unit tests of the --http endpoint (src/net/http.c) on 127.0.0.1: the
 * answers to /metrics, /health and other paths, start errors (bad URL,
 * busy port), and that stopping is quick and ends the callbacks. */
#include "net/http.h"

#include "quorumfs/error.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "free_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct fake {
	_Atomic int healthy;
	_Atomic int fail_metrics;
	_Atomic int calls;
};

static char *fake_metrics(void *ctx, size_t *len)
{
	struct fake *f = ctx;
	f->calls++;
	if (f->fail_metrics)
		return NULL;
	const char body[] = "# HELP x_total X.\n# TYPE x_total counter\nx_total 42\n";
	char *b = malloc(sizeof body);
	if (!b)
		return NULL;
	memcpy(b, body, sizeof body);
	*len = sizeof body - 1;
	return b;
}

static int fake_health(void *ctx, char *why, size_t cap)
{
	struct fake *f = ctx;
	f->calls++;
	if (f->healthy)
		return 1;
	snprintf(why, cap, "no leader");
	return 0;
}


/* One request with Connection: close; the whole response in buf. */
static void get(int port, const char *method, const char *path, char *buf, size_t cap)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	struct timeval tv = {.tv_sec = 5};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
	char req[256];
	int n = snprintf(req, sizeof req,
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method,
			 path);
	assert_int_equal(write(s, req, (size_t)n), n);
	size_t got = 0;
	ssize_t r;
	while (got + 1 < cap && (r = read(s, buf + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(s);
}

static const char *body_of(const char *resp)
{
	const char *b = strstr(resp, "\r\n\r\n");
	assert_non_null(b);
	return b + 4;
}

static void test_endpoints(void **state)
{
	(void)state;
	struct fake f = {.healthy = 1};
	int port = free_port();
	char url[64], buf[8192];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
	struct qfs_http *h;
	assert_int_equal(qfs_http_start(&h, url, fake_metrics, fake_health, &f), 0);

	get(port, "GET", "/metrics", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	assert_non_null(strstr(buf, "Content-Type: text/plain; version=0.0.4"));
	assert_string_equal(body_of(buf),
			    "# HELP x_total X.\n# TYPE x_total counter\nx_total 42\n");

	get(port, "GET", "/health", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	assert_string_equal(body_of(buf), "ok\n");
	f.healthy = 0;
	get(port, "GET", "/health", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 503", 12) == 0);
	assert_string_equal(body_of(buf), "no leader\n");

	get(port, "GET", "/nope", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 404", 12) == 0);
	get(port, "POST", "/metrics", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 405", 12) == 0);
	get(port, "HEAD", "/metrics", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 200", 12) == 0);
	assert_string_equal(body_of(buf), "");

	f.fail_metrics = 1;
	get(port, "GET", "/metrics", buf, sizeof buf);
	assert_true(strncmp(buf, "HTTP/1.1 500", 12) == 0);

	/* Stopping is quick, and no callback runs afterwards. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	qfs_http_stop(h);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	int calls = f.calls;
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_not_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
	close(s);
	assert_int_equal(f.calls, calls);

	/* The port is free again: a new server can take it. */
	assert_int_equal(qfs_http_start(&h, url, fake_metrics, fake_health, &f), 0);
	qfs_http_stop(h);
	qfs_http_stop(NULL);
}

static void test_start_errors(void **state)
{
	(void)state;
	struct fake f = {.healthy = 1};
	struct qfs_http *h = (struct qfs_http *)&f;
	assert_int_equal(qfs_http_start(&h, "tcp://127.0.0.1:1", fake_metrics, fake_health, &f),
			 QFS_EINVAL);
	assert_null(h);
	assert_int_equal(qfs_http_start(&h, "http//127.0.0.1:1", fake_metrics, fake_health, &f),
			 QFS_EINVAL);
	assert_int_equal(qfs_http_start(&h, "", fake_metrics, fake_health, &f), QFS_EINVAL);
	assert_int_equal(qfs_http_start(&h, "http://nonexistent.invalid:9", fake_metrics,
					fake_health, &f),
			 QFS_EINVAL);

	/* A port someone else listens on. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(s, 1), 0);
	socklen_t len = sizeof a;
	getsockname(s, (struct sockaddr *)&a, &len);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
	assert_int_equal(qfs_http_start(&h, url, fake_metrics, fake_health, &f), QFS_EADDRINUSE);
	assert_null(h);
	close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_start_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
