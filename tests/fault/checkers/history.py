"""history.py: the fault harness's operation history, parsed into operations.

A history is JSON Lines, one event a line:

    {"i": 7, "type": "invoke"|"ok"|"fail"|"info", "t": <ns>, "node": "n1",
     "proc": 3, "f": "write", "key": "reg/x", "value": ..., "errno": null}

Every operation has one "invoke" and at most one completion with the same
"i".  A missing completion, or an "info" one, means the outcome is unknown:
the operation may have taken effect at any time after its invocation, or
never.  Such an operation is open until +infinity (Op.comp is None); the
time the client gave up is kept in Op.gave_up for display only.

Everything here is pure: functions take lines or events and return values.
"""
import json

OUTCOMES = ("ok", "fail", "info")


class HistoryError(ValueError):
    """The history is malformed (not an anomaly of the system under test)."""


class Op:
    """One operation: invocation, completion and outcome."""

    __slots__ = ("i", "f", "key", "node", "proc", "inv", "comp", "outcome",
                 "value", "result", "errno", "gave_up", "synthetic")

    def __init__(self, i, f, key, node, proc, inv, comp=None, outcome="info",
                 value=None, result=None, errno=None, gave_up=None,
                 synthetic=False):
        self.i = i
        self.f = f
        self.key = key
        self.node = node
        self.proc = proc
        self.inv = inv          # ns
        self.comp = comp        # ns, or None: open until +infinity (info)
        self.outcome = outcome  # "ok" | "fail" | "info"
        self.value = value      # the argument (invoke's value)
        self.result = result    # the completion's value (read, dequeue)
        self.errno = errno
        self.gave_up = gave_up  # info: when the client stopped waiting
        self.synthetic = synthetic  # made by a checker (final-state reads)

    def end(self):
        """Completion time for display: comp, else the give-up time."""
        return self.comp if self.comp is not None else self.gave_up

    def __repr__(self):
        return ("Op(i=%r, f=%r, key=%r, %s, inv=%r, comp=%r, value=%r, "
                "result=%r)" % (self.i, self.f, self.key, self.outcome,
                                self.inv, self.comp, self.value, self.result))


def parse_lines(lines):
    """JSON Lines (an iterable of str) -> list of event dicts.

    Blank lines are skipped; anything else that is not a JSON object with
    the required fields raises HistoryError naming the line."""
    events = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            raise HistoryError("line %d: not JSON: %s" % (n, e)) from None
        if not isinstance(ev, dict):
            raise HistoryError("line %d: not a JSON object" % n)
        for field in ("i", "type", "t"):
            if field not in ev:
                raise HistoryError("line %d: no %r field" % (n, field))
        if ev["type"] not in ("invoke",) + OUTCOMES:
            raise HistoryError("line %d: bad type %r" % (n, ev["type"]))
        if not isinstance(ev["t"], (int, float)) or isinstance(ev["t"], bool):
            raise HistoryError("line %d: bad time %r" % (n, ev["t"]))
        events.append(ev)
    return events


def load(path):
    """Reads a history file (the only I/O of this module)."""
    with open(path, "r", encoding="utf-8") as fh:
        return parse_lines(fh)


def pair(events):
    """Events -> list of Op, sorted by invocation time (then id).

    The completion's fields win over the invocation's for the result; the
    argument is the invocation's value.  Raises HistoryError on a duplicate
    invocation, a completion without invocation, a second completion or a
    completion before its invocation."""
    ops = {}
    order = []
    for ev in events:
        i = ev["i"]
        if ev["type"] == "invoke":
            if i in ops:
                raise HistoryError("op %r invoked twice" % (i,))
            if "f" not in ev:
                raise HistoryError("op %r: invoke without 'f'" % (i,))
            op = Op(i, ev["f"], ev.get("key"), ev.get("node"), ev.get("proc"),
                    ev["t"], value=ev.get("value"))
            op.outcome = None  # no completion yet
            ops[i] = op
            order.append(op)
            continue
        op = ops.get(i)
        if op is None:
            raise HistoryError("op %r completed (%s) but never invoked"
                               % (i, ev["type"]))
        if op.outcome is not None:
            raise HistoryError("op %r completed twice" % (i,))
        if ev["t"] < op.inv:
            raise HistoryError("op %r completes (t=%r) before its invocation "
                               "(t=%r)" % (i, ev["t"], op.inv))
        op.outcome = ev["type"]
        op.errno = ev.get("errno")
        if ev["type"] == "info":
            op.gave_up = ev["t"]
        else:
            op.comp = ev["t"]
            op.result = ev.get("value")
    for op in order:
        if op.outcome is None:
            op.outcome = "info"
    order.sort(key=lambda o: (o.inv, str(o.i)))
    return order


def end_time(events):
    """The last time in the history (0 when empty)."""
    return max((ev["t"] for ev in events), default=0)


def fmt_value(v, width=None):
    """A value for a timeline column: strings in quotes, null as 'null'."""
    if v is None:
        s = "null"
    elif isinstance(v, str):
        s = json.dumps(v)
    else:
        s = json.dumps(v, separators=(",", ":"))
    if width is not None and len(s) > width:
        s = s[:width - 1] + "~"
    return s


def fmt_ms(ns):
    return "%.3f" % (ns / 1e6)
