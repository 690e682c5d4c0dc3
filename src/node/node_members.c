/* node_members.c: the liveness table behind members/ (INTERFACE.md §5).
 *
 * Nothing here goes through the Raft log or the Raft core.  Every heartbeat
 * interval a node that is not the leader sends the leader its own record (a
 * NET_LIVENESS of one record), and the leader sends its whole table, each
 * record with its age, to every member that hears it.  The leader's table
 * holds what each member last reported; every other node holds the last
 * table the leader sent.  A record is live while its age (as sent, plus the time since it
 * arrived here) stays under --dead-after; this node's own record is rebuilt
 * every tick and always live.
 *
 * Loop thread only, except node_members() (any thread): it reads the copy
 * published under members_mu, a leaf lock. */
#include "node/node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t node_dead_after_ms(const struct node *n)
{
	return n->opt.dead_after_ms ? n->opt.dead_after_ms : NODE_DEAD_AFTER_MS;
}

static const char *role_name(uint8_t role)
{
	switch (role) {
	case NET_ROLE_LEADER:
		return "leader";
	case NET_ROLE_FOLLOWER:
		return "follower";
	case NET_ROLE_CANDIDATE:
		return "candidate";
	case NET_ROLE_LEARNER:
		return "learner";
	}
	return "unknown";
}

/* How old a record is at `now` (monotonic ms). */
static uint64_t live_age(const struct node_live *l, uint64_t now)
{
	return l->age_ms + (now > l->heard_ms ? now - l->heard_ms : 0);
}

static struct node_live *live_find(struct node *n, uint64_t id)
{
	for (unsigned i = 0; i < n->n_live; i++)
		if (n->live[i].id == id)
			return &n->live[i];
	return NULL;
}

/* The slot of `id`, added if new.  A full table gives up its oldest record
 * (never this node's own): the newcomer was heard just now. */
static struct node_live *live_slot(struct node *n, uint64_t id, uint64_t now)
{
	struct node_live *l = live_find(n, id);
	if (l)
		return l;
	if (n->n_live < NET_MAX_MEMBERS) {
		l = &n->live[n->n_live++];
	} else {
		for (unsigned i = 0; i < n->n_live; i++)
			if (n->live[i].id != n->id &&
			    (!l || live_age(&n->live[i], now) > live_age(l, now)))
				l = &n->live[i];
	}
	memset(l, 0, sizeof *l);
	l->id = id;
	return l;
}

static void live_remove(struct node *n, unsigned i)
{
	n->live[i] = n->live[--n->n_live];
}

/* Copies a received record; false when it does not describe the node it
 * names (ids derive from names), so it is not kept. */
static bool live_from_rec(struct node_live *l, const struct net_member_rec *r, uint64_t now)
{
	if (node_id_of(r->name) != r->id)
		return false;
	l->id = r->id;
	l->term = r->term;
	l->applied = r->applied;
	l->load_milli = r->load_milli;
	l->uptime_s = r->uptime_s;
	l->role = r->role;
	l->age_ms = r->last_seen_ms;
	l->heard_ms = now;
	snprintf(l->name, sizeof l->name, "%s", r->name);
	snprintf(l->address, sizeof l->address, "%s", r->address);
	snprintf(l->version, sizeof l->version, "%s", r->version);
	return true;
}

static void live_to_rec(const struct node_live *l, struct net_member_rec *r, uint64_t now)
{
	uint64_t age = live_age(l, now);
	r->id = l->id;
	r->term = l->term;
	r->applied = l->applied;
	r->load_milli = l->load_milli;
	r->uptime_s = l->uptime_s;
	r->last_seen_ms = age > UINT32_MAX ? UINT32_MAX : (uint32_t)age;
	r->role = l->role;
	r->name = l->name;
	r->address = l->address;
	r->version = l->version;
}

/* This node's own record, fresh. */
static void live_self(struct node *n, uint64_t now)
{
	struct raft_status st;
	raft_status(n->raft, &st);
	struct node_live *l = live_slot(n, n->id, now);
	l->term = st.term;
	l->applied = st.applied;
	/* A single node (no network, the only voter) is the leader; Raft only
	 * says so after its first election timeout. */
	bool alone = !n->net && st.conf.n_voters == 1 && st.conf.voters[0] == n->id &&
	             st.conf.n_learners == 0;
	if (st.role == RAFT_LEADER || alone)
		l->role = NET_ROLE_LEADER;
	else if (st.role == RAFT_CANDIDATE || st.role == RAFT_PRE_CANDIDATE)
		l->role = NET_ROLE_CANDIDATE;
	else if (st.is_learner)
		l->role = NET_ROLE_LEARNER;
	else
		l->role = NET_ROLE_FOLLOWER;
	double load[1];
	double milli = getloadavg(load, 1) == 1 && load[0] > 0 ? load[0] * 1000.0 : 0;
	l->load_milli = milli >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(milli + 0.5);
	uint64_t up = (now - n->start_ms) / 1000;
	l->uptime_s = up > UINT32_MAX ? UINT32_MAX : (uint32_t)up;
	l->age_ms = 0;
	l->heard_ms = now;
	snprintf(l->name, sizeof l->name, "%s", n->name);
	snprintf(l->address, sizeof l->address, "%s", n->advertise ? n->advertise : "");
	snprintf(l->version, sizeof l->version, "%s", QFS_VERSION);
}

/* Publishes the table for node_members(), sorted by name (byte order). */
static void live_publish(struct node *n)
{
	unsigned order[NET_MAX_MEMBERS];
	for (unsigned i = 0; i < n->n_live; i++) {
		unsigned k = i;
		for (; k > 0 && strcmp(n->live[order[k - 1]].name, n->live[i].name) > 0; k--)
			order[k] = order[k - 1];
		order[k] = i;
	}
	pthread_mutex_lock(&n->members_mu);
	for (unsigned i = 0; i < n->n_live; i++)
		n->members_copy[i] = n->live[order[i]];
	n->n_members_copy = n->n_live;
	pthread_mutex_unlock(&n->members_mu);
}

void node_members_init(struct node *n)
{
	pthread_mutex_init(&n->members_mu, NULL);
	n->start_ms = node_mono_ms();
}

void node_members_fini(struct node *n)
{
	pthread_mutex_destroy(&n->members_mu);
}

void node_members_refresh(struct node *n)
{
	live_self(n, node_mono_ms());
	live_publish(n);
}

/* Leader: forget records of nodes that left the configuration. */
static void live_prune(struct node *n, const struct raft_status *st)
{
	for (unsigned i = 0; i < n->n_live;) {
		uint64_t id = n->live[i].id;
		if (id != n->id && !raft_conf_is_voter(&st->conf, id) &&
		    !raft_conf_is_learner(&st->conf, id))
			live_remove(n, i);
		else
			i++;
	}
}

static void live_send(struct node *n, uint64_t now)
{
	struct net_member_rec recs[NET_MAX_MEMBERS];
	struct net_msg m = {.kind = NET_LIVENESS};
	if (n->leader == n->id) {
		struct raft_status st;
		raft_status(n->raft, &st);
		live_prune(n, &st);
		for (unsigned i = 0; i < n->n_live; i++)
			live_to_rec(&n->live[i], &recs[i], now);
		m.u.live.count = n->n_live;
		m.u.live.members = recs;
		/* To the members that hear us: active, and holding some of our
		 * log, so they know the cluster id (a node that just joined does
		 * not until Raft reaches it, and would drop the table as another
		 * cluster's). */
		for (uint32_t i = 0; i < st.n_progress; i++) {
			const struct raft_progress_status *pr = &st.progress[i];
			if (pr->id == n->id || !pr->recent_active || pr->match == 0)
				continue;
			m.to = pr->id;
			net_send(n->net, &m); /* lost like a heartbeat: the next one follows */
		}
	} else if (n->leader) {
		live_to_rec(live_find(n, n->id), &recs[0], now);
		m.to = n->leader;
		m.u.live.count = 1;
		m.u.live.members = recs;
		net_send(n->net, &m);
	}
}

void node_members_tick(struct node *n)
{
	uint64_t now = node_mono_ms();
	live_self(n, now);
	/* A node that does not know its cluster id yet would only have its
	 * messages dropped as another cluster's. */
	if (n->net && n->cluster_id && ++n->live_ticks >= n->opt.heartbeat_ticks) {
		n->live_ticks = 0;
		live_send(n, now);
	}
	live_publish(n);
}

void node_handle_liveness(struct node *n, const struct net_msg *m)
{
	const struct net_liveness *lv = &m->u.live;
	uint64_t now = node_mono_ms();
	if (n->leader == n->id) {
		/* A member's report: its own record, and only from a member. */
		if (lv->count != 1 || lv->members[0].id != m->from || m->from == n->id)
			return;
		struct raft_status st;
		raft_status(n->raft, &st);
		if (!raft_conf_is_voter(&st.conf, m->from) &&
		    !raft_conf_is_learner(&st.conf, m->from))
			return;
		struct node_live l;
		if (!live_from_rec(&l, &lv->members[0], now))
			return;
		*live_slot(n, m->from, now) = l;
	} else if (n->leader && m->from == n->leader) {
		/* The leader's table replaces ours; our own record stays ours. */
		if (!live_find(n, n->id))
			live_self(n, now);
		struct node_live self = *live_find(n, n->id);
		n->live[0] = self;
		n->n_live = 1;
		for (uint32_t i = 0; i < lv->count && n->n_live < NET_MAX_MEMBERS; i++) {
			const struct net_member_rec *r = &lv->members[i];
			if (r->id == n->id || live_find(n, r->id))
				continue;
			if (live_from_rec(&n->live[n->n_live], r, now))
				n->n_live++;
		}
	} else {
		return; /* not from whom we follow: a deposed leader, or a stray */
	}
	live_publish(n);
}

unsigned node_members(struct node *n, struct node_member_info *out, unsigned cap)
{
	uint64_t dead = node_dead_after_ms(n);
	unsigned k = 0;
	pthread_mutex_lock(&n->members_mu);
	uint64_t now = node_mono_ms();
	for (unsigned i = 0; i < n->n_members_copy && k < cap; i++) {
		const struct node_live *l = &n->members_copy[i];
		bool self = l->id == n->id;
		uint64_t age = self ? 0 : live_age(l, now);
		if (age >= dead)
			continue;
		struct node_member_info *o = &out[k++];
		memset(o, 0, sizeof *o);
		snprintf(o->name, sizeof o->name, "%s", l->name);
		snprintf(o->address, sizeof o->address, "%s", l->address);
		snprintf(o->role, sizeof o->role, "%s", role_name(l->role));
		snprintf(o->version, sizeof o->version, "%s", l->version);
		o->term = l->term;
		o->last_seen_ms = age;
		o->applied = l->applied;
		o->load = l->load_milli / 1000.0;
		o->uptime_s = l->uptime_s;
	}
	pthread_mutex_unlock(&n->members_mu);
	return k;
}
