/* loadgen: a small POSIX load generator for bench/run.sh.
 *
 *   loadgen MODE DIR THREADS OPS [SIZE] [MAXSEC]
 *
 * MODE
 *   write    each thread t: OPS x open(O_WRONLY|O_CREAT|O_TRUNC)-write(SIZE)-close
 *            of distinct keys DIR/t<t>/k<i> (the dir DIR/t<t> is made first)
 *   read     each thread t: OPS x open-read-close of DIR/t<t>/k<i> (made by write)
 *   stat     each thread t: OPS x stat of DIR/t<t>/k<i>
 *   mkfiles  (setup) OPS empty files DIR/e<i>, split over THREADS
 *   readdir  OPS x opendir-readdir(all)-closedir of DIR (one thread)
 *
 * Stops early after MAXSEC seconds (default 30). Prints one line:
 *   ops=N secs=S ops_per_sec=R errors=E [entries=M]
 * Exit code 1 if any operation failed (the first error goes to stderr).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { M_WRITE, M_READ, M_STAT, M_MKFILES, M_READDIR };

struct cfg {
	enum mode mode;
	const char *dir;
	int threads;
	long ops;
	size_t size;
	double maxsec;
	double start;
};

static struct cfg cfg;
static atomic_long done_ops;
static atomic_long errors;
static atomic_long entries;
static atomic_int reported;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, const char *path, int err)
{
	atomic_fetch_add(&errors, 1);
	if (atomic_exchange(&reported, 1) == 0)
		fprintf(stderr, "loadgen: %s %s: %s\n", what, path, strerror(err));
}

static void *worker(void *arg)
{
	long t = (long)arg;
	char path[4096];
	char *buf = malloc(cfg.size > 65536 ? cfg.size : 65536);
	if (!buf) {
		report("malloc", "", ENOMEM);
		return NULL;
	}
	memset(buf, 'v', cfg.size);
	if (cfg.mode == M_WRITE) {
		snprintf(path, sizeof path, "%s/t%ld", cfg.dir, t);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			report("mkdir", path, errno);
	}
	long lo = 0, hi = cfg.ops;
	if (cfg.mode == M_MKFILES) { /* split OPS over the threads */
		long per = (cfg.ops + cfg.threads - 1) / cfg.threads;
		lo = t * per;
		hi = lo + per > cfg.ops ? cfg.ops : lo + per;
	}
	for (long i = lo; i < hi; i++) {
		if ((i & 15) == 0 && now() - cfg.start > cfg.maxsec)
			break;
		int fd;
		struct stat st;
		switch (cfg.mode) {
		case M_WRITE:
			snprintf(path, sizeof path, "%s/t%ld/k%ld", cfg.dir, t, i);
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) {
				report("open", path, errno);
				continue;
			}
			if (write(fd, buf, cfg.size) != (ssize_t)cfg.size)
				report("write", path, errno);
			if (close(fd) < 0)
				report("close", path, errno);
			break;
		case M_READ: {
			snprintf(path, sizeof path, "%s/t%ld/k%ld", cfg.dir, t, i);
			fd = open(path, O_RDONLY);
			if (fd < 0) {
				report("open", path, errno);
				continue;
			}
			size_t got = 0;
			ssize_t n;
			while ((n = read(fd, buf, 65536)) > 0)
				got += (size_t)n;
			if (n < 0)
				report("read", path, errno);
			else if (got != cfg.size)
				report("read (short)", path, EIO);
			close(fd);
			break;
		}
		case M_STAT:
			snprintf(path, sizeof path, "%s/t%ld/k%ld", cfg.dir, t, i);
			if (stat(path, &st) < 0)
				report("stat", path, errno);
			break;
		case M_MKFILES:
			snprintf(path, sizeof path, "%s/e%06ld", cfg.dir, i);
			fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) {
				report("create", path, errno);
				continue;
			}
			close(fd);
			break;
		case M_READDIR: {
			DIR *d = opendir(cfg.dir);
			if (!d) {
				report("opendir", cfg.dir, errno);
				continue;
			}
			long n = 0;
			errno = 0;
			while (readdir(d))
				n++;
			if (errno)
				report("readdir", cfg.dir, errno);
			closedir(d);
			atomic_store(&entries, n);
			break;
		}
		}
		atomic_fetch_add(&done_ops, 1);
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: loadgen write|read|stat|mkfiles|readdir DIR THREADS OPS [SIZE] [MAXSEC]\n");
		return 2;
	}
	const char *m = argv[1];
	cfg.mode = !strcmp(m, "write")     ? M_WRITE
		   : !strcmp(m, "read")    ? M_READ
		   : !strcmp(m, "stat")    ? M_STAT
		   : !strcmp(m, "mkfiles") ? M_MKFILES
		   : !strcmp(m, "readdir") ? M_READDIR
					   : (enum mode)-1;
	if ((int)cfg.mode < 0) {
		fprintf(stderr, "loadgen: unknown mode %s\n", m);
		return 2;
	}
	cfg.dir = argv[2];
	cfg.threads = atoi(argv[3]);
	cfg.ops = atol(argv[4]);
	cfg.size = argc > 5 ? (size_t)atol(argv[5]) : 100;
	cfg.maxsec = argc > 6 ? atof(argv[6]) : 30.0;
	if (cfg.threads < 1 || cfg.threads > 256 || cfg.ops < 0 || cfg.size > (1u << 20)) {
		fprintf(stderr, "loadgen: bad arguments\n");
		return 2;
	}
	if (cfg.mode == M_READDIR)
		cfg.threads = 1;
	pthread_t th[256];
	cfg.start = now();
	for (long t = 0; t < cfg.threads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)t) != 0) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			return 1;
		}
	for (int t = 0; t < cfg.threads; t++)
		pthread_join(th[t], NULL);
	double secs = now() - cfg.start;
	long ops = atomic_load(&done_ops);
	printf("ops=%ld secs=%.3f ops_per_sec=%.0f errors=%ld", ops, secs, secs > 0 ? (double)ops / secs : 0.0,
	       atomic_load(&errors));
	if (cfg.mode == M_READDIR)
		printf(" entries=%ld", atomic_load(&entries));
	printf("\n");
	return atomic_load(&errors) ? 1 : 0;
}
