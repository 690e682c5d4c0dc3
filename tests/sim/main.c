/* sim: command line.
 *
 *   sim --seed S [-v]                 one seed; -v prints every event
 *   --trace N                         events shown with a violation (default 300,
 *                                     at most 2000; -v shows them all)
 *   sim --seeds N [--start S]         seeds S..S+N-1, summary line at the end
 *   sim --soak N [--start S]          the same, with a progress line every 1000 seeds
 *   --expect-violation                planted-bug self-test: exit 0 at the first
 *                                     safety violation, 1 if no seed finds one
 *                                     (liveness failures are noted, not counted)
 *   --expect-invariant 3,4            the same, counting only these invariants
 *   --no-ack-check                    disable invariant 7 (to watch a durability
 *                                     bug surface as lost commits instead)
 *   --no-self-conf                    the leader never demotes/removes itself
 *   --check-commit-rule               also check Raft 5.4.2 directly (a leader
 *                                     commits only onto an entry of its term)
 *   --profile 0|1                     force the general or the leader-churn profile
 * Exit status: 0 when no violation (or, with --expect-violation, when one was found).
 */
#include "sim.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static struct sim *g_current; /* for the abort handler only */

static void on_abort(int sig)
{
	signal(sig, SIG_DFL);
	if (g_current) {
		fprintf(stdout,
		        "\nABORT (signal %d, a core assertion?) seed=%" PRIu64 " step=%" PRIu64
		        "\nlast events:\n",
		        sig, g_current->seed, g_current->stats.steps);
		sim_trace_dump(g_current, stdout, 120);
		fprintf(stdout, "replay: sim --seed %" PRIu64 " -v\n", g_current->seed);
		fflush(stdout);
	}
	raise(sig);
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: sim --seed S [-v] [--trace N] | --seeds N [--start S] | --soak N [--start S]\n"
	    "           [--expect-violation | --expect-invariant N,M] [--no-ack-check]\n"
	    "           [--no-self-conf]\n");
	exit(2);
}

/* Does the violation "N name: ..." match the list "N,M"?  No list: any
 * safety invariant (everything but liveness). */
static bool wanted(const char *violation, const char *list)
{
	if (!list)
		return strncmp(violation, "liveness", 8) != 0;
	char c = violation[0];
	if (c < '0' || c > '9')
		return false;
	for (const char *p = list; *p; p++)
		if (*p == c && (p == list || p[-1] == ','))
			return true;
	return false;
}

static uint64_t num(const char *s)
{
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 0);
	if (!end || *end)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	uint64_t seed = 0, count = 0, start = 1;
	bool one = false, soak = false, expect = false;
	const char *expect_inv = NULL; /* e.g. "3,4": only these invariant numbers count */
	struct sim_opts o = {
	    .verbose = false, .check_ack_durable = true, .self_conf_changes = true, .profile = -1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--seed") && i + 1 < argc)
			seed = num(argv[++i]), one = true;
		else if (!strcmp(a, "--seeds") && i + 1 < argc)
			count = num(argv[++i]);
		else if (!strcmp(a, "--soak") && i + 1 < argc)
			count = num(argv[++i]), soak = true;
		else if (!strcmp(a, "--start") && i + 1 < argc)
			start = num(argv[++i]);
		else if (!strcmp(a, "-v") || !strcmp(a, "--verbose"))
			o.verbose = true;
		else if (!strcmp(a, "--expect-violation"))
			expect = true;
		else if (!strcmp(a, "--expect-invariant") && i + 1 < argc)
			expect = true, expect_inv = argv[++i];
		else if (!strcmp(a, "--no-ack-check"))
			o.check_ack_durable = false;
		else if (!strcmp(a, "--profile") && i + 1 < argc)
			o.profile = (int)num(argv[++i]);
		else if (!strcmp(a, "--trace") && i + 1 < argc)
			o.trace_lines = (unsigned)num(argv[++i]);
		else if (!strcmp(a, "--check-commit-rule"))
			o.check_commit_rule = true;
		else if (!strcmp(a, "--no-self-conf"))
			o.self_conf_changes = false;
		else
			usage();
	}
	if (one) {
		start = seed;
		count = 1;
	}
	if (count == 0)
		usage();
	signal(SIGABRT, on_abort);
	signal(SIGSEGV, on_abort);

	struct sim *s = malloc(sizeof *s);
	if (!s)
		return 2;
	uint64_t violations = 0, steps = 0, ticks = 0, first_bad = 0, commits = 0, elections = 0;
	uint64_t step_errors = 0, acked = 0, reads = 0, snaps = 0, ran = 0;
	for (uint64_t k = 0; k < count; k++) {
		uint64_t sd = start + k;
		sim_init(s, sd, &o);
		g_current = s;
		int bad = sim_run(s);
		ran++;
		steps += s->stats.steps;
		ticks += s->stats.ticks;
		commits += s->stats.max_commit;
		elections += s->stats.elections;
		step_errors += s->stats.step_errors;
		acked += s->stats.proposals_ok;
		reads += s->stats.reads_ok;
		snaps += s->stats.snapshots_installed;
		if (one && !bad)
			printf("seed %" PRIu64 ": ok, %" PRIu64 " steps, %" PRIu64
			       " ticks, %" PRIu64 " elections, max term %" PRIu64
			       ", commit %" PRIu64 ", %" PRIu64 " writes acked, %" PRIu64
			       " reads, %" PRIu64 " crashes, %" PRIu64
			       " snapshots installed, %" PRIu64 " step errors\n",
			       sd, s->stats.steps, s->stats.ticks, s->stats.elections,
			       s->stats.max_term, s->stats.max_commit, s->stats.proposals_ok,
			       s->stats.reads_ok, s->stats.crashes, s->stats.snapshots_installed,
			       s->stats.step_errors);
		if (bad && expect && !wanted(s->violation, expect_inv)) {
			/* the planted bugs are safety bugs: a stuck cluster, or another
			 * invariant than the bug breaks, proves nothing about it */
			printf("note: seed %" PRIu64
			       " violated something else (ignored here): %s\n",
			       sd, s->violation);
			bad = 0;
		}
		if (bad) {
			if (!violations)
				first_bad = sd;
			violations++;
			if (expect) {
				printf("planted bug caught by seed %" PRIu64 " (after %" PRIu64
				       " seeds): %s\n",
				       sd, k + 1, s->violation);
				if (!o.verbose)
					sim_report(s, stdout);
			} else if (violations <= 3 || one) {
				if (!o.verbose || !one)
					sim_report(s, stdout);
				else
					printf("VIOLATION seed=%" PRIu64 ": %s\n", sd,
					       s->violation);
			} else {
				printf("VIOLATION seed=%" PRIu64 ": %s\n", sd, s->violation);
			}
		}
		g_current = NULL;
		sim_destroy(s);
		if (bad && expect)
			break;
		if (soak && (k + 1) % 1000 == 0) {
			printf("progress: %" PRIu64 " seeds, %" PRIu64 " violations\n", k + 1,
			       violations);
			fflush(stdout);
		}
	}
	free(s);
	if (!one)
		printf("summary: seeds=%" PRIu64 " (start %" PRIu64 ") steps=%" PRIu64
		       " ticks=%" PRIu64 " elections=%" PRIu64 " commits=%" PRIu64
		       " acked_writes=%" PRIu64 " reads=%" PRIu64 " snapshots=%" PRIu64
		       " step_errors=%" PRIu64 " violations=%" PRIu64 "\n",
		       ran, start, steps, ticks, elections, commits, acked, reads, snaps,
		       step_errors, violations);
	if (violations && !one)
		printf("first violating seed: %" PRIu64 "\n", first_bad);
	if (expect) {
		if (!violations)
			printf("planted bug NOT caught in %" PRIu64 " seeds\n", count);
		return violations ? 0 : 1;
	}
	return violations ? 1 : 0;
}
