/* fs: the FUSE low-level filesystem: names -> keys, replies (deferred while a
 * change commits), kernel cache policy and invalidation.
 *
 * Reads run on FUSE threads straight from LMDB read transactions.  Changes are
 * proposed to the node and the request is parked: its reply is sent from the
 * node loop once the change is durable, so no FUSE thread waits on a commit.
 */
#ifndef QFS_FS_H
#define QFS_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "node/node.h"
#include "store/store.h"

struct fs;
struct fuse_session;
struct fuse_args;

struct fs_options {
	double entry_timeout; /* seconds the kernel may cache names */
	double attr_timeout;  /* seconds the kernel may cache attributes */
	bool linearizable;    /* -o linearizable: names, attributes and opens wait
	                         for a ReadIndex barrier; the kernel caches nothing */
};

/* `s` and `n` are borrowed and outlive the fs. */
int fs_new(struct fs **out, struct store *s, struct node *n, const struct fs_options *opt);
/* Creates the FUSE session for this fs (args: FUSE options, borrowed). */
struct fuse_session *fs_session_new(struct fs *fs, struct fuse_args *args);
/* Starts the cache invalidator; call once the session is mounted. */
int fs_start(struct fs *fs);
/* Stops the invalidator; call after the session loop returned. */
void fs_stop(struct fs *fs);
void fs_free(struct fs *fs);
/* The text of /cluster/.metrics (Prometheus format: node_metrics_render plus
 * FUSE operation counters), also served by --http on /metrics: malloc'd,
 * *len bytes, NULL on error.  Any thread. */
char *fs_metrics_text(struct fs *fs, size_t *len);

#endif
