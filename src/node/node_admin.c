/* node_admin.c: the local admin socket that quorumctl talks to.
 *
 * An nng rep0 socket on ipc://DATA/admin.sock (mode 0600: root's tool).
 * One request at a time on its own thread: a text command line in, a reply
 * out whose first line is "ok" or "error: MESSAGE".  Anything that touches
 * the Raft core runs on the loop thread through node_call(). */
#include "node/node_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quorumfs/error.h"
#include "store/backup.h"
#include "util/log.h"

#define ADMIN_REPLY_MAX 65536u
#define ADMIN_REQUEST_MAX 1024u
/* import carries its JSON document in the request (the socket is root's). */
#define ADMIN_MESSAGE_MAX (1024u * 1024 * 1024)

struct node_admin {
	nng_socket sock;
	pthread_t thread;
	char url[4200];
	atomic_bool stopping; /* ends a long import early */
};

struct reply {
	char buf[ADMIN_REPLY_MAX];
	size_t len;
	struct qfs_text big; /* export, import: sent instead of buf when used */
};

static void __attribute__((format(printf, 2, 3))) out(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		r->len = r->len + (size_t)k < sizeof r->buf ? r->len + (size_t)k : sizeof r->buf - 1;
}

static void admin_status(struct node *n, struct reply *r)
{
	struct node_status st;
	node_status(n, &st);
	out(r, "ok\nname=%s\nrole=%s\nleader=%s\nterm=%" PRIu64 "\ncommit=%" PRIu64
	       "\napplied=%" PRIu64 "\nquorum=%s\nvoters=%u\nlearners=%u\nrevision=%" PRIu64
	       "\nversion=%s\n",
	    st.name, st.role, st.leader, st.term, st.commit, st.applied, st.quorum ? "yes" : "no",
	    st.voters, st.learners, st.revision, QFS_VERSION);
}

struct members_arg {
	struct reply *r;
};

static int admin_members_fn(struct node *n, void *arg)
{
	struct reply *r = ((struct members_arg *)arg)->r;
	struct raft_status st;
	raft_status(n->raft, &st);
	out(r, "ok\n%-16s %-9s %-8s %-10s %s\n", "NAME", "ROLE", "MATCH", "ACTIVE", "ADDRESS");
	for (int learners = 0; learners < 2; learners++) {
		uint32_t cnt = learners ? st.conf.n_learners : st.conf.n_voters;
		for (uint32_t i = 0; i < cnt; i++) {
			uint64_t id = learners ? st.conf.learners[i] : st.conf.voters[i];
			const struct node_member *m = node_book_find(n, id);
			char idbuf[20];
			snprintf(idbuf, sizeof idbuf, "%016" PRIx64, id);
			const char *role = id == st.leader ? "leader" : learners ? "learner" : "voter";
			char match[24] = "-", active[8] = "-";
			for (uint32_t k = 0; k < st.n_progress; k++)
				if (st.progress[k].id == id) {
					snprintf(match, sizeof match, "%" PRIu64, st.progress[k].match);
					snprintf(active, sizeof active, "%s",
						 st.progress[k].recent_active || id == n->id ? "yes"
											   : "no");
				}
			out(r, "%-16s %-9s %-8s %-10s %s\n", m ? m->name : idbuf, role, match, active,
			    m ? m->url : "?");
		}
	}
	return 0;
}

struct change_arg {
	uint8_t type;
	uint64_t node;
	const char *name;
	char err[256];
};

static int admin_change_fn(struct node *n, void *arg)
{
	struct change_arg *a = arg;
	if (n->leader == n->id) {
		int rc = raft_propose_conf_change(n->raft, a->type, a->node, NULL, 0, NULL);
		if (rc < 0)
			snprintf(a->err, sizeof a->err, "%s", raft_strerror(rc));
		return rc < 0 ? QFS_EINVAL : 0;
	}
	if (!n->leader || !n->net) {
		snprintf(a->err, sizeof a->err, "no leader: the cluster has no quorum");
		return QFS_EROFS;
	}
	struct net_msg m = {.kind = NET_CONF_FORWARD, .to = n->leader};
	m.u.conf.type = a->type;
	m.u.conf.node = a->node;
	if (net_send(n->net, &m) < 0) {
		snprintf(a->err, sizeof a->err, "cannot reach the leader");
		return QFS_EAGAIN;
	}
	return 0;
}

struct conf_probe {
	uint64_t node;
	bool voter, learner;
	uint64_t leader;
	char name[NET_MAX_NAME + 1]; /* node's, from the address book ("" if unknown) */
};

/* On the loop thread, which owns the Raft state and the address book. */
static int admin_probe_fn(struct node *n, void *arg)
{
	struct conf_probe *p = arg;
	struct raft_status st;
	raft_status(n->raft, &st);
	p->voter = raft_conf_is_voter(&st.conf, p->node);
	p->learner = raft_conf_is_learner(&st.conf, p->node);
	p->leader = st.leader;
	const struct node_member *m = node_book_find(n, p->node);
	snprintf(p->name, sizeof p->name, "%s", m ? m->name : "");
	return 0;
}

/* promote/demote/remove NAME: proposed (or forwarded), then we wait until
 * the configuration on this node shows it. */
static void admin_change(struct node *n, struct reply *r, uint8_t type, const char *name)
{
	struct change_arg a = {.type = type, .node = node_id_of(name), .name = name};
	struct conf_probe p = {.node = a.node};
	node_call(n, admin_probe_fn, &p);
	bool present = p.voter || p.learner;
	if (!present) {
		out(r, "error: %s is not a member of this cluster\n", name);
		return;
	}
	if ((type == RAFT_CC_PROMOTE && p.voter) || (type == RAFT_CC_DEMOTE && p.learner)) {
		out(r, "ok\n%s is already a %s\n", name, p.voter ? "voter" : "learner");
		return;
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		int rc = node_call(n, admin_change_fn, &a);
		if (rc < 0 && rc != QFS_EAGAIN && !strstr(a.err, "pending")) {
			out(r, "error: %s\n", a.err[0] ? a.err : qfs_strerror(rc));
			return;
		}
		for (int i = 0; i < 10; i++) {
			nng_msleep(20);
			node_call(n, admin_probe_fn, &p);
			bool ok = (type == RAFT_CC_PROMOTE && p.voter) ||
				  (type == RAFT_CC_DEMOTE && p.learner) ||
				  (type == RAFT_CC_REMOVE && !p.voter && !p.learner);
			if (ok) {
				out(r, "ok\n%s is now %s\n", name,
				    type == RAFT_CC_PROMOTE  ? "a voter"
				    : type == RAFT_CC_DEMOTE ? "a learner"
							     : "removed");
				return;
			}
		}
	}
	out(r, "error: timed out waiting for the change to %s to commit\n", name);
}

static int admin_transfer_fn(struct node *n, void *arg)
{
	uint64_t *to = arg;
	if (n->leader != n->id)
		return QFS_ENOTLEADER;
	if (!*to) {
		/* Any other voter: the first one that is up to date. */
		struct raft_status st;
		raft_status(n->raft, &st);
		for (uint32_t i = 0; i < st.n_progress && !*to; i++)
			if (st.progress[i].id != n->id && !st.progress[i].is_learner &&
			    st.progress[i].recent_active)
				*to = st.progress[i].id;
		if (!*to)
			return QFS_EAGAIN;
	}
	return raft_transfer_leader(n->raft, *to) < 0 ? QFS_EINVAL : 0;
}

static void admin_transfer(struct node *n, struct reply *r, const char *name)
{
	uint64_t to = name ? node_id_of(name) : 0;
	int rc = node_call(n, admin_transfer_fn, &to);
	if (rc == QFS_ENOTLEADER) {
		struct node_status st;
		node_status(n, &st);
		out(r, "error: this node is not the leader; run this on %s\n",
		    st.leader[0] ? st.leader : "the leader (none now)");
		return;
	}
	if (rc < 0) {
		out(r, "error: %s\n", rc == QFS_EAGAIN ? "no other voter is reachable"
						       : "that node is not a voter here");
		return;
	}
	struct conf_probe p = {.node = to};
	for (int i = 0; i < 150; i++) {
		nng_msleep(20);
		node_call(n, admin_probe_fn, &p);
		if (p.leader == to) {
			out(r, "ok\nleader is now %s\n", p.name[0] ? p.name : name ? name : "?");
			return;
		}
	}
	out(r, "error: leadership did not move within 3 s\n");
}

/* quorumctl snapshot save FILE: the copy is written here, on the admin
 * thread, from one read transaction; the loop keeps serving. */
static void admin_snapshot_save(struct node *n, struct reply *r, const char *path)
{
	if (path[0] != '/') {
		out(r, "error: snapshot-save wants an absolute path\n");
		return;
	}
	struct store_backup_info info;
	char err[768] = "";
	uint64_t t0 = node_mono_ms();
	int rc = node_snapshot_save(n, path, &n->admin->stopping, &info, err, sizeof err);
	if (rc < 0) {
		out(r, "error: %s\n", err[0] ? err : qfs_strerror(rc));
		log_warn("snapshot save to %s failed: %s", path, err[0] ? err : qfs_strerror(rc));
		return;
	}
	uint64_t ms = node_mono_ms() - t0;
	out(r, "ok\nfile=%s\nrevision=%" PRIu64 "\nkeys=%" PRIu64 "\nbytes=%" PRIu64
	       "\nindex=%" PRIu64 "\nms=%" PRIu64 "\n",
	    path, info.revision, info.keys, info.file_len, info.index, ms);
	log_info("snapshot saved to %s: revision %" PRIu64 ", %" PRIu64 " keys, %" PRIu64
		 " bytes in %" PRIu64 " ms",
		 path, info.revision, info.keys, info.file_len, ms);
}

/* Requests whose argument is the rest of the first line (paths may hold
 * spaces); import's JSON document follows that line.  1 when handled. */
static int admin_handle_long(struct node *n, const char *msg, size_t len, struct reply *r)
{
	const char *nl = memchr(msg, '\n', len);
	size_t line = nl ? (size_t)(nl - msg) : len;
	static const char *const cmds[] = {"snapshot-save", "export", "import"};
	for (int i = 0; i < 3; i++) {
		size_t cl = strlen(cmds[i]);
		if (line < cl || memcmp(msg, cmds[i], cl) != 0 || (line > cl && msg[cl] != ' '))
			continue;
		size_t al = line > cl ? line - cl - 1 : 0;
		if (al >= 4096) {
			out(r, "error: path too long\n");
			return 1;
		}
		char arg[4096];
		memcpy(arg, msg + (line > cl ? cl + 1 : cl), al);
		arg[al] = '\0';
		if (i == 0) {
			admin_snapshot_save(n, r, arg);
		} else if (i == 1) {
			node_export(n, arg, &r->big);
		} else {
			const char *body = nl ? nl + 1 : msg + len;
			node_import(n, arg, body, (size_t)(msg + len - body), &n->admin->stopping,
				    &r->big);
		}
		if (r->big.err) {
			qfs_text_free(&r->big);
			out(r, "error: out of memory\n");
		}
		return 1;
	}
	return 0;
}

static void admin_handle(struct node *n, char *req, struct reply *r)
{
	char *save = NULL;
	char *cmd = strtok_r(req, " \t\n", &save);
	char *arg = strtok_r(NULL, " \t\n", &save);
	if (!cmd) {
		out(r, "error: empty request\n");
	} else if (strcmp(cmd, "status") == 0) {
		admin_status(n, r);
	} else if (strcmp(cmd, "members") == 0) {
		struct members_arg a = {r};
		if (node_call(n, admin_members_fn, &a) < 0)
			out(r, "error: shutting down\n");
	} else if (strcmp(cmd, "promote") == 0 && arg) {
		admin_change(n, r, RAFT_CC_PROMOTE, arg);
	} else if (strcmp(cmd, "demote") == 0 && arg) {
		admin_change(n, r, RAFT_CC_DEMOTE, arg);
	} else if (strcmp(cmd, "remove") == 0 && arg) {
		admin_change(n, r, RAFT_CC_REMOVE, arg);
	} else if (strcmp(cmd, "transfer-leader") == 0) {
		admin_transfer(n, r, arg);
	} else {
		out(r, "error: unknown request '%s'\n", cmd);
	}
}

static void *admin_loop(void *arg)
{
	struct node *n = arg;
	struct reply *r = malloc(sizeof *r);
	if (!r)
		return NULL;
	for (;;) {
		char *buf = NULL;
		size_t len = 0;
		int rv = nng_recv(n->admin->sock, &buf, &len, NNG_FLAG_ALLOC);
		if (rv == NNG_ECLOSED)
			break;
		if (rv != 0)
			continue;
		r->len = 0;
		r->buf[0] = '\0';
		qfs_text_init(&r->big);
		if (!admin_handle_long(n, buf, len, r)) {
			char req[ADMIN_REQUEST_MAX];
			size_t k = len < sizeof req - 1 ? len : sizeof req - 1;
			memcpy(req, buf, k);
			req[k] = '\0';
			admin_handle(n, req, r);
		}
		nng_free(buf, len);
		int sent = r->big.len ? nng_send(n->admin->sock, r->big.buf, r->big.len, 0)
				      : nng_send(n->admin->sock, r->buf, r->len, 0);
		qfs_text_free(&r->big);
		if (sent == NNG_ECLOSED)
			break;
	}
	free(r);
	return NULL;
}

int node_admin_start(struct node *n)
{
	struct node_admin *a = calloc(1, sizeof *a);
	if (!a)
		return QFS_ENOMEM;
	snprintf(a->url, sizeof a->url, "ipc://%s/admin.sock", n->data_dir);
	atomic_init(&a->stopping, false);
	int rv = nng_rep0_open(&a->sock);
	if (rv == 0)
		nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, ADMIN_MESSAGE_MAX);
	if (rv == 0) {
		unlink(a->url + 6); /* a stale socket of a dead daemon */
		rv = nng_listen(a->sock, a->url, NULL, 0);
	}
	if (rv != 0) {
		log_error("cannot open the admin socket %s: %s", a->url, nng_strerror(rv));
		nng_close(a->sock);
		free(a);
		return QFS_EIO;
	}
	chmod(a->url + 6, 0600);
	n->admin = a;
	if (pthread_create(&a->thread, NULL, admin_loop, n) != 0) {
		nng_close(a->sock);
		free(a);
		n->admin = NULL;
		return QFS_ENOMEM;
	}
	return 0;
}

static void *admin_close_thread(void *arg)
{
	nng_socket s = {.id = (uint32_t)(uintptr_t)arg};
	nng_close(s);
	return NULL;
}

void node_admin_stop(struct node *n)
{
	if (!n->admin)
		return;
	atomic_store(&n->admin->stopping, true);
	/* nng 1.5.2 may block in nng_close after the socket is marked closed
	 * (nanomsg/nng#1543): close on a thread of its own; the admin thread's
	 * receive fails as soon as the close begins. */
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, admin_close_thread, (void *)(uintptr_t)n->admin->sock.id) != 0)
		nng_close(n->admin->sock);
	pthread_attr_destroy(&a);
	pthread_join(n->admin->thread, NULL);
	free(n->admin);
	n->admin = NULL;
}
