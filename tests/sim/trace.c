/* trace: a ring of the last formatted events (printed on a violation) and,
 * with -v, a live copy of every event on stdout. */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

void sim_trace(struct sim *s, const char *fmt, ...)
{
	char *line = s->trace[s->n_trace % SIM_TRACE_LINES];
	int off = snprintf(line, SIM_TRACE_WIDTH, "[%7" PRIu64 "] t=%5" PRIu64 ".%02" PRIu64 " ",
	                   s->stats.steps, s->now / SIM_TICK, s->now % SIM_TICK);
	if (off < 0 || (size_t)off >= SIM_TRACE_WIDTH)
		off = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + off, SIM_TRACE_WIDTH - (size_t)off, fmt, ap);
	va_end(ap);
	s->n_trace++;
	if (s->verbose)
		printf("%s\n", line);
}

void sim_trace_dump(const struct sim *s, FILE *f, unsigned last)
{
	uint64_t n = s->n_trace < SIM_TRACE_LINES ? s->n_trace : SIM_TRACE_LINES;
	if (last < n)
		n = last;
	for (uint64_t i = s->n_trace - n; i < s->n_trace; i++)
		fprintf(f, "  %s\n", s->trace[i % SIM_TRACE_LINES]);
}

void sim_fail(struct sim *s, const char *inv, const char *fmt, ...)
{
	if (s->violated)
		return;
	s->violated = true;
	int off = snprintf(s->violation, sizeof s->violation, "%s: ", inv);
	if (off < 0 || (size_t)off >= sizeof s->violation)
		off = 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->violation + off, sizeof s->violation - (size_t)off, fmt, ap);
	va_end(ap);
	sim_trace(s, "VIOLATION %s", s->violation);
}

const char *sim_fmt_msg(char *buf, size_t cap, const struct raft_msg *m)
{
	int n = snprintf(buf, cap, "%s %" PRIu64 "->%" PRIu64 " t%" PRIu64,
	                 raft_msg_type_name(m->type), m->from, m->to, m->term);
	size_t off = n > 0 && (size_t)n < cap ? (size_t)n : 0;
	switch (m->type) {
	case RAFT_MSG_APP:
		if (m->n_entries)
			snprintf(buf + off, cap - off,
			         " prev=%" PRIu64 "/%" PRIu64 " ents=[%" PRIu64 "..%" PRIu64
			         "]x%u(t%" PRIu64 "..%" PRIu64 ") c%" PRIu64,
			         m->index, m->log_term, m->entries[0].index,
			         m->entries[m->n_entries - 1].index, m->n_entries,
			         m->entries[0].term, m->entries[m->n_entries - 1].term, m->commit);
		else
			snprintf(buf + off, cap - off,
			         " prev=%" PRIu64 "/%" PRIu64 " ents=[] c%" PRIu64, m->index,
			         m->log_term, m->commit);
		break;
	case RAFT_MSG_APP_RESP:
		snprintf(buf + off, cap - off,
		         " %s i%" PRIu64 " hint=%" PRIu64 "/%" PRIu64 " c%" PRIu64,
		         m->reject ? "REJECT" : "ok", m->index, m->reject_hint, m->reject_hint_term,
		         m->commit);
		break;
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PRE_VOTE:
		snprintf(buf + off, cap - off, " last=%" PRIu64 "/%" PRIu64 "%s", m->index,
		         m->log_term, m->transfer ? " transfer" : "");
		break;
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_PRE_VOTE_RESP:
		snprintf(buf + off, cap - off, " %s", m->reject ? "REJECT" : "GRANT");
		break;
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_HEARTBEAT_RESP:
		snprintf(buf + off, cap - off, " c%" PRIu64 " seq%" PRIu64, m->commit, m->seq);
		break;
	case RAFT_MSG_SNAP:
		snprintf(buf + off, cap - off,
		         " snap=%" PRIu64 "/%" PRIu64 " off=%" PRIu64 " len=%u%s", m->snap_index,
		         m->snap_term, m->snap_offset, m->snap_len, m->snap_last ? " last" : "");
		break;
	case RAFT_MSG_SNAP_RESP:
		snprintf(buf + off, cap - off, " snap=%" PRIu64 " next=%" PRIu64 "%s",
		         m->snap_index, m->snap_offset, m->reject ? " REJECT" : "");
		break;
	case RAFT_MSG_READ_INDEX:
		snprintf(buf + off, cap - off, " ctx=%" PRIu64, m->context);
		break;
	case RAFT_MSG_READ_INDEX_RESP:
		snprintf(buf + off, cap - off, " ctx=%" PRIu64 " i%" PRIu64 "%s", m->context,
		         m->index, m->reject ? " REJECT" : "");
		break;
	default:
		break;
	}
	return buf;
}
