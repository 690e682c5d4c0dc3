/* A peer killed and restarted, again and again, under a flood of sends.
 *
 * Regression test for a crash of nng 1.5.2's push protocol (Debian 12): a
 * send completing while its connection drops put the closed pipe back on
 * the socket's ready list, the pipe was freed, and the next send (or the
 * next connection) used it.  The fault soak saw it as a SIGSEGV in
 * nni_list_remove under nng_sendmsg right after a killed peer restarted.
 * src/net/link.c now gives each connection a socket of its own.
 *
 * The peer is this binary run as `--sink URL` in a child process (a pull
 * socket that says "up" once it received something), killed with SIGKILL
 * as in the soak, so its connections die the way a crashed node's do.
 * Two threads send as fast as they can meanwhile.  Under ASan the old
 * link.c fails here within a few dozen restarts; without ASan it usually
 * crashes.  Every wait is bounded. */
#include "net/net.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "free_port.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RESTARTS 150 /* QFS_RELINK_RESTARTS=N for a longer run by hand */
#define UP_WAIT_MS 10000
#define CLUSTER 42u
#define PACE_US 50

/* ------------------------------------------------------------------ sink */

static int sink_main(const char *url)
{
	nng_socket s;
	if (nng_pull0_open(&s) != 0 || nng_listen(s, url, NULL, 0) != 0)
		return 2;
	bool said = false;
	for (;;) {
		nng_msg *m;
		if (nng_recvmsg(s, &m, 0) != 0)
			return 3;
		nng_msg_free(m);
		if (!said) {
			said = true;
			if (write(STDOUT_FILENO, "up\n", 3) != 3)
				return 4;
		}
	}
}

struct sink {
	pid_t pid;
	int out; /* its stdout */
};

static void sink_start(struct sink *k, const char *url)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl("/proc/self/exe", "test_net_relink", "--sink", url, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	k->pid = pid;
	k->out = fds[0];
}

/* True once the sink received a message from us. */
static bool sink_wait_up(struct sink *k, int ms)
{
	struct pollfd p = {.fd = k->out, .events = POLLIN};
	char buf[8];
	return poll(&p, 1, ms) == 1 && read(k->out, buf, sizeof buf) > 0;
}

static void sink_kill(struct sink *k)
{
	kill(k->pid, SIGKILL);
	int st;
	assert_int_equal(waitpid(k->pid, &st, 0), k->pid);
	close(k->out);
}

/* ---------------------------------------------------------------- flood */

struct flood {
	struct net *n;
	atomic_bool stop;
	atomic_ulong sent;
};

static void *flood_main(void *arg)
{
	struct flood *f = arg;
	uint64_t seq = 0;
	while (!atomic_load(&f->stop)) {
		struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 1,
		                     .seq = ++seq};
		if (net_send_raft(f->n, &m) == 0)
			atomic_fetch_add(&f->sent, 1);
		/* Paced like heartbeats, not a flood: the crash needs the
		 * socket's queue empty when a send completes (a queued
		 * message would be sent at once instead of the pipe being put
		 * back on the ready list). */
		usleep(PACE_US);
	}
	return NULL;
}

static void on_recv(void *ctx, const struct net_decoded *d)
{
	(void)ctx;
	(void)d;
}

static void test_peer_killed_under_traffic(void **state)
{
	(void)state;
	char url[64];
	snprintf(url, sizeof url, "tcp://127.0.0.1:%d", free_port());
	struct net_config cfg = {.self_id = 1, .cluster_id = CLUSTER, .send_queue = 16,
	                         .reconnect_min_ms = 5, .reconnect_max_ms = 50};
	struct net *n = NULL;
	assert_int_equal(net_new(&n, &cfg, on_recv, NULL), 0);
	assert_int_equal(net_peer_set(n, 2, url), 0);

	struct flood f = {.n = n};
	atomic_init(&f.stop, false);
	atomic_init(&f.sent, 0);
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, flood_main, &f), 0);

	unsigned seed = (unsigned)time(NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int ups = 0, restarts = RESTARTS;
	const char *env = getenv("QFS_RELINK_RESTARTS");
	if (env && atoi(env) > 0)
		restarts = atoi(env);
	for (int r = 0; r < restarts; r++) {
		struct sink k;
		sink_start(&k, url);
		/* Our link reconnects to the new process and delivers. */
		bool up = sink_wait_up(&k, UP_WAIT_MS);
		if (up)
			ups++;
		usleep((useconds_t)(rand_r(&seed) % 20000)); /* die mid-flood */
		sink_kill(&k);
		assert_true(up);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&f.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);

	struct net_stats st;
	net_stats(n, &st);
	printf("# %d restarts in %.1f s, %lu messages queued, %llu links renewed\n", ups,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long)atomic_load(&f.sent), (unsigned long long)st.relinked);
	assert_int_equal(ups, restarts);
	/* Every restart but the first cost the link its connection. */
	assert_true(st.relinked >= (uint64_t)restarts - 1);
	net_free(n);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--sink") == 0)
		return sink_main(argv[2]);
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peer_killed_under_traffic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
