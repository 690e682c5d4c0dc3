/* node_raft.c: the Raft cycle on real storage and sockets.
 *
 * Each ready batch: send what promises nothing, then ONE write transaction
 * (snapshot install, new entries, hard state, and the keyspace changes of the
 * committed entries with the applied index), one fsync, then the messages
 * whose promise needed that, then the replies to parked requests. */
#include "node/node_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "quorumfs/error.h"
#include "util/log.h"

static uint64_t node_rand(void *ctx)
{
	uint64_t *s = ctx; /* splitmix64 */
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t get64le(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

void node_snap_path(const struct node *n, char *buf, size_t cap, const char *what, uint64_t index,
		    uint64_t term)
{
	snprintf(buf, cap, "%s/snap/%s-%016llx-%016llx.qfs", n->data_dir, what,
		 (unsigned long long)index, (unsigned long long)term);
}

int node_raft_open(struct node *n)
{
	struct raft_config cfg = {
		.id = n->id,
		.election_tick = n->opt.election_ticks,
		.heartbeat_tick = n->opt.heartbeat_ticks,
		.pre_vote = true,
		.check_quorum = true,
		.rand = node_rand,
		.rand_ctx = &n->rng,
	};
	char dir[4200];
	snprintf(dir, sizeof dir, "%s/snap", n->data_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		log_error("cannot create %s: %s", dir, strerror(errno));
		return QFS_EIO;
	}
	int rc = raft_new(&cfg, &n->raft);
	if (rc < 0) {
		log_error("bad raft settings: %s", raft_strerror(rc));
		return QFS_EINVAL;
	}
	struct store_raft_state st;
	rc = store_raft_load(n->store, &st);
	if (rc < 0) {
		log_error("cannot load the raft log: %s", qfs_strerror(rc));
		return rc;
	}
	bool fresh = st.hs.term == 0 && st.n_entries == 0 && st.snap.index == 0;
	if (!fresh) {
		rc = raft_restore(n->raft, &st.hs, st.snap.index ? &st.snap : NULL, st.entries,
				  st.n_entries, st.applied);
		n->seen_term = st.hs.term;
		n->snap_index = st.snap.index;
		n->applied_term = st.snap.term;
		for (size_t i = 0; i < st.n_entries; i++)
			if (st.entries[i].index == st.applied)
				n->applied_term = st.entries[i].term;
		if (rc < 0)
			log_error("the raft state in %s is inconsistent: %s", n->data_dir,
				  raft_strerror(rc));
	}
	store_raft_state_free(&st);
	if (rc < 0)
		return QFS_ECORRUPT;
	return node_cluster_init(n, fresh);
}

/* Leader side: the snapshot bytes of a SNAP message come from our file. */
static int node_fill_snap(struct node *n, struct raft_msg *m)
{
	char path[4200];
	node_snap_path(n, path, sizeof path, "snap", m->snap_index, m->snap_term);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_warn("snapshot %s for node %016llx: %s", path, (unsigned long long)m->to,
			 strerror(errno));
		return QFS_ENOENT;
	}
	struct stat st;
	ssize_t got = -1;
	if (fstat(fd, &st) == 0)
		got = pread(fd, n->snap_chunk, RAFT_SNAP_CHUNK, (off_t)m->snap_offset);
	close(fd);
	if (got < 0)
		return QFS_EIO;
	m->snap_data = n->snap_chunk;
	m->snap_len = (uint32_t)got;
	m->snap_last = m->snap_offset + (uint64_t)got >= (uint64_t)st.st_size;
	return 0;
}

/* Raft may not be called between ready and advance: note the peer now,
 * report it after raft_advance. */
static void node_note_unreachable(struct node *n, uint64_t peer)
{
	for (unsigned i = 0; i < n->n_unreachable; i++)
		if (n->unreachable[i] == peer)
			return;
	if (n->n_unreachable < NET_MAX_PEERS)
		n->unreachable[n->n_unreachable++] = peer;
}

static void node_send(struct node *n, const struct raft_msg *msgs, size_t count)
{
	if (!n->net)
		return; /* a single node sends nothing */
	for (size_t i = 0; i < count; i++) {
		struct raft_msg m = msgs[i];
		if (m.type == RAFT_MSG_SNAP && node_fill_snap(n, &m) < 0) {
			node_note_unreachable(n, m.to);
			continue;
		}
		int rc = net_send_raft(n->net, &m);
		if (rc == QFS_EAGAIN || rc == QFS_ENOENT)
			node_note_unreachable(n, m.to);
	}
}

/* Follower side: a SNAP chunk's bytes go to the staging file before the core
 * sees the message, by the rule in raft.h: offset 0 (or another snapshot)
 * starts the file afresh; a chunk is appended only when it continues what is
 * staged, so the file and the core agree on the staged prefix. */
static void node_stage_snap(struct node *n, const struct raft_msg *m)
{
	char path[4200];
	node_snap_path(n, path, sizeof path, "recv", m->snap_index, m->snap_term);
	if (m->snap_offset == 0) {
		/* One staging file at a time: drop chunks of other snapshots. */
		char dir[4200], other[4600];
		snprintf(dir, sizeof dir, "%s/snap", n->data_dir);
		DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d)))
			if (strncmp(de->d_name, "recv-", 5) == 0) {
				snprintf(other, sizeof other, "%s/%s", dir, de->d_name);
				unlink(other);
			}
		if (d)
			closedir(d);
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_warn("cannot stage snapshot chunk in %s: %s", path, strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size == m->snap_offset &&
	    pwrite(fd, m->snap_data, m->snap_len, (off_t)m->snap_offset) != (ssize_t)m->snap_len)
		log_warn("short write staging snapshot chunk in %s", path);
	close(fd);
}

/* Removes our snapshot files other than the core's current one and the one
 * written for the next compaction; `staging` also removes received chunks
 * (after an install). */
static void node_prune_snaps(struct node *n, uint64_t keep_index, uint64_t keep_term, bool staging)
{
	char keep[4200], next[4200], dir[4200], path[4600];
	node_snap_path(n, keep, sizeof keep, "snap", keep_index, keep_term);
	node_snap_path(n, next, sizeof next, "snap", n->next_snap_index, n->next_snap_term);
	const char *kbase = strrchr(keep, '/') + 1, *nbase = strrchr(next, '/') + 1;
	snprintf(dir, sizeof dir, "%s/snap", n->data_dir);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		bool ours = strncmp(de->d_name, "snap-", 5) == 0;
		bool recv = strncmp(de->d_name, "recv-", 5) == 0;
		if (!(ours || (staging && recv)) || strcmp(de->d_name, kbase) == 0 ||
		    (n->next_snap_index && strcmp(de->d_name, nbase) == 0))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) < 0)
			log_warn("cannot remove old snapshot %s: %s", path, strerror(errno));
	}
	closedir(d);
}

/* The outcome of one committed entry, kept until the batch is durable. */
struct node_applied {
	uint64_t origin, req_id, index, term;
	bool is_cmd;
	struct store_result res;
};

static void node_check_lost(struct node *n, uint64_t index, uint64_t term, uint64_t origin,
			    uint64_t req_id)
{
	/* Our proposal at this index lost to another entry: it is in no log
	 * any more, so it may be proposed again. */
	for (struct node_pending *p = n->pending_all; p; p = p->next_all)
		if (p->state == NODE_P_PROPOSED && p->index == index &&
		    (p->term != term || origin != n->id || req_id != p->req_id))
			p->state = NODE_P_WAITING;
}

static int node_apply_entry(struct node *n, struct store_wtxn *t, const struct raft_entry *e,
			    struct node_applied *out)
{
	memset(out, 0, sizeof *out);
	out->index = e->index;
	out->term = e->term;
	if (e->type == RAFT_ENTRY_NORMAL) {
		const uint8_t *d = e->data;
		struct qfs_cmd c;
		if (e->len < NODE_ENVELOPE_SIZE || d[0] != NODE_ENVELOPE_VERSION ||
		    d[1] != NODE_ENTRY_CMD) {
			log_warn("entry %llu: unknown envelope; skipped", (unsigned long long)e->index);
			return store_mark_applied(t, e->index);
		}
		out->origin = get64le(d + 2);
		out->req_id = get64le(d + 10);
		int seen = store_session_seen(t, out->origin, out->req_id);
		if (seen != 0) /* a second copy of an applied proposal */
			return seen < 0 ? seen : store_mark_applied(t, e->index);
		out->is_cmd = true;
		int rc = qfs_cmd_decode(d + NODE_ENVELOPE_SIZE, e->len - NODE_ENVELOPE_SIZE, &c);
		if (rc < 0) {
			/* Every replica decodes the same bytes: the same outcome. */
			out->res.rc = rc;
			return store_mark_applied(t, e->index);
		}
		return store_apply(t, e->index, &c, &out->res);
	}
	if (e->type == RAFT_ENTRY_CONF_CHANGE) {
		struct raft_conf_change cc;
		if (raft_conf_change_decode(e->data, e->len, &cc) == 0)
			node_cluster_apply_conf_change(n, t, &cc);
	}
	return store_mark_applied(t, e->index);
}

/* Installs a received snapshot inside t; its staged file becomes ours. */
static int node_install_snap(struct node *n, struct store_wtxn *t,
			     const struct raft_snapshot_meta *meta)
{
	char recv[4200], mine[4200];
	node_snap_path(n, recv, sizeof recv, "recv", meta->index, meta->term);
	node_snap_path(n, mine, sizeof mine, "snap", meta->index, meta->term);
	struct store_snap_info info;
	int rc = store_snapshot_install(t, recv, &info);
	if (rc < 0) {
		log_error("cannot install snapshot %s: %s", recv, qfs_strerror(rc));
		return rc;
	}
	rc = store_snap_meta_put(t, meta);
	if (rc == 0)
		rc = store_log_compact(t, UINT64_MAX); /* the whole old log is superseded */
	if (rc == 0 && rename(recv, mine) < 0)
		log_warn("cannot keep snapshot %s: %s", mine, strerror(errno));
	log_info("installed snapshot at index %llu (revision %llu, %llu keys)",
		 (unsigned long long)meta->index, (unsigned long long)info.revision,
		 (unsigned long long)info.keys);
	return rc;
}

static void node_fatal(const char *what, int rc)
{
	/* A replica that cannot persist what Raft requires must not go on: it
	 * would acknowledge what it does not hold. */
	log_error("%s failed: %s; stopping this node", what, qfs_strerror(rc));
	_exit(70);
}

static void node_process_one(struct node *n)
{
	struct raft_ready rd;
	raft_ready(n->raft, &rd);
	if (rd.soft_state_changed) {
		if (rd.soft_state.leader != n->leader) {
			const struct node_member *m = node_book_find(n, rd.soft_state.leader);
			struct raft_status st;
			raft_status(n->raft, &st);
			if (!rd.soft_state.leader)
				log_info("no leader (term %llu)", (unsigned long long)st.term);
			else
				log_info("leader is now %s (term %llu)",
					 rd.soft_state.leader == n->id ? n->name : m ? m->name : "?",
					 (unsigned long long)st.term);
		}
		bool changed = rd.soft_state.leader != n->leader;
		n->leader = rd.soft_state.leader;
		n->role = rd.soft_state.role;
		if (changed)
			node_pending_leader_changed(n);
		if (changed && n->leader)
			atomic_fetch_add_explicit(&n->counters.leader_changes, 1, memory_order_relaxed);
	}
	node_send(n, rd.msgs, rd.n_msgs);

	struct node_applied *applied = NULL;
	if (rd.n_committed) {
		applied = malloc(rd.n_committed * sizeof *applied);
		if (!applied)
			node_fatal("allocating apply results", QFS_ENOMEM);
	}
	bool need_txn = rd.has_snapshot || rd.n_entries || rd.hard_state_changed || rd.n_committed;
	if (need_txn) {
		struct store_wtxn *t;
		int rc = store_wbegin(n->store, &t);
		if (rc < 0)
			node_fatal("beginning a transaction", rc);
		if (rc == 0 && rd.has_snapshot)
			rc = node_install_snap(n, t, &rd.snapshot);
		if (rc == 0 && rd.n_entries)
			rc = store_log_append(t, rd.entries, rd.n_entries);
		if (rc == 0 && rd.hard_state_changed)
			rc = store_hard_state_put(t, &rd.hard_state);
		for (size_t i = 0; rc == 0 && i < rd.n_committed; i++)
			rc = node_apply_entry(n, t, &rd.committed[i], &applied[i]);
		if (rc == 0)
			rc = store_wcommit(t);
		else
			store_wabort(t);
		if (rc < 0)
			node_fatal("persisting a raft batch", rc);
		if (rd.hard_state_changed && rd.hard_state.term > n->seen_term) {
			n->seen_term = rd.hard_state.term;
			atomic_fetch_add_explicit(&n->counters.term_changes, 1, memory_order_relaxed);
		}
		atomic_fetch_add_explicit(&n->counters.entries_applied, rd.n_committed,
					  memory_order_relaxed);
		if (rd.has_snapshot)
			atomic_fetch_add_explicit(&n->counters.snapshots_installed, 1,
						  memory_order_relaxed);
	}
	if (rd.has_snapshot) {
		n->snap_index = rd.snapshot.index;
		n->applied_term = rd.snapshot.term;
		n->next_snap_index = 0; /* superseded by what we received */
		node_prune_snaps(n, rd.snapshot.index, rd.snapshot.term, true);
	}
	node_send(n, rd.msgs_after_persist, rd.n_msgs_after_persist);

	/* Durable now: tell whoever waits. */
	for (size_t i = 0; i < rd.n_committed; i++) {
		struct node_applied *a = &applied[i];
		n->applied_term = a->term;
		node_check_lost(n, a->index, a->term, a->origin, a->req_id);
		if (!a->is_cmd)
			continue;
		bool mine = a->origin == n->id;
		struct node_pending *p = mine ? node_pending_find(n, a->req_id) : NULL;
		bool kernel_knows = p && p->kernel_knows;
		if (p)
			node_pending_finish(n, p, 0, &a->res);
		if (n->on_applied)
			/* Orphan: proposed by this very run, and its proposer gave up.
			 * Entries of an earlier run (a wiped or restarted node
			 * catching up) were answered, or not, by that run. */
			n->on_applied(n->on_applied_ctx, &a->res, kernel_knows,
				      mine && !p && (a->req_id >> 32) == n->boot_epoch);
		store_result_release(&a->res);
	}
	free(applied);
	for (size_t i = 0; i < rd.n_read_states; i++)
		node_reads_state(n, &rd.read_states[i]);
	raft_advance(n->raft, &rd);
	struct raft_status rst;
	raft_status(n->raft, &rst);
	node_reads_applied(n, rst.applied);
	for (unsigned i = 0; i < n->n_unreachable; i++)
		raft_report_unreachable(n->raft, n->unreachable[i]);
	n->n_unreachable = 0;
}

void node_process_ready(struct node *n)
{
	while (raft_has_ready(n->raft))
		node_process_one(n);
}

/* Compacts the log to the snapshot written earlier (next_snap_*). */
static void node_compact(struct node *n)
{
	struct raft_snapshot_meta meta;
	int rc = raft_compact(n->raft, n->next_snap_index, &meta);
	if (rc < 0) {
		log_warn("compaction at %llu refused: %s", (unsigned long long)n->next_snap_index,
			 raft_strerror(rc));
		n->next_snap_index = 0;
		return;
	}
	struct store_wtxn *t;
	rc = store_wbegin(n->store, &t);
	if (rc == 0)
		rc = store_snap_meta_put(t, &meta);
	if (rc == 0)
		rc = store_log_compact(t, meta.index);
	if (rc == 0)
		rc = store_wcommit(t);
	else
		store_wabort(t);
	if (rc < 0)
		node_fatal("recording a snapshot", rc);
	n->snap_index = meta.index;
	n->next_snap_index = 0;
	node_prune_snaps(n, meta.index, meta.term, false);
}

/* Snapshots in two steps: write the keyspace at the applied index, then
 * compact the log to it only once NODE_SNAP_KEEP_ENTRIES more entries are
 * applied, so that followers a little behind still get entries, not a whole
 * snapshot.  A log that grows too large in bytes is compacted at once. */
void node_maybe_snapshot(struct node *n)
{
	struct raft_status st;
	raft_status(n->raft, &st);
	struct store_rtxn *rt;
	struct store_stats ss = {0};
	if (store_rbegin(n->store, &rt) == 0) {
		store_stats(rt, &ss);
		store_rend(rt);
	}
	uint64_t log_limit = ss.map_size / NODE_LOG_SHARE;
	bool alone = st.conf.n_voters + st.conf.n_learners <= 1;
	if (n->next_snap_index &&
	    (alone || st.applied >= n->next_snap_index + NODE_SNAP_KEEP_ENTRIES ||
	     ss.log_bytes > log_limit))
		node_compact(n);
	if (n->next_snap_index || st.applied == 0 || st.applied <= n->snap_index)
		return;
	if (st.applied < n->snap_index + n->opt.snapshot_entries && ss.log_bytes <= log_limit / 2)
		return;
	char path[4200];
	node_snap_path(n, path, sizeof path, "snap", st.applied, n->applied_term);
	struct store_snap_info in = {.cluster_id = n->cluster_id, .index = st.applied,
				     .term = n->applied_term, .conf = st.conf};
	struct store_snap_info out;
	int rc = store_snapshot_write(n->store, path, &in, &out);
	if (rc < 0) {
		log_warn("snapshot at index %llu failed: %s", (unsigned long long)st.applied,
			 qfs_strerror(rc));
		return;
	}
	n->next_snap_index = st.applied;
	n->next_snap_term = n->applied_term;
	atomic_fetch_add_explicit(&n->counters.snapshots_written, 1, memory_order_relaxed);
	log_info("snapshot at index %llu: %llu keys, %llu bytes", (unsigned long long)st.applied,
		 (unsigned long long)out.keys, (unsigned long long)out.bytes);
	if (alone || ss.log_bytes > log_limit)
		node_compact(n);
}

void node_handle_net(struct node *n, const uint8_t *bytes, size_t len)
{
	struct net_decoded *d = n->decoded;
	if (net_decode(bytes, len, d) < 0)
		return; /* cannot happen: we encoded it */
	const struct net_msg *m = &d->msg;
	switch (m->kind) {
	case NET_RAFT:
		if (!n->cluster_id && m->cluster_id)
			node_cluster_adopt(n, m->cluster_id);
		if (m->u.raft.type == RAFT_MSG_SNAP)
			node_stage_snap(n, &m->u.raft);
		raft_step(n->raft, &m->u.raft);
		break;
	case NET_FORWARD:
		node_handle_forward(n, m);
		break;
	case NET_FORWARD_NACK:
		node_handle_nack(n, m);
		break;
	case NET_CONF_FORWARD:
		node_handle_conf_forward(n, m);
		break;
	case NET_JOIN:
		node_handle_join(n, m);
		break;
	case NET_LIVENESS:
		node_handle_liveness(n, m);
		break;
	default:
		break;
	}
}
