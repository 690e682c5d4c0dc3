"""Unit tests of the fault-history checkers.

    python3 -m unittest tests/fault/checkers/test_checkers.py      (from the repo)
    python3 tests/fault/checkers/test_checkers.py -v

Valid histories must pass and histories with planted anomalies must fail,
for every checker; random linearizable register histories (histgen.py)
must pass and fail once an anomaly is injected.  The speed on 2000-op
histories is measured and printed (QFS_CHECKER_BENCH=1 for more seeds).
"""
import os
import sys

# queue.py lives next to this file: keep this directory off sys.path (it
# would shadow the standard library's queue) and import as a package.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if os.path.dirname(_HERE) not in sys.path:
    sys.path.insert(0, os.path.dirname(_HERE))

import io  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from checkers import appends, check, convergence, counter, histgen  # noqa: E402
from checkers import history  # noqa: E402
from checkers import linearizability as lin  # noqa: E402
from checkers import queue as qcheck  # noqa: E402

MS = 1_000_000


class H:
    """A small history builder: times in ms, ids assigned in order."""

    def __init__(self):
        self.events = []
        self.n = 0

    def op(self, f, key, inv, comp=None, outcome="ok", value=None,
           result=None, node="n1", proc=0, errno=None, completion=True):
        """comp None with outcome info: no completion event."""
        i = self.n
        self.n += 1
        self.events.append({"i": i, "type": "invoke", "t": int(inv * MS),
                            "node": node, "proc": proc, "f": f, "key": key,
                            "value": value, "errno": None})
        if comp is not None and completion:
            self.events.append({
                "i": i, "type": outcome, "t": int(comp * MS), "node": node,
                "proc": proc, "f": f, "key": key,
                "value": result if f in ("read", "dequeue") else value,
                "errno": errno})
        return i

    def w(self, inv, comp, v, outcome="ok", **kw):
        return self.op("write", kw.pop("key", "reg/x"), inv, comp, outcome, v, **kw)

    def r(self, inv, comp, v, outcome="ok", **kw):
        return self.op("read", kw.pop("key", "reg/x"), inv, comp, outcome,
                       None, result=v, **kw)

    def cas(self, inv, comp, e, n, outcome="ok", **kw):
        return self.op("cas", kw.pop("key", "reg/x"), inv, comp, outcome,
                       [e, n], **kw)

    def ops(self):
        return history.pair(sorted(self.events, key=lambda e: e["t"]))


def lin_check(h, final=None, **kw):
    ops = h.ops()
    return lin.check(ops, final, history.end_time(h.events), **kw)


class TestHistory(unittest.TestCase):
    def test_pairs_and_info(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b", outcome="info", errno="ETIMEDOUT")
        h.w(4, None, "c", outcome="info")
        ops = h.ops()
        self.assertEqual([o.outcome for o in ops], ["ok", "info", "info"])
        self.assertEqual(ops[0].comp, 1 * MS)
        self.assertIsNone(ops[1].comp)
        self.assertEqual(ops[1].gave_up, 3 * MS)
        self.assertIsNone(ops[2].comp)

    def test_malformed(self):
        inv = {"i": 1, "type": "invoke", "t": 0, "f": "read", "key": "reg/x"}
        ok = {"i": 1, "type": "ok", "t": 1, "value": None}
        with self.assertRaises(history.HistoryError):
            history.pair([inv, dict(inv)])
        with self.assertRaises(history.HistoryError):
            history.pair([ok])
        with self.assertRaises(history.HistoryError):
            history.pair([inv, ok, dict(ok)])
        with self.assertRaises(history.HistoryError):
            history.parse_lines(['{"i": 1, "type": "invoke"}'])
        with self.assertRaises(history.HistoryError):
            history.parse_lines(["not json"])
        self.assertEqual(len(history.parse_lines(["", json.dumps(inv)])), 1)


class TestLinearizabilityValid(unittest.TestCase):
    def assertLin(self, h, final=None, **kw):
        r = lin_check(h, final, **kw)
        self.assertTrue(r.ok, "\n".join(sum((a.lines() for a in r.anomalies),
                                            []) + r.unknown))

    def test_empty_and_initial_absent(self):
        self.assertLin(H())
        h = H()
        h.r(0, 1, None)
        h.w(2, 3, "a")
        h.r(4, 5, "a")
        self.assertLin(h)

    def test_concurrent_read_sees_either(self):
        for seen in (None, "a"):
            h = H()
            h.w(0, 10, "a")
            h.r(1, 2, seen)
            self.assertLin(h)

    def test_reads_order_among_concurrent_writes(self):
        h = H()
        h.w(0, 10, "a", proc=1)
        h.w(0, 10, "b", proc=2)
        h.r(11, 12, "a")
        h.r(13, 14, "a")
        self.assertLin(h)

    def test_cas_chain_and_create_if_absent(self):
        h = H()
        h.cas(0, 1, None, "a")
        h.cas(2, 3, "a", "b")
        h.cas(4, 5, "a", "c", outcome="fail", errno="ECANCELED")
        h.r(6, 7, "b")
        self.assertLin(h)

    def test_info_write_may_take_effect_late_or_never(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b", outcome="info", errno="ETIMEDOUT")
        h.r(10, 11, "a")
        h.r(20, 21, "b")  # took effect after the client gave up
        self.assertLin(h)
        h = H()
        h.w(0, 1, "a")
        h.w(2, None, "b", outcome="info")
        h.r(10, 11, "a")  # never took effect
        self.assertLin(h, {"reg/x": "a"})

    def test_info_cas_chain(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b", outcome="info")
        h.cas(4, 5, "b", "c", outcome="info")
        h.r(6, 7, "c")
        self.assertLin(h)

    def test_failed_and_unknown_reads_say_nothing(self):
        h = H()
        h.w(0, 1, "a")
        h.r(2, 3, "zzz", outcome="fail", errno="EIO")
        h.r(4, 5, None, outcome="info")
        self.assertLin(h)

    def test_final_state_read(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b", outcome="info")
        self.assertLin(h, {"reg/x": "a"})
        self.assertLin(h, {"reg/x": "b"})
        self.assertLin(H(), {"reg/y": None})

    def test_keys_are_independent(self):
        h = H()
        h.w(0, 1, "a", key="reg/x")
        h.w(0, 1, "b", key="reg/y")
        h.r(2, 3, "a", key="reg/x")
        h.r(2, 3, "b", key="reg/y")
        self.assertLin(h)

    def test_cas_fail_observes_option(self):
        h = H()
        h.w(0, 1, "a")
        h.cas(2, 3, "b", "c", outcome="fail", errno="ECANCELED")
        self.assertLin(h, cas_fail_observes=True)


class TestLinearizabilityAnomalies(unittest.TestCase):
    def assertNotLin(self, h, final=None, **kw):
        r = lin_check(h, final, **kw)
        self.assertFalse(r.ok)
        self.assertEqual(len(r.anomalies), 1, r.unknown)
        return r

    def test_stale_read_after_completed_write(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b")
        h.r(4, 5, "a", node="n3")
        r = self.assertNotLin(h)
        text = "\n".join(r.anomalies[0].lines())
        self.assertIn("smallest failing window", text)
        self.assertIn('"a"', text)

    def test_stale_read_of_initial_absence(self):
        h = H()
        h.w(0, 1, "a")
        h.r(2, 3, None)
        self.assertNotLin(h)

    def test_lost_write_read_back_later(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b")
        h.r(4, 5, "b")
        h.r(6, 7, "a")  # b was lost: the register went back to a
        self.assertNotLin(h)

    def test_lost_write_in_final_state(self):
        h = H()
        h.w(0, 1, "a")
        h.w(2, 3, "b")
        self.assertNotLin(h, {"reg/x": "a"})
        r = self.assertNotLin(h, {"reg/x": None})
        self.assertIn("[final state]", "\n".join(r.anomalies[0].lines()))

    def test_cas_succeeded_against_wrong_value(self):
        h = H()
        h.w(0, 1, "a")
        h.cas(2, 3, "x", "b")  # the register held a, not x
        self.assertNotLin(h)

    def test_both_cas_of_one_value_succeed(self):
        h = H()
        h.w(0, 1, "a")
        h.cas(2, 5, "a", "b", proc=1)
        h.cas(2, 5, "a", "c", proc=2)
        self.assertNotLin(h)

    def test_read_of_failed_write(self):
        h = H()
        h.w(0, 1, "a", outcome="fail", errno="EROFS")
        h.r(2, 3, "a")
        self.assertNotLin(h)

    def test_read_of_never_written_value(self):
        h = H()
        h.w(0, 1, "a")
        h.r(2, 3, "ghost")
        self.assertNotLin(h)

    def test_nonmonotonic_reads(self):
        h = H()
        h.w(0, 100, "a", proc=1)
        h.r(10, 11, "a", proc=2)
        h.r(12, 13, None, proc=3)  # after a was seen, absence again
        self.assertNotLin(h)

    def test_cas_fail_observes_option(self):
        h = H()
        h.w(0, 1, "a")
        h.cas(2, 3, "a", "c", outcome="fail", errno="ECANCELED")
        self.assertTrue(lin_check(h).ok)  # off by default
        self.assertNotLin(h, cas_fail_observes=True)

    def test_budget_exceeded_is_unknown(self):
        h = H()
        for k in range(14):
            h.w(0, 100, "v%d" % k, proc=k)
        for k in range(14):
            h.r(1, 100, "v%d" % k, proc=100 + k)
        h.r(1, 100, "never", proc=999)
        r = lin_check(h, budget=2000)
        self.assertFalse(r.ok)
        self.assertEqual(r.anomalies, [])
        self.assertEqual(len(r.unknown), 1)
        self.assertIn("budget exceeded", r.unknown[0])

    def test_window_is_small_and_minimal(self):
        for seed in (7, 11, 19, 23):
            ev = histgen.register_history(seed, 600, 6)
            bad, what = histgen.inject_stale_read(ev, seed)
            self.assertIsNotNone(bad)
            ops = [o for o in history.pair(bad) if o.f in lin.REGISTER_FS]
            full = lin.check_ops(ops)
            self.assertEqual(full.status, lin.FAIL)
            # no attempt got past the frontier: the prefix up to it fails
            self.assertEqual(lin.check_ops(ops, tb=full.frontier).status, lin.FAIL)
            ta, tb, _ = lin.shrink(ops, frontier=full.frontier)
            self.assertEqual((ta, tb), lin.shrink(ops)[:2])
            self.assertEqual(lin.check_ops(ops, ta=ta, tb=tb).status, lin.FAIL)
            w = lin.window_ops(ops, ta, tb)
            self.assertLess(len(w), 40, seed)
            bad_read = int(what.split()[2])
            self.assertIn(bad_read, [o.i for o in w])
            # minimal at both ends
            ts = lin._boundaries(ops, False)
            j = ts.index(tb)
            self.assertNotEqual(lin.check_ops(ops, ta=ta, tb=ts[j - 1]).status,
                                lin.FAIL)
            if ta is not None:
                i = ts.index(ta)
                self.assertNotEqual(
                    lin.check_ops(ops, ta=ts[i + 1], tb=tb).status, lin.FAIL)


def brute_force_linearizable(ops, cas_fail_observes=False, ta=None, tb=None):
    """The model, checked by brute force over every subset of the info ops
    and every order of the ops (small histories only): independent of the
    search and of its reductions.  With a window [ta, tb]: ops invoked
    after tb are out, ops open at tb are info, ops completed before ta are
    out, ops invoked before ta may be left out, and the register's value
    at ta is any value."""
    import copy
    import itertools
    if ta is not None or tb is not None:
        cut = []
        for o in ops:
            if tb is not None and o.inv > tb:
                continue
            if ta is not None and o.comp is not None and o.comp < ta:
                continue
            o = copy.copy(o)
            if tb is not None and o.comp is not None and o.comp > tb:
                if o.outcome == "fail":
                    continue
                o.outcome, o.comp = "info", None
            cut.append(o)
        ops = cut
    must, may = [], []
    for o in ops:
        if o.outcome == "fail":
            if not (o.f == "cas" and cas_fail_observes and o.errno == "ECANCELED"):
                continue
            kind, required = "casfail", True
        elif o.f == "read":
            if o.outcome != "ok":
                continue
            kind, required = "read", True
        else:
            kind, required = o.f, o.outcome == "ok"
        if required and not (ta is not None and o.inv < ta):
            must.append((kind, o))
        else:  # info, or may have taken effect before the window
            may.append((kind, o))
    values = sorted({str(x) for o in ops for x in (
        [o.result] if o.f == "read" else
        o.value if isinstance(o.value, list) else [o.value]) if x is not None})
    starts = [None] if ta is None else [None, "<fresh>"] + values
    for r in range(len(may) + 1):
        for chosen in itertools.combinations(may, r):
            todo = must + list(chosen)
            for perm in itertools.permutations(todo):
                good = True
                for x in range(len(perm)):
                    for y in range(x + 1, len(perm)):
                        later = perm[y][1]
                        if later.comp is not None and later.comp < perm[x][1].inv:
                            good = False
                if good and any(_run(perm, v0) for v0 in starts):
                    return True
    return False


def _run(perm, v):
    for f, o in perm:
        if f == "read":
            good = v == o.result
        elif f == "write":
            v = o.value
        elif f == "cas":
            good = v == o.value[0]
            v = o.value[1]
        else:
            good = v != o.value[0]
        if f != "write" and not good:
            return False
    return True


class TestLinearizabilityExhaustive(unittest.TestCase):
    def test_search_agrees_with_brute_force(self):
        rng = random.Random(11)
        counts = {True: 0, False: 0}
        wcounts = {True: 0, False: 0}
        for case in range(1500):
            n = rng.randint(1, 7)
            h = H()
            written = 0
            for k in range(n):
                inv = rng.randint(0, 10)
                comp = inv + rng.randint(0, 6)
                f = rng.choice(["read", "read", "write", "cas"])
                out = rng.choice(["ok", "ok", "ok", "info", "fail"])
                errno = "ECANCELED" if out == "fail" else None
                pool = [None] + ["v%d" % j for j in range(1, written + 2)]
                if f == "read":
                    h.r(inv, comp, rng.choice(pool), out, proc=k, errno=errno)
                elif f == "write":
                    written += 1
                    h.w(inv, comp, "v%d" % written, out, proc=k, errno=errno)
                else:
                    written += 1
                    h.cas(inv, comp, rng.choice(pool), "v%d" % written, out,
                          proc=k, errno=errno)
            ops = h.ops()
            for cfo in (False, True):
                want = brute_force_linearizable(ops, cfo)
                got = lin.check_ops(ops, cas_fail_observes=cfo).status
                self.assertEqual(got, lin.OK if want else lin.FAIL,
                                 "case %d cfo=%s: %r" % (case, cfo, ops))
                counts[want] += 1
            if n > 5:
                continue
            # windows: the search's window semantics match the model's
            ta = rng.choice([None, rng.randint(0, 12) * MS])
            tb = rng.choice([None, rng.randint(0, 16) * MS])
            if ta is not None and tb is not None and tb < ta:
                ta, tb = tb, ta
            for cfo in (False, True):
                want = brute_force_linearizable(ops, cfo, ta, tb)
                got = lin.check_ops(ops, cas_fail_observes=cfo, ta=ta, tb=tb).status
                self.assertEqual(got, lin.OK if want else lin.FAIL,
                                 "case %d window [%s, %s] cfo=%s: %r" % (
                                     case, ta, tb, cfo, ops))
                wcounts[want] += 1
        self.assertGreater(min(counts.values()), 300, counts)
        self.assertGreater(min(wcounts.values()), 100, wcounts)


class TestLinearizabilityRandom(unittest.TestCase):
    SEEDS = range(1, 41)

    def test_random_valid_histories_pass(self):
        for seed in self.SEEDS:
            ev = histgen.register_history(seed, 300, 1 + seed % 8,
                                          p_info=0.02 + (seed % 5) * 0.02)
            r = lin.check(history.pair(ev), None, history.end_time(ev))
            self.assertTrue(r.ok, "seed %d: %s %s" % (seed, r.anomalies, r.unknown))

    def test_random_injected_anomaly_fails(self):
        tried = 0
        for seed in self.SEEDS:
            ev = histgen.register_history(seed, 300, 1 + seed % 8,
                                          p_info=0.02 + (seed % 5) * 0.02)
            bad, what = histgen.inject_stale_read(ev, seed)
            if bad is None:
                continue
            tried += 1
            r = lin.check(history.pair(bad), None, history.end_time(bad),
                          do_shrink=(seed % 4 == 0))
            self.assertEqual(len(r.anomalies), 1, "seed %d: %s" % (seed, what))
        self.assertGreater(tried, len(self.SEEDS) // 2)

    def test_windows_of_valid_histories_pass(self):
        """Soundness of the windows: a slice of a linearizable history
        (prefix cut, unknown start value, droppable early ops) is still
        linearizable, so shrinking can never show a false anomaly."""
        rng = random.Random(5)
        for seed in range(1, 11):
            ev = histgen.register_history(seed, 200, 4 + seed % 4, p_info=0.06)
            ops = [o for o in history.pair(ev) if o.f in lin.REGISTER_FS]
            ts = lin._boundaries(ops, False)
            for _ in range(15):
                a, b = sorted(rng.sample(range(len(ts)), 2))
                ta = None if rng.random() < 0.2 else ts[a]
                r = lin.check_ops(ops, ta=ta, tb=ts[b])
                self.assertEqual(r.status, lin.OK, (seed, ta, ts[b]))

    def test_speed_2000_ops(self):
        seeds = range(1, 11) if os.environ.get("QFS_CHECKER_BENCH") else range(1, 4)
        ok_times, fail_times = [], []
        for seed in seeds:
            ev = histgen.register_history(seed, 2000, 6)
            ops = history.pair(ev)
            t = time.perf_counter()
            r = lin.check(ops, None, history.end_time(ev))
            ok_times.append(time.perf_counter() - t)
            self.assertTrue(r.ok)
            bad, _ = histgen.inject_stale_read(ev, seed)
            t = time.perf_counter()
            r = lin.check(history.pair(bad), None, history.end_time(bad))
            fail_times.append(time.perf_counter() - t)
            self.assertEqual(len(r.anomalies), 1)
        sys.stderr.write(
            "\n[speed] 2000-op register histories, 6 clients: valid "
            "max %.3f s (mean %.3f); with a stale read, search + shrink "
            "max %.3f s (mean %.3f)\n" % (
                max(ok_times), sum(ok_times) / len(ok_times),
                max(fail_times), sum(fail_times) / len(fail_times)))
        self.assertLess(max(ok_times), 10)
        self.assertLess(max(fail_times), 60)


def qh():
    return H()


def enq(h, inv, comp, item, outcome="ok", **kw):
    return h.op("enqueue", "q", inv, comp, outcome, item, **kw)


def deq(h, inv, comp, item, outcome="ok", **kw):
    return h.op("dequeue", "q", inv, comp, outcome, None, result=item, **kw)


def q_check(h, drained=()):
    return qcheck.check(h.ops(), list(drained), history.end_time(h.events))


class TestQueue(unittest.TestCase):
    def assertOk(self, r):
        self.assertTrue(r.ok, "\n".join(sum((a.lines() for a in r.anomalies), [])))

    def assertAnomaly(self, r, text):
        self.assertFalse(r.ok)
        joined = "\n".join(sum((a.lines() for a in r.anomalies), []))
        self.assertIn(text, joined)

    def test_valid(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p1-2", proc=1)
        deq(h, 4, 5, "p1-1", proc=2)
        enq(h, 4, 6, "p3-1", proc=3)
        deq(h, 7, 8, "p1-2", proc=2)
        self.assertOk(q_check(h, ["p3-1"]))

    def test_valid_empty_concurrent_with_enqueue(self):
        h = qh()
        enq(h, 0, 10, "p1-1", proc=1)
        deq(h, 5, 6, None, proc=2)  # the enqueue may commit after it
        deq(h, 11, 12, "p1-1", proc=2)
        self.assertOk(q_check(h))

    def test_random_valid_histories_pass(self):
        for seed in range(1, 31):
            ev, drained = histgen.queue_history(seed, 400, 2 + seed % 5)
            r = qcheck.check(history.pair(ev), drained, history.end_time(ev))
            self.assertTrue(r.ok, "seed %d: %s" % (seed, "\n".join(
                sum((a.lines() for a in r.anomalies), []))))

    def test_random_injected_anomalies_fail(self):
        for seed in range(1, 21):
            ev, drained = histgen.queue_history(seed, 300, 3, p_info=0, p_intr=0)
            t_end = history.end_time(ev)
            ops = history.pair(ev)
            self.assertTrue(qcheck.check(ops, drained, t_end).ok)
            deqs = [e for e in ev if e["f"] == "dequeue" and e["type"] == "ok"
                    and e["value"] is not None]
            # an item delivered twice
            if len(deqs) >= 2:
                dup = [dict(e) for e in ev]
                first, second = deqs[0], deqs[-1]
                for e in dup:
                    if e["i"] == second["i"] and e["type"] == "ok":
                        e["value"] = first["value"]
                r = qcheck.check(history.pair(dup), drained, t_end)
                self.assertIn("delivered 2 times", "\n".join(
                    a.what for a in r.anomalies), seed)
            # an acknowledged item lost
            if drained:
                r = qcheck.check(ops, drained[:-1], t_end)
                self.assertIn("never delivered", "\n".join(
                    a.what for a in r.anomalies), seed)
            # two drained items swapped, when one is certainly older
            by_item = {o.value: o for o in ops if o.f == "enqueue"}
            for k in range(len(drained) - 1):
                a, b = by_item[drained[k]], by_item[drained[k + 1]]
                if a.comp < b.inv:
                    sw = list(drained)
                    sw[k], sw[k + 1] = sw[k + 1], sw[k]
                    r = qcheck.check(ops, sw, t_end)
                    self.assertIn("FIFO violated", "\n".join(
                        a.what for a in r.anomalies), seed)
                    break

    def test_two_dequeues_of_one_item(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        deq(h, 2, 3, "p1-1", proc=2)
        deq(h, 2, 4, "p1-1", proc=3, node="n2")
        self.assertAnomaly(q_check(h), "delivered 2 times")

    def test_item_in_history_and_drain(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        deq(h, 2, 3, "p1-1", proc=2)
        self.assertAnomaly(q_check(h, ["p1-1"]), "delivered 2 times")

    def test_lost_ok_enqueue(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p1-2", proc=1)
        self.assertAnomaly(q_check(h, ["p1-2"]), "never delivered")

    def test_lost_explained_by_info_dequeue(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        deq(h, 2, 3, None, outcome="info", proc=2, errno="ETIMEDOUT")
        r = q_check(h)
        self.assertOk(r)
        self.assertIn("explained", " ".join(r.notes))
        enq(h, 4, 5, "p1-2", proc=1)
        self.assertAnomaly(q_check(h), "1 lost")

    def test_failed_and_unknown_items(self):
        h = qh()
        enq(h, 0, 1, "p1-1", outcome="fail", proc=1, errno="EROFS")
        deq(h, 2, 3, "p1-1", proc=2)
        self.assertAnomaly(q_check(h), "failed enqueue")
        h = qh()
        deq(h, 2, 3, "p9-9", proc=2)
        self.assertAnomaly(q_check(h), "never enqueued")

    def test_info_enqueue_at_most_once(self):
        h = qh()
        enq(h, 0, 1, "p1-1", outcome="info", proc=1)
        enq(h, 0, 1, "p2-1", outcome="info", proc=2)
        deq(h, 2, 3, "p1-1", proc=3)
        self.assertOk(q_check(h))
        self.assertAnomaly(q_check(h, ["p1-1"]), "delivered 2 times")

    def test_out_of_order_producer_pair(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p1-2", proc=1)
        deq(h, 4, 5, "p1-2", proc=2)
        deq(h, 6, 7, "p1-1", proc=2)
        self.assertAnomaly(q_check(h), "producer FIFO violated")

    def test_out_of_order_in_drain(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p1-2", proc=1)
        self.assertAnomaly(q_check(h, ["p1-2", "p1-1"]), "producer FIFO")

    def test_real_time_fifo_across_producers(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p2-1", proc=2)
        deq(h, 4, 5, "p2-1", proc=3)
        self.assertAnomaly(q_check(h, ["p1-1"]), "real-time FIFO violated")

    def test_concurrent_dequeues_any_order(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p1-2", proc=1)
        deq(h, 4, 9, "p1-1", proc=2)
        deq(h, 5, 6, "p1-2", proc=3)  # both in flight: either may commit first
        self.assertOk(q_check(h))

    def test_reorder_excused_by_interrupted_dequeue(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        enq(h, 2, 3, "p1-2", proc=1)
        intr = deq(h, 3.5, 3.8, None, outcome="fail", proc=4, errno="EINTR")
        deq(h, 4, 5, "p1-2", proc=2)
        deq(h, 6, 7, "p1-1", proc=2)  # p1-1 was popped and put back
        r = q_check(h)
        self.assertOk(r)
        self.assertIn("excused", " ".join(r.notes))
        # a dequeue that failed before anything was proposed excuses nothing
        h.events = [e for e in h.events if e["i"] != intr]
        self.assertAnomaly(q_check(h), "producer FIFO")
        intr = deq(h, 3.5, 3.8, None, outcome="fail", proc=4, errno="EROFS")
        self.assertAnomaly(q_check(h), "producer FIFO")

    def test_wrong_empty_dequeue(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        deq(h, 2, 3, None, proc=2)
        deq(h, 4, 5, "p1-1", proc=2)
        self.assertAnomaly(q_check(h), "returned empty")
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        deq(h, 2, 3, None, proc=2)
        self.assertAnomaly(q_check(h, ["p1-1"]), "returned empty")

    def test_empty_while_item_being_taken_is_fine(self):
        h = qh()
        enq(h, 0, 1, "p1-1", proc=1)
        deq(h, 2, 6, "p1-1", proc=3)
        deq(h, 3, 4, None, proc=2)  # p1-1 may be gone already
        self.assertOk(q_check(h))


class TestAppends(unittest.TestCase):
    def hist(self):
        h = H()
        h.op("append", "log/a", 0, 1, "ok", "l1", proc=1)
        h.op("append", "log/a", 2, 3, "ok", "l2", proc=1)
        h.op("append", "log/a", 2, 4, "info", "l3", proc=2, errno="ETIMEDOUT")
        h.op("append", "log/a", 2, 4, "fail", "l4", proc=3, errno="EROFS")
        h.op("append", "log/a", 5, None, "info", "l5", proc=4)
        return h

    def check(self, lines):
        return appends.check(self.hist().ops(), lines)

    def test_valid(self):
        self.assertTrue(self.check(["l1", "l2"]).ok)
        self.assertTrue(self.check(["l1", "l3", "l2", "l5"]).ok)
        self.assertTrue(self.check(["l1", "l2", "l3"]).ok)

    def test_duplicated_append(self):
        r = self.check(["l1", "l2", "l2"])
        self.assertFalse(r.ok)
        self.assertIn("2 times", r.anomalies[0].what)
        self.assertFalse(self.check(["l1", "l3", "l2", "l3"]).ok)

    def test_missing_ok_append(self):
        r = self.check(["l1", "l3"])
        self.assertFalse(r.ok)
        self.assertIn("missing", r.anomalies[0].what)

    def test_failed_and_unknown_lines(self):
        self.assertIn("failed append", self.check(["l1", "l2", "l4"]).anomalies[0].what)
        self.assertIn("unknown line", self.check(["l1", "l2", "zz"]).anomalies[0].what)

    def test_order(self):
        r = self.check(["l2", "l1"])
        self.assertFalse(r.ok)
        self.assertIn("acknowledged before", r.anomalies[0].what)
        self.assertFalse(self.check(["l5", "l1", "l2"]).ok)


class TestCounter(unittest.TestCase):
    def hist(self):
        h = H()
        for k in range(5):
            h.op("incr", "ctr/c", k, k + 0.5, "ok", proc=k)
        h.op("incr", "ctr/c", 9, 10, "info", proc=7, errno="ETIMEDOUT")
        h.op("incr", "ctr/c", 9, None, "info", proc=8)
        h.op("incr", "ctr/c", 9, 10, "fail", proc=9, errno="EROFS")
        return h.ops()

    def test_within(self):
        for v in (5, 6, 7):
            self.assertTrue(counter.check(self.hist(), v).ok)

    def test_too_low_and_too_high(self):
        r = counter.check(self.hist(), 4)
        self.assertIn("too low", r.anomalies[0].what)
        r = counter.check(self.hist(), 8)
        self.assertIn("too high", r.anomalies[0].what)

    def test_missing_final(self):
        r = counter.check(self.hist(), None)
        self.assertFalse(r.ok)
        self.assertEqual(r.status(), "UNKNOWN")
        self.assertTrue(counter.check([], None).ok)


class TestConvergence(unittest.TestCase):
    TREE = ["/ dir 0755 -", "/a file 0644 h1", "/b file 0644 h2", "/d dir 0755 -"]

    def test_identical(self):
        r = convergence.check({"n1": list(self.TREE), "n2": list(self.TREE),
                               "n3": list(self.TREE)})
        self.assertTrue(r.ok)

    def test_differing_tree(self):
        other = list(self.TREE)
        other[2] = "/b file 0644 h9"
        r = convergence.check({"n1": list(self.TREE), "n2": list(self.TREE),
                               "n3": other})
        self.assertEqual(len(r.anomalies), 1)
        text = "\n".join(r.anomalies[0].lines())
        self.assertIn("n1,n2 vs n3", text)
        self.assertIn("first difference at line 3", text)
        self.assertIn("/b file 0644 h9", text)

    def test_missing_entry(self):
        r = convergence.check({"n1": list(self.TREE), "n2": self.TREE[:2] + self.TREE[3:]})
        text = "\n".join(r.anomalies[0].lines())
        self.assertIn("/b:", text)
        self.assertIn("(absent)", text)

    def test_no_dumps(self):
        self.assertFalse(convergence.check({}).ok)


class TestCli(unittest.TestCase):
    def run_check(self, events, final, trees, extra=()):
        with tempfile.TemporaryDirectory() as d:
            hp = os.path.join(d, "H.jsonl")
            with open(hp, "w") as fh:
                for e in events:
                    fh.write(json.dumps(e) + "\n")
            fp = os.path.join(d, "FINAL.json")
            with open(fp, "w") as fh:
                json.dump(final, fh)
            td = os.path.join(d, "trees")
            os.mkdir(td)
            for node, lines in trees.items():
                with open(os.path.join(td, "tree-%s.txt" % node), "w") as fh:
                    fh.write("".join(line + "\n" for line in lines))
            p = subprocess.run(
                [sys.executable, os.path.join(_HERE, "check.py"), "--history", hp,
                 "--final", fp, "--trees", td] + list(extra),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                timeout=120)
            return p.returncode, p.stdout, p.stderr

    def full(self):
        h = H()
        h.w(0, 1, "a")
        h.r(2, 3, "a", node="n2", proc=1)
        h.op("incr", "ctr/c", 0, 1, "ok", proc=2)
        enq(h, 0, 1, "p3-1", proc=3)
        deq(h, 2, 3, "p3-1", proc=4)
        h.op("append", "log/a", 0, 1, "ok", "line1", proc=5)
        final = {"registers": {"reg/x": "a"}, "counter": 1, "queue_drained": [],
                 "log": ["line1"]}
        tree = ["/reg/x file 0644 abc"]
        return h, final, {"n1": tree, "n2": tree, "n3": tree}

    def test_pass(self):
        h, final, trees = self.full()
        rc, out, err = self.run_check(h.events, final, trees, ["--seed", "42"])
        self.assertEqual(rc, 0, out + err)
        for name in ("linearizability", "queue", "appends", "counter",
                     "convergence"):
            self.assertIn(name, out)
        self.assertIn("all checks passed", out)

    def test_fail_prints_seed_replay_and_window(self):
        h, final, trees = self.full()
        h.w(4, 5, "b")
        h.r(6, 7, "a", node="n3", proc=9)  # stale
        final["registers"]["reg/x"] = "b"
        final["counter"] = 3
        trees = dict(trees, n3=["/reg/x file 0644 zzz"])
        rc, out, err = self.run_check(h.events, final, trees, ["--seed", "42"])
        self.assertEqual(rc, 1, out + err)
        self.assertIn("seed: 42", out)
        self.assertIn("tests/fault/run.py --seed 42", out)
        self.assertIn("smallest failing window", out)
        self.assertIn("inv ms", out)
        self.assertIn("counter too high", out)
        self.assertIn("trees differ", out)

    def test_bad_input(self):
        rc, out, err = self.run_check([{"i": 1, "type": "ok", "t": 0}], {}, {})
        self.assertEqual(rc, 2)
        self.assertIn("never invoked", err)

    def test_report_unknown_is_failure(self):
        r = counter.check([history.Op(1, "incr", "ctr/c", "n1", 1, 0, 1, "ok")], None)
        buf = io.StringIO()
        self.assertEqual(check.report([r], seed=3, out=buf), 1)
        self.assertIn("UNKNOWN", buf.getvalue())


if __name__ == "__main__":
    unittest.main()
