/* Elections: pre-vote, vote, tallying, and the transfer kick (TIMEOUT_NOW). */
#include "raft/internal.h"

enum tally { TALLY_PENDING, TALLY_WON, TALLY_LOST };

static void record_vote(struct raft *r, uint64_t from, bool granted)
{
	if (!raft_conf_is_voter(&r->conf, from))
		return;
	for (uint32_t i = 0; i < r->n_votes; i++)
		if (r->vote_from[i] == from)
			return;
	RAFT_ASSERT(r->n_votes < RAFT_MAX_NODES);
	r->vote_from[r->n_votes] = from;
	r->vote_granted[r->n_votes] = granted;
	r->n_votes++;
}

static enum tally tally(const struct raft *r)
{
	uint32_t yes = 0, no = 0, q = conf_quorum(&r->conf);
	for (uint32_t i = 0; i < r->n_votes; i++) {
		if (r->vote_granted[i])
			yes++;
		else
			no++;
	}
	if (yes >= q)
		return TALLY_WON;
	if (no > r->conf.n_voters - q)
		return TALLY_LOST;
	return TALLY_PENDING;
}

static void request_votes(struct raft *r, uint8_t type, bool transfer)
{
	/* A pre-vote asks "would you vote for me in the next term?" */
	uint64_t term = type == RAFT_MSG_PRE_VOTE ? r->term + 1 : r->term;
	for (uint32_t i = 0; i < r->conf.n_voters; i++) {
		uint64_t id = r->conf.voters[i];
		if (id == r->id)
			continue;
		struct raft_msg m;
		msg_init(r, &m, type, id);
		m.term = term;
		m.index = log_last(&r->log);
		m.log_term = log_last_term(&r->log);
		m.transfer = transfer;
		send_msg(r, &m);
	}
}

static void campaign(struct raft *r, bool transfer)
{
	become_candidate(r);
	record_vote(r, r->id, true);
	if (tally(r) == TALLY_WON) {
		become_leader(r);
		return;
	}
	request_votes(r, RAFT_MSG_VOTE, transfer);
}

void start_election(struct raft *r, bool transfer)
{
	RAFT_ASSERT(r->role != RAFT_LEADER && raft_promotable(r));
	if (!r->pre_vote || transfer) {
		campaign(r, transfer);
		return;
	}
	become_pre_candidate(r);
	record_vote(r, r->id, true);
	if (tally(r) == TALLY_WON) {
		campaign(r, false);
		return;
	}
	request_votes(r, RAFT_MSG_PRE_VOTE, false);
}

int handle_vote_request(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PRE_VOTE;
	bool can_vote =
	    r->vote == m->from || (r->vote == 0 && r->lead == 0) || (pre && m->term > r->term);
#ifdef RAFT_BUG_VOTE_NO_LOG_CHECK
	bool up_to_date = true;
#else
	bool up_to_date = log_up_to_date(&r->log, m->index, m->log_term);
#endif
	struct raft_msg resp;
	msg_init(r, &resp, pre ? RAFT_MSG_PRE_VOTE_RESP : RAFT_MSG_VOTE_RESP, m->from);
	if (can_vote && up_to_date) {
		/* Grants carry the requested term so a pre-candidate can count them. */
		resp.term = m->term;
		if (!pre) {
			r->vote = m->from;
			r->election_elapsed = 0;
		}
	} else {
		resp.reject = 1;
	}
	send_msg(r, &resp);
	return 0;
}

int handle_vote_response(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PRE_VOTE_RESP;
	if ((pre && r->role != RAFT_PRE_CANDIDATE) || (!pre && r->role != RAFT_CANDIDATE))
		return 0;
	if (pre && !m->reject && m->term != r->term + 1)
		return 0; /* a grant for some older pre-vote round */
	record_vote(r, m->from, !m->reject);
	switch (tally(r)) {
	case TALLY_WON:
		if (pre)
			campaign(r, false);
		else
			become_leader(r);
		break;
	case TALLY_LOST:
		become_follower(r, r->term, 0);
		break;
	case TALLY_PENDING:
		break;
	}
	return 0;
}

void send_timeout_now(struct raft *r, uint64_t to)
{
	struct raft_msg m;
	msg_init(r, &m, RAFT_MSG_TIMEOUT_NOW, to);
	send_msg(r, &m);
}
