/* node_cluster.c: who is in the cluster and where they listen.
 *
 * Node ids derive from names.  A new cluster is bootstrapped from the --peer
 * list (every voter is given the same list, so all write the same first
 * entry); a node started with --join asks a member to add it as a learner and
 * waits, empty, for the leader to fill it.  Addresses travel in ADD_LEARNER
 * changes and in announcements each node sends its peers every second. */
#include "node/node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quorumfs/error.h"
#include "store/backup.h"
#include "util/log.h"

#define META_CLUSTER_ID "cluster_id"
#define META_PEER_PREFIX "peer."
#define META_EPOCH "boot_epoch"

const struct node_member *node_book_find(const struct node *n, uint64_t id)
{
	for (unsigned i = 0; i < n->n_book; i++)
		if (n->book[i].id == id)
			return &n->book[i];
	return NULL;
}

static void peer_key(char *buf, size_t cap, uint64_t id)
{
	snprintf(buf, cap, META_PEER_PREFIX "%016llx", (unsigned long long)id);
}

/* Adds or updates a book entry in memory (and the link); returns true when
 * something changed, so the caller persists it. */
static bool node_book_set(struct node *n, const char *name, const char *url)
{
	uint64_t id = node_id_of(name);
	struct node_member *m = (struct node_member *)node_book_find(n, id);
	if (m && strcmp(m->url, url) == 0)
		return false;
	if (!m) {
		if (n->n_book == NET_MAX_PEERS) {
			log_warn("address book full: %s not added", name);
			return false;
		}
		m = &n->book[n->n_book++];
		m->id = id;
	}
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->url, sizeof m->url, "%s", url);
	if (n->net && id != n->id && net_peer_set(n->net, id, url) < 0)
		log_warn("cannot link to %s at %s", name, url);
	return true;
}

static int node_book_put(struct store_wtxn *t, const struct node_member *m)
{
	char key[64], val[sizeof m->name + sizeof m->url];
	size_t nl = strlen(m->name), ul = strlen(m->url);
	memcpy(val, m->name, nl + 1);
	memcpy(val + nl + 1, m->url, ul);
	peer_key(key, sizeof key, m->id);
	return store_meta_put(t, key, val, nl + 1 + ul);
}

static int node_book_load_one(void *ctx, const char *key, const void *val, size_t len)
{
	struct node *n = ctx;
	const char *v = val;
	const char *nul = memchr(v, '\0', len);
	if (!nul || len - (size_t)(nul - v) - 1 > NET_MAX_URL || nul - v > (long)NET_MAX_NAME) {
		log_warn("ignoring a malformed address book entry %s", key);
		return 0;
	}
	char url[NET_MAX_URL + 1];
	size_t ul = len - (size_t)(nul - v) - 1;
	memcpy(url, nul + 1, ul);
	url[ul] = '\0';
	node_book_set(n, v, url);
	return 0;
}

/* Persists one change of the book or cluster id in its own transaction. */
static void node_persist_member(struct node *n, const struct node_member *m)
{
	struct store_wtxn *t;
	int rc = store_wbegin(n->store, &t);
	if (rc == 0)
		rc = node_book_put(t, m);
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	if (rc < 0)
		log_warn("cannot record the address of %s: %s", m->name, qfs_strerror(rc));
}

static uint64_t cluster_id_of(const struct node *n)
{
	/* Same peer list -> same id on every voter.  FNV over "name=url;" in
	 * the given order; users pass the same list to every node. */
	char buf[64 + NODE_MAX_PEERS * (NET_MAX_NAME + NET_MAX_URL + 2)];
	size_t off = 0;
	if (!n->opt.n_peers)
		off = (size_t)snprintf(buf, sizeof buf, "single:%s", n->name);
	for (unsigned i = 0; i < n->opt.n_peers && off < sizeof buf; i++)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s=%s;", n->opt.peers[i].name,
					n->opt.peers[i].url);
	return node_id_of(buf);
}

/* A data directory seeded by `quorumctl snapshot restore` carries the
 * backup's digest: the new cluster's id mixes it in, so it differs from the
 * cluster the backup came from even with the same --peer list (and every
 * node restored from the same file agrees on it). */
static uint64_t restored_cluster_id(struct node *n, uint64_t id)
{
	uint8_t digest[STORE_BACKUP_DIGEST];
	size_t len = 0;
	struct store_rtxn *rt;
	if (store_rbegin(n->store, &rt) < 0)
		return id;
	int rc = store_meta_get(rt, STORE_META_RESTORED, digest, sizeof digest, &len);
	store_rend(rt);
	if (rc < 0 || len != sizeof digest)
		return id;
	uint64_t h = id ^ 0x7265737472656431ull; /* "restred1" */
	for (size_t i = 0; i < sizeof digest; i++) {
		h ^= digest[i];
		h *= 0x100000001b3ull;
	}
	log_info("bootstrapping a new cluster from a restored snapshot");
	return h ? h : 1;
}

static int node_bootstrap(struct node *n)
{
	struct raft_conf conf = {0};
	bool self_listed = n->opt.n_peers == 0;
	if (n->opt.n_peers == 0) {
		conf.voters[conf.n_voters++] = n->id;
	}
	for (unsigned i = 0; i < n->opt.n_peers; i++) {
		uint64_t id = node_id_of(n->opt.peers[i].name);
		if (id == n->id)
			self_listed = true;
		for (uint32_t k = 0; k < conf.n_voters; k++)
			if (conf.voters[k] == id) {
				log_error("--peer %s is listed twice", n->opt.peers[i].name);
				return QFS_EINVAL;
			}
		conf.voters[conf.n_voters++] = id;
	}
	if (!self_listed) {
		log_error("the --peer list must include this node (--name %s)", n->name);
		return QFS_EINVAL;
	}
	/* raft_conf wants ascending ids. */
	for (uint32_t i = 1; i < conf.n_voters; i++)
		for (uint32_t k = i; k > 0 && conf.voters[k - 1] > conf.voters[k]; k--) {
			uint64_t x = conf.voters[k];
			conf.voters[k] = conf.voters[k - 1];
			conf.voters[k - 1] = x;
		}
	int rc = raft_bootstrap(n->raft, &conf);
	if (rc < 0) {
		log_error("cannot bootstrap: %s", raft_strerror(rc));
		return QFS_EINVAL;
	}
	n->cluster_id = restored_cluster_id(n, cluster_id_of(n));
	struct store_wtxn *t;
	rc = store_wbegin(n->store, &t);
	if (rc == 0)
		rc = store_meta_put(t, META_CLUSTER_ID, &n->cluster_id, sizeof n->cluster_id);
	for (unsigned i = 0; rc == 0 && i < n->opt.n_peers; i++) {
		node_book_set(n, n->opt.peers[i].name, n->opt.peers[i].url);
		rc = node_book_put(t, node_book_find(n, node_id_of(n->opt.peers[i].name)));
	}
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	if (rc == 0)
		log_info("bootstrapped a new cluster of %u voter(s)", conf.n_voters);
	return rc;
}

int node_cluster_init(struct node *n, bool fresh)
{
	int rc = 0;
	if (fresh && !n->join)
		rc = node_bootstrap(n);
	if (rc < 0)
		return rc;
	struct store_rtxn *rt;
	rc = store_rbegin(n->store, &rt);
	if (rc < 0)
		return rc;
	size_t len = 0;
	uint64_t cid = 0;
	if (store_meta_get(rt, META_CLUSTER_ID, &cid, sizeof cid, &len) == 0 && len == sizeof cid)
		n->cluster_id = cid;
	rc = store_meta_scan(rt, META_PEER_PREFIX, node_book_load_one, n);
	uint32_t epoch = 0;
	if (store_meta_get(rt, META_EPOCH, &epoch, sizeof epoch, &len) < 0 || len != sizeof epoch)
		epoch = 0;
	store_rend(rt);
	/* A new boot epoch: request ids never repeat across restarts, nor
	 * across a wiped data directory: the replicated session table still
	 * holds the ids this name used before, and ids at or below them are
	 * skipped as duplicates.  So the epoch is also at least the wall clock
	 * in seconds (u32 until 2106), above any earlier run's. */
	uint32_t now_s = (uint32_t)(node_now_ns() / 1000000000ull);
	epoch = epoch >= now_s ? epoch + 1 : now_s;
	struct store_wtxn *t;
	int erc = store_wbegin(n->store, &t);
	if (erc == 0)
		erc = store_meta_put(t, META_EPOCH, &epoch, sizeof epoch);
	if (erc == 0)
		erc = store_wcommit(t);
	else
		store_wabort(t);
	if (erc < 0)
		return erc;
	n->next_req_id = ((uint64_t)epoch << 32) + 1;
	n->boot_epoch = epoch;
	if (!n->listen && !fresh && n->n_book > 1)
		log_warn("this data directory belongs to a cluster, but no --listen was given");
	if (n->advertise)
		node_book_set(n, n->name, n->advertise);
	return rc;
}

void node_cluster_connect(struct node *n)
{
	for (unsigned i = 0; i < n->n_book; i++)
		if (n->book[i].id != n->id)
			net_peer_set(n->net, n->book[i].id, n->book[i].url);
	n->next_announce_ms = 0;
	n->next_join_ms = 0;
}

void node_cluster_adopt(struct node *n, uint64_t cluster_id)
{
	n->cluster_id = cluster_id;
	net_set_cluster_id(n->net, cluster_id);
	struct store_wtxn *t;
	int rc = store_wbegin(n->store, &t);
	if (rc == 0)
		rc = store_meta_put(t, META_CLUSTER_ID, &cluster_id, sizeof cluster_id);
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	log_info("joined cluster %016llx", (unsigned long long)cluster_id);
}

void node_cluster_apply_conf_change(struct node *n, struct store_wtxn *t,
				    const struct raft_conf_change *cc)
{
	if (cc->type == RAFT_CC_ADD_LEARNER && cc->ctx_len > 0) {
		const char *v = cc->ctx;
		const char *nul = memchr(v, '\0', cc->ctx_len);
		size_t ul = nul ? cc->ctx_len - (size_t)(nul - v) - 1 : 0;
		if (!nul || ul == 0 || ul > NET_MAX_URL || node_id_of(v) != cc->node)
			return;
		char url[NET_MAX_URL + 1];
		memcpy(url, nul + 1, ul);
		url[ul] = '\0';
		if (node_book_set(n, v, url))
			node_book_put(t, node_book_find(n, cc->node));
		log_info("%s joins as a learner (%s)", v, url);
	} else if (cc->type == RAFT_CC_REMOVE && cc->node != n->id) {
		for (unsigned i = 0; i < n->n_book; i++) {
			if (n->book[i].id != cc->node)
				continue;
			char key[64];
			peer_key(key, sizeof key, cc->node);
			store_meta_del(t, key);
			log_info("%s leaves the cluster", n->book[i].name);
			if (n->net)
				net_peer_remove(n->net, cc->node);
			n->book[i] = n->book[--n->n_book];
			break;
		}
	}
}

static void node_send_join(struct node *n)
{
	struct net_msg m = {.kind = NET_JOIN, .to = 0};
	m.u.join.name = n->name;
	m.u.join.url = n->advertise;
	net_send_url(n->net, n->join, &m);
}

void node_cluster_tick(struct node *n)
{
	if (!n->net)
		return;
	struct raft_status st;
	raft_status(n->raft, &st);
	/* A joining node asks until it is in the configuration. */
	if (n->join && !st.is_learner && !st.is_voter && n->now_ms >= n->next_join_ms) {
		node_send_join(n);
		n->next_join_ms = n->now_ms + NODE_JOIN_RETRY_MS;
	}
	if (n->now_ms < n->next_announce_ms || !n->cluster_id || !n->advertise)
		return;
	n->next_announce_ms = n->now_ms + NODE_ANNOUNCE_MS;
	for (unsigned i = 0; i < n->n_book; i++) {
		if (n->book[i].id == n->id)
			continue;
		struct net_msg m = {.kind = NET_JOIN, .to = n->book[i].id};
		m.u.join.name = n->name;
		m.u.join.url = n->advertise;
		net_send(n->net, &m);
	}
}

static void node_propose_add(struct node *n, const char *name, const char *url)
{
	char ctx[NET_MAX_NAME + NET_MAX_URL + 2];
	size_t nl = strlen(name), ul = strlen(url);
	memcpy(ctx, name, nl + 1);
	memcpy(ctx + nl + 1, url, ul);
	uint64_t id = node_id_of(name);
	if (n->leader == n->id) {
		int rc = raft_propose_conf_change(n->raft, RAFT_CC_ADD_LEARNER, id, ctx,
						  (uint32_t)(nl + 1 + ul), NULL);
		if (rc < 0 && rc != RAFT_EBUSY)
			log_warn("cannot add %s: %s", name, raft_strerror(rc));
	} else if (n->leader) {
		struct net_msg m = {.kind = NET_CONF_FORWARD, .to = n->leader};
		m.u.conf.type = RAFT_CC_ADD_LEARNER;
		m.u.conf.node = id;
		m.u.conf.ctx = ctx;
		m.u.conf.ctx_len = (uint32_t)(nl + 1 + ul);
		net_send(n->net, &m);
	}
}

void node_handle_join(struct node *n, const struct net_msg *m)
{
	const char *name = m->u.join.name, *url = m->u.join.url;
	if (m->to == n->id) {
		/* An announcement: where a member listens. */
		if (node_id_of(name) == m->from && node_book_set(n, name, url))
			node_persist_member(n, node_book_find(n, m->from));
		return;
	}
	/* A join request.  Already a member: nothing to do (its own retries
	 * stop once it sees itself in the configuration). */
	struct raft_status st;
	raft_status(n->raft, &st);
	uint64_t id = node_id_of(name);
	if (raft_conf_is_voter(&st.conf, id) || raft_conf_is_learner(&st.conf, id))
		return;
	if (n->leader == n->id) {
		/* Learn its address now, so replication can start at once. */
		if (node_book_set(n, name, url))
			node_persist_member(n, node_book_find(n, id));
	}
	node_propose_add(n, name, url);
}

void node_handle_conf_forward(struct node *n, const struct net_msg *m)
{
	const struct net_conf_forward *c = &m->u.conf;
	if (n->leader != n->id)
		return; /* the sender retries (join) or reports a timeout (quorumctl) */
	int rc = raft_propose_conf_change(n->raft, c->type, c->node, c->ctx, c->ctx_len, NULL);
	if (rc < 0 && rc != RAFT_EBUSY)
		log_warn("membership change from %016llx refused: %s", (unsigned long long)m->from,
			 raft_strerror(rc));
}

void node_status_refresh(struct node *n)
{
	struct raft_status st;
	raft_status(n->raft, &st);
	struct node_status s;
	memset(&s, 0, sizeof s);
	snprintf(s.name, sizeof s.name, "%s", n->name);
	s.id = n->id;
	if (st.role == RAFT_LEADER)
		s.role = "leader";
	else if (st.role == RAFT_CANDIDATE || st.role == RAFT_PRE_CANDIDATE)
		s.role = "candidate";
	else if (st.is_learner)
		s.role = "learner";
	else
		s.role = "follower";
	const struct node_member *lm = st.leader ? node_book_find(n, st.leader) : NULL;
	if (st.leader == n->id)
		snprintf(s.leader, sizeof s.leader, "%s", n->name);
	else if (lm)
		snprintf(s.leader, sizeof s.leader, "%s", lm->name);
	else if (st.leader)
		snprintf(s.leader, sizeof s.leader, "%016llx", (unsigned long long)st.leader);
	s.term = st.term;
	s.commit = st.commit;
	s.applied = st.applied;
	s.quorum = st.leader != 0;
	s.voters = st.conf.n_voters;
	s.learners = st.conf.n_learners;
	struct store_rtxn *rt;
	struct store_stats ss;
	if (store_rbegin(n->store, &rt) == 0) {
		if (store_stats(rt, &ss) == 0)
			s.revision = ss.revision;
		store_rend(rt);
	}
	pthread_mutex_lock(&n->status_mu);
	n->status = s;
	pthread_mutex_unlock(&n->status_mu);
}
