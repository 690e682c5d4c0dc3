/* node_backup.c: snapshot files of this node's keyspace (store/backup.h).
 *
 * `quorumctl snapshot save FILE` runs node_snapshot_save on the admin thread;
 * scheduled backups (--backup-dir, --backup-every, --backup-keep) run on a
 * thread of their own.  Both copy from one LMDB read transaction: the loop
 * thread keeps applying meanwhile and is never asked for anything.
 *
 * A scheduled backup is written to NAME.qfsnap.tmp, fsynced, renamed to
 * quorumfs-<node>-<UTC time>-r<revision>.qfsnap, verified as `quorumctl
 * snapshot verify` does, and the oldest beyond --backup-keep are removed.
 * A failure is logged and counted, never fatal; the next period tries again.
 */
#include "node/node_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/backup.h"
#include "util/log.h"

#define BACKUP_SUFFIX ".qfsnap"
#define BACKUP_TMP_SUFFIX ".qfsnap.tmp"
/* "20240501T120000.123Z": what follows "quorumfs-<node>-" in a name. */
#define BACKUP_TIME_LEN 20u

struct node_backup {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	bool stop;
	atomic_bool cancel; /* stops a copy in progress */
	char *dir;
	char prefix[NET_MAX_NAME + 16]; /* "quorumfs-<node>-", node name made file-safe */
	uint64_t every_ms;
	uint32_t keep;
};

uint64_t node_cluster_id_stored(struct node *n)
{
	uint64_t cid = 0;
	size_t len = 0;
	struct store_rtxn *rt;
	if (store_rbegin(n->store, &rt) == 0) {
		if (store_meta_get(rt, "cluster_id", &cid, sizeof cid, &len) != 0 ||
		    len != sizeof cid)
			cid = 0;
		store_rend(rt);
	}
	return cid;
}

int node_snapshot_save(struct node *n, const char *path, const atomic_bool *cancel,
		       struct store_backup_info *info, char *err, size_t errlen)
{
	char tmp[4200];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp) {
		snprintf(err, errlen, "path too long: %s", path);
		return QFS_ENAMETOOLONG;
	}
	int rc = store_backup_write(n->store, tmp, node_cluster_id_stored(n), node_now_ns(), cancel,
				    info, err, errlen);
	if (rc < 0)
		return rc;
	rc = store_backup_rename(tmp, path);
	if (rc < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, qfs_strerror(rc));
		unlink(tmp);
	}
	return rc;
}

/* mkdir -p; the last component 0700 (backups hold the whole keyspace). */
static int backup_mkdirs(const char *dir)
{
	char p[4096];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof p)
		return QFS_ENAMETOOLONG;
	memcpy(p, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, c ? 0755 : 0700) != 0 && errno != EEXIST)
			return qfs_from_errno(errno);
		p[i] = c;
	}
	struct stat st;
	if (stat(dir, &st) != 0)
		return qfs_from_errno(errno);
	return S_ISDIR(st.st_mode) ? 0 : QFS_ENOTDIR;
}

/* A name of ours: prefix, the time stamp, "-r<digits>.qfsnap" (or ".tmp"). */
static bool backup_name_ours(const struct node_backup *b, const char *name, bool tmp)
{
	size_t pl = strlen(b->prefix);
	if (strncmp(name, b->prefix, pl) != 0)
		return false;
	const char *t = name + pl;
	for (unsigned i = 0; i < BACKUP_TIME_LEN; i++) {
		char c = t[i];
		bool ok = i == 8 ? c == 'T' : i == 15 ? c == '.' : i == 19 ? c == 'Z' : c >= '0' && c <= '9';
		if (!ok)
			return false;
	}
	const char *rest = t + BACKUP_TIME_LEN;
	if (tmp)
		return strcmp(rest, BACKUP_TMP_SUFFIX) == 0;
	if (rest[0] != '-' || rest[1] != 'r' || rest[2] < '0' || rest[2] > '9')
		return false;
	rest += 2;
	while (*rest >= '0' && *rest <= '9')
		rest++;
	return strcmp(rest, BACKUP_SUFFIX) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes our leftover temporary files (tmp) or the oldest backups beyond
 * --backup-keep (names sort by time). */
static void backup_prune(struct node_backup *b, bool tmp)
{
	DIR *d = opendir(b->dir);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!backup_name_ours(b, de->d_name, tmp))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = realloc(names, nc * sizeof *nn);
			if (!nn)
				break;
			names = nn;
			cap = nc;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	size_t drop = tmp ? n : n > b->keep ? n - b->keep : 0;
	char path[4600];
	for (size_t i = 0; i < n; i++) {
		if (i < drop) {
			snprintf(path, sizeof path, "%s/%s", b->dir, names[i]);
			if (unlink(path) != 0)
				log_warn("backup: cannot remove %s: %s", path, strerror(errno));
			else if (!tmp)
				log_info("backup: removed %s (--backup-keep %u)", path, b->keep);
		}
		free(names[i]);
	}
	free(names);
}

static bool backup_once(struct node *n, struct node_backup *b)
{
	char err[768] = "";
	int rc = backup_mkdirs(b->dir);
	if (rc < 0) {
		log_error("backup: cannot create the directory %s: %s", b->dir, qfs_strerror(rc));
		return false;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char stamp[32];
	size_t sl = strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
	snprintf(stamp + sl, sizeof stamp - sl, ".%03ldZ", ts.tv_nsec / 1000000L);
	char tmp[4600], path[4600];
	snprintf(tmp, sizeof tmp, "%s/%s%s" BACKUP_TMP_SUFFIX, b->dir, b->prefix, stamp);
	uint64_t now_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	struct store_backup_info info, vi;
	rc = store_backup_write(n->store, tmp, node_cluster_id_stored(n), now_ns, &b->cancel, &info,
				err, sizeof err);
	if (rc < 0) {
		if (rc != QFS_EINTR)
			log_error("backup: %s", err);
		return false;
	}
	snprintf(path, sizeof path, "%s/%s%s-r%llu" BACKUP_SUFFIX, b->dir, b->prefix, stamp,
		 (unsigned long long)info.revision);
	rc = store_backup_rename(tmp, path);
	if (rc < 0) {
		log_error("backup: cannot rename %s to %s: %s", tmp, path, qfs_strerror(rc));
		unlink(tmp);
		return false;
	}
	/* The file as it is on disk now, checked as `quorumctl snapshot
	 * verify` checks it: a backup that does not verify is not kept. */
	rc = store_backup_verify(path, &vi, err, sizeof err);
	if (rc < 0) {
		log_error("backup: %s did not verify, removed: %s", path, err);
		unlink(path);
		return false;
	}
	log_info("backup: %s: revision %llu, %llu keys, %llu bytes", path,
		 (unsigned long long)info.revision, (unsigned long long)info.keys,
		 (unsigned long long)info.file_len);
	backup_prune(b, false);
	return true;
}

static void *backup_thread(void *arg)
{
	struct node *n = arg;
	struct node_backup *b = n->backup;
	backup_prune(b, true); /* what a crash left half-written */
	pthread_mutex_lock(&b->mu);
	uint64_t next = node_mono_ms() + b->every_ms;
	while (!b->stop) {
		uint64_t now = node_mono_ms();
		if (now < next) {
			uint64_t wait_ms = next - now;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_sec += (time_t)(wait_ms / 1000);
			ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&b->cv, &b->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&b->mu);
		bool ok = backup_once(n, b);
		if (ok) {
			atomic_fetch_add_explicit(&n->counters.backups, 1, memory_order_relaxed);
			atomic_store_explicit(&n->counters.backup_last_success_s,
					      (uint64_t)time(NULL), memory_order_relaxed);
		} else if (!atomic_load(&b->cancel)) {
			atomic_fetch_add_explicit(&n->counters.backup_failures, 1,
						  memory_order_relaxed);
		}
		pthread_mutex_lock(&b->mu);
		next += b->every_ms;
		now = node_mono_ms();
		if (next <= now)
			next = now + b->every_ms;
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int node_backup_start(struct node *n)
{
	if (!n->opt.backup_dir || !n->opt.backup_dir[0] || !n->opt.backup_every_ms)
		return 0;
	struct node_backup *b = calloc(1, sizeof *b);
	if (!b || !(b->dir = strdup(n->opt.backup_dir))) {
		free(b);
		return QFS_ENOMEM;
	}
	b->every_ms = n->opt.backup_every_ms;
	b->keep = n->opt.backup_keep ? n->opt.backup_keep : NODE_BACKUP_KEEP_DEFAULT;
	size_t o = (size_t)snprintf(b->prefix, sizeof b->prefix, "quorumfs-");
	for (const char *p = n->name; *p && o + 2 < sizeof b->prefix; p++) {
		char c = *p;
		bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		b->prefix[o++] = safe ? c : '_';
	}
	b->prefix[o++] = '-';
	b->prefix[o] = '\0';
	atomic_init(&b->cancel, false);
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	n->backup = b;
	if (pthread_create(&b->thread, NULL, backup_thread, n) != 0) {
		n->backup = NULL;
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b->dir);
		free(b);
		return QFS_ENOMEM;
	}
	log_info("backups to %s every %llu ms, keeping %u", b->dir,
		 (unsigned long long)b->every_ms, b->keep);
	return 0;
}

void node_backup_stop(struct node *n)
{
	struct node_backup *b = n->backup;
	if (!b)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	atomic_store(&b->cancel, true);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->dir);
	free(b);
	n->backup = NULL;
}
