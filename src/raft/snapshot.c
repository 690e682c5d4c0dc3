/* Snapshots in chunks: the leader asks its host for bytes by offset, the
 * follower checks offsets and installs on the last chunk.  The core only
 * ever sees metadata (see "SNAPSHOTS" in raft.h). */
#include "raft/internal.h"

void send_snapshot_chunk(struct raft *r, struct raft_progress *pr)
{
	RAFT_ASSERT(pr->state == RAFT_PROGRESS_SNAPSHOT && pr->snap_index == r->snap.index);
	if (pr->snap_inflight)
		return;
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_SNAP, pr->id);
	m.snap_index = r->snap.index;
	m.snap_term = r->snap.term;
	m.snap_conf = r->snap.conf;
	m.snap_offset = pr->snap_offset;
	m.commit = r->commit;
	send_msg(r, &m);
	pr->snap_inflight = true;
	pr->snap_wait = 0;
}

/* A chunk unanswered for an election timeout is sent again. */
void snapshot_tick(struct raft *r)
{
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->state != RAFT_PROGRESS_SNAPSHOT || !pr->snap_inflight)
			continue;
		if (++pr->snap_wait >= r->election_tick) {
			pr->snap_inflight = false;
			send_snapshot_chunk(r, pr);
		}
	}
}

int handle_snapshot_response(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = progress_find(r, m->from);
	if (!pr)
		return 0;
	pr->recent_active = true;
	if (pr->state != RAFT_PROGRESS_SNAPSHOT || m->snap_index != pr->snap_index)
		return 0;
	pr->snap_offset = m->snap_offset;
	pr->snap_inflight = false;
	send_snapshot_chunk(r, pr);
	return 0;
}

static void snap_resp(struct raft *r, const struct raft_msg *m, uint64_t offset, bool reject)
{
	struct raft_msg resp;
	msg_init(r, &resp, RAFT_MSG_SNAP_RESP, m->from);
	resp.snap_index = m->snap_index;
	resp.snap_offset = offset;
	resp.reject = reject;
	send_msg(r, &resp);
}

static void app_resp(struct raft *r, const struct raft_msg *m, uint64_t index)
{
	struct raft_msg resp;
	msg_init(r, &resp, RAFT_MSG_APP_RESP, m->from);
	resp.index = index;
	resp.commit = r->commit;
	send_msg(r, &resp);
}

static void install(struct raft *r, const struct raft_msg *m)
{
	uint64_t t = 0;
	if (log_term(&r->log, m->snap_index, &t) && t == m->snap_term) {
		/* We already hold that point of history: nothing to replace. */
		follower_commit_to(r, m->snap_index);
		app_resp(r, m, r->commit);
		return;
	}
	/* Everything we held is replaced, even entries below the snapshot point
	 * that an older leader may still count on. */
	msgs_drop_from(r, 0);
	log_reset(&r->log, m->snap_index, m->snap_term);
	r->snap.index = m->snap_index;
	r->snap.term = m->snap_term;
	r->snap.conf = m->snap_conf;
	conf_normalize(&r->snap.conf);
	r->commit = m->snap_index;
	r->snap_pending = true;
	raft_conf_recompute(r);
	/* Goes out after the host installed it (msgs_after_persist). */
	app_resp(r, m, m->snap_index);
}

int handle_snapshot(struct raft *r, const struct raft_msg *m)
{
	if (m->snap_index == 0 || m->snap_term == 0 || m->snap_term > m->term ||
	    raft_conf_check(&m->snap_conf) != 0 || m->snap_len > RAFT_SNAP_CHUNK ||
	    m->snap_offset > UINT64_MAX - m->snap_len || (m->snap_len == 0 && !m->snap_last))
		return RAFT_EINVAL; /* an empty middle chunk would make no progress */
	if (m->snap_index <= r->commit) {
		r->recv_active = false;
		app_resp(r, m, r->commit);
		return 0;
	}
	/* Mirror of the host's staging rule (raft.h, SNAPSHOTS): offset 0 or
	 * another snapshot's chunk restarts staging; only the chunk that
	 * continues the staged prefix is accepted. */
	if (m->snap_offset == 0 || !r->recv_active || r->recv_index != m->snap_index ||
	    r->recv_term != m->snap_term) {
		r->recv_active = true;
		r->recv_index = m->snap_index;
		r->recv_term = m->snap_term;
		r->recv_next = 0;
	}
	if (m->snap_offset != r->recv_next) {
		snap_resp(r, m, r->recv_next, true);
		return 0;
	}
	r->recv_next += m->snap_len;
	if (!m->snap_last) {
		snap_resp(r, m, r->recv_next, false);
		return 0;
	}
	r->recv_active = false;
	install(r, m);
	return 0;
}
