"""linearizability.py: are the register operations of each key linearizable?

Model: one register per key (reg/...), starting absent (null).  Operations:

    read         ok value v (null: absent)   the register held v
    write v      every written value is globally unique
    cas [e, n]   if the register holds e, it becomes n; ok: it happened

Outcomes: ok ops must take effect between invocation and completion; fail
ops never took effect (dropped; a failed read says nothing); info ops may
take effect at any time after their invocation, or never (completion at
+infinity, and the search may leave them out).  Reads with an unknown
outcome say nothing and are dropped.

The search is Wing & Gong's, with Lowe's memoisation (as in "Testing for
linearizability", Lowe 2016), written for this model:

* the history is a doubly linked list of call and return entries in time
  order (calls before returns at equal times: such ops count as concurrent);
* at each step the candidates are the calls before the first return entry
  (the minimal ops); one is linearized by applying it to the register and
  lifting its call and return out of the list; a return entry reached means
  its op should have been linearized already: backtrack;
* a state (set of linearized ops, register value) seen before is not
  explored again (the set is kept compact: the ops that must take effect
  as "all below base" plus a few bits, the info ops as a bitmask);
* a read that returns the current value is linearized at once, without
  trying the alternatives (partial-order reduction: a read changes nothing
  and is minimal, so any linearization that places it later still works
  with it moved here); this removes the 2^k orders of k concurrent reads;
* success when every op that must take effect has been linearized (info
  ops left in the list are the ones that never took effect).

Values that nobody observes are merged into one (they are interchangeable
for every later op).  A "blind" write (ok, its value never observed) is
always overwritten at once in any linearization, so it can be moved to just
before the next write: blind writes are linearized as a group right before
a write, or all at once (when one of them must take effect and no write
can follow it in time), instead of in all their 2^k subsets and orders
(not with --cas-fail-observes, where a failed cas may observe it).  Two
prunings keep info ops cheap, both exact (they never change the
verdict): an info write or cas whose new value nobody observes (no read
returns it, no cas expects it) is dropped before the search, and during
the search an info op is only tried while some not yet linearized op still
observes its value.  Candidates that must take effect are tried before info
ones.  The search stops after `budget` memoised states: UNKNOWN.  Every
reduction is exact: the unit tests compare the verdict with a brute-force
enumeration of all orders on thousands of small random histories.

Windows (the shrinking of a failure): the history of a key cut to the
events of a time range [ta, tb].  Ops invoked after tb are left out and ops
still open at tb become info (a prefix of a linearizable history is
linearizable).  Ops completed before ta are left out; the register value
at ta is unknown (a wildcard pinned by the first observation), and ops
invoked before ta may be dropped (their effect may lie before ta).  Both
cuts only ever make a history easier to linearize, so a window that fails
proves the whole history fails, and widening a failing window keeps it
failing: the end is found by binary search (below the latest point the
full search was blocked at), the start by galloping back from the end.
"""
import bisect
import math
import time

try:
    from .history import HistoryError, Op, fmt_ms, fmt_value
    from .result import Anomaly, CheckResult
except ImportError:  # imported as a top-level module
    from history import HistoryError, Op, fmt_ms, fmt_value
    from result import Anomaly, CheckResult

REGISTER_FS = ("read", "write", "cas")

DEFAULT_BUDGET = 2_000_000  # memoised states per search

READ, WRITE, CAS, CASFAIL = range(4)
_KIND_NAMES = ("read", "write", "cas", "cas-fail")

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


class Wild:
    """The unknown register value at the start of a window: any value but
    those in `ex` (values a failed cas has shown it was not)."""

    __slots__ = ("ex",)

    def __init__(self, ex=frozenset()):
        self.ex = ex

    def __eq__(self, other):
        return type(other) is Wild and other.ex == self.ex

    def __hash__(self):
        return hash(("Wild", self.ex))

    def __repr__(self):
        return "<unknown>" if not self.ex else "<unknown, not %s>" % (
            ", ".join(sorted(map(repr, self.ex))))


WILD = Wild()


class _Unobserved:
    """Any value that no op of the history observes (nobody reads it, no
    cas expects it): such values are interchangeable, so they are one."""

    def __repr__(self):
        return "<a value nobody reads>"


UNOBSERVED = _Unobserved()


class SOp:
    """An op as the search sees it."""

    __slots__ = ("kind", "a", "b", "inv", "comp", "required", "droppable",
                 "op")

    def __init__(self, kind, a, b, inv, comp, required, droppable, op):
        self.kind = kind
        self.a = a            # read: value; write: value; cas: expected
        self.b = b            # cas: new value
        self.inv = inv
        self.comp = comp      # None: open until +infinity
        self.required = required    # must take effect (ok)
        self.droppable = droppable  # required, but may have taken effect
        self.op = op                # before the window: may be skipped

    def new_value(self):
        return self.a if self.kind == WRITE else self.b

    def __repr__(self):
        return "SOp(%s %r %r [%r, %r]%s%s)" % (
            _KIND_NAMES[self.kind], self.a, self.b, self.inv, self.comp,
            " required" if self.required else " optional",
            " droppable" if self.droppable else "")


def _hashable(v, op):
    if v is None or isinstance(v, str):
        return v
    raise HistoryError("op %r (%s %s): register values are strings or null, "
                       "not %r" % (op.i, op.f, op.key, v))


def to_search_ops(ops, ta=None, tb=None, cas_fail_observes=False):
    """The register ops of one key -> (list of SOp, initial value).

    ta, tb: the window (None: unbounded).  cas_fail_observes: a cas that
    failed with ECANCELED is taken as evidence that the register did not
    hold the expected value at some point of its interval (off by default:
    it depends on how the harness maps its cas onto .cas/REV/)."""
    sops = []
    for op in ops:
        if op.f not in REGISTER_FS:
            raise HistoryError("op %r: %r is not a register op" % (op.i, op.f))
        if tb is not None and op.inv > tb:
            continue
        comp = op.comp if op.outcome != "info" else None
        if ta is not None and comp is not None and comp < ta:
            continue
        outcome = op.outcome
        if tb is not None and comp is not None and comp > tb:
            if outcome == "fail":
                continue
            outcome, comp = "info", None  # still open at the window's end
        before = ta is not None and op.inv < ta
        if op.f == "read":
            if outcome != "ok":
                continue
            s = SOp(READ, _hashable(op.result, op), None, op.inv, comp,
                    True, before, op)
        elif op.f == "write":
            if outcome == "fail":
                continue
            if op.value is None:
                raise HistoryError("op %r: write of null" % (op.i,))
            req = outcome == "ok"
            s = SOp(WRITE, _hashable(op.value, op), None, op.inv, comp,
                    req, req and before, op)
        else:
            v = op.value
            if not isinstance(v, (list, tuple)) or len(v) != 2:
                raise HistoryError("op %r: cas value must be [expected, new], "
                                   "not %r" % (op.i, v))
            e, n = _hashable(v[0], op), _hashable(v[1], op)
            if outcome == "fail":
                if not (cas_fail_observes and op.errno == "ECANCELED"):
                    continue
                s = SOp(CASFAIL, e, None, op.inv, comp, True, before, op)
            else:
                req = outcome == "ok"
                s = SOp(CAS, e, n, op.inv, comp, req, req and before, op)
        sops.append(s)
    if not cas_fail_observes:
        sops = _prune_unobserved(sops)
    observed = {s.a for s in sops if s.kind in (READ, CAS, CASFAIL)}
    for s in sops:
        if s.kind == WRITE and s.a not in observed:
            s.a = UNOBSERVED
        elif s.kind == CAS and s.b not in observed:
            s.b = UNOBSERVED
    sops.sort(key=lambda s: s.inv)
    return sops, (None if ta is None else WILD)


def _prune_unobserved(sops):
    """Drops optional writes/cas whose new value no remaining op observes.

    Exact: such an op, if linearized, sets a value that nothing reads
    before the next write; leaving it out changes no outcome."""
    while True:
        observed = set()
        for s in sops:
            if s.kind in (READ, CAS):
                observed.add(s.a)
        keep = [s for s in sops
                if s.required or s.kind not in (WRITE, CAS)
                or s.new_value() in observed]
        if len(keep) == len(sops):
            return keep
        sops = keep


class SearchResult:
    __slots__ = ("status", "states", "elapsed", "stuck", "frontier")

    def __init__(self, status, states, elapsed, stuck=None):
        self.status = status    # OK | FAIL | UNKNOWN
        self.states = states    # memoised states explored
        self.elapsed = elapsed
        self.stuck = stuck      # FAIL: the op the deepest attempt could not place
        # FAIL: the latest return time any attempt was blocked at; the
        # history cut there fails too (an upper bound for shrinking)
        self.frontier = None

    def __repr__(self):
        return "SearchResult(%s, states=%d, %.3fs)" % (
            self.status, self.states, self.elapsed)


def search(sops, init=None, budget=DEFAULT_BUDGET, time_limit=None,
           cas_fail_observes=False):
    """WGL search over the SOps of one key.  Returns a SearchResult.

    The set of linearized ops is kept in two parts: the ops that must take
    effect, numbered in invocation order, as (base, window): every op
    below `base` is linearized and `window` holds the bits from `base` up
    (a few bits: about the concurrency); the optional ones as a bitmask of
    their own.  The memo key is (base, window, optional mask, value)."""
    t0 = time.perf_counter()
    n = len(sops)
    ent = []
    for k, s in enumerate(sops):
        ent.append((s.inv, 0, k))
        if s.comp is not None:
            ent.append((s.comp, 1, k))
    ent.sort()
    m = len(ent)
    HEAD, NIL = m, -1
    nxt = list(range(1, m + 1)) + [0 if m else NIL]
    if m:
        nxt[m - 1] = NIL
    prv = [HEAD] + list(range(0, m - 1)) + [NIL]
    is_call = [kind == 0 for _, kind, _ in ent]
    eop = [k for _, _, k in ent]
    etime = [t for t, _, _ in ent]
    ret_of = [-1] * n
    for e in range(m):
        if not is_call[e]:
            ret_of[eop[e]] = e
    # numbering: required ops by invocation, optional ones apart
    ridx = [-1] * n
    obit = [0] * n
    nr = no = 0
    for k in sorted(range(n), key=lambda k: (sops[k].inv, k)):
        if sops[k].required:
            ridx[k] = nr
            nr += 1
        else:
            obit[k] = 1 << no
            no += 1
    # blind writes: required, not droppable, value nobody observes; they
    # are only linearized in a group right before a write (or all at once)
    # (not with failed-cas observations: one may follow a blind write)
    blind = [s.kind == WRITE and s.a is UNOBSERVED and s.required
             and not s.droppable and not cas_fail_observes for s in sops]

    # observers still in the list, per value (reads and cas expectations)
    obs = {}
    for s in sops:
        if s.kind in (READ, CAS):
            obs[s.a] = obs.get(s.a, 0) + 1
    prune_info = not cas_fail_observes

    def lift(e):
        p, q = prv[e], nxt[e]
        nxt[p] = q
        if q != NIL:
            prv[q] = p
        r = ret_of[eop[e]]
        if r >= 0:
            p, q = prv[r], nxt[r]
            nxt[p] = q
            if q != NIL:
                prv[q] = p

    def unlift(e):
        r = ret_of[eop[e]]
        if r >= 0:
            nxt[prv[r]] = r
            if nxt[r] != NIL:
                prv[nxt[r]] = r
        nxt[prv[e]] = e
        if nxt[e] != NIL:
            prv[nxt[e]] = e

    APPLY, SKIP, FLUSH = 0, 1, 2
    NOGROUP = ()

    def moves():
        """The moves from the current configuration, best first: (entry,
        kind of move, blind writes linearized just before it)."""
        req, opt, skip, group = [], [], [], []
        e = nxt[HEAD]
        while e != NIL and is_call[e]:
            k = eop[e]
            s = sops[k]
            if blind[k]:
                group.append(e)
            elif s.required:
                if s.kind == READ and state == s.a \
                        or s.kind == CASFAIL and type(state) is not Wild \
                        and state != s.a:
                    # an observation that holds now is taken now, alone:
                    # it changes nothing and no remaining op must precede
                    # it, so any order that places it later works with it
                    # here too.  (Not from the unknown start value: there
                    # the first observation decides the value.)
                    return [(e, APPLY, NOGROUP)]
                req.append(e)
                if s.droppable:
                    skip.append((e, SKIP, NOGROUP))
            elif not prune_info or obs.get(s.new_value(), 0) > 0:
                opt.append(e)
            e = nxt[e]
        g = tuple(group)
        out = [(e, APPLY, g if sops[eop[e]].kind == WRITE else NOGROUP)
               for e in req]
        out += [(e, APPLY, g if sops[eop[e]].kind == WRITE else NOGROUP)
                for e in opt]
        out += skip
        if g:
            out.append((None, FLUSH, g))
        return out

    rem = nr
    state = init
    base, win, omask = 0, 0, 0
    cache = set()
    stack = []
    cands = moves()
    pos = 0
    best_rem = rem + 1
    stuck = None
    frontier = None  # latest time at which some attempt was blocked
    check_every = 4096
    while rem:
        advanced = False
        while pos < len(cands):
            e, alt, group = cands[pos]
            if alt == FLUSH:
                okay, ns, s = True, UNOBSERVED, None
            else:
                s = sops[eop[e]]
                if alt == SKIP:
                    okay, ns = True, state
                else:
                    kind = s.kind
                    if kind == READ:
                        okay = state == s.a or (type(state) is Wild
                                                and s.a not in state.ex)
                        ns = s.a
                    elif kind == WRITE:
                        okay, ns = True, s.a
                    elif kind == CAS:
                        okay = state == s.a or (type(state) is Wild
                                                and s.a not in state.ex)
                        ns = s.b
                    else:  # CASFAIL
                        okay = state != s.a
                        ns = state if type(state) is not Wild else \
                            Wild(state.ex | {s.a})
            if okay:
                nb, nw, no_ = base, win, omask
                for ge in group:
                    nw |= 1 << (ridx[eop[ge]] - nb)
                if s is not None:
                    k = eop[e]
                    if ridx[k] >= 0:
                        nw |= 1 << (ridx[k] - nb)
                    else:
                        no_ |= obit[k]
                while nw & 1:
                    low = (~nw & (nw + 1)).bit_length() - 1
                    nw >>= low
                    nb += low
                key = (nb, nw, no_, ns)
                if key not in cache:
                    cache.add(key)
                    if len(cache) > budget:
                        return SearchResult(UNKNOWN, len(cache),
                                            time.perf_counter() - t0)
                    if time_limit is not None and len(cache) % check_every == 0 \
                            and time.perf_counter() - t0 > time_limit:
                        return SearchResult(UNKNOWN, len(cache),
                                            time.perf_counter() - t0)
                    stack.append((cands, pos, state, base, win, omask))
                    for ge in group:
                        lift(ge)
                    rem -= len(group)
                    if s is not None:
                        lift(e)
                        if s.required:
                            rem -= 1
                        if s.kind in (READ, CAS):
                            obs[s.a] -= 1
                    base, win, omask = nb, nw, no_
                    state = ns
                    cands = moves()
                    pos = 0
                    advanced = True
                    break
            pos += 1
        if advanced:
            continue
        # dead end: note where it was blocked, then backtrack
        e = nxt[HEAD]
        while e != NIL and is_call[e]:
            e = nxt[e]
        if e == NIL:
            frontier = math.inf
        elif frontier is None or etime[e] > frontier:
            frontier = etime[e]
        if rem < best_rem:
            best_rem = rem
            stuck = (sops[eop[e]].op if e != NIL else None, state)
        if not stack:
            r = SearchResult(FAIL, len(cache), time.perf_counter() - t0, stuck)
            r.frontier = frontier
            return r
        cands, pos, state, base, win, omask = stack.pop()
        e, alt, group = cands[pos]
        if alt != FLUSH:
            s = sops[eop[e]]
            unlift(e)
            if s.required:
                rem += 1
            if s.kind in (READ, CAS):
                obs[s.a] += 1
        for ge in reversed(group):
            unlift(ge)
        rem += len(group)
        pos += 1
    return SearchResult(OK, len(cache), time.perf_counter() - t0)


# ---------------------------------------------------------------- one key

def final_read(key, value, t):
    """The final state's value of a register as a read after the run."""
    return Op("final:%s" % key, "read", key, "final", None, t, comp=t + 1,
              outcome="ok", result=value, synthetic=True)


def check_ops(ops, budget=DEFAULT_BUDGET, time_limit=None,
              cas_fail_observes=False, ta=None, tb=None):
    """Searches the ops of one key (optionally a window)."""
    sops, init = to_search_ops(ops, ta, tb, cas_fail_observes)
    return search(sops, init, budget, time_limit, cas_fail_observes)


def _boundaries(ops, cas_fail_observes):
    """Times of the events that matter to the search, sorted."""
    sops, _ = to_search_ops(ops, cas_fail_observes=cas_fail_observes)
    ts = set()
    for s in sops:
        ts.add(s.inv)
        if s.comp is not None:
            ts.add(s.comp)
    return sorted(ts)


def shrink(ops, budget=DEFAULT_BUDGET, time_limit=None,
           cas_fail_observes=False, frontier=None):
    """The smallest failing window of a failing key history.

    Returns (ta, tb, checks): the window's time range and the number of
    searches run.  ta is None when the window must start at the beginning
    (the register's initial absence is part of the anomaly).  Needs the
    whole history to fail; a window whose search runs out of budget counts
    as not failing, so the window returned always failed for certain.

    The end: the shortest failing prefix, by binary search (a prefix of a
    linearizable history is linearizable, so failing is monotone), below
    `frontier` when given (the full search's SearchResult.frontier: no
    attempt got past it, so the prefix up to it fails already).  The
    start: the latest start that still fails, galloping back from the end
    (small windows are cheap) then bisecting."""
    ts = _boundaries(ops, cas_fail_observes)
    checks = [0]

    def fails(ta, tb):
        checks[0] += 1
        r = check_ops(ops, budget, time_limit, cas_fail_observes, ta, tb)
        return r.status == FAIL

    if not ts:
        return None, None, 0
    top = len(ts) - 1
    if frontier is not None and frontier != math.inf:
        top = min(top, bisect.bisect_right(ts, frontier) - 1)
    lo, hi = 0, max(top, 0)
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(None, ts[mid]):
            hi = mid
        else:
            lo = mid + 1
    end = lo
    tb = ts[end]
    if top < len(ts) - 1 and not fails(None, tb):
        return shrink(ops, budget, time_limit, cas_fail_observes, None)
    # start: index -1 stands for "from the beginning" (initial value null)
    good, step = end + 1, 1   # good: smallest start known not to fail
    bad = -1                  # largest start known to fail
    while True:
        i = end - step + 1
        if i <= 0:
            break
        if fails(ts[i], tb):
            bad = i
            break
        good = i
        step *= 2
    lo, hi = max(bad, -1), good - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fails(ts[mid], tb):  # mid >= 0 here
            lo = mid
        else:
            hi = mid - 1
    ta = None if lo < 0 else ts[lo]
    return ta, tb, checks[0]


def window_ops(ops, ta, tb, cas_fail_observes=False):
    """The ops of the key to show for the window [ta, tb], in invocation
    order: those the window's search uses (also info ops invoked long
    before it whose value is observed in it), and those whose interval, up
    to the completion or give-up time, meets [ta, tb] (also failed ops and
    unknown reads, which the search ignores)."""
    sops, _ = to_search_ops(ops, ta, tb, cas_fail_observes)
    used = {id(s.op) for s in sops}
    out = []
    for op in ops:
        if tb is not None and op.inv > tb:
            continue
        end = op.end()
        if end is None:
            end = op.inv
        if id(op) in used or ta is None or end >= ta:
            out.append(op)
    return out


def describe_op(op):
    if op.f == "read":
        return "read", fmt_value(op.result) if op.outcome == "ok" else "?"
    if op.f == "write":
        return "write", fmt_value(op.value)
    if op.f == "cas":
        v = op.value if isinstance(op.value, (list, tuple)) and len(op.value) == 2 \
            else (op.value, None)
        return "cas", "%s->%s" % (fmt_value(v[0]), fmt_value(v[1]))
    return op.f, fmt_value(op.value)


def timeline(ops, ta=None, tb=None, t0=None, bar_width=32, mark=None):
    """A readable timeline of ops: one line each, with a bar showing the
    op's interval over the window (| invoke, = running, | complete, >
    still open at the window's end, < open across the window's start)."""
    if not ops:
        return ["(no operations)"]
    lo = ta if ta is not None else min(o.inv for o in ops)
    hi = tb if tb is not None else max(
        (o.end() if o.end() is not None else o.inv) for o in ops)
    if t0 is None:
        t0 = 0
    span = max(hi - lo, 1)

    def col(t):
        return int(round((min(max(t, lo), hi) - lo) * (bar_width - 1) / span))

    lines = ["%10s %10s  %-6s %5s  %-5s %-27s %-16s %s" % (
        "inv ms", "end ms", "node", "proc", "op", "value", "outcome",
        "interval")]
    for op in ops:
        f, val = describe_op(op)
        end = op.end()
        if op.outcome == "info":
            outc = "info" + (" (%s)" % op.errno if op.errno else "")
        elif op.outcome == "fail":
            outc = "fail" + (" (%s)" % op.errno if op.errno else "")
        else:
            outc = "ok"
        if op.synthetic:
            outc += " [final state]"
        if op is mark:
            outc = "*" + outc
        bar = [" "] * bar_width
        a = col(op.inv)
        open_end = op.outcome == "info" or (tb is not None and end is not None
                                             and end > tb)
        b = bar_width - 1 if open_end else col(end)
        for c in range(a, b + 1):
            bar[c] = "="
        bar[a] = "<" if ta is not None and op.inv < ta else "|"
        bar[b] = ">" if open_end else "|"
        lines.append("%10s %10s  %-6s %5s  %-5s %-27s %-16s %s" % (
            fmt_ms(op.inv - t0),
            fmt_ms(end - t0) if end is not None else "-",
            op.node if op.node is not None else "-",
            op.proc if op.proc is not None else "-",
            f, val if len(val) <= 27 else val[:26] + "~", outc,
            "".join(bar)))
    return lines


# ---------------------------------------------------------------- all keys

def register_ops(ops_all):
    """Ops of all register keys -> {key: [ops]} (ops: history.Op list)."""
    by_key = {}
    for op in ops_all:
        if op.f in REGISTER_FS:
            by_key.setdefault(op.key, []).append(op)
    return by_key


def check(ops_all, final_registers=None, t_end=None, budget=DEFAULT_BUDGET,
          time_limit=None, cas_fail_observes=False, do_shrink=True,
          t0=0):
    """The linearizability checker over all register keys.

    ops_all: history.Op list (other ops are ignored).  final_registers:
    {key: value-or-null} read after the run, added as one final read per
    key after t_end.  Returns a CheckResult; each anomaly carries the
    smallest failing window as a timeline."""
    started = time.perf_counter()
    by_key = register_ops(ops_all)
    if final_registers:
        if t_end is None:
            t_end = max((max(o.inv, o.end() or 0) for o in ops_all), default=0)
        for key, value in final_registers.items():
            by_key.setdefault(key, []).append(final_read(key, value, t_end + 1))
    res = CheckResult("linearizability")
    states = 0
    for key in sorted(by_key):
        ops = by_key[key]
        res.checked += sum(1 for o in ops if not o.synthetic)
        r = check_ops(ops, budget, time_limit, cas_fail_observes)
        states += r.states
        if r.status == OK:
            continue
        if r.status == UNKNOWN:
            res.unknown.append(
                "%s: unknown (budget exceeded: %d states, %.1f s, %d ops) - "
                "neither verified nor refuted" % (key, r.states, r.elapsed,
                                                  len(ops)))
            continue
        detail = []
        if r.stuck and r.stuck[0] is not None:
            op, val = r.stuck
            f, v = describe_op(op)
            detail.append("deepest attempt: register %s when %s %s (op %r, %s "
                          "%s) had to take effect" % (
                              repr(val) if type(val) is Wild else
                              repr(val) if val is UNOBSERVED else fmt_value(val),
                              f, v, op.i, op.node, op.outcome))
        if do_shrink:
            # windows are smaller than the history: a window search that
            # needs far more states than the whole one counts as not
            # failing (the window only gets less small), which bounds the
            # time spent shrinking
            sb = min(budget, 2 * r.states + 100_000)
            ta, tb, n = shrink(ops, sb, time_limit, cas_fail_observes,
                               r.frontier)
            w = window_ops(ops, ta, tb, cas_fail_observes)
            wr = check_ops(ops, sb, time_limit, cas_fail_observes, ta, tb)
            mark = wr.stuck[0] if wr.stuck else None
            detail.append("smallest failing window: %s .. %s ms, %d ops "
                          "(%d searches)%s" % (
                              fmt_ms((ta if ta is not None else w[0].inv) - t0),
                              fmt_ms(tb - t0) if tb is not None else "end",
                              len(w), n,
                              "; starts at the beginning (register absent)"
                              if ta is None else
                              "; value at window start unknown"))
            detail.extend(timeline(w, ta, tb, t0, mark=mark))
            if mark is not None:
                detail.append("* the op no order of the window lets take "
                              "effect (one of possibly several)")
        res.anomalies.append(Anomaly(
            "%s: not linearizable (%d ops, %d states searched)"
            % (key, len(ops), r.states), detail))
    res.notes.append("%d keys, %d states searched" % (len(by_key), states))
    res.elapsed = time.perf_counter() - started
    return res
