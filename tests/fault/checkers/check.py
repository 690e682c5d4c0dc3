#!/usr/bin/env python3
"""check.py: runs every checker over one fault-injection run.

    check.py --history H.jsonl --final FINAL.json --trees DIR [--seed S]

Prints one summary line per checker (status, ops checked, time) and every
anomaly; exits 0 when everything was verified, 1 on any anomaly or on a
check that could not be decided (UNKNOWN: a search ran out of budget),
2 when the input cannot be read.  On failure it prints the seed and the
replay hint, and for a register the smallest history window that shows
the anomaly, as a timeline.
"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# This directory holds queue.py: keep it off sys.path (it would shadow the
# standard library's queue) and import the checkers as a package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

from checkers import appends, convergence, counter, history  # noqa: E402
from checkers import linearizability  # noqa: E402
from checkers import queue as queue_checker  # noqa: E402
from checkers.result import CheckResult  # noqa: E402


def load_trees(path):
    """DIR with tree-<node>.txt files -> {node: [lines]}."""
    trees = {}
    for name in sorted(os.listdir(path)):
        if not (name.startswith("tree-") and name.endswith(".txt")):
            continue
        with open(os.path.join(path, name), "r", encoding="utf-8",
                  errors="surrogateescape") as fh:
            trees[name[len("tree-"):-len(".txt")]] = [
                line.rstrip("\n") for line in fh]
    return trees


def _missing(name, what, n):
    r = CheckResult(name, checked=n)
    r.unknown.append("the final state has no %r: %d ops unchecked" % (what, n))
    return r


def run_all(events, final, trees, budget=linearizability.DEFAULT_BUDGET,
            time_limit=None, final_reads=True, cas_fail_observes=False,
            do_shrink=True):
    """Every checker over parsed events, the final state and the tree
    dumps -> list of CheckResult.  Pure (no I/O)."""
    ops = history.pair(events)
    t_end = history.end_time(events)
    fs = {o.f for o in ops}
    known = (set(linearizability.REGISTER_FS) | set(queue_checker.QUEUE_FS)
             | set(appends.APPEND_FS) | set(counter.COUNTER_FS))
    unknown_fs = sorted(str(f) for f in fs - known)
    if unknown_fs:
        raise history.HistoryError("unknown op(s) %s" % ", ".join(unknown_fs))
    results = [linearizability.check(
        ops, final.get("registers") if final_reads else None, t_end,
        budget=budget, time_limit=time_limit,
        cas_fail_observes=cas_fail_observes, do_shrink=do_shrink)]
    n_q = sum(1 for o in ops if o.f in queue_checker.QUEUE_FS)
    if "queue_drained" not in final and n_q:
        results.append(_missing("queue", "queue_drained", n_q))
    else:
        results.append(queue_checker.check(ops, final.get("queue_drained", []),
                                           t_end))
    n_a = sum(1 for o in ops if o.f in appends.APPEND_FS)
    if "log" not in final and n_a:
        results.append(_missing("appends", "log", n_a))
    else:
        results.append(appends.check(ops, final.get("log", [])))
    results.append(counter.check(ops, final.get("counter")))
    results.append(convergence.check(trees))
    return results


def report(results, seed=None, replay_args="...", out=sys.stdout):
    """Prints the summary and anomalies; returns the exit status."""
    w = out.write
    for r in results:
        w("%-16s %-7s %7d checked %8.2f s   %s\n" % (
            r.name, r.status(), r.checked, r.elapsed, "; ".join(r.notes)))
    bad = [r for r in results if not r.ok]
    for r in bad:
        for a in r.anomalies:
            w("\n[%s] ANOMALY: %s\n" % (r.name, "\n    ".join(a.lines())))
        for u in r.unknown:
            w("\n[%s] UNKNOWN: %s\n" % (r.name, u))
    n_anom = sum(len(r.anomalies) for r in results)
    n_unk = sum(len(r.unknown) for r in results)
    if not bad:
        w("\nall checks passed\n")
        return 0
    w("\nFAILED: %d anomal%s, %d undecided check%s\n" % (
        n_anom, "y" if n_anom == 1 else "ies", n_unk, "" if n_unk == 1 else "s"))
    w("seed: %s\n" % (seed if seed is not None else "unknown (pass --seed)"))
    w("replay: tests/fault/run.py --seed %s %s\n" % (
        seed if seed is not None else "S", replay_args))
    return 1


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--history", required=True, help="history, JSON Lines")
    p.add_argument("--final", required=True, help="FINAL.json")
    p.add_argument("--trees", required=True, help="directory of tree-NODE.txt")
    p.add_argument("--seed", help="the run's seed (printed for replay)")
    p.add_argument("--replay-args", default="...",
                   help="the rest of the run.py command line, for the hint")
    p.add_argument("--budget", type=int, default=linearizability.DEFAULT_BUDGET,
                   help="memoised states per linearizability search "
                        "(default %(default)d)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds per linearizability search (default: none)")
    p.add_argument("--no-final-reads", action="store_true",
                   help="do not check FINAL.json registers as final reads")
    p.add_argument("--cas-fail-observes", action="store_true",
                   help="a cas failed with ECANCELED proves the register "
                        "differed from the expected value")
    p.add_argument("--no-shrink", action="store_true",
                   help="do not search for the smallest failing window")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        events = history.load(a.history)
        with open(a.final, "r", encoding="utf-8") as fh:
            final = json.load(fh)
        if not isinstance(final, dict):
            raise history.HistoryError("%s: not a JSON object" % a.final)
        trees = load_trees(a.trees)
        results = run_all(events, final, trees, budget=a.budget,
                          time_limit=a.time_limit,
                          final_reads=not a.no_final_reads,
                          cas_fail_observes=a.cas_fail_observes,
                          do_shrink=not a.no_shrink)
    except (OSError, ValueError) as e:
        sys.stderr.write("check.py: %s\n" % e)
        return 2
    status = report(results, a.seed, a.replay_args)
    sys.stdout.write("(%d events, checked in %.2f s)\n"
                     % (len(events), time.perf_counter() - t0))
    return status


if __name__ == "__main__":
    sys.exit(main())
