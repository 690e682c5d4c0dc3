"""queue.py: the queue `q` (DIR/.enqueue, DIR/.dequeue) delivered what it should.

Ops: enqueue (value: a unique item "p<proc>-<seq>"), dequeue (ok value:
the item taken, or null when the queue was empty; info: may have taken an
item nobody saw).  After the run the harness drains the queue:
FINAL.json "queue_drained", in order; the drain counts as dequeues made
one after another after every event of the history.

Checks:

1. no item delivered twice (ok dequeues and the drain together);
2. no item appears that was never enqueued, or whose enqueue failed;
   no item is delivered before its enqueue was invoked;
3. no acknowledged item lost: every ok-enqueued item is delivered, except
   as many as there are info dequeues (each may have taken one item that
   nobody saw; which ones cannot be told apart, so the count is checked);
4. FIFO in real time: if enqueue(a) completed before enqueue(b) was
   invoked, a was committed first, so a is older: dequeue(b) must not
   complete before dequeue(a) is invoked (b left the queue while a was
   certainly still in it).  This covers the per-producer order (a
   producer's enqueues are sequential) and also pairs of producers that
   did not overlap.  Reported as "producer FIFO" when both items come from
   the same proc;
5. no wrong "empty": a dequeue that returned null over [inv, comp] is
   wrong if some item was certainly in the queue for that whole interval:
   ok-enqueued (completed) before inv, and taken by a dequeue invoked after
   comp (or by the final drain).  A dequeue goes through the replicated
   log, so its "empty" is as linearizable as its items.

Uncertain dequeues.  quorumfs puts an item back (under its own name, so
in its old place) when the dequeue that popped it ends without handing it
over: an info dequeue (ETIMEDOUT: the pop may commit later) or a dequeue
interrupted while in flight (fail with EINTR; ENOMEM likewise).  While
popped, that item is out of the queue, so it may be passed by a younger
item (4) or missing from an "empty" queue (5).  Each such dequeue can hold
out one item once, from some time after its invocation: a violation of 4
or 5 involving item a is excused if a distinct uncertain dequeue invoked
before the violation can be assigned to a; info dequeues assigned this way
no longer count for check 3.  The assignment is a greedy matching (items
by deadline, interrupted dequeues first so that info ones stay available
for lost items), which finds one whenever one exists.
"""
import bisect
import re
import time

try:
    from .history import fmt_ms, fmt_value
    from .result import Anomaly, CheckResult
except ImportError:
    from history import fmt_ms, fmt_value
    from result import Anomaly, CheckResult

QUEUE_FS = ("enqueue", "dequeue")
GHOST_FAIL_ERRNOS = ("EINTR", "ENOMEM")
MAX_LISTED = 20

_ITEM_RE = re.compile(r"^p(\d+)-(\d+)$")


class _Delivery:
    __slots__ = ("item", "inv", "comp", "op", "drain_pos")

    def __init__(self, item, inv, comp, op=None, drain_pos=None):
        self.item = item
        self.inv = inv
        self.comp = comp
        self.op = op
        self.drain_pos = drain_pos

    def where(self, t0=0):
        if self.op is None:
            return "final drain #%d" % self.drain_pos
        return "dequeue op %r (%s proc %s, %s..%s ms)" % (
            self.op.i, self.op.node, self.op.proc, fmt_ms(self.inv - t0),
            fmt_ms(self.comp - t0))


def _enq_desc(op, t0=0):
    end = op.end()
    return "enqueue op %r (%s proc %s, %s..%s ms, %s)" % (
        op.i, op.node, op.proc, fmt_ms(op.inv - t0),
        fmt_ms(end - t0) if end is not None else "-", op.outcome)


def _producer(item, op):
    m = _ITEM_RE.match(item) if isinstance(item, str) else None
    if m:
        return int(m.group(1))
    return op.proc


def check(ops_all, drained, t_end, ghost_fail_errnos=GHOST_FAIL_ERRNOS, t0=0):
    """ops_all: history.Op list (other ops ignored); drained: the final
    drain, in order; t_end: the last time of the history."""
    started = time.perf_counter()
    res = CheckResult("queue")
    ops = [o for o in ops_all if o.f in QUEUE_FS]
    res.checked = len(ops) + len(drained or ())
    enq = {}
    deliveries = {}
    nulls = []
    ghosts = []  # (inv, kind) kind: 0 interrupted (fail), 1 info
    for op in ops:
        if op.f == "enqueue":
            item = op.value
            if not isinstance(item, str):
                res.anomalies.append(Anomaly(
                    "enqueue op %r: item %s is not a string" % (op.i, fmt_value(item))))
                continue
            if item in enq:
                res.anomalies.append(Anomaly(
                    "item %s enqueued twice (ops %r and %r): items must be unique"
                    % (fmt_value(item), enq[item].i, op.i)))
                continue
            enq[item] = op
        elif op.outcome == "ok":
            if op.result is None:
                nulls.append(op)
            else:
                deliveries.setdefault(op.result, []).append(
                    _Delivery(op.result, op.inv, op.comp, op))
        elif op.outcome == "info":
            ghosts.append((op.inv, 1))
        elif op.errno in ghost_fail_errnos:
            ghosts.append((op.inv, 0))
    for k, item in enumerate(drained or ()):
        t = t_end + 1 + k
        deliveries.setdefault(item, []).append(_Delivery(item, t, t, None, k))

    # 1, 2: duplicates, unknown items, failed enqueues, causality
    for item in sorted(deliveries, key=str):
        ds = deliveries[item]
        e = enq.get(item)
        if len(ds) > 1:
            res.anomalies.append(Anomaly(
                "item %s delivered %d times" % (fmt_value(item), len(ds)),
                [d.where(t0) for d in ds] + (
                    [_enq_desc(e, t0)] if e else [])))
        if e is None:
            res.anomalies.append(Anomaly(
                "item %s delivered but never enqueued" % fmt_value(item),
                [d.where(t0) for d in ds]))
            continue
        if e.outcome == "fail":
            res.anomalies.append(Anomaly(
                "item %s of a failed enqueue (%s) was delivered" % (
                    fmt_value(item), e.errno or "fail"),
                [_enq_desc(e, t0)] + [d.where(t0) for d in ds]))
        for d in ds:
            if d.comp < e.inv:
                res.anomalies.append(Anomaly(
                    "item %s delivered before it was enqueued" % fmt_value(item),
                    [_enq_desc(e, t0), d.where(t0)]))

    # the items the order checks use: ok enqueue, delivered (first delivery)
    firsts = []
    for item, e in enq.items():
        if e.outcome == "ok" and item in deliveries:
            d = min(deliveries[item], key=lambda d: (d.comp, d.inv))
            firsts.append((e, d))
    need = {}  # item -> (deadline, description) for excusable violations
    violations = []  # (item a, deadline, Anomaly)

    # 4: FIFO: a older than b (enq a completed before enq b invoked) and
    # deq b completed before deq a invoked
    by_enq_comp = sorted(firsts, key=lambda ed: ed[0].comp)
    comps = [e.comp for e, _ in by_enq_comp]
    prefix_max = []
    best = -1
    for _, d in by_enq_comp:
        best = max(best, d.inv)
        prefix_max.append(best)
    for eb, db in firsts:
        j = bisect.bisect_left(comps, eb.inv)  # items with enq comp < inv(b)
        if j == 0 or prefix_max[j - 1] <= db.comp:
            continue
        for ea, da in by_enq_comp[:j]:
            if da.inv > db.comp:
                same = _producer(ea.value, ea) == _producer(eb.value, eb)
                violations.append((ea.value, db.comp, Anomaly(
                    "%s violated: %s was taken while the older %s was still "
                    "queued" % ("producer FIFO" if same else "real-time FIFO",
                                fmt_value(eb.value), fmt_value(ea.value)),
                    ["older:   " + _enq_desc(ea, t0) + ", taken by " + da.where(t0),
                     "younger: " + _enq_desc(eb, t0) + ", taken by " + db.where(t0)])))

    # 5: wrong empty: an item certainly queued over the whole null dequeue
    for n in nulls:
        j = bisect.bisect_left(comps, n.inv)
        if j == 0 or prefix_max[j - 1] <= n.comp:
            continue
        for ea, da in by_enq_comp[:j]:
            if da.inv > n.comp:
                violations.append((ea.value, n.comp, Anomaly(
                    "dequeue op %r returned empty while %s was certainly queued"
                    % (n.i, fmt_value(ea.value)),
                    ["empty:  dequeue op %r (%s proc %s, %s..%s ms)" % (
                        n.i, n.node, n.proc, fmt_ms(n.inv - t0),
                        fmt_ms(n.comp - t0)),
                     "queued: " + _enq_desc(ea, t0) + ", taken by " + da.where(t0)])))

    for item, deadline, _ in violations:
        if item not in need or deadline < need[item]:
            need[item] = deadline

    # 3: lost acknowledged items
    lost = sorted((e for item, e in enq.items()
                   if e.outcome == "ok" and item not in deliveries),
                  key=lambda e: e.inv)

    # excuses: assign uncertain dequeues to items (see the module doc)
    ghosts.sort()
    avail = [0, 0]  # interrupted, info: invoked before the current deadline
    g = 0
    excused = set()
    used_info = 0
    for item, deadline in sorted(need.items(), key=lambda kv: (kv[1], str(kv[0]))):
        while g < len(ghosts) and ghosts[g][0] < deadline:
            avail[ghosts[g][1]] += 1
            g += 1
        if avail[0]:
            avail[0] -= 1
        elif avail[1]:
            avail[1] -= 1
            used_info += 1
        else:
            continue
        excused.add(item)
    n_excused = 0
    for item, _, anomaly in violations:
        if item in excused:
            n_excused += 1
        else:
            res.anomalies.append(anomaly)
    info_left = sum(1 for _, kind in ghosts if kind == 1) - used_info
    if len(lost) > info_left:
        listed = lost[:MAX_LISTED]
        res.anomalies.append(Anomaly(
            "%d acknowledged item(s) never delivered; at most %d can have been "
            "taken by info dequeues: %d lost" % (
                len(lost), info_left, len(lost) - info_left),
            [_enq_desc(e, t0) + ": " + fmt_value(e.value) for e in listed] + (
                ["... and %d more" % (len(lost) - len(listed))]
                if len(lost) > len(listed) else [])))
    elif lost:
        res.notes.append("%d acknowledged item(s) not delivered, explained by "
                         "%d info dequeue(s)" % (len(lost), info_left))
    if n_excused:
        res.notes.append("%d order/empty observation(s) on %d item(s) excused "
                         "by uncertain dequeues (popped items put back)"
                         % (n_excused, len(excused)))
    res.notes.append("%d enqueues, %d items delivered, %d empty dequeues, "
                     "%d uncertain dequeues" % (len(enq), len(deliveries),
                                                len(nulls), len(ghosts)))
    res.elapsed = time.perf_counter() - started
    return res
