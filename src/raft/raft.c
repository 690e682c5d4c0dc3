/* Instance lifecycle, role transitions, the clock and message dispatch. */
#include "raft/internal.h"

#include <stdlib.h>
#include <string.h>

/* splitmix64: small, seedable, good enough to spread election timeouts. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t raft_rand_(struct raft *r)
{
	return r->rand ? r->rand(r->rand_ctx) : splitmix64(&r->rng);
}

static void reset_randomized_timeout(struct raft *r)
{
	r->randomized_timeout = r->election_tick + (uint32_t)(raft_rand_(r) % r->election_tick);
}

int raft_new(const struct raft_config *cfg, struct raft **out)
{
	*out = NULL;
	if (!cfg || cfg->id == 0)
		return RAFT_EINVAL;
	uint32_t et = cfg->election_tick ? cfg->election_tick : RAFT_DEFAULT_ELECTION_TICK;
	uint32_t ht = cfg->heartbeat_tick ? cfg->heartbeat_tick : RAFT_DEFAULT_HEARTBEAT_TICK;
	uint32_t infl = cfg->max_inflight ? cfg->max_inflight : RAFT_DEFAULT_MAX_INFLIGHT;
	uint32_t me = cfg->max_msg_entries ? cfg->max_msg_entries : RAFT_DEFAULT_MAX_MSG_ENTRIES;
	uint32_t mb = cfg->max_msg_bytes ? cfg->max_msg_bytes : RAFT_DEFAULT_MAX_MSG_BYTES;
	if (ht >= et || et > RAFT_MAX_ELECTION_TICK || infl > RAFT_MAX_INFLIGHT ||
	    me > RAFT_MAX_MSG_ENTRIES || mb > RAFT_MAX_MSG_BYTES)
		return RAFT_EINVAL;
	struct raft *r = calloc(1, sizeof *r);
	if (!r)
		return RAFT_ENOMEM;
	r->id = cfg->id;
	r->election_tick = et;
	r->heartbeat_tick = ht;
	r->pre_vote = cfg->pre_vote;
	r->check_quorum = cfg->check_quorum;
	r->max_inflight = infl;
	r->max_msg_entries = me;
	r->max_msg_bytes = mb;
	r->max_uncommitted_bytes = cfg->max_uncommitted_bytes ? cfg->max_uncommitted_bytes
	                                                      : RAFT_DEFAULT_MAX_UNCOMMITTED_BYTES;
	r->rand = cfg->rand;
	r->rand_ctx = cfg->rand_ctx;
	r->rng = cfg->rand_seed ^ (cfg->id * 0x9e3779b97f4a7c15ull);
	log_init(&r->log);
	r->role = RAFT_FOLLOWER;
	reset_randomized_timeout(r);
	*out = r;
	return 0;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	log_close(&r->log);
	free(r->msgs.v);
	free(r->msgs_after.v);
	free(r);
}

static bool raft_is_empty(const struct raft *r)
{
	return r->term == 0 && log_last(&r->log) == 0 && r->snap.index == 0;
}

int raft_bootstrap(struct raft *r, const struct raft_conf *conf)
{
	RAFT_ASSERT(!r->in_ready);
	if (!raft_is_empty(r))
		return RAFT_ESTATE;
	struct raft_conf c = *conf;
	if (raft_conf_check(&c) != 0)
		return RAFT_EINVAL;
	conf_normalize(&c);
	if (!raft_conf_is_voter(&c, r->id) && !raft_conf_is_learner(&c, r->id))
		return RAFT_EINVAL;
	uint8_t buf[RAFT_CONF_ENCODED_MAX];
	int len = raft_conf_encode(&c, buf, sizeof buf);
	RAFT_ASSERT(len > 0);
	struct raft_entry e = {
	    .term = 1, .index = 1, .type = RAFT_ENTRY_CONF, .len = (uint32_t)len, .data = buf};
	int rc = log_append(&r->log, &e, 1);
	if (rc != 0)
		return rc;
	raft_set_term(r, 1);
	r->commit = 1;
	r->conf = c;
	r->conf_index = 1;
	return 0;
}

int raft_restore(struct raft *r, const struct raft_hard_state *hs,
                 const struct raft_snapshot_meta *snap, const struct raft_entry *entries,
                 size_t n_entries, uint64_t applied)
{
	RAFT_ASSERT(!r->in_ready);
	if (!raft_is_empty(r))
		return RAFT_ESTATE;
	if (!hs || (n_entries > 0 && !entries))
		return RAFT_EINVAL;
	struct raft_snapshot_meta sm;
	memset(&sm, 0, sizeof sm);
	if (snap && snap->index > 0) {
		sm = *snap;
		if (sm.term == 0 || sm.term > hs->term || raft_conf_check(&sm.conf) != 0)
			return RAFT_EINVAL;
		conf_normalize(&sm.conf);
	}
	uint64_t prev_term = sm.term;
	for (size_t i = 0; i < n_entries; i++) {
		const struct raft_entry *e = &entries[i];
		if (!entry_valid(e) || e->index != sm.index + 1 + i || e->term < prev_term ||
		    e->term > hs->term)
			return RAFT_EINVAL;
		prev_term = e->term;
	}
	uint64_t last = sm.index + n_entries;
	uint64_t commit = hs->commit < sm.index ? sm.index : hs->commit;
	if (commit > last || applied < sm.index || applied > commit)
		return RAFT_EINVAL;
	if (hs->vote != 0 && hs->term == 0)
		return RAFT_EINVAL;
	log_reset(&r->log, sm.index, sm.term);
	int rc = log_append(&r->log, entries, n_entries);
	if (rc != 0)
		return rc;
	r->log.stable = last;
	r->snap = sm;
	r->term = hs->term;
	r->vote = hs->vote;
	r->commit = commit;
	r->applied = applied;
	r->prev_hs = *hs;
	raft_conf_recompute(r);
	return 0;
}

/* ---------------------------------------------------------------- roles */

void raft_set_term(struct raft *r, uint64_t term)
{
	RAFT_ASSERT(term >= r->term);
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
	}
}

static void reset_common(struct raft *r, uint64_t term)
{
	if (r->role == RAFT_LEADER)
		readindex_fail_all(r);
	raft_set_term(r, term);
	r->lead = 0;
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	reset_randomized_timeout(r);
	r->transferee = 0;
	r->n_votes = 0;
	r->bcast_pending = false;
	r->uncommitted_bytes = 0;
}

void become_follower(struct raft *r, uint64_t term, uint64_t lead)
{
	reset_common(r, term);
	r->role = RAFT_FOLLOWER;
	r->lead = lead;
}

void become_pre_candidate(struct raft *r)
{
	RAFT_ASSERT(r->role != RAFT_LEADER);
	/* Neither the term nor the vote changes: a failed pre-vote leaves no trace. */
	r->role = RAFT_PRE_CANDIDATE;
	r->lead = 0;
	r->n_votes = 0;
	r->election_elapsed = 0;
	reset_randomized_timeout(r);
}

void become_candidate(struct raft *r)
{
	RAFT_ASSERT(r->role != RAFT_LEADER);
	reset_common(r, r->term + 1);
	r->vote = r->id;
	r->role = RAFT_CANDIDATE;
}

void become_leader(struct raft *r)
{
	RAFT_ASSERT(r->role == RAFT_CANDIDATE || r->role == RAFT_PRE_CANDIDATE);
	reset_common(r, r->term);
	r->role = RAFT_LEADER;
	r->lead = r->id;
	r->hb_seq = 0;
	r->n_reads = 0;
	progress_reset_all(r);
	/* The no-op commits everything before it (§5.4.2: only current-term
	 * entries are committed by counting). */
	uint64_t idx = 0;
	int rc = leader_append(r, RAFT_ENTRY_NOOP, NULL, 0, &idx);
	RAFT_ASSERT(rc == 0 || rc == RAFT_ENOMEM);
	r->term_start_index = rc == 0 ? idx : log_last(&r->log) + 1;
}

bool raft_is_voter(const struct raft *r)
{
	return raft_conf_is_voter(&r->conf, r->id);
}

/* May this node start elections?  Voters may.  So may a node that an
 * uncommitted change just removed or demoted (thesis §4.2.2): it may hold the
 * only up-to-date log and be needed to commit that change.  It does not count
 * its own vote (the tally only counts voters of the latest configuration). */
bool raft_promotable(const struct raft *r)
{
	if (raft_is_voter(r))
		return true;
	if (r->conf_index <= r->commit) /* then it is in the log, after the snapshot */
		return false;
	struct raft_conf prev = r->snap.conf;
	for (uint64_t i = log_first(&r->log); i < r->conf_index; i++)
		conf_apply_entry(&prev, log_get(&r->log, i));
	return raft_conf_is_voter(&prev, r->id);
}

bool raft_committed_in_term(const struct raft *r)
{
	return log_term_or0(&r->log, r->commit) == r->term;
}

uint64_t raft_self_match(const struct raft *r)
{
	uint64_t last = log_last(&r->log);
	return r->log.stable < last ? r->log.stable : last;
}

/* The configuration moved (append, truncation, snapshot): leaders re-track
 * peers and drop a transfer to a node that is gone. */
void raft_conf_changed(struct raft *r)
{
	if (r->role != RAFT_LEADER)
		return;
	progress_sync_conf(r);
	if (r->transferee && !raft_conf_is_voter(&r->conf, r->transferee))
		r->transferee = 0;
}

/* Conf = the snapshot's, then every conf entry in the log, in order. */
void raft_conf_recompute(struct raft *r)
{
	r->conf = r->snap.conf;
	r->conf_index = 0;
	for (uint64_t i = log_first(&r->log); i <= log_last(&r->log); i++) {
		const struct raft_entry *e = log_get(&r->log, i);
		if (conf_apply_entry(&r->conf, e))
			r->conf_index = i;
	}
	raft_conf_changed(r);
}

/* Cheap invariants checked after every input, in release builds too. */
void raft_check_invariants(const struct raft *r)
{
	uint64_t last = log_last(&r->log);
	RAFT_ASSERT(r->applied <= r->commit);
	RAFT_ASSERT(r->commit <= last);
	RAFT_ASSERT(r->log.stable <= last);
	RAFT_ASSERT(r->snap.index == r->log.snap_index && r->snap.index <= r->commit);
	RAFT_ASSERT(log_last_term(&r->log) <= r->term);
	RAFT_ASSERT(r->vote == 0 || r->term > 0);
	RAFT_ASSERT(r->role != RAFT_LEADER || (r->lead == r->id && r->vote == r->id));
}

/* ---------------------------------------------------------------- clock */

static void tick_leader(struct raft *r)
{
	r->election_elapsed++;
	r->heartbeat_elapsed++;
	snapshot_tick(r);
	if (r->election_elapsed >= r->election_tick) {
		r->election_elapsed = 0;
		r->transferee = 0; /* a transfer gets one election timeout */
		if (r->check_quorum) {
			uint32_t active = 0;
			for (uint32_t i = 0; i < r->n_prs; i++) {
				struct raft_progress *pr = &r->prs[i];
				if (!pr->is_learner && (pr->id == r->id || pr->recent_active))
					active++;
				if (pr->id != r->id)
					pr->recent_active = false;
			}
			if (active < conf_quorum(&r->conf)) {
				become_follower(r, r->term, 0);
				return;
			}
		}
	}
	if (r->heartbeat_elapsed >= r->heartbeat_tick) {
		r->heartbeat_elapsed = 0;
		bcast_heartbeat(r);
	}
}

void raft_tick(struct raft *r)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role == RAFT_LEADER) {
		tick_leader(r);
	} else {
		if (r->election_elapsed < UINT32_MAX) /* non-voters wait forever */
			r->election_elapsed++;
		if (r->election_elapsed >= r->randomized_timeout && raft_promotable(r)) {
			r->election_elapsed = 0;
			start_election(r, false);
		}
	}
	raft_check_invariants(r);
}

int raft_campaign(struct raft *r)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role == RAFT_LEADER || !raft_promotable(r))
		return RAFT_ESTATE;
	start_election(r, false);
	return 0;
}

/* ---------------------------------------------------------------- step */

static int validate_entries(const struct raft_msg *m)
{
	if (m->n_entries == 0)
		return 0;
	if (m->type != RAFT_MSG_APP || !m->entries || m->n_entries > RAFT_MAX_MSG_ENTRIES ||
	    m->index > UINT64_MAX - m->n_entries)
		return RAFT_EINVAL;
	uint64_t prev = m->log_term, bytes = 0;
	for (uint32_t i = 0; i < m->n_entries; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (!entry_valid(e) || e->index != m->index + 1 + i || e->term < prev ||
		    e->term > m->term)
			return RAFT_EINVAL;
		prev = e->term;
		bytes += e->len;
	}
	return bytes <= RAFT_MAX_MSG_BYTES ? 0 : RAFT_EINVAL;
}

static int validate(const struct raft *r, const struct raft_msg *m)
{
	if (m->type == 0 || m->type >= RAFT_MSG_TYPE_MAX_)
		return RAFT_EINVAL;
	if (m->from == 0 || m->from == r->id || m->to != r->id || m->term == 0 ||
	    m->term > RAFT_MAX_TERM)
		return RAFT_EINVAL;
	if (m->log_term > m->term)
		return RAFT_EINVAL;
	return validate_entries(m);
}

static bool in_lease(const struct raft *r)
{
	return r->check_quorum && r->lead != 0 && r->election_elapsed < r->election_tick;
}

static void reject_stale(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg resp;
	if (m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT || m->type == RAFT_MSG_SNAP) {
		/* A stale leader (back from a partition, or one whose followers
		 * moved on under a configuration it never saw) learns the newer
		 * term from this and steps down.  Always answered: terms may not
		 * spread through votes (pre-vote, leases, or candidates whose
		 * stale configuration does not name the stale leader). */
		msg_init(r, &resp, RAFT_MSG_APP_RESP, m->from);
		send_msg(r, &resp);
	} else if (m->type == RAFT_MSG_PRE_VOTE || m->type == RAFT_MSG_VOTE) {
		/* Tell a stuck (pre-)candidate about our term so it can catch up:
		 * a candidate whose configuration names only nodes that are ahead
		 * would otherwise campaign in a stale term forever (sim seed 38019). */
		msg_init(r, &resp, m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PRE_VOTE_RESP,
			 m->from);
		resp.reject = 1;
		send_msg(r, &resp);
	}
}

static int step_leader(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APP_RESP:
		return handle_append_response(r, m);
	case RAFT_MSG_HEARTBEAT_RESP:
		return handle_heartbeat_response(r, m);
	case RAFT_MSG_SNAP_RESP:
		return handle_snapshot_response(r, m);
	case RAFT_MSG_READ_INDEX:
		return handle_read_index(r, m);
	case RAFT_MSG_READ_INDEX_RESP:
		return handle_read_index_response(r, m);
	case RAFT_MSG_APP:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAP:
	case RAFT_MSG_TIMEOUT_NOW:
		/* Another leader in our own term is impossible among honest peers. */
		return RAFT_EINVAL;
	default:
		return 0; /* late vote responses */
	}
}

static int step_other(struct raft *r, const struct raft_msg *m)
{
	switch (m->type) {
	case RAFT_MSG_APP:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAP:
		if (r->role != RAFT_FOLLOWER)
			become_follower(r, r->term, m->from);
		r->lead = m->from;
		r->election_elapsed = 0;
		if (m->type == RAFT_MSG_APP)
			return handle_append(r, m);
		if (m->type == RAFT_MSG_HEARTBEAT)
			return handle_heartbeat(r, m);
		return handle_snapshot(r, m);
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_PRE_VOTE_RESP:
		return handle_vote_response(r, m);
	case RAFT_MSG_TIMEOUT_NOW:
		if (raft_promotable(r))
			start_election(r, true);
		return 0;
	case RAFT_MSG_READ_INDEX:
		return handle_read_index(r, m);
	case RAFT_MSG_READ_INDEX_RESP:
		return handle_read_index_response(r, m);
	default:
		return 0; /* responses meant for a leader we no longer are */
	}
}

static int step(struct raft *r, const struct raft_msg *m);

int raft_step(struct raft *r, const struct raft_msg *m)
{
	int rc = step(r, m);
	raft_check_invariants(r);
	return rc;
}

static int step(struct raft *r, const struct raft_msg *m)
{
	RAFT_ASSERT(!r->in_ready);
	if (!m)
		return RAFT_EINVAL;
	int rc = validate(r, m);
	if (rc != 0)
		return rc;
	bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PRE_VOTE;
	if (m->term > r->term) {
		if (vote_req && !m->transfer && in_lease(r))
			return 0; /* a healthy leader exists: do not let it be deposed */
		bool keep_term = m->type == RAFT_MSG_PRE_VOTE ||
		                 (m->type == RAFT_MSG_PRE_VOTE_RESP && !m->reject);
		if (!keep_term) {
			bool from_leader = m->type == RAFT_MSG_APP ||
			                   m->type == RAFT_MSG_HEARTBEAT ||
			                   m->type == RAFT_MSG_SNAP;
			become_follower(r, m->term, from_leader ? m->from : 0);
		}
	} else if (m->term < r->term) {
		reject_stale(r, m);
		return 0;
	}
	if (vote_req)
		return handle_vote_request(r, m);
	if (r->role == RAFT_LEADER)
		return step_leader(r, m);
	return step_other(r, m);
}

/* ---------------------------------------------------------------- proposals */

int raft_propose(struct raft *r, const void *data, uint32_t len, uint64_t *index_out,
                 uint64_t *term_out)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (r->transferee)
		return RAFT_EBUSY;
	if (len > RAFT_MAX_ENTRY_BYTES)
		return RAFT_ETOOBIG;
	if (len > 0 && !data)
		return RAFT_EINVAL;
	if (r->uncommitted_bytes > 0 && r->uncommitted_bytes + len > r->max_uncommitted_bytes)
		return RAFT_EAGAIN;
	uint64_t idx = 0;
	int rc = leader_append(r, RAFT_ENTRY_NORMAL, data, len, &idx);
	if (rc != 0)
		return rc;
	if (index_out)
		*index_out = idx;
	if (term_out)
		*term_out = r->term;
	return 0;
}

int raft_propose_conf_change(struct raft *r, uint8_t type, uint64_t node, const void *ctx,
                             uint32_t ctx_len, uint64_t *index_out)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (ctx_len > RAFT_MAX_CC_CONTEXT || (ctx_len > 0 && !ctx))
		return RAFT_EINVAL;
	/* One change at a time, and only once this leader committed in its term
	 * (otherwise an uncommitted change of a previous leader could overlap). */
	if (r->transferee || r->conf_index > r->commit || !raft_committed_in_term(r))
		return RAFT_EBUSY;
	int rc = conf_change_check(&r->conf, type, node);
	if (rc != 0)
		return rc;
	uint8_t buf[RAFT_CC_HEADER_SIZE + RAFT_MAX_CC_CONTEXT];
	int len = conf_change_encode(type, node, ctx, ctx_len, buf, sizeof buf);
	RAFT_ASSERT(len > 0);
	return leader_append(r, RAFT_ENTRY_CONF_CHANGE, buf, (uint32_t)len, index_out);
}

int raft_transfer_leader(struct raft *r, uint64_t to)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (to == r->id || !raft_conf_is_voter(&r->conf, to))
		return RAFT_EINVAL;
	if (r->transferee)
		return RAFT_EBUSY;
	struct raft_progress *pr = progress_find(r, to);
	RAFT_ASSERT(pr != NULL);
	r->transferee = to;
	r->election_elapsed = 0; /* the transfer has one election timeout */
	if (pr->match == log_last(&r->log))
		send_timeout_now(r, to);
	else
		send_append(r, pr, true);
	return 0;
}

int raft_compact(struct raft *r, uint64_t index, struct raft_snapshot_meta *meta_out)
{
	RAFT_ASSERT(!r->in_ready);
	if (index <= r->snap.index)
		return RAFT_ECOMPACTED;
	if (index > r->applied || index > r->log.stable)
		return RAFT_EINVAL;
	struct raft_snapshot_meta sm = {.index = index, .conf = r->snap.conf};
	for (uint64_t i = log_first(&r->log); i <= index; i++)
		conf_apply_entry(&sm.conf, log_get(&r->log, i));
	sm.term = log_term_or0(&r->log, index);
	RAFT_ASSERT(sm.term > 0);
	log_compact(&r->log, index);
	r->snap = sm;
	if (meta_out)
		*meta_out = sm;
	if (r->role == RAFT_LEADER) {
		/* Peers fetching an older snapshot restart with this one: the host
		 * keeps only its latest snapshot file. */
		for (uint32_t i = 0; i < r->n_prs; i++) {
			struct raft_progress *pr = &r->prs[i];
			if (pr->id != r->id && pr->state == RAFT_PROGRESS_SNAPSHOT &&
			    pr->snap_index != index) {
				progress_become_snapshot(pr, index);
				send_snapshot_chunk(r, pr);
			}
		}
	}
	return 0;
}

void raft_report_unreachable(struct raft *r, uint64_t peer)
{
	RAFT_ASSERT(!r->in_ready);
	if (r->role != RAFT_LEADER)
		return;
	struct raft_progress *pr = progress_find(r, peer);
	if (!pr || pr->id == r->id)
		return;
	if (pr->state == RAFT_PROGRESS_REPLICATE) {
		progress_become_probe(pr);
	} else if (pr->state == RAFT_PROGRESS_SNAPSHOT) {
		/* Restart from the first chunk after the usual retry delay. */
		pr->snap_offset = 0;
		pr->snap_inflight = true;
		pr->snap_wait = 0;
	}
}
