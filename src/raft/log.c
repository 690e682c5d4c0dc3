/* The in-memory log: entries after the last compaction point, each owning a
 * copy of its data, in one contiguous array so ranges can be lent out. */
#include "raft/internal.h"

#include <stdlib.h>
#include <string.h>

#define LOG_MIN_CAP 64u

void log_init(struct raft_log *l)
{
	memset(l, 0, sizeof *l);
}

static void entry_free(struct raft_entry *e)
{
	free((void *)e->data);
	e->data = NULL;
}

void log_close(struct raft_log *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->ents[l->off + i]);
	free(l->ents);
	memset(l, 0, sizeof *l);
}

uint64_t log_first(const struct raft_log *l)
{
	return l->snap_index + 1;
}

uint64_t log_last(const struct raft_log *l)
{
	return l->snap_index + l->n;
}

uint64_t log_last_term(const struct raft_log *l)
{
	return l->n ? l->ents[l->off + l->n - 1].term : l->snap_term;
}

const struct raft_entry *log_get(const struct raft_log *l, uint64_t i)
{
	if (i <= l->snap_index || i > log_last(l))
		return NULL;
	return &l->ents[l->off + (size_t)(i - l->snap_index - 1)];
}

bool log_term(const struct raft_log *l, uint64_t i, uint64_t *term)
{
	if (i == l->snap_index) {
		*term = l->snap_term;
		return true;
	}
	const struct raft_entry *e = log_get(l, i);
	if (!e)
		return false;
	*term = e->term;
	return true;
}

uint64_t log_term_or0(const struct raft_log *l, uint64_t i)
{
	uint64_t t = 0;
	return log_term(l, i, &t) ? t : 0;
}

bool entry_valid(const struct raft_entry *e)
{
	if (e->type >= RAFT_ENTRY_TYPE_MAX_ || e->len > RAFT_MAX_ENTRY_BYTES)
		return false;
	if (e->len > 0 && e->data == NULL)
		return false;
	return e->term > 0 && e->index > 0;
}

/* Makes room for `extra` more entries at the end, sliding live entries to the
 * front first when most of the array is dead space left by compaction. */
static int log_reserve(struct raft_log *l, size_t extra)
{
	if (l->off + l->n + extra <= l->cap)
		return 0;
	if (l->off > 0 && l->n + extra <= l->cap && l->off >= l->cap / 2) {
		memmove(l->ents, l->ents + l->off, l->n * sizeof *l->ents);
		l->off = 0;
		return 0;
	}
	size_t need = l->n + extra;
	size_t cap = l->cap ? l->cap : LOG_MIN_CAP;
	while (cap < need)
		cap *= 2;
	struct raft_entry *v = malloc(cap * sizeof *v);
	if (!v)
		return RAFT_ENOMEM;
	if (l->n)
		memcpy(v, l->ents + l->off, l->n * sizeof *v);
	free(l->ents);
	l->ents = v;
	l->off = 0;
	l->cap = cap;
	return 0;
}

int log_append(struct raft_log *l, const struct raft_entry *ents, size_t n)
{
	if (n == 0)
		return 0;
	RAFT_ASSERT(ents[0].index == log_last(l) + 1);
	if (log_reserve(l, n) != 0)
		return RAFT_ENOMEM;
	struct raft_entry *dst = &l->ents[l->off + l->n];
	size_t i;
	for (i = 0; i < n; i++) {
		dst[i] = ents[i];
		dst[i].data = NULL;
		if (ents[i].len > 0) {
			void *p = malloc(ents[i].len);
			if (!p)
				goto nomem;
			memcpy(p, ents[i].data, ents[i].len);
			dst[i].data = p;
		}
	}
	for (i = 0; i < n; i++) {
		RAFT_ASSERT(dst[i].index == log_last(l) + 1);
		RAFT_ASSERT(dst[i].term >= log_last_term(l));
		l->n++;
	}
	return 0;
nomem:
	while (i-- > 0)
		entry_free(&dst[i]);
	return RAFT_ENOMEM;
}

void log_truncate(struct raft_log *l, uint64_t from)
{
	RAFT_ASSERT(from > l->snap_index);
	if (from > log_last(l))
		return;
	size_t keep = (size_t)(from - l->snap_index - 1);
	for (size_t i = keep; i < l->n; i++)
		entry_free(&l->ents[l->off + i]);
	l->n = keep;
	if (l->stable >= from)
		l->stable = from - 1;
}

void log_compact(struct raft_log *l, uint64_t index)
{
	RAFT_ASSERT(index > l->snap_index && index <= log_last(l));
	size_t drop = (size_t)(index - l->snap_index);
	uint64_t term = l->ents[l->off + drop - 1].term;
	for (size_t i = 0; i < drop; i++)
		entry_free(&l->ents[l->off + i]);
	l->off += drop;
	l->n -= drop;
	l->snap_index = index;
	l->snap_term = term;
	if (l->n == 0)
		l->off = 0;
	if (l->stable < index)
		l->stable = index;
}

void log_reset(struct raft_log *l, uint64_t index, uint64_t term)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->ents[l->off + i]);
	l->off = 0;
	l->n = 0;
	l->snap_index = index;
	l->snap_term = term;
	l->stable = index;
}

uint64_t log_find_conflict_by_term(const struct raft_log *l, uint64_t i, uint64_t term)
{
	if (i > log_last(l))
		i = log_last(l);
	for (; i > l->snap_index; i--) {
		const struct raft_entry *e = log_get(l, i);
		if (e->term <= term)
			return i;
	}
	return l->snap_index;
}

bool log_up_to_date(const struct raft_log *l, uint64_t index, uint64_t term)
{
	uint64_t lt = log_last_term(l);
	return term > lt || (term == lt && index >= log_last(l));
}
