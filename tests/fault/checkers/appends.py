"""appends.py: the appended log (log/a, `>>`) holds what was acknowledged.

Ops: append (value: a unique line).  The final state (FINAL.json "log")
is the file's lines in order.

Checks:
1. every ok-appended line is in the log exactly once (not lost, not
   doubled);
2. a line whose append failed is not in the log;
3. a line whose append is info is there at most once;
4. every line of the log was appended by some op (no unknown line);
5. order: if append(a) completed ok before append(b) was invoked and both
   lines are in the log, a comes first (appends are committed in order,
   so a committed append is never passed by a later one).
"""
import time

try:
    from .history import fmt_ms, fmt_value
    from .result import Anomaly, CheckResult
except ImportError:
    from history import fmt_ms, fmt_value
    from result import Anomaly, CheckResult

APPEND_FS = ("append",)
MAX_LISTED = 20


def _desc(op, t0=0):
    end = op.end()
    return "append op %r (%s proc %s, %s..%s ms, %s%s)" % (
        op.i, op.node, op.proc, fmt_ms(op.inv - t0),
        fmt_ms(end - t0) if end is not None else "-", op.outcome,
        " " + op.errno if op.errno else "")


def check(ops_all, log_lines, t0=0):
    """ops_all: history.Op list (other ops ignored); log_lines: the final
    file's lines in order."""
    started = time.perf_counter()
    res = CheckResult("appends")
    ops = [o for o in ops_all if o.f in APPEND_FS]
    log_lines = list(log_lines or ())
    res.checked = len(ops)
    by_line = {}
    for op in ops:
        if op.value in by_line:
            res.anomalies.append(Anomaly(
                "line %s appended by two ops (%r and %r): lines must be unique"
                % (fmt_value(op.value), by_line[op.value].i, op.i)))
            continue
        by_line[op.value] = op
    positions = {}
    for pos, line in enumerate(log_lines):
        positions.setdefault(line, []).append(pos)

    for line, pos in positions.items():
        op = by_line.get(line)
        if op is None:
            res.anomalies.append(Anomaly(
                "unknown line %s in the log (line %s): no op appended it"
                % (fmt_value(line), ", ".join(str(p + 1) for p in pos))))
            continue
        if op.outcome == "fail":
            res.anomalies.append(Anomaly(
                "line %s of a failed append is in the log (line %s)" % (
                    fmt_value(line), ", ".join(str(p + 1) for p in pos)),
                [_desc(op, t0)]))
        if len(pos) > 1:
            res.anomalies.append(Anomaly(
                "line %s is in the log %d times (lines %s)" % (
                    fmt_value(line), len(pos), ", ".join(str(p + 1) for p in pos)),
                [_desc(op, t0)]))
    missing = [op for op in ops if op.outcome == "ok" and op.value not in positions
               and by_line.get(op.value) is op]
    if missing:
        listed = missing[:MAX_LISTED]
        res.anomalies.append(Anomaly(
            "%d acknowledged line(s) missing from the log" % len(missing),
            ["%s: %s" % (_desc(op, t0), fmt_value(op.value)) for op in listed] + (
                ["... and %d more" % (len(missing) - len(listed))]
                if len(missing) > len(listed) else [])))

    # 5: real-time order among present lines (first occurrence)
    present = []
    for op in ops:
        if by_line.get(op.value) is op and op.value in positions \
                and op.outcome != "fail":
            present.append((positions[op.value][0], op))
    present.sort(key=lambda po: po[0])
    inversions = 0
    # an inversion: a line b placed BEFORE a, with a ok and comp(a) < inv(b):
    # scan from the end keeping the earliest ok completion among later lines
    best_comp, best_op = float("inf"), None
    for pos, op in reversed(present):
        if best_op is not None and best_comp < op.inv:
            inversions += 1
            if inversions <= MAX_LISTED:
                res.anomalies.append(Anomaly(
                    "line %s (log line %d) precedes %s (log line %d), which "
                    "was acknowledged before it was appended" % (
                        fmt_value(op.value), pos + 1, fmt_value(best_op.value),
                        positions[best_op.value][0] + 1),
                    ["earlier in log: " + _desc(op, t0),
                     "later in log:   " + _desc(best_op, t0)]))
        if op.outcome == "ok" and op.comp < best_comp:
            best_comp, best_op = op.comp, op
    if inversions > MAX_LISTED:
        res.anomalies.append(Anomaly("... and %d more order inversions"
                                     % (inversions - MAX_LISTED)))
    res.notes.append("%d appends (%d ok, %d info, %d fail), %d log lines" % (
        len(ops), sum(o.outcome == "ok" for o in ops),
        sum(o.outcome == "info" for o in ops),
        sum(o.outcome == "fail" for o in ops), len(log_lines)))
    res.elapsed = time.perf_counter() - started
    return res
