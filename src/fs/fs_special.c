/* fs_special.c: the special entries of INTERFACE §4 and §5 as virtual
 * inodes: DIR/.rev/NAME, DIR/.cas/REV/NAME, DIR/.enqueue, DIR/.dequeue,
 * DIR/.watch in every directory, and /members/, /.status, /.metrics.
 *
 * They are found by lookup only (readdir of a real directory never lists
 * them), carry no kernel cache (timeouts 0, direct I/O), and live while the
 * kernel holds a lookup on them (forget frees them).  Every change they make
 * is one command decided inside the replicated apply (store/keyspace.c). */
#include "fs/fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "quorumfs/error.h"
#include "quorumfs/limits.h"
#include "util/metrics.h"

static const struct {
	const char *name;
	enum fs_vkind kind;
	bool root_only;
} fs_special_names[] = {
    {".rev", FS_V_REV_DIR, false},       {".cas", FS_V_CAS_DIR, false},
    {".enqueue", FS_V_ENQUEUE, false},   {".dequeue", FS_V_DEQUEUE, false},
    {".watch", FS_V_WATCH, false},       {"members", FS_V_MEMBERS_DIR, true},
    {".status", FS_V_STATUS, true},      {".metrics", FS_V_METRICS, true},
};

/* ------------------------------------------------------------ vnode table */

static unsigned vhash_ino(uint64_t vino)
{
	return (unsigned)(vino * 0x9e3779b97f4a7c15ull >> 56) % FS_VNODE_BUCKETS;
}

static unsigned vhash_key(enum fs_vkind kind, uint64_t dir, uint64_t rev, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	h = (h ^ dir) * 1099511628211ull;
	h = (h ^ rev) * 1099511628211ull;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return (unsigned)(h % FS_VNODE_BUCKETS);
}

void fs_special_init(struct fs *fs)
{
	pthread_mutex_init(&fs->vmu, NULL);
	fs->vnext = FS_VINO_BASE;
}

void fs_special_free(struct fs *fs)
{
	for (unsigned b = 0; b < FS_VNODE_BUCKETS; b++) {
		struct fs_vnode *v = fs->vby_ino[b];
		while (v) {
			struct fs_vnode *next = v->next_ino;
			free(v);
			v = next;
		}
		fs->vby_ino[b] = NULL;
		fs->vby_key[b] = NULL;
	}
	pthread_mutex_destroy(&fs->vmu);
}

/* The vnode for (kind, dir, rev, name) with one more kernel lookup; a copy
 * in *out.  QFS_ENOMEM when it cannot be made. */
static int vnode_ref(struct fs *fs, enum fs_vkind kind, uint64_t dir, uint64_t rev,
		     const char *name, struct fs_vnode *out)
{
	unsigned kb = vhash_key(kind, dir, rev, name);
	pthread_mutex_lock(&fs->vmu);
	struct fs_vnode *v = fs->vby_key[kb];
	while (v && !(v->kind == kind && v->dir == dir && v->rev == rev && !strcmp(v->name, name)))
		v = v->next_key;
	if (!v) {
		v = calloc(1, sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&fs->vmu);
			return QFS_ENOMEM;
		}
		v->vino = fs->vnext++;
		v->kind = kind;
		v->dir = dir;
		v->rev = rev;
		snprintf(v->name, sizeof v->name, "%s", name);
		v->next_key = fs->vby_key[kb];
		fs->vby_key[kb] = v;
		unsigned ib = vhash_ino(v->vino);
		v->next_ino = fs->vby_ino[ib];
		fs->vby_ino[ib] = v;
	}
	v->nlookup++;
	*out = *v;
	pthread_mutex_unlock(&fs->vmu);
	return 0;
}

/* A copy of vnode vino: QFS_ENOENT when the kernel forgot it. */
static int vnode_get(struct fs *fs, uint64_t vino, struct fs_vnode *out)
{
	pthread_mutex_lock(&fs->vmu);
	struct fs_vnode *v = fs->vby_ino[vhash_ino(vino)];
	while (v && v->vino != vino)
		v = v->next_ino;
	if (v)
		*out = *v;
	pthread_mutex_unlock(&fs->vmu);
	return v ? 0 : QFS_ENOENT;
}

enum fs_vkind fs_special_kind(struct fs *fs, uint64_t vino)
{
	struct fs_vnode v;
	return vnode_get(fs, vino, &v) == 0 ? v.kind : FS_V_NONE;
}

void fs_special_forget(struct fs *fs, uint64_t vino, uint64_t nlookup)
{
	pthread_mutex_lock(&fs->vmu);
	struct fs_vnode **pi = &fs->vby_ino[vhash_ino(vino)];
	while (*pi && (*pi)->vino != vino)
		pi = &(*pi)->next_ino;
	struct fs_vnode *v = *pi;
	if (v && (v->nlookup -= nlookup < v->nlookup ? nlookup : v->nlookup) == 0) {
		*pi = v->next_ino;
		struct fs_vnode **pk = &fs->vby_key[vhash_key(v->kind, v->dir, v->rev, v->name)];
		while (*pk != v)
			pk = &(*pk)->next_key;
		*pk = v->next_key;
		free(v);
	}
	pthread_mutex_unlock(&fs->vmu);
}

/* ------------------------------------------------------------ attributes */

static bool vkind_is_dir(enum fs_vkind k)
{
	return k == FS_V_REV_DIR || k == FS_V_CAS_DIR || k == FS_V_CAS_REV_DIR ||
	       k == FS_V_MEMBERS_DIR;
}

/* Attributes of a vnode.  With -o allow_other the kernel checks them
 * (default_permissions), so each grants what the equivalent plain operation
 * would: .rev/NAME reads like NAME; .cas/REV/NAME writes like NAME (or like
 * creating it in DIR when absent) and is removed like NAME from DIR;
 * .enqueue creates in DIR, .dequeue reads and deletes in DIR (readable by
 * whoever may write DIR), .watch reads DIR.  Cluster views are root's and
 * read-only for everyone. */
static int vnode_attr(struct fs *fs, const struct fs_vnode *v, struct qfs_attr *a)
{
	struct qfs_attr d, key;
	int rc = fs_getattr_of(fs, v->dir, &d);
	if (rc < 0)
		return rc;
	bool have_key = false;
	if (v->kind == FS_V_REV_FILE || v->kind == FS_V_CAS_FILE) {
		struct store_rtxn *t;
		if ((rc = store_rbegin(fs->store, &t)) < 0)
			return rc;
		rc = store_lookup(t, v->dir, v->name, strlen(v->name), &key);
		store_rend(t);
		if (rc < 0 && (rc != QFS_ENOENT || v->kind == FS_V_REV_FILE))
			return rc;
		have_key = rc == 0;
	}
	memset(a, 0, sizeof *a);
	a->ino = v->vino;
	a->parent = v->dir;
	a->uid = have_key ? key.uid : d.uid;
	a->gid = have_key ? key.gid : d.gid;
	a->mtime_ns = a->ctime_ns = have_key ? key.mtime_ns : d.mtime_ns;
	a->nlink = 1;
	uint32_t dperm = d.mode & 0777;
	switch (v->kind) {
	case FS_V_REV_DIR:
	case FS_V_CAS_DIR:
		a->mode = S_IFDIR | (dperm & 0555);
		a->nlink = 2;
		break;
	case FS_V_CAS_REV_DIR: /* rm in it deletes from DIR */
		a->mode = S_IFDIR | dperm;
		a->nlink = 2;
		break;
	case FS_V_MEMBERS_DIR:
		a->mode = S_IFDIR | 0555;
		a->uid = a->gid = 0;
		a->nlink = 2;
		break;
	case FS_V_REV_FILE:
		a->mode = S_IFREG | (key.mode & 0444);
		break;
	case FS_V_WATCH:
		a->mode = S_IFREG | (dperm & 0444);
		break;
	case FS_V_DEQUEUE:
		a->mode = S_IFREG | ((dperm & 0222) << 1);
		break;
	case FS_V_CAS_FILE:
		a->mode = S_IFREG | ((have_key ? key.mode : dperm) & 0222);
		break;
	case FS_V_ENQUEUE:
		a->mode = S_IFREG | (dperm & 0222);
		break;
	case FS_V_MEMBER_FILE:
	case FS_V_STATUS:
	case FS_V_METRICS:
		a->mode = S_IFREG | 0444;
		a->uid = a->gid = 0;
		break;
	default:
		return QFS_ENOENT;
	}
	/* The content is made at open, so its size is not known here: report
	 * a bound.  read() never looks (direct I/O), but sendfile/splice
	 * (busybox cat, cp) reads through the page cache up to i_size, and
	 * the kernel ignores direct I/O there; a short read then sets i_size
	 * to the real end.  With size 0 such a reader would get nothing, and
	 * a .dequeue would lose the item it popped. */
	switch (v->kind) {
	case FS_V_REV_FILE:
		a->size = 21; /* 20 digits and a newline */
		break;
	case FS_V_STATUS:
	case FS_V_MEMBER_FILE:
		a->size = FS_VIEW_SIZE_MAX;
		break;
	case FS_V_DEQUEUE:
	case FS_V_METRICS:
		a->size = fs->value_max > FS_VIEW_SIZE_MAX ? fs->value_max : FS_VIEW_SIZE_MAX;
		break;
	default:
		break; /* .watch is a stream: it has no end to report */
	}
	return 0;
}

static void reply_ventry(fuse_req_t req, struct fs *fs, const struct fs_vnode *v)
{
	struct qfs_attr a;
	int rc = vnode_attr(fs, v, &a);
	if (rc < 0) {
		fs_special_forget(fs, v->vino, 1);
		fuse_reply_err(req, qfs_errno(rc));
		return;
	}
	struct fuse_entry_param e;
	fs_fill_entry(fs, &a, &e);
	e.attr_timeout = 0; /* never cached: their content changes with every commit */
	e.entry_timeout = 0;
	if (fuse_reply_entry(req, &e) == -ENOENT)
		fs_special_forget(fs, v->vino, 1); /* interrupted: no forget will come */
}

/* ------------------------------------------------------------ lookup */

static bool member_exists(struct fs *fs, const char *name)
{
	struct node_member_info *m = calloc(FS_MEMBERS_MAX, sizeof *m);
	if (!m)
		return false;
	unsigned n = node_members(fs->node, m, FS_MEMBERS_MAX);
	bool found = false;
	for (unsigned i = 0; i < n && !found; i++)
		found = strcmp(m[i].name, name) == 0;
	free(m);
	return found;
}

static int lookup_in_vdir(struct fs *fs, const struct fs_vnode *d, const char *name,
			  struct fs_vnode *out)
{
	size_t len = strlen(name);
	struct qfs_attr a;
	uint64_t rev;
	int rc;
	switch (d->kind) {
	case FS_V_REV_DIR: {
		struct store_rtxn *t;
		if ((rc = qfs_name_check(name, len)) < 0)
			return rc;
		if ((rc = store_rbegin(fs->store, &t)) < 0)
			return rc;
		rc = store_lookup(t, d->dir, name, len, &a);
		store_rend(t);
		if (rc < 0)
			return rc;
		return vnode_ref(fs, FS_V_REV_FILE, d->dir, 0, name, out);
	}
	case FS_V_CAS_DIR:
		if ((rc = qfs_rev_parse(name, len, &rev)) < 0)
			return rc;
		return vnode_ref(fs, FS_V_CAS_REV_DIR, d->dir, rev, "", out);
	case FS_V_CAS_REV_DIR:
		/* Always there, absent key or not: the write decides. */
		if ((rc = qfs_name_check(name, len)) < 0)
			return rc;
		if (qfs_name_reserved(d->dir, name, len))
			return QFS_EPERM;
		return vnode_ref(fs, FS_V_CAS_FILE, d->dir, d->rev, name, out);
	case FS_V_MEMBERS_DIR:
		if (len > QFS_NAME_MAX || !member_exists(fs, name))
			return QFS_ENOENT;
		return vnode_ref(fs, FS_V_MEMBER_FILE, d->dir, 0, name, out);
	default:
		return QFS_ENOTDIR;
	}
}

bool fs_special_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fs_vnode v;
	int rc;
	if (fs_is_virtual(parent)) {
		struct fs_vnode d;
		rc = vnode_get(fs, parent, &d);
		if (rc == 0)
			rc = lookup_in_vdir(fs, &d, name, &v);
		if (rc < 0)
			fuse_reply_err(req, qfs_errno(rc));
		else
			reply_ventry(req, fs, &v);
		return true;
	}
	for (size_t i = 0; i < sizeof fs_special_names / sizeof fs_special_names[0]; i++) {
		if (strcmp(name, fs_special_names[i].name) != 0)
			continue;
		if (fs_special_names[i].root_only && parent != QFS_ROOT_INO)
			return false; /* an ordinary name below the root */
		struct qfs_attr d;
		rc = fs_getattr_of(fs, parent, &d);
		if (rc == 0 && !S_ISDIR(d.mode))
			rc = QFS_ENOTDIR;
		if (rc == 0)
			rc = vnode_ref(fs, fs_special_names[i].kind, parent, 0, "", &v);
		if (rc < 0)
			fuse_reply_err(req, qfs_errno(rc));
		else
			reply_ventry(req, fs, &v);
		return true;
	}
	return false;
}

bool fs_special_getattr(fuse_req_t req, fuse_ino_t ino)
{
	if (!fs_is_virtual(ino))
		return false;
	struct fs *fs = fs_of(req);
	struct fs_vnode v;
	struct qfs_attr a;
	int rc = vnode_get(fs, ino, &v);
	if (rc == 0)
		rc = vnode_attr(fs, &v, &a);
	if (rc < 0) {
		fuse_reply_err(req, qfs_errno(rc));
		return true;
	}
	struct stat st;
	fs_attr_to_stat(fs, &a, &st);
	fuse_reply_attr(req, &st, 0);
	return true;
}

/* ------------------------------------------------------------ contents */

static int status_text(struct fs *fs, struct qfs_text *t)
{
	struct node_status st;
	node_status(fs->node, &st);
	qfs_text_printf(t,
			"name=%s\nrole=%s\nleader=%s\nterm=%" PRIu64 "\ncommit=%" PRIu64
			"\napplied=%" PRIu64 "\nquorum=%s\nvoters=%u\nlearners=%u\nrevision=%" PRIu64
			"\nversion=%s\n",
			st.name, st.role, st.leader, st.term, st.commit, st.applied,
			st.quorum ? "yes" : "no", st.voters, st.learners, st.revision, QFS_VERSION);
	return t->err;
}

static int member_text(struct fs *fs, const char *name, struct qfs_text *t)
{
	struct node_member_info *m = calloc(FS_MEMBERS_MAX, sizeof *m);
	if (!m)
		return QFS_ENOMEM;
	unsigned n = node_members(fs->node, m, FS_MEMBERS_MAX);
	int rc = QFS_ENOENT; /* gone since the lookup */
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(m[i].name, name) != 0)
			continue;
		qfs_text_printf(t,
				"name=%s\naddress=%s\nrole=%s\nterm=%" PRIu64 "\nlast_seen_ms=%" PRIu64
				"\napplied=%" PRIu64 "\nload=%.2f\nuptime_s=%" PRIu64 "\nversion=%s\n",
				m[i].name, m[i].address, m[i].role, m[i].term, m[i].last_seen_ms,
				m[i].applied, m[i].load, m[i].uptime_s, m[i].version);
		rc = t->err;
		break;
	}
	free(m);
	return rc;
}

static int rev_text(struct fs *fs, const struct fs_vnode *v, struct qfs_text *t)
{
	struct store_rtxn *tx;
	struct qfs_attr a;
	int rc = store_rbegin(fs->store, &tx);
	if (rc < 0)
		return rc;
	rc = store_lookup(tx, v->dir, v->name, strlen(v->name), &a);
	store_rend(tx);
	if (rc < 0)
		return rc;
	qfs_text_printf(t, "%" PRIu64 "\n", a.mod_revision);
	return t->err;
}

/* The content a read-only special file shows for this open. */
static int vnode_text(struct fs *fs, const struct fs_vnode *v, struct qfs_text *t)
{
	switch (v->kind) {
	case FS_V_REV_FILE:
		return rev_text(fs, v, t);
	case FS_V_STATUS:
		return status_text(fs, t);
	case FS_V_MEMBER_FILE:
		return member_text(fs, v->name, t);
	case FS_V_METRICS: {
		size_t len;
		char *m = fs_metrics_text(fs, &len);
		if (!m)
			return QFS_ENOMEM;
		qfs_text_printf(t, "%.*s", (int)len, m);
		free(m);
		return t->err;
	}
	default:
		return QFS_EINVAL;
	}
}

/* ------------------------------------------------------------ open, read, write */

static void reply_open_handle(fuse_req_t req, struct fuse_file_info *fi, struct fs_handle *h)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* sizes are unknown and contents never cached */
	fi->keep_cache = 0;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		if (h->watch)
			fs_watch_close(fs_of(req), h);
		fs_handle_free(h); /* interrupted: no release will come */
	}
}

bool fs_special_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!fs_is_virtual(ino))
		return false;
	struct fs *fs = fs_of(req);
	struct fs_vnode v;
	int rc = vnode_get(fs, ino, &v);
	if (rc < 0)
		return fuse_reply_err(req, qfs_errno(rc)), true;
	int acc = fi->flags & O_ACCMODE;
	bool reads = v.kind == FS_V_REV_FILE || v.kind == FS_V_DEQUEUE || v.kind == FS_V_WATCH ||
		     v.kind == FS_V_MEMBER_FILE || v.kind == FS_V_STATUS || v.kind == FS_V_METRICS;
	if (vkind_is_dir(v.kind))
		return fuse_reply_err(req, EISDIR), true;
	/* Read-only entries refuse writers, write-only ones readers: the
	 * cluster views with EACCES (INTERFACE §5), the special entries with
	 * EPERM, as for any attempt to make a key of their name (touch). */
	bool view = v.kind == FS_V_MEMBER_FILE || v.kind == FS_V_STATUS || v.kind == FS_V_METRICS;
	if ((reads && acc != O_RDONLY) || (!reads && acc == O_RDONLY))
		return fuse_reply_err(req, view ? EACCES : EPERM), true;
	if (v.kind == FS_V_DEQUEUE) {
		fs_dq_open(req, v.dir, fi);
		return true;
	}
	struct fs_handle *h = fs_handle_new(fs, ino, fi->flags & ~O_TRUNC);
	if (!h)
		return fuse_reply_err(req, ENOMEM), true;
	h->vkind = v.kind;
	h->vdir = v.dir;
	h->cas_rev = v.rev;
	snprintf(h->vname, sizeof h->vname, "%s", v.name);
	if (v.kind == FS_V_WATCH) {
		fi->nonseekable = 1;
		rc = fs_watch_open(fs, v.dir, h);
	} else if (reads) {
		/* The content is taken once, at open: re-reads see the same. */
		struct qfs_text t;
		qfs_text_init(&t);
		rc = vnode_text(fs, &v, &t);
		if (rc == 0)
			rc = fs_handle_set_snap(h, t.buf ? t.buf : "", t.len);
		qfs_text_free(&t);
	}
	if (rc < 0) {
		fs_handle_free(h);
		return fuse_reply_err(req, qfs_errno(rc)), true;
	}
	reply_open_handle(req, fi, h);
	return true;
}

bool fs_special_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	if (!fs_is_virtual(ino) || !h || h->vkind != FS_V_WATCH)
		return false; /* the others read their copy like any key */
	fs_watch_read(req, h, size);
	return true;
}

/* A write through a special entry, parked until its command applied. */
struct fs_swrite {
	fuse_req_t req;
	struct fs_handle *h;
	size_t size;
	int rc;
};

static void fs_swrite_reply(void *arg)
{
	struct fs_swrite *w = arg;
	if (w->rc < 0)
		fuse_reply_err(w->req, qfs_errno(w->rc));
	else
		fuse_reply_write(w->req, w->size);
	free(w);
}

static void fs_swrite_done(void *ctx, int rc, const struct store_result *res)
{
	struct fs_swrite *w = ctx;
	if (rc == 0)
		rc = res->rc;
	if (rc == 0 && w->h->vkind == FS_V_CAS_FILE)
		w->h->cas_rev = res->attr.mod_revision; /* a later write() continues the value */
	w->rc = rc;
	/* The kernel cannot know which key changed: reply once it forgot. */
	fs_inval_then(w->h->fs, rc == 0 ? res : NULL, fs_swrite_reply, w);
}

bool fs_special_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	if (!fs_is_virtual(ino))
		return false;
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct qfs_cmd c = {.ino = h->vdir, .data = (const uint8_t *)buf, .data_len = (uint32_t)size,
			    .uid = ctx->uid, .gid = ctx->gid, .mode = 0644 & ~ctx->umask};
	if (h->vkind == FS_V_CAS_FILE) {
		/* The first write() replaces the value if REV matches; a later
		 * one of the same open patches at its offset, expecting the
		 * revision the previous one made. */
		c.op = QFS_OP_CAS_PUT;
		c.name = h->vname;
		c.name_len = (uint16_t)strlen(h->vname);
		c.expect_rev = h->cas_rev;
		c.offset = (uint64_t)off;
	} else if (h->vkind == FS_V_ENQUEUE) {
		c.op = QFS_OP_ENQUEUE; /* each write() is one item */
	} else {
		fuse_reply_err(req, EACCES);
		return true;
	}
	if (size > fs->value_max) {
		fuse_reply_err(req, EFBIG);
		return true;
	}
	struct fs_swrite *w = calloc(1, sizeof *w);
	if (!w) {
		fuse_reply_err(req, ENOMEM);
		return true;
	}
	w->req = req;
	w->h = h;
	w->size = size;
	c.time_ns = node_now_ns();
	node_propose(fs->node, &c, false, fs_swrite_done, w);
	return true;
}

bool fs_special_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (!fs_is_virtual(ino))
		return false;
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	if (h && h->watch)
		fs_watch_close(fs_of(req), h);
	fs_handle_free(h);
	fuse_reply_err(req, 0);
	return true;
}

/* ------------------------------------------------------------ unlink, listings */

struct fs_sunlink {
	fuse_req_t req;
	int rc;
};

static void fs_sunlink_reply(void *arg)
{
	struct fs_sunlink *u = arg;
	fuse_reply_err(u->req, u->rc < 0 ? qfs_errno(u->rc) : 0);
	free(u);
}

static void fs_sunlink_done(void *ctx, int rc, const struct store_result *res)
{
	struct fs_sunlink *u = ctx;
	if (rc == 0)
		rc = res->rc;
	u->rc = rc;
	fs_inval_then(fs_of(u->req), rc == 0 ? res : NULL, fs_sunlink_reply, u);
}

bool fs_special_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!fs_is_virtual(parent))
		return false;
	struct fs *fs = fs_of(req);
	struct fs_vnode d;
	int rc = vnode_get(fs, parent, &d);
	if (rc == 0 && d.kind != FS_V_CAS_REV_DIR)
		rc = QFS_EACCES;
	size_t len = strlen(name);
	if (rc == 0)
		rc = qfs_name_check(name, len);
	if (rc < 0) {
		fuse_reply_err(req, qfs_errno(rc));
		return true;
	}
	/* rm DIR/.cas/REV/NAME: delete only if NAME's revision is REV. */
	struct qfs_cmd c = {.op = QFS_OP_CAS_DELETE, .ino = d.dir, .name = name,
			    .name_len = (uint16_t)len, .expect_rev = d.rev,
			    .time_ns = node_now_ns()};
	struct fs_sunlink *u = calloc(1, sizeof *u);
	if (!u) {
		fuse_reply_err(req, ENOMEM);
		return true;
	}
	u->req = req;
	node_propose(fs->node, &c, false, fs_sunlink_done, u);
	return true;
}

int fs_special_list(struct fs *fs, uint64_t ino, fs_list_fn add, void *dir)
{
	struct fs_vnode v;
	struct qfs_attr self, parent;
	int rc = vnode_get(fs, ino, &v);
	if (rc == 0)
		rc = vnode_attr(fs, &v, &self);
	if (rc == 0 && !S_ISDIR(self.mode))
		rc = QFS_ENOTDIR;
	if (rc == 0)
		rc = fs_getattr_of(fs, v.dir, &parent);
	if (rc == 0)
		rc = add(dir, ".", 1, &self);
	if (rc == 0)
		rc = add(dir, "..", 2, &parent);
	if (rc < 0 || v.kind != FS_V_MEMBERS_DIR)
		return rc; /* .rev and .cas list nothing: their names are the keys' */
	struct node_member_info *m = calloc(FS_MEMBERS_MAX, sizeof *m);
	if (!m)
		return QFS_ENOMEM;
	unsigned n = node_members(fs->node, m, FS_MEMBERS_MAX);
	for (unsigned i = 0; i < n && rc == 0; i++) {
		/* Listed without a lookup (readdirplus gives no node id for
		 * these): the inode number is only a stable tag for the name. */
		struct qfs_attr a = {.mode = S_IFREG | 0444, .nlink = 1};
		uint64_t h = 1469598103934665603ull;
		for (const char *p = m[i].name; *p; p++)
			h = (h ^ (uint8_t)*p) * 1099511628211ull;
		a.ino = FS_VINO_BASE | (1ull << 61) | (h & ((1ull << 61) - 1));
		rc = add(dir, m[i].name, strlen(m[i].name), &a);
	}
	free(m);
	return rc;
}
