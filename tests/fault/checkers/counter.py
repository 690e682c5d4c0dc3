"""counter.py: the counter ctr/c counted every acknowledged increment once.

Ops: incr (ok: applied exactly once; fail: not applied; info: applied 0
or 1 times).  The final value (FINAL.json "counter") must lie in
[ok, ok + info]: below means an acknowledged increment was lost, above
means an increment was applied twice or a failed one was applied.
"""
import time

try:
    from .result import Anomaly, CheckResult
except ImportError:
    from result import Anomaly, CheckResult

COUNTER_FS = ("incr",)


def check(ops_all, final_counter):
    """ops_all: history.Op list (other ops ignored); final_counter: int or
    None (missing from the final state)."""
    started = time.perf_counter()
    ops = [o for o in ops_all if o.f in COUNTER_FS]
    res = CheckResult("counter", checked=len(ops))
    n_ok = sum(1 for o in ops if o.outcome == "ok")
    n_info = sum(1 for o in ops if o.outcome == "info")
    n_fail = len(ops) - n_ok - n_info
    lo, hi = n_ok, n_ok + n_info
    if final_counter is None:
        if ops:
            res.unknown.append("no final counter value: %d increments unchecked"
                               % len(ops))
    elif isinstance(final_counter, bool) or not isinstance(final_counter, int):
        res.anomalies.append(Anomaly("final counter is not an integer: %r"
                                     % (final_counter,)))
    elif final_counter < lo:
        res.anomalies.append(Anomaly(
            "counter too low: final %d < %d acknowledged increments (%d lost)"
            % (final_counter, lo, lo - final_counter),
            ["%d ok, %d info, %d fail increments; allowed [%d, %d]"
             % (n_ok, n_info, n_fail, lo, hi)]))
    elif final_counter > hi:
        res.anomalies.append(Anomaly(
            "counter too high: final %d > %d ok + %d info increments (%d extra)"
            % (final_counter, n_ok, n_info, final_counter - hi),
            ["%d ok, %d info, %d fail increments; allowed [%d, %d]"
             % (n_ok, n_info, n_fail, lo, hi)]))
    res.notes.append("final %s in [%d, %d] (%d ok, %d info, %d fail)" % (
        final_counter, lo, hi, n_ok, n_info, n_fail))
    res.elapsed = time.perf_counter() - started
    return res
