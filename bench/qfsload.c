/* qfsload: the quorumfs side of bench/cluster.sh (3 mounts of one cluster).
 *
 *   qfsload put  ROOTS SUB CLIENTS OPS SIZE MAXSEC [NKEYS]
 *       client t: OPS x open(O_WRONLY|O_CREAT|O_TRUNC)-write(SIZE)-close of
 *       R/SUB/t<t>/k<i>, R = ROOTS[t % nroots] (ROOTS: mount points joined
 *       by ':'); R/SUB/t<t> is made first through the same mount. With
 *       NKEYS > 0 the keys are k<i % NKEYS>, created before the clock starts,
 *       so every timed put replaces an existing value.
 *   qfsload get  ROOTS SUB CLIENTS OPS NKEYS MAXSEC
 *       client t: OPS x open-read-close of R/SUB/t<t>/k<i % NKEYS> (keys made
 *       by `put` with the same ROOTS, SUB and CLIENTS).
 *   qfsload fill ROOTS SUB CLIENTS NKEYS SIZE MAXSEC
 *       NKEYS keys R/SUB/d<i/1000>/f<i%1000> (directories made through the
 *       first mount, waited for on all of them), split over CLIENTS.
 *   qfsload failover PID FILE MAXSEC
 *       SIGKILL PID, then start one open-write-close of FILE every 5 ms (each
 *       in its own thread, blocking calls allowed to overlap) and print the
 *       seconds from the kill until the first one succeeded.
 *
 * put/get/fill print one line:
 *   ops=N secs=S ops_per_sec=R p50_ms=A p99_ms=B errors=E
 * with latencies from a per-op histogram (log2 buckets, 32 sub-buckets: ~3%).
 * Every mode stops after MAXSEC seconds. Exit code 1 on any failed operation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define MAXROOTS 16
#define MAXCLIENTS 256
#define SUBB 32
#define NBUCKETS (64 * SUBB)

enum mode { M_PUT, M_GET, M_FILL };

static struct {
	enum mode mode;
	char *roots[MAXROOTS];
	int nroots;
	const char *sub;
	int clients;
	long ops;   /* put/get: per client; fill: total keys */
	long nkeys; /* get; put: 0 = a new key each time */
	size_t size;
	double maxsec;
	double start;
} cfg;

static atomic_long errors;
static atomic_int reported;
static atomic_long next_key; /* fill */
static atomic_int go;
static atomic_int ready;

struct tstate {
	long t;
	long ops;
	uint64_t hist[NBUCKETS];
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bucket(uint64_t ns)
{
	if (ns < SUBB)
		return (int)ns;
	int e = 63 - __builtin_clzll(ns); /* >= 5 */
	int s = (int)((ns >> (e - 5)) & (SUBB - 1));
	return (e - 4) * SUBB + s;
}

static double bucket_mid(int b) /* ns */
{
	if (b < SUBB)
		return b;
	int e = b / SUBB + 4, s = b % SUBB;
	double lo = (double)((uint64_t)(SUBB + s) << (e - 5));
	return lo + (double)((uint64_t)1 << (e - 5)) / 2;
}

static void report(const char *what, const char *path, int err)
{
	atomic_fetch_add(&errors, 1);
	if (atomic_exchange(&reported, 1) == 0)
		fprintf(stderr, "qfsload: %s %s: %s\n", what, path, strerror(err));
}

static int put1(const char *path, const char *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		report("open", path, errno);
		return -1;
	}
	ssize_t n = write(fd, buf, size);
	if (n != (ssize_t)size) {
		report("write", path, n < 0 ? errno : EIO);
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		report("close", path, errno);
		return -1;
	}
	return 0;
}

static int get1(const char *path, char *buf, size_t want)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		report("open", path, errno);
		return -1;
	}
	size_t got = 0;
	ssize_t n;
	while ((n = read(fd, buf, 65536)) > 0)
		got += (size_t)n;
	close(fd);
	if (n < 0) {
		report("read", path, errno);
		return -1;
	}
	if (got != want) {
		report("read (short)", path, EIO);
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct tstate *ts = arg;
	long t = ts->t;
	const char *root = cfg.roots[t % cfg.nroots];
	char path[4096];
	char *buf = malloc(65536 + cfg.size);
	if (!buf) {
		report("malloc", "", ENOMEM);
		return NULL;
	}
	memset(buf, 'v', cfg.size);
	if (cfg.mode == M_PUT) {
		snprintf(path, sizeof path, "%s/%s/t%ld", root, cfg.sub, t);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			report("mkdir", path, errno);
		for (long k = 0; k < cfg.nkeys; k++) { /* not timed */
			snprintf(path, sizeof path, "%s/%s/t%ld/k%ld", root, cfg.sub, t, k);
			put1(path, buf, cfg.size);
		}
	}
	atomic_fetch_add(&ready, 1);
	while (!atomic_load(&go))
		usleep(100);
	for (long i = 0;; i++) {
		if (cfg.mode != M_FILL && i >= cfg.ops)
			break;
		if (now() - cfg.start > cfg.maxsec)
			break;
		long k = i;
		if (cfg.mode == M_FILL) {
			k = atomic_fetch_add(&next_key, 1);
			if (k >= cfg.ops)
				break;
			snprintf(path, sizeof path, "%s/%s/d%ld/f%ld", root, cfg.sub, k / 1000, k % 1000);
		} else if (cfg.mode == M_PUT) {
			snprintf(path, sizeof path, "%s/%s/t%ld/k%ld", root, cfg.sub, t, cfg.nkeys ? i % cfg.nkeys : i);
		} else {
			snprintf(path, sizeof path, "%s/%s/t%ld/k%ld", root, cfg.sub, t, i % cfg.nkeys);
		}
		uint64_t t0 = now_ns();
		int rc = cfg.mode == M_GET ? get1(path, buf, cfg.size) : put1(path, buf, cfg.size);
		uint64_t dt = now_ns() - t0;
		if (rc == 0) {
			ts->hist[bucket(dt)]++;
			ts->ops++;
		}
	}
	free(buf);
	return NULL;
}

static double pct(const uint64_t *h, uint64_t total, double p)
{
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)(p * (double)total + 0.999999), acc = 0;
	if (want < 1)
		want = 1;
	for (int b = 0; b < NBUCKETS; b++) {
		acc += h[b];
		if (acc >= want)
			return bucket_mid(b) / 1e6;
	}
	return 0;
}

/* ---- failover ---- */
static atomic_int fo_done;
static double fo_t0;
static const char *fo_file;

static void *fo_attempt(void *arg)
{
	(void)arg;
	char buf[100];
	memset(buf, 'f', sizeof buf);
	int fd = open(fo_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return NULL;
	ssize_t n = write(fd, buf, sizeof buf);
	int c = close(fd);
	if (n == (ssize_t)sizeof buf && c == 0) {
		double dt = now() - fo_t0;
		if (atomic_exchange(&fo_done, 1) == 0) {
			printf("failover_secs=%.3f\n", dt);
			fflush(stdout);
			_exit(0);
		}
	}
	return NULL;
}

static int failover(pid_t pid, const char *file, double maxsec)
{
	fo_file = file;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 64 * 1024);
	if (kill(pid, SIGKILL) < 0) {
		fprintf(stderr, "qfsload: kill %d: %s\n", (int)pid, strerror(errno));
		return 1;
	}
	fo_t0 = now();
	int live = 0;
	while (now() - fo_t0 < maxsec) {
		pthread_t th;
		if (live < 2000 && pthread_create(&th, &a, fo_attempt, NULL) == 0)
			live++;
		usleep(5000);
	}
	fprintf(stderr, "qfsload: no write succeeded within %.0f s of the kill\n", maxsec);
	printf("failover_secs=fail\n");
	fflush(stdout);
	_exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: qfsload put ROOTS SUB CLIENTS OPS SIZE MAXSEC [NKEYS]\n"
			"       qfsload get ROOTS SUB CLIENTS OPS NKEYS MAXSEC\n"
			"       qfsload fill ROOTS SUB CLIENTS NKEYS SIZE MAXSEC\n"
			"       qfsload failover PID FILE MAXSEC\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "failover")) {
		if (argc != 5)
			usage();
		return failover((pid_t)atol(argv[2]), argv[3], atof(argv[4]));
	}
	if (argc != 8 && !(argc == 9 && !strcmp(argv[1], "put")))
		usage();
	cfg.mode = !strcmp(argv[1], "put") ? M_PUT : !strcmp(argv[1], "get") ? M_GET : !strcmp(argv[1], "fill") ? M_FILL : -1;
	if ((int)cfg.mode < 0)
		usage();
	char *rs = strdup(argv[2]), *save = NULL;
	for (char *r = strtok_r(rs, ":", &save); r && cfg.nroots < MAXROOTS; r = strtok_r(NULL, ":", &save))
		cfg.roots[cfg.nroots++] = r;
	cfg.sub = argv[3];
	cfg.clients = atoi(argv[4]);
	cfg.ops = atol(argv[5]);
	cfg.size = 100;
	if (cfg.mode == M_GET)
		cfg.nkeys = atol(argv[6]);
	else
		cfg.size = (size_t)atol(argv[6]);
	cfg.maxsec = atof(argv[7]);
	if (argc == 9)
		cfg.nkeys = atol(argv[8]);
	if (cfg.nroots < 1 || cfg.clients < 1 || cfg.clients > MAXCLIENTS || cfg.ops < 1 || cfg.size > (1u << 20) ||
	    cfg.nkeys < 0 || (cfg.mode == M_GET && cfg.nkeys < 1))
		usage();

	char path[4096];
	for (int r = 0; r < cfg.nroots; r++) {
		snprintf(path, sizeof path, "%s/%s", cfg.roots[r], cfg.sub);
		if (r == 0 && mkdir(path, 0755) < 0 && errno != EEXIST) {
			report("mkdir", path, errno);
			return 1;
		}
	}
	if (cfg.mode == M_FILL) { /* directories through the first mount, then wait for them everywhere */
		long ndirs = (cfg.ops + 999) / 1000;
		for (long d = 0; d < ndirs; d++) {
			snprintf(path, sizeof path, "%s/%s/d%ld", cfg.roots[0], cfg.sub, d);
			if (mkdir(path, 0755) < 0 && errno != EEXIST) {
				report("mkdir", path, errno);
				return 1;
			}
		}
	}
	/* what was made through the first mount must be visible on the others */
	double w0 = now();
	for (int r = 1; r < cfg.nroots; r++) {
		struct stat st;
		if (cfg.mode == M_FILL)
			snprintf(path, sizeof path, "%s/%s/d%ld", cfg.roots[r], cfg.sub, (cfg.ops + 999) / 1000 - 1);
		else
			snprintf(path, sizeof path, "%s/%s", cfg.roots[r], cfg.sub);
		while (stat(path, &st) < 0) {
			if (now() - w0 > 10) {
				report("stat (replication)", path, errno);
				return 1;
			}
			usleep(2000);
		}
	}

	static struct tstate ts[MAXCLIENTS];
	pthread_t th[MAXCLIENTS];
	for (long t = 0; t < cfg.clients; t++) {
		ts[t].t = t;
		if (pthread_create(&th[t], NULL, worker, &ts[t]) != 0) {
			fprintf(stderr, "qfsload: pthread_create failed\n");
			return 1;
		}
	}
	for (double r0 = now(); atomic_load(&ready) < cfg.clients && now() - r0 < 120;) /* the setup */
		usleep(1000);
	cfg.start = now();
	atomic_store(&go, 1);
	static uint64_t hist[NBUCKETS];
	long ops = 0;
	for (int t = 0; t < cfg.clients; t++) {
		pthread_join(th[t], NULL);
		ops += ts[t].ops;
		for (int b = 0; b < NBUCKETS; b++)
			hist[b] += ts[t].hist[b];
	}
	double secs = now() - cfg.start;
	printf("ops=%ld secs=%.3f ops_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f errors=%ld\n", ops, secs,
	       secs > 0 ? (double)ops / secs : 0.0, pct(hist, (uint64_t)ops, 0.50), pct(hist, (uint64_t)ops, 0.99),
	       atomic_load(&errors));
	return atomic_load(&errors) ? 1 : 0;
}
