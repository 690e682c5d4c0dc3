/* driver: the scenario a seed describes, the random fault/workload events of
 * the safety phase, and the liveness phase (heal, restart, require progress). */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define PICK(r, ...)                                                                               \
	((uint32_t)sim_rng_pick((r), (const uint32_t[]){__VA_ARGS__},                              \
	                        sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t)))

/* ---------------------------------------------------------------- scenario */

void sim_scenario_gen(struct sim_rng *r, struct sim_scenario *sc, int force_profile)
{
	memset(sc, 0, sizeof *sc);
	sc->n_voters = PICK(r, 1, 2, 3, 3, 3, 3, 4, 5, 5, 5);
	uint32_t extra = PICK(r, 0, 0, 1, 2, 3);
	for (uint32_t i = 0; i < extra; i++) {
		if (sim_rng_ppm(r, 500000))
			sc->n_learners++;
		else
			sc->n_joiners++;
	}
	sc->n_nodes = sc->n_voters + sc->n_learners + sc->n_joiners;

	struct raft_config *c = &sc->cfg;
	c->election_tick = (uint32_t)sim_rng_range(r, 4, 16);
	c->heartbeat_tick =
	    (uint32_t)sim_rng_range(r, 1, c->election_tick / 3 ? c->election_tick / 3 : 1);
	c->pre_vote = sim_rng_ppm(r, 500000);
	c->check_quorum = sim_rng_ppm(r, 500000);
	c->max_inflight = PICK(r, 0, 1, 2, 4, 16);
	c->max_msg_entries = PICK(r, 0, 1, 1, 2, 4);
	c->max_msg_bytes = PICK(r, 0, 0, 1, 300);

	/* chaos level: calm runs check progress, wild ones hunt for bugs */
	uint32_t wild = PICK(r, 0, 1, 2, 2, 3);
	sc->delay_min = (uint32_t)sim_rng_range(r, 1, SIM_TICK / 2);
	sc->delay_max = sc->delay_min + (uint32_t)sim_rng_range(r, 0, 3 * SIM_TICK);
	sc->long_delay_ppm = wild ? PICK(r, 0, 2000, 10000) : 0;
	sc->long_delay_max = (uint32_t)sim_rng_range(r, 2, 4) * c->election_tick * SIM_TICK;
	sc->loss_ppm = wild ? PICK(r, 0, 10000, 50000, 150000) : 0;
	sc->dup_ppm = wild ? PICK(r, 0, 10000, 50000) : 0;
	sc->disk_slow_ppm = PICK(r, 0, 100000, 500000, 1000000);
	sc->disk_delay_max = (uint32_t)sim_rng_range(r, 1, 3 * SIM_TICK);
	sc->sm_sync_ppm = PICK(r, 1000000, 500000, 100000);

	uint32_t et = c->election_tick;
	sc->crash_ppm = wild ? PICK(r, 0, 2000, 5000, 15000) : PICK(r, 0, 1000);
	sc->crash_leader_ppm = wild >= 2 ? PICK(r, 0, 3000, 10000, 30000) / (et / 4 + 1) : 0;
	sc->restart_ppm = PICK(r, 20000, 50000, 200000);
	sc->partition_ppm = wild ? PICK(r, 0, 3000, 10000, 30000) : 0;
	sc->heal_ppm = PICK(r, 10000, 30000, 100000);

	sc->propose_ppm = PICK(r, 100000, 300000, 600000, 900000);
	sc->propose_burst = PICK(r, 1, 1, 2, 4);
	sc->read_ppm = PICK(r, 0, 50000, 200000);
	sc->conf_ppm = sc->n_nodes > 1 ? PICK(r, 0, 3000, 10000, 30000) : 0;
	sc->transfer_ppm = PICK(r, 0, 2000, 10000);
	sc->compact_ppm = PICK(r, 0, 5000, 20000, 60000);
	sc->campaign_ppm = wild ? PICK(r, 0, 2000, 10000) : 0;
	sc->snap_pad =
	    sim_rng_ppm(r, 200000) ? (uint32_t)sim_rng_range(r, 1, RAFT_SNAP_CHUNK * 5 / 2) : 0;
	sc->payload_max = (uint32_t)sim_rng_range(r, 0, 120);

	sc->safety_ticks = (uint32_t)sim_rng_range(r, 150, 600);

	bool churn = sim_rng_ppm(r, 300000);
	if (force_profile >= 0)
		churn = force_profile == 1;
	if (churn) {
		/* leader churn: short-lived leaders that each write a little to a
		 * minority (isolated or crashed soon after election), one entry
		 * per message, so that an old-term entry can reach a majority
		 * before the new leader's own entry does (Raft figure 8) */
		sc->profile = 1;
		sc->n_voters = PICK(r, 3, 3, 5);
		sc->n_learners = sc->n_joiners = 0;
		sc->n_nodes = sc->n_voters;
		c->election_tick = (uint32_t)sim_rng_range(r, 4, 8);
		c->heartbeat_tick = 1;
		c->max_inflight = PICK(r, 1, 1, 2);
		c->max_msg_entries = 1;
		c->pre_vote = sim_rng_ppm(r, 300000);
		c->check_quorum = sim_rng_ppm(r, 300000);
		et = c->election_tick;
		sc->delay_min = (uint32_t)sim_rng_range(r, SIM_TICK / 2, 2 * SIM_TICK);
		sc->delay_max =
		    sc->delay_min + (uint32_t)sim_rng_range(r, SIM_TICK / 2, 2 * SIM_TICK);
		sc->loss_ppm = PICK(r, 0, 20000, 100000);
		sc->crash_ppm = PICK(r, 2000, 10000);
		sc->crash_leader_ppm = PICK(r, 10000, 30000, 60000);
		sc->restart_ppm = PICK(r, 100000, 300000);
		sc->partition_ppm = PICK(r, 30000, 60000, 100000);
		sc->heal_ppm = PICK(r, 50000, 150000);
		sc->propose_ppm = PICK(r, 600000, 900000);
		sc->propose_burst = PICK(r, 1, 2);
		sc->conf_ppm = 0;
		sc->campaign_ppm = PICK(r, 0, 5000, 20000);
		sc->depose_ppm = PICK(r, 0, 300000, 600000);
		sc->depose_max = (uint32_t)sim_rng_range(r, SIM_TICK, 4 * SIM_TICK);
	}
	sc->liveness_ticks = 60 * et + 200;
}

/* ---------------------------------------------------------------- helpers */

static struct sim_node *random_up(struct sim *s, bool need_idle)
{
	struct sim_node *c[SIM_MAX_NODES];
	unsigned k = 0;
	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i].up && (!need_idle || !s->nodes[i].in_ready))
			c[k++] = &s->nodes[i];
	return k ? c[sim_rng_below(&s->rng, k)] : NULL;
}

static struct sim_node *random_leader(struct sim *s)
{
	struct sim_node *c[SIM_MAX_NODES];
	unsigned k = 0;
	for (uint32_t i = 0; i < s->n_nodes; i++)
		if (s->nodes[i].up && s->nodes[i].st.role == RAFT_LEADER)
			c[k++] = &s->nodes[i];
	return k ? c[sim_rng_below(&s->rng, k)] : NULL;
}

static struct sim_node *top_leader(struct sim *s)
{
	struct sim_node *best = NULL;
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct sim_node *n = &s->nodes[i];
		if (n->up && n->st.role == RAFT_LEADER && (!best || n->st.term > best->st.term))
			best = n;
	}
	return best;
}

static void propose(struct sim *s, struct sim_node *n, bool liveness)
{
	if (s->n_props + 1 > s->cap_props) {
		s->cap_props = s->cap_props ? s->cap_props * 2 : 256;
		s->props = realloc(s->props, s->cap_props * sizeof *s->props);
		if (!s->props)
			abort();
	}
	if (s->n_props == 0)
		memset(&s->props[s->n_props++], 0, sizeof *s->props);
	uint64_t id = s->n_props;
	size_t len = sim_payload(s, id);
	uint64_t index = 0, term = 0;
	s->stats.proposals++;
	int rc = raft_propose(n->r, s->payload, (uint32_t)len, &index, &term);
	sim_trace(s, "n%" PRIu64 " propose #%" PRIu64 "%s -> %s %" PRIu64 "/t%" PRIu64, n->id, id,
	          liveness ? " (liveness)" : "", rc ? raft_strerror(rc) : "ok", index, term);
	if (rc)
		return;
	struct sim_proposal *p = &s->props[s->n_props++];
	memset(p, 0, sizeof *p);
	p->node = n->id;
	p->incarnation = n->incarnation;
	p->index = index;
	p->term = term;
	p->liveness = liveness;
	sim_node_pump(s, n);
}

static void partition(struct sim *s)
{
	uint32_t nn = s->n_nodes;
	for (uint32_t i = 0; i < nn; i++)
		for (uint32_t j = 0; j < nn; j++)
			s->link[i][j] = true;
	uint32_t mode = (uint32_t)sim_rng_below(&s->rng, 4);
	if (s->sc.profile == 1)
		mode = sim_rng_ppm(&s->rng, 600000) ? 1 : (uint32_t)sim_rng_below(&s->rng, 3);
	struct sim_node *l = random_leader(s);
	char desc[128];
	int off = 0;
	if (mode == 0 || (mode == 1 && !l)) { /* random bipartition */
		bool side[SIM_MAX_NODES];
		off += snprintf(desc + off, sizeof desc - (size_t)off, "split {");
		for (uint32_t i = 0; i < nn; i++) {
			side[i] = sim_rng_ppm(&s->rng, 500000);
			if (side[i])
				off +=
				    snprintf(desc + off, sizeof desc - (size_t)off, " %u", i + 1);
		}
		snprintf(desc + off, sizeof desc - (size_t)off, " } | rest");
		for (uint32_t i = 0; i < nn; i++)
			for (uint32_t j = 0; j < nn; j++)
				if (side[i] != side[j])
					s->link[i][j] = false;
	} else if (mode == 1 || mode == 2) { /* isolate the leader or a random node */
		struct sim_node *v = mode == 1 ? l : &s->nodes[sim_rng_below(&s->rng, nn)];
		uint32_t k = (uint32_t)(v->id - 1);
		snprintf(desc, sizeof desc, "isolate n%" PRIu64 "%s", v->id,
		         mode == 1 ? " (leader)" : "");
		for (uint32_t j = 0; j < nn; j++)
			s->link[k][j] = s->link[j][k] = false;
	} else { /* asymmetric: cut some directed links */
		off += snprintf(desc, sizeof desc, "one-way cuts:");
		uint32_t cuts = (uint32_t)sim_rng_range(&s->rng, 1, nn * 2);
		for (uint32_t c = 0; c < cuts; c++) {
			uint32_t a = (uint32_t)sim_rng_below(&s->rng, nn);
			uint32_t b = (uint32_t)sim_rng_below(&s->rng, nn);
			if (a == b)
				continue;
			s->link[a][b] = false;
			if (off < (int)sizeof desc - 12)
				off += snprintf(desc + off, sizeof desc - (size_t)off, " %u->%u",
				                a + 1, b + 1);
		}
	}
	s->stats.partitions++;
	sim_trace(s, "PARTITION %s", desc);
}

static void heal(struct sim *s)
{
	for (uint32_t i = 0; i < s->n_nodes; i++)
		for (uint32_t j = 0; j < s->n_nodes; j++)
			s->link[i][j] = true;
	sim_trace(s, "HEAL");
}

/* Partial heal: one node gets all its links back. */
static void reconnect_one(struct sim *s)
{
	uint32_t k = (uint32_t)sim_rng_below(&s->rng, s->n_nodes);
	for (uint32_t j = 0; j < s->n_nodes; j++)
		s->link[k][j] = s->link[j][k] = true;
	sim_trace(s, "RECONNECT n%u", k + 1);
}

static bool partitioned(const struct sim *s)
{
	for (uint32_t i = 0; i < s->n_nodes; i++)
		for (uint32_t j = 0; j < s->n_nodes; j++)
			if (!s->link[i][j])
				return true;
	return false;
}

static void conf_change(struct sim *s, struct sim_node *l)
{
	const struct raft_conf *c = &l->st.conf;
	uint64_t cand_type[4 * SIM_MAX_NODES], cand_node[4 * SIM_MAX_NODES];
	unsigned k = 0;
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		uint64_t id = i + 1;
		bool v = raft_conf_is_voter(c, id), le = raft_conf_is_learner(c, id);
		if (id == l->id && !s->self_conf_changes)
			continue;
		if (!v && !le) {
			cand_type[k] = RAFT_CC_ADD_LEARNER, cand_node[k++] = id;
			cand_type[k] = RAFT_CC_ADD_LEARNER, cand_node[k++] = id;
		}
		if (le) {
			cand_type[k] = RAFT_CC_PROMOTE, cand_node[k++] = id;
			cand_type[k] = RAFT_CC_PROMOTE, cand_node[k++] = id;
			cand_type[k] = RAFT_CC_REMOVE, cand_node[k++] = id;
		}
		if (v && c->n_voters > 1) {
			cand_type[k] = RAFT_CC_DEMOTE, cand_node[k++] = id;
			if (c->n_voters > 2 || sim_rng_ppm(&s->rng, 300000))
				cand_type[k] = RAFT_CC_REMOVE, cand_node[k++] = id;
		}
	}
	if (!k)
		return;
	unsigned pick = (unsigned)sim_rng_below(&s->rng, k);
	char ctx[32];
	int clen = snprintf(ctx, sizeof ctx, "sim-node-%" PRIu64, cand_node[pick]);
	uint64_t index = 0;
	int rc = raft_propose_conf_change(l->r, (uint8_t)cand_type[pick], cand_node[pick], ctx,
	                                  (uint32_t)clen, &index);
	sim_trace(s, "n%" PRIu64 " CONF %s n%" PRIu64 " -> %s @%" PRIu64, l->id,
	          raft_cc_type_name((int)cand_type[pick]), cand_node[pick],
	          rc ? raft_strerror(rc) : "ok", index);
	if (!rc)
		s->stats.conf_ok++;
	sim_node_pump(s, l);
}

static void issue_read(struct sim *s, struct sim_node *n)
{
	if (n->n_reads >= SIM_MAX_READS)
		return;
	uint64_t ctx = ++s->next_read_ctx;
	int rc = raft_read_index(n->r, ctx);
	sim_trace(s, "n%" PRIu64 " read-index ctx=%" PRIu64 " (needs >= %" PRIu64 ") -> %s", n->id,
	          ctx, s->max_acked_index, rc ? raft_strerror(rc) : "ok");
	if (rc)
		return;
	struct sim_read *r = &n->reads[n->n_reads++];
	r->ctx = ctx;
	r->need = s->max_acked_index;
	r->need_id = s->max_acked_id;
	r->index = 0;
	sim_node_pump(s, n);
}

/* ---------------------------------------------------------------- safety phase */

static void safety_tick(struct sim *s)
{
	const struct sim_scenario *sc = &s->sc;
	struct sim_rng *r = &s->rng;
	struct sim_node *n;

	if (sim_rng_ppm(r, sc->crash_ppm) && (n = random_up(s, false)))
		sim_node_crash(s, n, "random");
	if (sim_rng_ppm(r, sc->crash_leader_ppm) && (n = random_leader(s)))
		sim_node_crash(s, n, "leader");
	for (uint32_t i = 0; i < s->n_nodes && !s->violated; i++) {
		n = &s->nodes[i];
		if (!n->up && !n->retired && sim_rng_ppm(r, sc->restart_ppm)) {
			s->stats.restarts++;
			sim_node_start(s, n);
			sim_node_pump(s, n);
		}
	}
	if (s->violated)
		return;
	if (sim_rng_ppm(r, sc->partition_ppm))
		partition(s);
	else if (partitioned(s) && sim_rng_ppm(r, sc->heal_ppm)) {
		if (sc->profile == 1 && sim_rng_ppm(r, 500000))
			reconnect_one(s);
		else
			heal(s);
	}

	if (sim_rng_ppm(r, sc->propose_ppm)) {
		uint32_t burst = (uint32_t)sim_rng_range(r, 1, sc->propose_burst);
		for (uint32_t b = 0; b < burst && !s->violated; b++) {
			n = random_up(s, true);
			if (n && n->st.role != RAFT_LEADER) {
				/* the host forwards to the leader it knows */
				struct sim_node *l = sim_node_by_id(s, n->st.leader);
				n = l && l->up && !l->in_ready && l->st.role == RAFT_LEADER ? l
				                                                            : NULL;
			}
			/* clients have bounded concurrency: no new writes while the
			 * leader already holds SIM_MAX_BACKLOG uncommitted entries */
			if (n && n->st.last_index - n->st.commit > SIM_MAX_BACKLOG)
				n = NULL;
			if (n)
				propose(s, n, false);
			else
				s->stats.skipped_busy++;
		}
	}
	if (sim_rng_ppm(r, sc->read_ppm) && (n = random_up(s, true)))
		issue_read(s, n);
	if (sim_rng_ppm(r, sc->conf_ppm) && (n = random_leader(s)) && !n->in_ready)
		conf_change(s, n);
	if (sim_rng_ppm(r, sc->transfer_ppm) && (n = random_leader(s)) && !n->in_ready &&
	    n->st.conf.n_voters > 1) {
		uint64_t to = n->st.conf.voters[sim_rng_below(r, n->st.conf.n_voters)];
		if (to != n->id) {
			int rc = raft_transfer_leader(n->r, to);
			sim_trace(s, "n%" PRIu64 " TRANSFER to n%" PRIu64 " -> %s", n->id, to,
			          rc ? raft_strerror(rc) : "ok");
			if (!rc)
				s->stats.transfers_ok++;
			sim_node_pump(s, n);
		}
	}
	if (sim_rng_ppm(r, sc->compact_ppm) && (n = random_up(s, true)) &&
	    n->sm.n > n->dlog.snap_index) {
		uint64_t lo = n->dlog.snap_index + 1, hi = n->sm.n;
		uint64_t idx = sim_rng_ppm(r, 500000) ? hi : sim_rng_range(r, lo, hi);
		sim_node_compact(s, n, idx);
		sim_node_pump(s, n);
	}
	if (sim_rng_ppm(r, sc->campaign_ppm) && (n = random_up(s, true)) && n->st.is_voter &&
	    n->st.role != RAFT_LEADER) {
		int rc = raft_campaign(n->r);
		sim_trace(s, "n%" PRIu64 " CAMPAIGN -> %s", n->id, rc ? raft_strerror(rc) : "ok");
		sim_node_pump(s, n);
	}
}

/* ---------------------------------------------------------------- liveness phase */

static void liveness_begin(struct sim *s)
{
	s->phase = SIM_LIVENESS;
	s->liveness_start = s->now;
	s->liveness_end = s->now + (uint64_t)s->sc.liveness_ticks * SIM_TICK;
	s->next_liveness_propose = s->now;
	sim_trace(s, "=== LIVENESS: heal, restart everyone, no faults; %u ticks to converge",
	          s->sc.liveness_ticks);
	heal(s);
	for (uint32_t i = 0; i < s->n_nodes && !s->violated; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up && !n->retired) {
			s->stats.restarts++;
			sim_node_start(s, n);
			sim_node_pump(s, n);
		}
	}
}

static bool member(const struct raft_conf *c, uint64_t id)
{
	return raft_conf_is_voter(c, id) || raft_conf_is_learner(c, id);
}

static void liveness_tick(struct sim *s)
{
	struct sim_node *l = top_leader(s);
	if (!l)
		return;
	const struct raft_conf *conf = &l->st.conf;
	/* nodes outside the (committed) configuration are shut down, as an
	 * operator would; the leader itself steps down on its own */
	bool conf_committed = l->st.conf_index <= l->st.commit;
	for (uint32_t i = 0; i < s->n_nodes && !s->violated; i++) {
		struct sim_node *n = &s->nodes[i];
		bool m = member(conf, n->id);
		if (n->up && !m && conf_committed && n != l) {
			n->retired = true;
			sim_node_crash(s, n, "not a member: shut down");
		} else if (m && n->retired) {
			n->retired = false;
			sim_node_start(s, n);
			sim_node_pump(s, n);
		}
	}
	if (s->violated || !l->up)
		return;
	/* converged: a liveness write is applied by every member */
	for (size_t id = 1; id < s->n_props; id++) {
		const struct sim_proposal *p = &s->props[id];
		if (!p->liveness || !p->committed_index)
			continue;
		bool all = true;
		for (uint32_t i = 0; i < s->n_nodes && all; i++) {
			struct sim_node *n = &s->nodes[i];
			if (member(conf, n->id) && (!n->up || n->sm.n < p->committed_index))
				all = false;
		}
		if (all) {
			s->converged = true;
			sim_trace(s,
			          "=== CONVERGED: write #%zu at index %" PRIu64
			          " applied by every member after %" PRIu64 " ticks",
			          id, p->committed_index, (s->now - s->liveness_start) / SIM_TICK);
			return;
		}
	}
	if (s->now >= s->next_liveness_propose && !l->in_ready) {
		propose(s, l, true);
		s->next_liveness_propose = s->now + 3ull * s->sc.cfg.election_tick * SIM_TICK;
	}
}

static void describe_nodes(struct sim *s, FILE *f)
{
	for (uint32_t i = 0; i < s->n_nodes; i++) {
		struct sim_node *n = &s->nodes[i];
		if (!n->up) {
			fprintf(f,
			        "  n%" PRIu64 ": %s, durable hs{t%" PRIu64 " v%" PRIu64 " c%" PRIu64
			        "} log %" PRIu64 "..%" PRIu64 " applied %" PRIu64 "\n",
			        n->id, n->retired ? "retired" : "down", n->dhs.term, n->dhs.vote,
			        n->dhs.commit, n->dlog.snap_index, sim_log_last(&n->dlog),
			        n->dapplied);
			continue;
		}
		const struct raft_status *st = &n->st;
		fprintf(f,
		        "  n%" PRIu64 ": %-13s t%" PRIu64 " v%" PRIu64 " lead=%" PRIu64
		        " commit=%" PRIu64 " applied=%" PRIu64 " log %" PRIu64 "..%" PRIu64
		        "/t%" PRIu64 " voters={",
		        n->id, raft_role_name(st->role), st->term, st->vote, st->leader, st->commit,
		        st->applied, st->snap_index, st->last_index, st->last_term);
		for (uint32_t k = 0; k < st->conf.n_voters; k++)
			fprintf(f, " %" PRIu64, st->conf.voters[k]);
		fprintf(f, " } learners={");
		for (uint32_t k = 0; k < st->conf.n_learners; k++)
			fprintf(f, " %" PRIu64, st->conf.learners[k]);
		fprintf(f, " }%s\n", n->in_ready ? " (disk busy)" : "");
		for (uint32_t k = 0; k < st->n_progress; k++) {
			const struct raft_progress_status *p = &st->progress[k];
			fprintf(f,
			        "      -> n%" PRIu64 " match=%" PRIu64 " next=%" PRIu64
			        " %s%s inflight=%u\n",
			        p->id, p->match, p->next, raft_progress_state_name(p->state),
			        p->recent_active ? " active" : "", p->inflight);
		}
	}
}

/* Leader churn: some new leaders are cut off (isolated or crashed) a moment
 * after their election, leaving their first entries on a minority. */
void sim_on_new_leader(struct sim *s, struct sim_node *n)
{
	if (s->phase != SIM_SAFETY || !sim_rng_ppm(&s->rng, s->sc.depose_ppm))
		return;
	uint64_t d = sim_rng_range(&s->rng, 1, s->sc.depose_max);
	sim_heap_push(s, (struct sim_event){.time = s->now + d,
	                                    .kind = SIM_EV_DEPOSE,
	                                    .node = (uint8_t)(n->id - 1),
	                                    .gen = n->st.term});
}

static void depose(struct sim *s, struct sim_node *n, uint64_t term)
{
	if (s->phase != SIM_SAFETY || !n->up || n->st.role != RAFT_LEADER || n->st.term != term)
		return;
	if (sim_rng_ppm(&s->rng, 650000)) {
		sim_node_crash(s, n, "deposed leader");
		return;
	}
	uint32_t k = (uint32_t)(n->id - 1);
	for (uint32_t j = 0; j < s->n_nodes; j++)
		s->link[k][j] = s->link[j][k] = false;
	s->stats.partitions++;
	sim_trace(s, "PARTITION isolate n%" PRIu64 " (new leader of term %" PRIu64 ")", n->id,
	          term);
}

/* ---------------------------------------------------------------- run */

void sim_handle_event(struct sim *s, struct sim_event *ev)
{
	switch (ev->kind) {
	case SIM_EV_DRIVER:
		s->stats.ticks++;
		if (s->phase == SIM_SAFETY && s->now >= (uint64_t)s->sc.safety_ticks * SIM_TICK)
			liveness_begin(s);
		if (s->violated)
			return;
		if (s->phase == SIM_SAFETY)
			safety_tick(s);
		else
			liveness_tick(s);
		sim_heap_push(s,
		              (struct sim_event){.time = s->now + SIM_TICK, .kind = SIM_EV_DRIVER});
		break;
	case SIM_EV_TICK:
		sim_node_tick(s, &s->nodes[ev->node]);
		sim_heap_push(s, (struct sim_event){.time = s->now + SIM_TICK,
		                                    .kind = SIM_EV_TICK,
		                                    .node = ev->node});
		break;
	case SIM_EV_DELIVER:
		sim_net_deliver(s, ev->msg, ev->node);
		break;
	case SIM_EV_DISK:
		sim_node_disk_done(s, &s->nodes[ev->node], ev->gen);
		break;
	case SIM_EV_DEPOSE:
		depose(s, &s->nodes[ev->node], ev->gen);
		break;
	default:
		abort();
	}
}

void sim_init(struct sim *s, uint64_t seed, const struct sim_opts *o)
{
	memset(s, 0, sizeof *s);
	s->seed = seed;
	s->verbose = o->verbose;
	s->check_ack_durable = o->check_ack_durable;
	s->self_conf_changes = o->self_conf_changes;
	s->check_commit_rule = o->check_commit_rule;
	s->trace_lines = o->trace_lines ? o->trace_lines : 300;
	s->trace = calloc(SIM_TRACE_LINES, sizeof *s->trace);
	if (!s->trace)
		abort();
	sim_rng_seed(&s->rng, seed);
	sim_scenario_gen(&s->rng, &s->sc, o->profile);
}

int sim_run(struct sim *s)
{
	const struct sim_scenario *sc = &s->sc;
	const struct raft_config *c = &sc->cfg;
	sim_trace(s,
	          "seed %" PRIu64
	          ": %u voters, %u learners, %u joiners; election %u heartbeat %u%s%s"
	          " inflight %u msg_entries %u msg_bytes %u",
	          s->seed, sc->n_voters, sc->n_learners, sc->n_joiners, c->election_tick,
	          c->heartbeat_tick, c->pre_vote ? " pre-vote" : "",
	          c->check_quorum ? " check-quorum" : "", c->max_inflight, c->max_msg_entries,
	          c->max_msg_bytes);
	sim_trace(
	    s,
	    "  net delay %u..%u long %u ppm loss %u dup %u; disk slow %u ppm <=%u; crash %u/%u "
	    "restart %u partition %u heal %u; propose %u x%u read %u conf %u transfer %u "
	    "compact %u campaign %u depose %u/%u pad %u; safety %u ticks, liveness <= %u",
	    sc->delay_min, sc->delay_max, sc->long_delay_ppm, sc->loss_ppm, sc->dup_ppm,
	    sc->disk_slow_ppm, sc->disk_delay_max, sc->crash_ppm, sc->crash_leader_ppm,
	    sc->restart_ppm, sc->partition_ppm, sc->heal_ppm, sc->propose_ppm, sc->propose_burst,
	    sc->read_ppm, sc->conf_ppm, sc->transfer_ppm, sc->compact_ppm, sc->campaign_ppm,
	    sc->depose_ppm, sc->depose_max, sc->snap_pad, sc->safety_ticks, sc->liveness_ticks);
	sim_cluster_init(s);
	for (uint32_t i = 0; i < s->n_nodes; i++)
		sim_heap_push(s, (struct sim_event){.time = sim_rng_below(&s->rng, SIM_TICK),
		                                    .kind = SIM_EV_TICK,
		                                    .node = (uint8_t)i});
	sim_heap_push(s, (struct sim_event){.time = 0, .kind = SIM_EV_DRIVER});
	for (uint32_t i = 0; i < s->n_nodes && !s->violated; i++)
		sim_node_pump(s, &s->nodes[i]);
	sim_check_step(s);

	struct sim_event ev;
	while (!s->violated && !s->converged && sim_heap_pop(s, &ev)) {
		s->now = ev.time;
		if (s->phase == SIM_LIVENESS && s->now >= s->liveness_end) {
			sim_msg_free(ev.msg);
			sim_fail(
			    s, "liveness",
			    "no write was committed and applied by every member within %u ticks "
			    "of healing (leader: %s)",
			    sc->liveness_ticks, top_leader(s) ? "yes" : "none");
			break;
		}
		s->stats.steps++;
		sim_handle_event(s, &ev);
		if (!s->violated)
			sim_check_step(s);
	}
	s->phase = SIM_DONE;
	return s->violated ? 1 : 0;
}

void sim_report(struct sim *s, FILE *f)
{
	fprintf(f, "VIOLATION seed=%" PRIu64 " step=%" PRIu64 " tick=%" PRIu64 "\n  %s\n", s->seed,
	        s->stats.steps, s->now / SIM_TICK, s->violation);
	fprintf(f, "last events:\n");
	sim_trace_dump(s, f, s->trace_lines);
	fprintf(f, "nodes:\n");
	describe_nodes(s, f);
	fprintf(f, "replay: sim --seed %" PRIu64 " -v\n", s->seed);
}

void sim_destroy(struct sim *s)
{
	sim_cluster_free(s);
	sim_checker_free(s);
	free(s->trace);
	s->trace = NULL;
}
