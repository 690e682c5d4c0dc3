/* fs_watch.c: DIR/.watch, a never-ending stream of the changes under DIR.
 *
 * Every applied change (on the node loop) appends its events to a ring of
 * FS_WATCH_RING entries while anybody watches.  A reader starts at the
 * change after its open and reads whole lines `<revision> <put|delete>
 * <path>\n` of the events under its directory, in apply order (= revision
 * order); with nothing new its read parks until a change arrives (or a
 * signal interrupts it).  A reader that falls more than the ring behind,
 * or whose node skipped changes by installing a snapshot, gets ENOBUFS from
 * then on rather than a stream with a silent hole.
 *
 * Threads: applied changes on the node loop, reads and interrupts on FUSE
 * threads; w_mu guards the ring and the watchers. */
#include "fs/fs_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/error.h"

struct fs_watcher {
	struct fs_watcher *next;
	struct fs *fs;
	char prefix[QFS_PATH_MAX + 1]; /* "app/" ("" for the root) */
	size_t plen;
	uint64_t next_seq; /* the next event this reader looks at */
	bool lost;
	fuse_req_t parked; /* a read waiting for a change */
	size_t parked_size;
};

int fs_watch_open(struct fs *fs, uint64_t dir, struct fs_handle *h)
{
	struct fs_watcher *w = calloc(1, sizeof *w);
	if (!w)
		return QFS_ENOMEM;
	w->fs = fs;
	struct store_rtxn *t;
	int rc = store_rbegin(fs->store, &t);
	if (rc == 0) {
		rc = store_path(t, dir, w->prefix, sizeof w->prefix - 1);
		store_rend(t);
	}
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->plen = strlen(w->prefix);
	if (w->plen)
		w->prefix[w->plen++] = '/';
	pthread_mutex_lock(&fs->w_mu);
	if (!fs->wring) {
		fs->wring = calloc(FS_WATCH_RING, sizeof *fs->wring);
		if (!fs->wring) {
			pthread_mutex_unlock(&fs->w_mu);
			free(w);
			return QFS_ENOMEM;
		}
	}
	w->next_seq = fs->wnext;
	w->next = fs->watchers;
	fs->watchers = w;
	pthread_mutex_unlock(&fs->w_mu);
	h->watch = w;
	return 0;
}

void fs_watch_close(struct fs *fs, struct fs_handle *h)
{
	struct fs_watcher *w = h->watch;
	if (!w)
		return;
	pthread_mutex_lock(&fs->w_mu);
	for (struct fs_watcher **pp = &fs->watchers; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&fs->w_mu);
	h->watch = NULL;
	free(w);
}

/* Below the watched directory (not the directory itself). */
static bool fs_watch_matches(const struct fs_watcher *w, const char *path)
{
	return path && strncmp(path, w->prefix, w->plen) == 0 && path[w->plen] != '\0';
}

/* Lines for w into buf[0..cap) (w_mu held): bytes written, or a negative
 * errno (ENOBUFS: fell behind). */
static long fs_watch_fill(struct fs *fs, struct fs_watcher *w, char *buf, size_t cap)
{
	uint64_t oldest = fs->wnext > FS_WATCH_RING ? fs->wnext - FS_WATCH_RING : 0;
	if (w->lost || w->next_seq < oldest) {
		w->lost = true;
		return -ENOBUFS;
	}
	size_t used = 0;
	for (; w->next_seq < fs->wnext; w->next_seq++) {
		const struct fs_wevent *e = &fs->wring[w->next_seq % FS_WATCH_RING];
		if (!fs_watch_matches(w, e->path))
			continue;
		int n = snprintf(buf + used, cap - used, "%" PRIu64 " %s %s\n", e->rev,
				 e->kind == STORE_EV_DELETE ? "delete" : "put", e->path);
		if (n < 0 || (size_t)n >= cap - used) {
			if (used == 0)
				return -EINVAL; /* a read smaller than one line */
			break;
		}
		used += (size_t)n;
	}
	return (long)used;
}

static void fs_watch_reply(fuse_req_t req, long got, const char *buf)
{
	/* No interrupt callback runs after this: the request may go. */
	fuse_req_interrupt_func(req, NULL, NULL);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
}

static void fs_watch_interrupt(fuse_req_t req, void *data)
{
	struct fs_watcher *w = data;
	struct fs *fs = w->fs;
	pthread_mutex_lock(&fs->w_mu);
	bool mine = w->parked == req;
	if (mine)
		w->parked = NULL;
	pthread_mutex_unlock(&fs->w_mu);
	if (mine)
		fuse_reply_err(req, EINTR);
}

void fs_watch_read(fuse_req_t req, struct fs_handle *h, size_t size)
{
	struct fs *fs = fs_of(req);
	struct fs_watcher *w = h->watch;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fuse_req_interrupt_func(req, fs_watch_interrupt, w);
	pthread_mutex_lock(&fs->w_mu);
	long got = fs_watch_fill(fs, w, buf, size);
	if (got == 0 && fuse_req_interrupted(req)) {
		got = -EINTR;
	} else if (got == 0 && w->parked) {
		got = -EBUSY; /* one waiting read per open file */
	} else if (got == 0) {
		w->parked = req; /* fs_watch_applied replies */
		w->parked_size = size;
		pthread_mutex_unlock(&fs->w_mu);
		free(buf);
		return;
	}
	pthread_mutex_unlock(&fs->w_mu);
	fs_watch_reply(req, got, buf);
	free(buf);
}

struct fs_wreply {
	struct fs_wreply *next;
	fuse_req_t req;
	long got;
	char buf[];
};

/* Replies to every parked reader that has lines now (w_mu held); the
 * replies are sent by the caller once the lock is dropped. */
static struct fs_wreply *fs_watch_collect(struct fs *fs)
{
	struct fs_wreply *out = NULL;
	for (struct fs_watcher *w = fs->watchers; w; w = w->next) {
		if (!w->parked)
			continue;
		struct fs_wreply *r = malloc(sizeof *r + w->parked_size + 1);
		if (!r)
			continue; /* it stays parked: the next change retries */
		r->got = fs_watch_fill(fs, w, r->buf, w->parked_size);
		if (r->got == 0) {
			free(r);
			continue;
		}
		r->req = w->parked;
		w->parked = NULL;
		r->next = out;
		out = r;
	}
	return out;
}

void fs_watch_applied(struct fs *fs, const struct store_result *res)
{
	if (res->rc < 0 || res->n_events == 0)
		return;
	pthread_mutex_lock(&fs->w_mu);
	/* Revisions advance by one per change: a jump means this node took
	 * a snapshot instead of the changes in between. */
	bool gap = fs->wlast_rev && res->revision > fs->wlast_rev + 1;
	fs->wlast_rev = res->revision;
	if (!fs->watchers) {
		pthread_mutex_unlock(&fs->w_mu);
		return;
	}
	for (struct fs_watcher *w = fs->watchers; gap && w; w = w->next)
		w->lost = true;
	for (unsigned i = 0; i < res->n_events; i++) {
		struct fs_wevent *e = &fs->wring[fs->wnext % FS_WATCH_RING];
		free(e->path);
		e->rev = res->revision;
		e->kind = res->events[i].kind;
		e->path = res->events[i].path ? strdup(res->events[i].path) : NULL;
		fs->wnext++;
	}
	struct fs_wreply *r = fs_watch_collect(fs);
	pthread_mutex_unlock(&fs->w_mu);
	while (r) {
		struct fs_wreply *next = r->next;
		fs_watch_reply(r->req, r->got, r->buf);
		free(r);
		r = next;
	}
}

/* At unmount: waiting reads end; the ring goes. */
void fs_watch_stop(struct fs *fs)
{
	pthread_mutex_lock(&fs->w_mu);
	struct fs_wreply *out = NULL;
	for (struct fs_watcher *w = fs->watchers; w; w = w->next) {
		struct fs_wreply *r = w->parked ? malloc(sizeof *r) : NULL;
		if (!r)
			continue;
		r->req = w->parked;
		r->got = -EINTR;
		w->parked = NULL;
		r->next = out;
		out = r;
	}
	pthread_mutex_unlock(&fs->w_mu);
	while (out) {
		struct fs_wreply *next = out->next;
		fs_watch_reply(out->req, out->got, NULL);
		free(out);
		out = next;
	}
}

void fs_watch_free(struct fs *fs)
{
	if (fs->wring)
		for (unsigned i = 0; i < FS_WATCH_RING; i++)
			free(fs->wring[i].path);
	free(fs->wring);
	fs->wring = NULL;
}
