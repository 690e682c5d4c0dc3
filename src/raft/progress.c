/* A leader's per-peer replication progress: probe / replicate / snapshot
 * states and the ring of APP messages in flight. */
#include "raft/internal.h"

#include <string.h>

struct raft_progress *progress_find(struct raft *r, uint64_t id)
{
	for (uint32_t i = 0; i < r->n_prs; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

static void progress_init(struct raft *r, struct raft_progress *pr, uint64_t id)
{
	memset(pr, 0, sizeof *pr);
	pr->id = id;
	pr->next = log_last(&r->log) + 1;
	pr->state = RAFT_PROGRESS_PROBE;
	/* A new peer gets a full check-quorum window before it counts as lost. */
	pr->recent_active = true;
}

/* Rebuilds the progress table from the configuration, keeping the state of
 * peers that stay.  Our own entry is kept too (match = persisted index). */
void progress_sync_conf(struct raft *r)
{
	struct raft_progress old[RAFT_MAX_NODES];
	uint32_t n_old = r->n_prs;
	memcpy(old, r->prs, n_old * sizeof old[0]);
	r->n_prs = 0;
	for (uint32_t k = 0; k < 2; k++) {
		const uint64_t *ids = k == 0 ? r->conf.voters : r->conf.learners;
		uint32_t n = k == 0 ? r->conf.n_voters : r->conf.n_learners;
		for (uint32_t i = 0; i < n; i++) {
			struct raft_progress *pr = &r->prs[r->n_prs++];
			uint32_t j;
			for (j = 0; j < n_old; j++)
				if (old[j].id == ids[i])
					break;
			if (j < n_old)
				*pr = old[j];
			else
				progress_init(r, pr, ids[i]);
			pr->is_learner = k == 1;
		}
	}
}

void progress_reset_all(struct raft *r)
{
	r->n_prs = 0;
	progress_sync_conf(r);
	for (uint32_t i = 0; i < r->n_prs; i++) {
		struct raft_progress *pr = &r->prs[i];
		bool learner = pr->is_learner;
		progress_init(r, pr, pr->id);
		pr->is_learner = learner;
		pr->recent_active = pr->id == r->id;
	}
}

void infl_add(struct raft_progress *pr, uint64_t last)
{
	RAFT_ASSERT(pr->infl_count < RAFT_MAX_INFLIGHT);
	pr->infl[(pr->infl_start + pr->infl_count) % RAFT_MAX_INFLIGHT] = last;
	pr->infl_count++;
}

void infl_free_to(struct raft_progress *pr, uint64_t index)
{
	while (pr->infl_count > 0 && pr->infl[pr->infl_start] <= index) {
		pr->infl_start = (pr->infl_start + 1) % RAFT_MAX_INFLIGHT;
		pr->infl_count--;
	}
}

void infl_free_first(struct raft_progress *pr)
{
	if (pr->infl_count > 0) {
		pr->infl_start = (pr->infl_start + 1) % RAFT_MAX_INFLIGHT;
		pr->infl_count--;
	}
}

bool infl_full(const struct raft *r, const struct raft_progress *pr)
{
	return pr->infl_count >= r->max_inflight;
}

static void progress_reset_state(struct raft_progress *pr, uint8_t state)
{
	pr->state = state;
	pr->probe_sent = false;
	pr->infl_start = 0;
	pr->infl_count = 0;
	pr->snap_index = 0;
	pr->snap_offset = 0;
	pr->snap_inflight = false;
	pr->snap_wait = 0;
}

void progress_become_probe(struct raft_progress *pr)
{
	/* After a snapshot, probe right after it; otherwise after the match. */
	uint64_t next = pr->match + 1;
	if (pr->state == RAFT_PROGRESS_SNAPSHOT && pr->snap_index + 1 > next)
		next = pr->snap_index + 1;
	progress_reset_state(pr, RAFT_PROGRESS_PROBE);
	pr->next = next;
}

void progress_become_replicate(struct raft_progress *pr)
{
	progress_reset_state(pr, RAFT_PROGRESS_REPLICATE);
	pr->next = pr->match + 1;
}

void progress_become_snapshot(struct raft_progress *pr, uint64_t snap_index)
{
	progress_reset_state(pr, RAFT_PROGRESS_SNAPSHOT);
	pr->snap_index = snap_index;
}

bool progress_paused(const struct raft *r, const struct raft_progress *pr)
{
	switch (pr->state) {
	case RAFT_PROGRESS_PROBE:
		return pr->probe_sent;
	case RAFT_PROGRESS_REPLICATE:
		return infl_full(r, pr);
	default:
		return true;
	}
}

/* An acknowledgement up to `index`.  True when it told us something new. */
bool progress_maybe_update(struct raft_progress *pr, uint64_t index)
{
	bool updated = false;
	if (pr->match < index) {
		pr->match = index;
		updated = true;
		pr->probe_sent = false;
	}
	if (pr->next < index + 1)
		pr->next = index + 1;
	return updated;
}

/* A rejection of the APP whose preceding index was `rejected`; `hint` is the
 * highest index that might still match.  False for stale rejections. */
bool progress_maybe_decr(struct raft_progress *pr, uint64_t rejected, uint64_t hint)
{
	if (pr->state == RAFT_PROGRESS_REPLICATE) {
		if (rejected <= pr->match)
			return false;
		pr->next = pr->match + 1;
		return true;
	}
	if (pr->next == 0 || pr->next - 1 != rejected)
		return false;
	if (rejected <= pr->match) {
		/* It no longer holds what it acknowledged (lost its disk?): believe
		 * it, or we would probe the same index forever. */
		uint64_t m = rejected > 0 ? rejected - 1 : 0;
		pr->match = hint < m ? hint : m;
	}
	uint64_t next = rejected < hint + 1 ? rejected : hint + 1;
	if (next < pr->match + 1)
		next = pr->match + 1;
	pr->next = next;
	pr->probe_sent = false;
	return true;
}
