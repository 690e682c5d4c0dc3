/* fs_cache.c: telling the kernel when to drop cached names and attributes.
 *
 * File contents are never in the page cache (every handle is direct I/O, see
 * fs_op_open).  Names and attributes are cached for --cache-timeout; changes
 * made through the kernel's own requests leave those caches right.  Any other
 * change (an append whose offset the kernel guessed, a commit from another
 * node) is invalidated explicitly, from a thread of its own. */
#include "fs/fs_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/error.h"
#include "util/log.h"

static void fs_inval_push_then(struct fs *fs, uint64_t ino, uint64_t parent, const char *name,
			       void (*then)(void *), void *arg)
{
	struct fs_inval *iv = calloc(1, sizeof *iv);
	if (!iv) {
		log_error("out of memory: a kernel cache invalidation was dropped");
		if (then)
			then(arg);
		return;
	}
	iv->then = then;
	iv->arg = arg;
	iv->ino = ino;
	iv->parent = parent;
	if (name)
		snprintf(iv->name, sizeof iv->name, "%s", name);
	pthread_mutex_lock(&fs->inval_mu);
	if (fs->inval_tail)
		fs->inval_tail->next = iv;
	else
		fs->inval_head = iv;
	fs->inval_tail = iv;
	pthread_cond_signal(&fs->inval_cv);
	pthread_mutex_unlock(&fs->inval_mu);
}

static void fs_inval_push(struct fs *fs, uint64_t ino, uint64_t parent, const char *name)
{
	fs_inval_push_then(fs, ino, parent, name, NULL, NULL);
}

static void fs_inval_result(struct fs *fs, const struct store_result *res)
{
	for (unsigned i = 0; i < res->n_changed_ino; i++)
		fs_inval_push(fs, res->changed_ino[i], 0, NULL);
	for (unsigned i = 0; i < res->n_changed_entry; i++)
		fs_inval_push(fs, 0, res->changed_entry[i].parent, res->changed_entry[i].name);
}

void fs_inval_then(struct fs *fs, const struct store_result *res, void (*fn)(void *), void *arg)
{
	if (!fs->inval_started) {
		fn(arg);
		return;
	}
	if (res && res->rc == 0)
		fs_inval_result(fs, res);
	fs_inval_push_then(fs, 0, 0, NULL, fn, arg);
}

void fs_on_applied(void *ctx, const struct store_result *res, bool kernel_knows, bool orphan)
{
	struct fs *fs = ctx;
	fs_dq_applied(fs, res, orphan);
	fs_watch_applied(fs, res);
	if (kernel_knows || res->rc < 0 || !fs->inval_started)
		return;
	fs_inval_result(fs, res);
}

static void *fs_inval_loop(void *arg)
{
	struct fs *fs = arg;
	for (;;) {
		pthread_mutex_lock(&fs->inval_mu);
		while (!fs->inval_head && !fs->inval_stop)
			pthread_cond_wait(&fs->inval_cv, &fs->inval_mu);
		struct fs_inval *iv = fs->inval_head;
		if (iv) {
			fs->inval_head = iv->next;
			if (!fs->inval_head)
				fs->inval_tail = NULL;
		}
		pthread_mutex_unlock(&fs->inval_mu);
		if (!iv)
			return NULL; /* stopping, queue drained */
		/* -ENOENT: the kernel does not know the inode or name; nothing cached. */
		if (iv->then)
			iv->then(iv->arg);
		else if (iv->ino)
			fuse_lowlevel_notify_inval_inode(fs->se, iv->ino, 0, 0);
		else
			fuse_lowlevel_notify_inval_entry(fs->se, iv->parent, iv->name,
							 strlen(iv->name));
		free(iv);
	}
}

int fs_start(struct fs *fs)
{
	if (pthread_create(&fs->inval_thread, NULL, fs_inval_loop, fs) != 0)
		return QFS_ENOMEM;
	fs->inval_started = true;
	return 0;
}

void fs_stop(struct fs *fs)
{
	fs_dq_stop(fs);
	fs_watch_stop(fs);
	if (!fs->inval_started)
		return;
	pthread_mutex_lock(&fs->inval_mu);
	fs->inval_stop = true;
	pthread_cond_broadcast(&fs->inval_cv);
	pthread_mutex_unlock(&fs->inval_mu);
	pthread_join(fs->inval_thread, NULL);
	fs->inval_started = false;
}
