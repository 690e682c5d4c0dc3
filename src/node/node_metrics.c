/* node_metrics.c: the node's Prometheus metrics and its health rule.
 *
 * Any thread renders: the Raft view comes from the status copy (status_mu),
 * counters are relaxed atomics, peer counters come from net_stats (net is
 * published and withdrawn under status_mu), store sizes from a read
 * transaction.  The loop thread never waits on a render.  Every metric is
 * described in docs/usage.md "Monitoring": keep the two in step. */
#include "node/node_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "quorumfs/error.h"

uint64_t node_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000ull;
}

static unsigned rc_slot(int rc)
{
	if (rc <= QFS_ERROR_BASE_ || rc >= QFS_ERROR_END_)
		return 0;
	return (unsigned)(rc - QFS_ERROR_BASE_);
}

void node_metrics_proposal_done(struct node *n, int rc, uint64_t start_us)
{
	struct node_counters *c = &n->counters;
	if (rc < 0) {
		atomic_fetch_add_explicit(&c->failed[rc_slot(rc)], 1, memory_order_relaxed);
		return;
	}
	uint64_t now = node_mono_us();
	qfs_hist_observe(&c->commit_latency, now > start_us ? now - start_us : 0);
}

/* Label values of the outcomes: the code's name in lower case ("erofs"). */
static const struct {
	int code;
	const char *name;
} rc_names[] = {
#define NODE_X_NAME_(name, e, m) {name, #name},
	QFS_ERRORS(NODE_X_NAME_)
#undef NODE_X_NAME_
};

static void rc_label(int rc, char *buf, size_t cap)
{
	const char *name = "QFS_OTHER";
	for (size_t i = 0; i < sizeof rc_names / sizeof rc_names[0]; i++)
		if (rc_names[i].code == rc)
			name = rc_names[i].name;
	size_t o = (size_t)snprintf(buf, cap, "rc=\"");
	for (const char *p = name + 4; *p && o + 3 < cap; p++) /* after "QFS_" */
		buf[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	buf[o++] = '"';
	buf[o] = '\0';
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void label_value(char *buf, size_t cap, const char *key, const char *v)
{
	size_t o = (size_t)snprintf(buf, cap, "%s=\"", key);
	for (const char *p = v; *p && o + 4 < cap; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			buf[o++] = '\\';
			buf[o++] = *p == '\n' ? 'n' : *p;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

static uint64_t get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void gauge(struct qfs_text *t, const char *name, const char *help, uint64_t v)
{
	qfs_metric_help(t, name, "gauge", help);
	qfs_metric_u64(t, name, NULL, v);
}

static void counter(struct qfs_text *t, const char *name, const char *help, uint64_t v)
{
	qfs_metric_help(t, name, "counter", help);
	qfs_metric_u64(t, name, NULL, v);
}

static void render_raft(struct node *n, struct qfs_text *t, const struct node_status *st)
{
	char why[128], lbl[NET_MAX_NAME * 2 + 64];
	label_value(lbl, sizeof lbl, "name", st->name[0] ? st->name : n->name);
	size_t o = strlen(lbl);
	snprintf(lbl + o, sizeof lbl - o, ",version=\"%s\"", QFS_VERSION);
	qfs_metric_help(t, "quorumfs_node_info", "gauge",
			"This node's name and version (always 1).");
	qfs_metric_u64(t, "quorumfs_node_info", lbl, 1);
	gauge(t, "quorumfs_term", "Current Raft term.", st->term);
	gauge(t, "quorumfs_commit_index", "Highest log index known to be committed.", st->commit);
	gauge(t, "quorumfs_applied_index", "Highest log index applied to this node's keyspace.",
	      st->applied);
	gauge(t, "quorumfs_revision", "Cluster revision of the keyspace on this node.",
	      st->revision);
	static const char *const roles[] = {"leader", "follower", "candidate", "learner"};
	qfs_metric_help(t, "quorumfs_role", "gauge",
			"This node's Raft role: 1 for the current role, 0 for the others.");
	for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
		snprintf(why, sizeof why, "role=\"%s\"", roles[i]);
		bool mine = st->role && strcmp(st->role, roles[i]) == 0;
		qfs_metric_u64(t, "quorumfs_role", why, mine);
	}
	gauge(t, "quorumfs_quorum", "1 when a leader is known and in contact (or this node leads).",
	      st->quorum);
	gauge(t, "quorumfs_healthy", "1 when /health answers 200 (see docs/usage.md).",
	      (uint64_t)node_health(n, why, sizeof why));
	gauge(t, "quorumfs_voters", "Voting members in the configuration.", st->voters);
	gauge(t, "quorumfs_learners", "Non-voting members (learners) in the configuration.",
	      st->learners);
}

static void render_counters(struct node *n, struct qfs_text *t)
{
	struct node_counters *c = &n->counters;
	counter(t, "quorumfs_proposals_total", "Changes proposed through this node.",
		get(&c->proposals));
	qfs_metric_help(t, "quorumfs_proposals_failed_total", "counter",
			"Proposals of this node that failed, by error (erofs: no quorum, not "
			"proposed; etimedout: outcome unknown; enospc/efbig: refused; eshutdown).");
	/* The usual outcomes always, so rate() has a series from the start;
	 * the others once they happen. */
	static const int always[] = {QFS_EROFS, QFS_ETIMEDOUT, QFS_ENOSPC, QFS_EFBIG,
				     QFS_ESHUTDOWN};
	char lbl[64];
	for (unsigned s = 0; s < NODE_RC_SLOTS; s++) {
		int rc = s ? QFS_ERROR_BASE_ + (int)s : QFS_ERROR_END_;
		uint64_t v = get(&c->failed[s]);
		bool show = v != 0;
		for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
			show |= always[i] == rc;
		if (!show)
			continue;
		rc_label(rc, lbl, sizeof lbl);
		qfs_metric_u64(t, "quorumfs_proposals_failed_total", lbl, v);
	}
	qfs_hist_render(t, "quorumfs_commit_latency_seconds",
			"Time from proposing a change on this node to its being applied here "
			"(successful proposals only).",
			&c->commit_latency);
	counter(t, "quorumfs_entries_applied_total", "Raft log entries applied on this node.",
		get(&c->entries_applied));
	counter(t, "quorumfs_leader_changes_total", "Times this node learned of a new leader.",
		get(&c->leader_changes));
	counter(t, "quorumfs_elections_total",
		"Term changes seen by this node (each new term is an election in the cluster).",
		get(&c->term_changes));
	counter(t, "quorumfs_snapshots_written_total", "Keyspace snapshots this node wrote.",
		get(&c->snapshots_written));
	counter(t, "quorumfs_snapshots_installed_total",
		"Snapshots received from the leader and installed.", get(&c->snapshots_installed));
	counter(t, "quorumfs_backups_total",
		"Scheduled backups (--backup-dir) written and verified.", get(&c->backups));
	counter(t, "quorumfs_backup_failures_total",
		"Scheduled backups that failed (the log says why).", get(&c->backup_failures));
	gauge(t, "quorumfs_backup_last_success_timestamp_seconds",
	      "Unix time of the last successful scheduled backup (0: none yet).",
	      get(&c->backup_last_success_s));
}

static void render_net(struct node *n, struct qfs_text *t)
{
	struct net_stats ns;
	memset(&ns, 0, sizeof ns);
	pthread_mutex_lock(&n->status_mu);
	if (n->net)
		net_stats(n->net, &ns);
	pthread_mutex_unlock(&n->status_mu);
	counter(t, "quorumfs_peer_messages_sent_total", "Messages queued to peers.", ns.sent);
	counter(t, "quorumfs_peer_sent_bytes_total", "Bytes of messages queued to peers.",
		ns.sent_bytes);
	counter(t, "quorumfs_peer_messages_received_total", "Valid messages received from peers.",
		ns.received);
	counter(t, "quorumfs_peer_received_bytes_total", "Bytes of valid messages received.",
		ns.received_bytes);
	qfs_metric_help(t, "quorumfs_peer_messages_dropped_total", "counter",
			"Received messages dropped, by reason.");
	char lbl[96];
	for (int why = NET_DROP_NONE + 1; why < NET_DROP_MAX_; why++) {
		label_value(lbl, sizeof lbl, "reason", net_drop_name(why));
		qfs_metric_u64(t, "quorumfs_peer_messages_dropped_total", lbl, ns.dropped[why]);
	}
	qfs_metric_help(t, "quorumfs_peer_send_drops_total", "counter",
			"Messages to peers dropped before sending, by reason (Raft resends).");
	qfs_metric_u64(t, "quorumfs_peer_send_drops_total", "reason=\"queue full\"", ns.send_full);
	qfs_metric_u64(t, "quorumfs_peer_send_drops_total", "reason=\"unknown peer\"",
		       ns.send_no_peer);
	qfs_metric_u64(t, "quorumfs_peer_send_drops_total", "reason=\"failed\"", ns.send_failed);
	counter(t, "quorumfs_peer_links_renewed_total",
		"Links to peers given a fresh connection after theirs was lost.", ns.relinked);
	qfs_metric_help(t, "quorumfs_peer_tls_handshake_failures_total", "counter",
			"Peer TLS handshakes nng reports as authentication failures (--tls-*: a "
			"certificate not signed by --tls-ca), on our listener (accept) or our links (dial).");
	qfs_metric_u64(t, "quorumfs_peer_tls_handshake_failures_total", "side=\"accept\"",
		       ns.tls_accept_failed);
	qfs_metric_u64(t, "quorumfs_peer_tls_handshake_failures_total", "side=\"dial\"",
		       ns.tls_dial_failed);
}

static void render_store(struct node *n, struct qfs_text *t)
{
	struct store_rtxn *rt;
	struct store_stats ss;
	memset(&ss, 0, sizeof ss);
	if (store_rbegin(n->store, &rt) < 0)
		return; /* no store numbers this time rather than wrong ones */
	int rc = store_stats(rt, &ss);
	store_rend(rt);
	if (rc < 0)
		return;
	gauge(t, "quorumfs_store_keys", "Keys (files, directories, symlinks) including the root.",
	      ss.keys);
	gauge(t, "quorumfs_store_bytes", "Bytes charged for the keys against the quota.", ss.bytes);
	gauge(t, "quorumfs_store_log_bytes", "Bytes held by the Raft log until compaction.",
	      ss.log_bytes);
	gauge(t, "quorumfs_store_map_size_bytes", "LMDB map size (the store's capacity).",
	      ss.map_size);
	gauge(t, "quorumfs_store_full", "1 when the store is over its quota (growing changes "
	      "get ENOSPC).", ss.full);
}

int node_metrics_render(struct node *n, struct qfs_text *t)
{
	struct node_status st;
	node_status(n, &st);
	render_raft(n, t, &st);
	render_counters(n, t);
	render_net(n, t);
	render_store(n, t);
	return t->err; /* 0, or QFS_ENOMEM */
}

int node_health(struct node *n, char *why, size_t cap)
{
	struct node_status st;
	node_status(n, &st);
	const char *bad = NULL;
	char lag[96];
	if (!st.leader[0])
		bad = "no leader";
	else if (!st.quorum)
		bad = "no quorum";
	else if (st.applied < st.commit) {
		snprintf(lag, sizeof lag, "catching up: applied %llu of %llu committed",
			 (unsigned long long)st.applied, (unsigned long long)st.commit);
		bad = lag;
	}
	if (cap)
		snprintf(why, cap, "%s", bad ? bad : "ok");
	return bad ? 0 : 1;
}
