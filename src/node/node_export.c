/* node_export.c: `quorumctl export [PATH]` and `quorumctl import FILE [PATH]`,
 * run on the admin thread (node_admin.c).
 *
 * Export reads one LMDB read transaction (a consistent view) and writes a
 * JSON document (docs/usage.md "Backups and restore"): the revision, then one
 * object per key in tree order, parents before children.  JSON goes through
 * jansson (encoding and, for import, parsing with its error positions);
 * base64 through libsodium.
 *
 * Import parses and checks the whole document, then checks it against the
 * current state (a directory where the document has a file, or the reverse,
 * refuses the import before anything changes), then proposes the changes
 * through node_propose like any writer, waiting for each batch to commit:
 * directories level by level, then values, then attributes.  What already
 * matches is left alone, so an import can be run again after a failure.
 */
#define _GNU_SOURCE /* memrchr, qsort_r */
#include "node/node_internal.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "quorumfs/limits.h"
#include "util/log.h"

#define EXPORT_FORMAT "quorumfs-export"
#define EXPORT_VERSION 1
#define IMPORT_WINDOW 256u     /* proposals in flight at once */
#define IMPORT_KEYS_MAX 10000000u
#define IMPORT_CONFLICTS_SHOWN 5

/* ---------------------------------------------------------------- shared */

/* Splits "/a//b/" into the cleaned "a/b" (components checked); "" is the
 * root.  0, or a negative code with a message in err. */
static int clean_path(const char *in, char *out, size_t cap, char *err, size_t errlen)
{
	size_t o = 0;
	const char *p = in ? in : "";
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		int rc = qfs_name_check(p, len);
		if (rc < 0) {
			snprintf(err, errlen, "bad path '%s': component '%.*s' is not a valid name", in,
				 (int)(len > 64 ? 64 : len), p);
			return rc;
		}
		if (o + (o ? 1 : 0) + len + 1 > cap || o + len + 1 >= QFS_PATH_MAX) {
			snprintf(err, errlen, "path too long: %.64s...", in);
			return QFS_ENAMETOOLONG;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, len);
		o += len;
		p += len;
	}
	out[o] = '\0';
	return 0;
}

static const char *type_name(uint32_t mode)
{
	return S_ISDIR(mode) ? "dir" : S_ISLNK(mode) ? "symlink" : "file";
}

/* ---------------------------------------------------------------- export */

struct child {
	struct qfs_attr a;
	uint16_t len;
	char name[QFS_NAME_MAX + 1];
};

struct children {
	struct child *v;
	size_t n, cap;
	int err;
};

static int collect_child(void *ctx, const char *name, size_t len, const struct qfs_attr *a)
{
	struct children *c = ctx;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		struct child *v = realloc(c->v, nc * sizeof *v);
		if (!v) {
			c->err = QFS_ENOMEM;
			return -1;
		}
		c->v = v;
		c->cap = nc;
	}
	struct child *ch = &c->v[c->n++];
	ch->a = *a;
	ch->len = (uint16_t)len;
	memcpy(ch->name, name, len);
	ch->name[len] = '\0';
	return 0;
}

struct exp {
	struct store_rtxn *rt;
	struct qfs_text *t;
	char path[QFS_PATH_MAX + QFS_NAME_MAX + 2]; /* relative to the export root */
	size_t len;
	uint64_t keys;
	int err;
	char why[QFS_PATH_MAX + QFS_NAME_MAX + 128];
};

/* Sets key (a UTF-8 string), or its base64 with "<enc_key>": "base64" when
 * the bytes are not valid UTF-8 text (or hold a NUL). */
static int set_bytes(json_t *o, const char *key, const char *enc_key, const void *p, size_t n)
{
	json_t *s = NULL;
	if (!memchr(p, '\0', n))
		s = json_stringn(n ? p : "", n);
	if (s)
		return json_object_set_new(o, key, s);
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(cap);
	if (!b)
		return -1;
	sodium_bin2base64(b, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	int rc = json_object_set_new(o, key, json_string(b));
	free(b);
	if (rc == 0)
		rc = json_object_set_new(o, enc_key, json_string("base64"));
	return rc;
}

static void format_time(uint64_t ns, char *buf, size_t cap)
{
	time_t s = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t k = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + k, cap - k, ".%09lluZ", (unsigned long long)(ns % 1000000000ull));
}

static int emit_key(struct exp *x, const struct qfs_attr *a)
{
	json_t *o = json_object();
	char mode[16], mtime[48];
	snprintf(mode, sizeof mode, "%04o", (unsigned)(a->mode & 07777));
	format_time(a->mtime_ns, mtime, sizeof mtime);
	int rc = o ? 0 : -1;
	if (rc == 0)
		rc = set_bytes(o, "path", "path_encoding", x->path, x->len);
	if (rc == 0)
		rc = json_object_set_new(o, "type", json_string(type_name(a->mode)));
	if (rc == 0)
		rc = json_object_set_new(o, "mode", json_string(mode));
	if (rc == 0)
		rc = json_object_set_new(o, "uid", json_integer(a->uid));
	if (rc == 0)
		rc = json_object_set_new(o, "gid", json_integer(a->gid));
	if (rc == 0)
		rc = json_object_set_new(o, "mtime", json_string(mtime));
	if (rc == 0 && !S_ISDIR(a->mode)) {
		const void *data = "";
		size_t len = 0;
		int r = a->size ? store_read(x->rt, a->ino, 0, (size_t)a->size, &data, &len) : 0;
		if (r < 0 || len != a->size) {
			json_decref(o);
			x->err = r < 0 ? r : QFS_ECORRUPT;
			snprintf(x->why, sizeof x->why, "cannot read /%s: %s", x->path,
				 qfs_strerror(x->err));
			return x->err;
		}
		if (S_ISLNK(a->mode))
			rc = set_bytes(o, "target", "target_encoding", data, len);
		else
			rc = set_bytes(o, "value", "encoding", data, len);
	}
	char *s = rc == 0 ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!s) {
		x->err = QFS_ENOMEM;
		snprintf(x->why, sizeof x->why, "out of memory");
		return x->err;
	}
	qfs_text_printf(x->t, "%s    %s", x->keys ? ",\n" : "", s);
	free(s);
	x->keys++;
	return x->t->err;
}

static int export_dir(struct exp *x, uint64_t ino)
{
	struct children c = {0};
	int rc = store_readdir(x->rt, ino, NULL, 0, collect_child, &c);
	if (rc == 0 && c.err)
		rc = c.err;
	if (rc < 0) {
		x->err = rc;
		snprintf(x->why, sizeof x->why, "cannot list /%s: %s", x->path, qfs_strerror(rc));
	}
	size_t base = x->len;
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		struct child *ch = &c.v[i];
		size_t o = base;
		if (o)
			x->path[o++] = '/';
		memcpy(x->path + o, ch->name, ch->len);
		x->len = o + ch->len;
		x->path[x->len] = '\0';
		rc = emit_key(x, &ch->a);
		if (rc == 0 && S_ISDIR(ch->a.mode))
			rc = export_dir(x, ch->a.ino);
		x->len = base;
		x->path[base] = '\0';
	}
	free(c.v);
	return rc;
}

void node_export(struct node *n, const char *path, struct qfs_text *t)
{
	char root[QFS_PATH_MAX + 1], err[512];
	if (clean_path(path, root, sizeof root, err, sizeof err) < 0) {
		qfs_text_printf(t, "error: %s\n", err);
		return;
	}
	struct store_rtxn *rt;
	int rc = store_rbegin(n->store, &rt);
	if (rc < 0) {
		qfs_text_printf(t, "error: cannot read the store: %s\n", qfs_strerror(rc));
		return;
	}
	struct exp *x = calloc(1, sizeof *x);
	struct store_stats ss;
	struct qfs_attr a;
	if (!x) {
		qfs_text_printf(t, "error: out of memory\n");
		goto out;
	}
	x->rt = rt;
	x->t = t;
	rc = store_getattr(rt, QFS_ROOT_INO, &a);
	for (char *p = root; rc == 0 && *p;) {
		char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (!S_ISDIR(a.mode))
			rc = QFS_ENOTDIR;
		else
			rc = store_lookup(rt, a.ino, p, len, &a);
		p += len + (e ? 1 : 0);
	}
	if (rc < 0) {
		qfs_text_printf(t, "error: /%s: %s\n", root,
				rc == QFS_ENOENT ? "no such key" : qfs_strerror(rc));
		goto out;
	}
	if ((rc = store_stats(rt, &ss)) < 0) {
		qfs_text_printf(t, "error: cannot read the store: %s\n", qfs_strerror(rc));
		goto out;
	}
	char slashed[QFS_PATH_MAX + 2];
	snprintf(slashed, sizeof slashed, "/%s", root);
	json_t *jroot = json_string(slashed);
	char *sroot = jroot ? json_dumps(jroot, JSON_ENCODE_ANY) : NULL;
	json_decref(jroot);
	qfs_text_printf(t,
			"ok\n{\n  \"format\": \"" EXPORT_FORMAT "\",\n  \"version\": %d,\n"
			"  \"revision\": %llu,\n  \"root\": %s,\n  \"keys\": [\n",
			EXPORT_VERSION, (unsigned long long)ss.revision, sroot ? sroot : "\"?\"");
	free(sroot);
	rc = emit_key(x, &a);
	if (rc == 0 && S_ISDIR(a.mode))
		rc = export_dir(x, a.ino);
	if (rc == 0)
		qfs_text_printf(t, "\n  ]\n}\n");
	if (rc < 0 || t->err) {
		/* Start over with only the error. */
		qfs_text_free(t);
		qfs_text_init(t);
		qfs_text_printf(t, "error: %s\n", x->why[0] ? x->why : qfs_strerror(rc ? rc : QFS_ENOMEM));
	}
out:
	free(x);
	store_rend(rt);
}

/* ---------------------------------------------------------------- import */

enum { IMP_DIR = 1, IMP_FILE = 2, IMP_LINK = 3 };

struct imp_key {
	char *path;        /* full path below the cluster root ("" is the root) */
	size_t plen;
	const char *name;  /* last component (points into path) */
	size_t nlen;
	unsigned depth;
	uint8_t type;
	bool implicit;     /* an ancestor the document does not list: a directory */
	bool has_mtime;
	uint32_t mode, uid, gid;
	uint64_t mtime_ns;
	uint8_t *data;     /* value, or symlink target */
	size_t dlen;
	size_t parent;     /* index in the path-sorted array; SIZE_MAX for the root */
	/* state */
	bool exists;       /* in the store now */
	uint8_t have;      /* its type there */
	bool replace;      /* exists with another type or target: unlink first */
	bool put;          /* the value differs */
	bool created;
	uint64_t ino;
};

struct imp_op {
	struct imp_run *run;
	size_t key;
	int rc, cmd_rc;
	uint64_t ino;
};

struct imp_run {
	struct node *n;
	struct imp_key *k;
	size_t nk;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned inflight;
	struct imp_op *ops; /* one per key: a key has one change in flight at a time */
	const atomic_bool *stop;
	uint64_t changes;
	uint64_t parents; /* missing parent directories created */
	char err[768];
};

static void imp_done(void *ctx, int rc, const struct store_result *res)
{
	struct imp_op *op = ctx;
	struct imp_run *r = op->run;
	pthread_mutex_lock(&r->mu);
	op->rc = rc;
	op->cmd_rc = res ? res->rc : 0;
	op->ino = res ? res->attr.ino : 0;
	r->inflight--;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void imp_submit(struct imp_run *r, size_t key, struct qfs_cmd *c)
{
	struct imp_op *op = &r->ops[key];
	pthread_mutex_lock(&r->mu);
	while (r->inflight >= IMPORT_WINDOW)
		pthread_cond_wait(&r->cv, &r->mu);
	r->inflight++;
	op->run = r;
	op->key = key;
	op->rc = op->cmd_rc = 1; /* pending */
	op->ino = 0;
	pthread_mutex_unlock(&r->mu);
	c->time_ns = node_now_ns();
	node_propose(r->n, c, false, imp_done, op);
	r->changes++;
}

/* Waits for every change in flight; 0, or -1 with r->err set to the first
 * failure among `keys` (the ops just submitted). */
static int imp_drain(struct imp_run *r, const size_t *keys, size_t n, const char *what)
{
	pthread_mutex_lock(&r->mu);
	while (r->inflight)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < n; i++) {
		struct imp_op *op = &r->ops[keys[i]];
		int rc = op->rc < 0 ? op->rc : op->cmd_rc < 0 ? op->cmd_rc : 0;
		if (rc < 0) {
			snprintf(r->err, sizeof r->err, "%s /%s: %s", what, r->k[keys[i]].path,
				 qfs_strerror(rc));
			return -1;
		}
	}
	if (r->stop && atomic_load(r->stop)) {
		snprintf(r->err, sizeof r->err, "the daemon is stopping");
		return -1;
	}
	return 0;
}

static int cmp_path(const void *a, const void *b)
{
	const struct imp_key *x = a, *y = b;
	int c = memcmp(x->path, y->path, x->plen < y->plen ? x->plen : y->plen);
	return c ? c : x->plen < y->plen ? -1 : x->plen > y->plen;
}

static size_t find_path(const struct imp_key *k, size_t nk, const char *path, size_t plen)
{
	struct imp_key key = {.path = (char *)path, .plen = plen};
	const struct imp_key *f = bsearch(&key, k, nk, sizeof *k, cmp_path);
	return f ? (size_t)(f - k) : SIZE_MAX;
}

/* Processing order: by depth, then path. */
static int cmp_order(const void *a, const void *b, void *ctx)
{
	const struct imp_key *k = ctx;
	const struct imp_key *x = &k[*(const size_t *)a], *y = &k[*(const size_t *)b];
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return cmp_path(x, y);
}

static int parse_time(const char *s, uint64_t *out)
{
	int Y, M, D, h, m, sec, k = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &k) != 6 || k != 19)
		return -1;
	const char *p = s + k;
	uint64_t frac = 0;
	int digits = 0;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				digits++;
			}
		if (digits == 0)
			return -1;
	}
	for (; digits < 9; digits++)
		frac *= 10;
	if (strcmp(p, "Z") != 0 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60 || Y < 1970)
		return -1;
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
			.tm_min = m, .tm_sec = sec};
	time_t t = timegm(&tm);
	if (t < 0)
		return -1;
	*out = (uint64_t)t * 1000000000ull + frac;
	return 0;
}

/* The bytes of o[key]: a string, base64-decoded when o[enc_key] is
 * "base64".  *out is malloc'd (NUL-terminated for convenience). */
static int get_bytes(json_t *o, const char *key, const char *enc_key, uint8_t **out, size_t *len,
		     char *why, size_t wlen)
{
	json_t *v = json_object_get(o, key);
	json_t *e = json_object_get(o, enc_key);
	*out = NULL;
	*len = 0;
	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(why, wlen, "\"%s\" is not a string", key);
		return -1;
	}
	const char *s = json_string_value(v);
	size_t sl = json_string_length(v);
	bool b64 = false;
	if (e) {
		const char *es = json_string_value(e);
		if (es && strcmp(es, "base64") == 0)
			b64 = true;
		else if (!es || (strcmp(es, "utf-8") != 0 && strcmp(es, "utf8") != 0)) {
			snprintf(why, wlen, "\"%s\" must be \"base64\" or \"utf-8\"", enc_key);
			return -1;
		}
	}
	uint8_t *buf = malloc(sl + 1);
	if (!buf) {
		snprintf(why, wlen, "out of memory");
		return -1;
	}
	size_t n = sl;
	if (b64) {
		if (sodium_base642bin(buf, sl + 1, s, sl, " \n\r\t", &n, NULL,
				      sodium_base64_VARIANT_ORIGINAL) != 0) {
			free(buf);
			snprintf(why, wlen, "\"%s\" is not valid base64", key);
			return -1;
		}
	} else {
		memcpy(buf, s, sl);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 1;
}

static int get_u32(json_t *o, const char *key, uint32_t *out, bool *present, char *why, size_t wlen)
{
	json_t *v = json_object_get(o, key);
	*present = v != NULL;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX) {
		snprintf(why, wlen, "\"%s\" must be an integer from 0 to 4294967295", key);
		return -1;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

/* One element of "keys" into k (path made absolute below `root`). */
static int parse_key(json_t *o, const char *root, uint32_t value_max, struct imp_key *k, char *why,
		     size_t wlen)
{
	memset(k, 0, sizeof *k);
	if (!json_is_object(o)) {
		snprintf(why, wlen, "not an object");
		return -1;
	}
	uint8_t *rel = NULL;
	size_t rlen = 0;
	int got = get_bytes(o, "path", "path_encoding", &rel, &rlen, why, wlen);
	if (got <= 0) {
		if (got == 0)
			snprintf(why, wlen, "no \"path\"");
		return -1;
	}
	/* Components: valid names, no empty ones (no leading or double '/'). */
	for (size_t i = 0, start = 0; rlen && i <= rlen; i++) {
		if (i < rlen && rel[i] != '/')
			continue;
		if (qfs_name_check((const char *)rel + start, i - start) != 0) {
			snprintf(why, wlen, "bad \"path\" '%.*s': '%.*s' is not a valid name",
				 (int)(rlen > 100 ? 100 : rlen), rel,
				 (int)(i - start > 64 ? 64 : i - start), rel + start);
			free(rel);
			return -1;
		}
		start = i + 1;
	}
	size_t root_len = strlen(root);
	size_t plen = root_len + (root_len && rlen ? 1 : 0) + rlen;
	if (plen >= QFS_PATH_MAX || !(k->path = malloc(plen + 1))) {
		snprintf(why, wlen, plen >= QFS_PATH_MAX ? "path too long" : "out of memory");
		free(rel);
		return -1;
	}
	memcpy(k->path, root, root_len);
	if (root_len && rlen)
		k->path[root_len] = '/';
	memcpy(k->path + plen - rlen, rel, rlen);
	k->path[plen] = '\0';
	k->plen = plen;
	free(rel);
	const char *slash = memrchr(k->path, '/', plen);
	k->name = slash ? slash + 1 : k->path;
	k->nlen = plen - (size_t)(k->name - k->path);
	for (size_t i = 0; i < plen; i++)
		k->depth += k->path[i] == '/';
	k->depth += plen ? 1 : 0;

	const char *type = json_string_value(json_object_get(o, "type"));
	if (!type) {
		snprintf(why, wlen, "no \"type\" (file, dir or symlink)");
		return -1;
	}
	k->type = strcmp(type, "dir") == 0       ? IMP_DIR
		  : strcmp(type, "file") == 0    ? IMP_FILE
		  : strcmp(type, "symlink") == 0 ? IMP_LINK
						 : 0;
	if (!k->type) {
		snprintf(why, wlen, "\"type\" '%s' is not file, dir or symlink", type);
		return -1;
	}
	k->mode = k->type == IMP_DIR ? 0755 : k->type == IMP_LINK ? 0777 : 0644;
	json_t *mode = json_object_get(o, "mode");
	if (mode) {
		const char *ms = json_string_value(mode);
		char *end = NULL;
		unsigned long mv = ms && *ms ? strtoul(ms, &end, 8) : 0;
		if (!ms || !*ms || *end || mv > 07777 || ms[0] == '-' || ms[0] == '+') {
			snprintf(why, wlen, "\"mode\" must be an octal string such as \"0644\"");
			return -1;
		}
		k->mode = (uint32_t)mv;
	}
	bool present;
	if (get_u32(o, "uid", &k->uid, &present, why, wlen) < 0 ||
	    get_u32(o, "gid", &k->gid, &present, why, wlen) < 0)
		return -1;
	json_t *mt = json_object_get(o, "mtime");
	if (mt) {
		const char *s = json_string_value(mt);
		if (!s || parse_time(s, &k->mtime_ns) < 0) {
			snprintf(why, wlen,
				 "\"mtime\" must be UTC as YYYY-MM-DDTHH:MM:SS[.fraction]Z");
			return -1;
		}
		k->has_mtime = true;
	}
	if (k->type == IMP_DIR) {
		if (json_object_get(o, "value") || json_object_get(o, "target")) {
			snprintf(why, wlen, "a directory has no \"value\" or \"target\"");
			return -1;
		}
		return 0;
	}
	const char *field = k->type == IMP_LINK ? "target" : "value";
	got = get_bytes(o, field, k->type == IMP_LINK ? "target_encoding" : "encoding", &k->data,
			&k->dlen, why, wlen);
	if (got < 0)
		return -1;
	if (k->type == IMP_LINK) {
		if (got == 0 || k->dlen == 0 || k->dlen >= QFS_SYMLINK_MAX ||
		    memchr(k->data, '\0', k->dlen)) {
			snprintf(why, wlen, "a symlink needs a \"target\" of 1 to %u bytes, no NUL",
				 QFS_SYMLINK_MAX - 1);
			return -1;
		}
		return 0;
	}
	if (k->dlen > value_max) {
		snprintf(why, wlen, "value of %zu bytes is over the value limit (%u)", k->dlen,
			 value_max);
		return -1;
	}
	return 0;
}

static void free_keys(struct imp_key *k, size_t n)
{
	for (size_t i = 0; k && i < n; i++) {
		free(k[i].path);
		free(k[i].data);
	}
	free(k);
}

/* Adds the ancestors the document does not list (implicit directories);
 * sorts by path.  0 or -1 with why. */
static int add_ancestors(struct imp_key **pk, size_t *pn, char *why, size_t wlen)
{
	struct imp_key *k = *pk;
	size_t n = *pn, cap = n;
	qsort(k, n, sizeof *k, cmp_path);
	for (size_t i = 1; i < n; i++)
		if (cmp_path(&k[i - 1], &k[i]) == 0) {
			snprintf(why, wlen, "/%s is listed twice", k[i].path);
			return -1;
		}
	size_t explicit_n = n;
	for (size_t i = 0; i < explicit_n; i++) {
		/* Every proper prefix ending before a '/', and the root. */
		for (size_t e = k[i].plen; e-- > 0;) {
			if (k[i].path[e] != '/' && e != 0)
				continue;
			size_t alen = k[i].path[e] == '/' ? e : 0;
			if (find_path(k, explicit_n, k[i].path, alen) != SIZE_MAX)
				continue;
			bool dup = false;
			for (size_t j = explicit_n; j < n && !dup; j++)
				dup = k[j].plen == alen && memcmp(k[j].path, k[i].path, alen) == 0;
			if (dup)
				continue;
			if (n == cap) {
				size_t nc = cap * 2 + 8;
				struct imp_key *nk = realloc(k, nc * sizeof *nk);
				if (!nk) {
					snprintf(why, wlen, "out of memory");
					*pk = k;
					*pn = n;
					return -1;
				}
				k = nk;
				cap = nc;
			}
			struct imp_key *a = &k[n];
			memset(a, 0, sizeof *a);
			a->path = strndup(k[i].path, alen);
			if (!a->path) {
				snprintf(why, wlen, "out of memory");
				*pk = k;
				*pn = n;
				return -1;
			}
			n++;
			a->plen = alen;
			const char *slash = memrchr(a->path, '/', alen);
			a->name = slash ? slash + 1 : a->path;
			a->nlen = alen - (size_t)(a->name - a->path);
			for (size_t x = 0; x < alen; x++)
				a->depth += a->path[x] == '/';
			a->depth += alen ? 1 : 0;
			a->type = IMP_DIR;
			a->implicit = true;
			a->mode = 0755;
		}
	}
	qsort(k, n, sizeof *k, cmp_path);
	for (size_t i = 0; i < n; i++) {
		k[i].parent = SIZE_MAX;
		if (k[i].plen == 0)
			continue;
		size_t plen = (size_t)(k[i].name - k[i].path);
		plen = plen ? plen - 1 : 0;
		k[i].parent = find_path(k, n, k[i].path, plen);
		if (k[i].parent == SIZE_MAX) { /* cannot happen: ancestors were added */
			snprintf(why, wlen, "internal error: no parent for /%s", k[i].path);
			*pk = k;
			*pn = n;
			return -1;
		}
		if (k[k[i].parent].type != IMP_DIR) {
			snprintf(why, wlen, "/%s is listed as a %s, but /%s is below it", k[k[i].parent].path,
				 k[k[i].parent].type == IMP_LINK ? "symlink" : "file", k[i].path);
			*pk = k;
			*pn = n;
			return -1;
		}
	}
	*pk = k;
	*pn = n;
	return 0;
}

static uint8_t type_of_mode(uint32_t mode)
{
	return S_ISDIR(mode) ? IMP_DIR : S_ISLNK(mode) ? IMP_LINK : IMP_FILE;
}

/* Reads what exists (in processing order: parents first), decides what to
 * change, and collects conflicts.  Returns the number of conflicts (-1 on a
 * store error), with the first ones described in why. */
static int imp_state(struct node *n, struct imp_key *k, const size_t *order, size_t nk, char *why,
		     size_t wlen)
{
	struct store_rtxn *rt;
	int rc = store_rbegin(n->store, &rt);
	if (rc < 0) {
		snprintf(why, wlen, "cannot read the store: %s", qfs_strerror(rc));
		return -1;
	}
	int conflicts = 0;
	size_t wo = 0;
	why[0] = '\0';
	for (size_t oi = 0; oi < nk; oi++) {
		struct imp_key *x = &k[order[oi]];
		struct qfs_attr a;
		const char *bad = NULL;
		if (x->plen == 0) {
			rc = store_getattr(rt, QFS_ROOT_INO, &a);
		} else {
			struct imp_key *p = &k[x->parent];
			rc = p->exists && p->have == IMP_DIR
				 ? store_lookup(rt, p->ino, x->name, x->nlen, &a)
				 : QFS_ENOENT; /* a parent that is not a directory: a conflict */
			if (qfs_name_reserved(p->exists ? p->ino : UINT64_MAX, x->name, x->nlen))
				bad = "is a reserved name";
		}
		if (rc == QFS_ENOENT) {
			x->exists = false;
			x->put = x->type == IMP_FILE && x->dlen > 0;
		} else if (rc < 0) {
			snprintf(why, wlen, "cannot read /%s: %s", x->path, qfs_strerror(rc));
			store_rend(rt);
			return -1;
		} else {
			x->exists = true;
			x->ino = a.ino;
			uint8_t have = type_of_mode(a.mode);
			x->have = have;
			if (x->plen == 0 && x->type != IMP_DIR)
				bad = "is the root: it can only be a directory";
			else if (have == IMP_DIR && x->type != IMP_DIR)
				bad = "is a directory here";
			else if (have != IMP_DIR && x->type == IMP_DIR)
				bad = x->implicit ? "is not a directory here, but keys go below it"
						  : "is not a directory here";
			else if (have != x->type) {
				x->replace = true; /* file <-> symlink */
			} else if (have != IMP_DIR) {
				const void *cur = "";
				size_t clen = 0;
				int r = a.size ? store_read(rt, a.ino, 0, (size_t)a.size, &cur, &clen)
					       : 0;
				bool same = r == 0 && clen == x->dlen && memcmp(cur, x->data ? (void *)x->data : "", clen) == 0;
				if (have == IMP_LINK)
					x->replace = !same;
				else
					x->put = !same;
			}
			if (x->replace)
				x->put = x->type == IMP_FILE && x->dlen > 0;
		}
		if (bad) {
			if (conflicts < IMPORT_CONFLICTS_SHOWN && wo < wlen)
				wo += (size_t)snprintf(why + wo, wlen - wo, "%s/%s %s", conflicts ? "; " : "",
						       x->path, bad);
			conflicts++;
		}
	}
	store_rend(rt);
	if (conflicts > IMPORT_CONFLICTS_SHOWN && wo < wlen)
		snprintf(why + wo, wlen - wo, "; and %d more", conflicts - IMPORT_CONFLICTS_SHOWN);
	return conflicts;
}

/* The changes, in phases; 0 or -1 with r->err. */
static int imp_apply(struct imp_run *r, const size_t *order, size_t *batch, uint64_t *created,
		     uint64_t *updated)
{
	struct imp_key *k = r->k;
	size_t nk = r->nk;
	/* Namespace, level by level: parents exist before their children. */
	for (size_t oi = 0; oi < nk;) {
		unsigned depth = k[order[oi]].depth;
		size_t end = oi;
		while (end < nk && k[order[end]].depth == depth)
			end++;
		size_t nb = 0;
		for (size_t j = oi; j < end; j++) { /* file <-> symlink, or a new target */
			struct imp_key *x = &k[order[j]];
			if (!x->replace)
				continue;
			struct qfs_cmd c = {.op = QFS_OP_UNLINK, .ino = k[x->parent].ino,
					    .name = x->name, .name_len = (uint16_t)x->nlen};
			imp_submit(r, order[j], &c);
			batch[nb++] = order[j];
		}
		if (imp_drain(r, batch, nb, "removing") < 0)
			return -1;
		nb = 0;
		for (size_t j = oi; j < end; j++) {
			struct imp_key *x = &k[order[j]];
			if (x->exists && !x->replace)
				continue;
			uint32_t fmt = x->type == IMP_DIR ? S_IFDIR : x->type == IMP_LINK ? S_IFLNK : S_IFREG;
			struct qfs_cmd c = {.op = QFS_OP_CREATE, .ino = k[x->parent].ino,
					    .name = x->name, .name_len = (uint16_t)x->nlen,
					    .mode = fmt | (x->mode & 07777), .uid = x->uid, .gid = x->gid,
					    .flags = QFS_CMD_EXCL};
			if (x->type == IMP_LINK) {
				c.data = x->data;
				c.data_len = (uint32_t)x->dlen;
			}
			imp_submit(r, order[j], &c);
			batch[nb++] = order[j];
		}
		if (imp_drain(r, batch, nb, "creating") < 0)
			return -1;
		for (size_t j = 0; j < nb; j++) {
			struct imp_key *x = &k[batch[j]];
			x->ino = r->ops[batch[j]].ino;
			if (x->implicit)
				r->parents++;
			else if (x->replace)
				(*updated)++;
			else
				(*created)++;
			x->created = !x->replace;
			x->exists = true;
		}
		oi = end;
	}
	/* Values. */
	size_t nb = 0;
	for (size_t i = 0; i < nk; i++) {
		struct imp_key *x = &k[order[i]];
		if (!x->put)
			continue;
		struct qfs_cmd c = {.op = QFS_OP_PUT, .ino = x->ino, .data = x->data,
				    .data_len = (uint32_t)x->dlen};
		imp_submit(r, order[i], &c);
		batch[nb++] = order[i];
		if (!x->created && !x->replace)
			(*updated)++;
	}
	if (imp_drain(r, batch, nb, "writing") < 0)
		return -1;
	/* Attributes, against the state now (creating children and writing
	 * values moved mtimes). */
	struct store_rtxn *rt;
	int rc = store_rbegin(r->n->store, &rt);
	if (rc < 0) {
		snprintf(r->err, sizeof r->err, "cannot read the store: %s", qfs_strerror(rc));
		return -1;
	}
	nb = 0;
	for (size_t i = 0; i < nk; i++) {
		struct imp_key *x = &k[order[i]];
		struct qfs_attr a;
		if (x->implicit || store_getattr(rt, x->ino, &a) < 0)
			continue;
		uint32_t mask = 0;
		if (x->type != IMP_LINK && (a.mode & 07777) != (x->mode & 07777))
			mask |= QFS_SET_MODE;
		if (a.uid != x->uid)
			mask |= QFS_SET_UID;
		if (a.gid != x->gid)
			mask |= QFS_SET_GID;
		if (x->has_mtime && a.mtime_ns != x->mtime_ns)
			mask |= QFS_SET_MTIME;
		if (!mask)
			continue;
		struct qfs_cmd c = {.op = QFS_OP_SETATTR, .ino = x->ino, .mask = mask,
				    .mode = x->mode & 07777, .uid = x->uid, .gid = x->gid,
				    .mtime_ns = x->mtime_ns};
		imp_submit(r, order[i], &c);
		batch[nb++] = order[i];
		if (!x->created && !x->replace && !x->put)
			(*updated)++;
	}
	store_rend(rt);
	return imp_drain(r, batch, nb, "setting attributes of");
}

void node_import(struct node *n, const char *path, const char *json, size_t len,
		 const atomic_bool *stop, struct qfs_text *t)
{
	char root[QFS_PATH_MAX + 1], why[1024];
	if (clean_path(path, root, sizeof root, why, sizeof why) < 0) {
		qfs_text_printf(t, "error: %s\n", why);
		return;
	}
	json_error_t je;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!doc) {
		qfs_text_printf(t, "error: bad JSON at line %d, column %d: %s; nothing imported\n",
				je.line, je.column, je.text);
		return;
	}
	struct imp_key *k = NULL;
	size_t nk = 0;
	size_t *order = NULL, *batch = NULL;
	struct imp_run *r = NULL;
	json_t *keys = json_object_get(doc, "keys");
	const char *fmt = json_string_value(json_object_get(doc, "format"));
	json_t *ver = json_object_get(doc, "version");
	if (!json_is_object(doc) || !fmt || strcmp(fmt, EXPORT_FORMAT) != 0) {
		qfs_text_printf(t, "error: not a quorumfs export (no \"format\": \"" EXPORT_FORMAT
				   "\"); nothing imported\n");
		goto out;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) != EXPORT_VERSION) {
		qfs_text_printf(t, "error: unsupported export version (this build reads version %d); "
				   "nothing imported\n", EXPORT_VERSION);
		goto out;
	}
	if (!json_is_array(keys) || json_array_size(keys) == 0 ||
	    json_array_size(keys) > IMPORT_KEYS_MAX) {
		qfs_text_printf(t, "error: \"keys\" must be a non-empty array; nothing imported\n");
		goto out;
	}
	nk = json_array_size(keys);
	k = calloc(nk, sizeof *k);
	if (!k) {
		nk = 0;
		qfs_text_printf(t, "error: out of memory\n");
		goto out;
	}
	uint32_t value_max = store_value_max(n->store);
	for (size_t i = 0; i < nk; i++) {
		if (parse_key(json_array_get(keys, i), root, value_max, &k[i], why, sizeof why) < 0) {
			json_t *p = json_object_get(json_array_get(keys, i), "path");
			qfs_text_printf(t, "error: key %zu%s%s%s: %s; nothing imported\n", i + 1,
					json_is_string(p) ? " (\"" : "",
					json_is_string(p) ? json_string_value(p) : "",
					json_is_string(p) ? "\")" : "", why);
			goto out;
		}
	}
	if (add_ancestors(&k, &nk, why, sizeof why) < 0) {
		qfs_text_printf(t, "error: %s; nothing imported\n", why);
		goto out;
	}
	order = malloc(nk * sizeof *order);
	batch = malloc(nk * sizeof *batch);
	r = calloc(1, sizeof *r);
	if (!order || !batch || !r) {
		qfs_text_printf(t, "error: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < nk; i++)
		order[i] = i;
	qsort_r(order, nk, sizeof *order, cmp_order, k);
	int conflicts = imp_state(n, k, order, nk, why, sizeof why);
	if (conflicts != 0) {
		if (conflicts < 0)
			qfs_text_printf(t, "error: %s\n", why);
		else
			qfs_text_printf(t, "error: %d key(s) conflict with the cluster: %s; nothing "
					   "imported\n", conflicts, why);
		goto out;
	}
	r->ops = calloc(nk, sizeof *r->ops);
	if (!r->ops) {
		qfs_text_printf(t, "error: out of memory\n");
		goto out;
	}
	r->n = n;
	r->k = k;
	r->nk = nk;
	r->stop = stop;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	uint64_t created = 0, updated = 0;
	int rc = imp_apply(r, order, batch, &created, &updated);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	unsigned long long dirs = 0, files = 0, links = 0, listed = 0;
	for (size_t i = 0; i < nk; i++) {
		if (k[i].implicit)
			continue;
		listed++;
		dirs += k[i].type == IMP_DIR;
		files += k[i].type == IMP_FILE;
		links += k[i].type == IMP_LINK;
	}
	struct node_status st;
	node_status(n, &st);
	if (rc < 0) {
		qfs_text_printf(t, "error: import stopped: %s (%llu change(s) were made before; "
				   "running the import again completes it)\n",
				r->err, (unsigned long long)r->changes);
		log_warn("import under /%s stopped: %s", root, r->err);
		goto out;
	}
	qfs_text_printf(t,
			"ok\nimported %llu keys under /%s: %llu directories, %llu files, %llu "
			"symlinks; %llu created, %llu updated, %llu unchanged (%llu changes%s%llu "
			"parent directories created)\n",
			listed, root, dirs, files, links, (unsigned long long)created,
			(unsigned long long)updated,
			(unsigned long long)(listed > created + updated ? listed - created - updated : 0),
			(unsigned long long)r->changes, ", ", (unsigned long long)r->parents);
	log_info("imported %llu keys under /%s (%llu changes)", listed, root,
		 (unsigned long long)r->changes);
out:
	if (r)
		free(r->ops);
	free(r);
	free(order);
	free(batch);
	free_keys(k, nk);
	json_decref(doc);
}
