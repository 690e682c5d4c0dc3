"""histgen.py: random histories of a simulated atomic register and queue.

Used by the unit tests (valid histories must pass, ones with an injected
anomaly must fail) and to measure the checkers' speed:

    python3 tests/fault/checkers/histgen.py --seed 1 --ops 2000 > H.jsonl

The register simulation: `clients` concurrent clients on `nodes` nodes each
run one op at a time (read / write / cas).  Every op that takes effect does
so at one instant inside its interval (its linearization point); the
register is atomic at those instants, so the history is linearizable by
construction.  An info op (the client gave up) takes effect, or not, at an
instant that may lie long after the client gave up; the client then goes on
under a new proc id, as a crashed client would.  Fail ops never take
effect.  Write and cas values are unique.
"""
import json
import random
import sys

MS = 1_000_000  # ns


def _ev(i, typ, t, node, proc, f, key, value, errno=None):
    return {"i": i, "type": typ, "t": t, "node": node, "proc": proc, "f": f,
            "key": key, "value": value, "errno": errno}


def register_history(seed, n_ops=2000, clients=6, nodes=3, key="reg/x",
                     p_info=0.03, p_fail=0.03, p_read=0.5, p_cas=0.2,
                     p_info_late=0.3, p_no_completion=0.3):
    """A linearizable register history: list of event dicts (time order)."""
    rng = random.Random(seed)
    ops = []  # dicts: i, f, node, proc, inv, comp, outcome, arg, point
    t_client = [rng.randrange(0, 2 * MS) for _ in range(clients)]
    proc_of = list(range(clients))
    next_proc = clients
    for i in range(n_ops):
        c = min(range(clients), key=lambda k: t_client[k])
        inv = t_client[c] + rng.randrange(0, MS // 2)
        dur = int(rng.expovariate(1 / (3 * MS))) + 100_000
        comp = inv + dur
        r = rng.random()
        f = "read" if r < p_read else ("cas" if r < p_read + p_cas else "write")
        r = rng.random()
        outcome = "info" if r < p_info else ("fail" if r < p_info + p_fail else "ok")
        if outcome == "ok" or (outcome == "info" and rng.random() < 0.6):
            if outcome == "info" and rng.random() < p_info_late:
                point = comp + rng.randrange(0, 50 * MS)  # after it gave up
            else:
                point = rng.uniform(inv, comp)
        else:
            point = None  # never takes effect
        ops.append({"i": i, "f": f, "node": "n%d" % (c % nodes + 1),
                    "proc": proc_of[c], "inv": inv, "comp": comp,
                    "outcome": outcome, "point": point, "arg": None,
                    "result": None})
        t_client[c] = comp
        if outcome == "info":
            proc_of[c] = next_proc
            next_proc += 1
    # arguments and results, in linearization order
    value = None
    recent = []
    counter = 0
    effective = sorted((o for o in ops if o["point"] is not None),
                       key=lambda o: o["point"])
    for o in effective:
        if o["f"] == "read":
            o["result"] = value
        elif o["f"] == "write":
            counter += 1
            o["arg"] = "v%d" % counter
            value = o["arg"]
            recent.append(value)
        else:
            counter += 1
            if rng.random() < 0.6 or not recent:
                exp = value
            else:
                exp = rng.choice(recent[-5:] + [None])
            o["arg"] = [exp, "v%d" % counter]
            if exp == value:
                value = o["arg"][1]
                recent.append(value)
            elif o["outcome"] == "ok":
                o["outcome"] = "fail"
                o["errno"] = "ECANCELED"
    for o in ops:  # ops that never took effect still need arguments
        if o["arg"] is None and o["f"] != "read":
            counter += 1
            o["arg"] = ("v%d" % counter if o["f"] == "write"
                        else [rng.choice(recent[-5:] + [None]) if recent else None,
                              "v%d" % counter])
    events = []
    for o in ops:
        arg = o["arg"] if o["f"] != "read" else None
        events.append(_ev(o["i"], "invoke", o["inv"], o["node"], o["proc"],
                          o["f"], key, arg))
        if o["outcome"] == "ok":
            events.append(_ev(o["i"], "ok", o["comp"], o["node"], o["proc"],
                              o["f"], key, o["result"] if o["f"] == "read" else arg))
        elif o["outcome"] == "fail":
            events.append(_ev(o["i"], "fail", o["comp"], o["node"], o["proc"],
                              o["f"], key, arg,
                              o.get("errno") or rng.choice(["EROFS", "EIO"])))
        elif rng.random() >= p_no_completion:
            events.append(_ev(o["i"], "info", o["comp"], o["node"], o["proc"],
                              o["f"], key, arg, "ETIMEDOUT"))
    events.sort(key=lambda e: (e["t"], e["type"] != "invoke", e["i"]))
    return events


def _pairs(events):
    inv, done = {}, {}
    for e in events:
        (inv if e["type"] == "invoke" else done)[e["i"]] = e
    return inv, done


def inject_stale_read(events, seed):
    """Makes one ok read return a value that was certainly overwritten:
    W1 sets v1, W2 (ok) completes after W1 completed and before the read
    is invoked, so the read cannot return v1.  Returns (events, text) or
    (None, None) when the history has no such triple."""
    rng = random.Random(seed)
    inv, done = _pairs(events)

    def sets(i):
        e = inv[i]
        d = done.get(i)
        if d is None or d["type"] != "ok":
            return None
        if e["f"] == "write":
            return e["value"]
        if e["f"] == "cas":
            return e["value"][1]
        return None

    setters = sorted((i for i in inv if sets(i) is not None),
                     key=lambda i: inv[i]["t"])
    reads = [i for i in inv if inv[i]["f"] == "read" and i in done
             and done[i]["type"] == "ok"]
    rng.shuffle(reads)
    for r in reads:
        t_r = inv[r]["t"]
        # W2: an ok setter completed before the read; W1: completed before W2
        w2s = [w for w in setters if done[w]["t"] < t_r]
        rng.shuffle(w2s)
        for w2 in w2s[:20]:
            w1s = [w for w in setters if done[w]["t"] < inv[w2]["t"]]
            if not w1s:
                continue
            w1 = rng.choice(w1s)
            v1 = sets(w1)
            out = [dict(e) for e in events]
            for e in out:
                if e["i"] == r and e["type"] == "ok":
                    e["value"] = v1
            return out, ("read op %r returns %r, overwritten by op %r before "
                         "the read began" % (r, v1, w2))
    return None, None


def queue_history(seed, n_ops=600, clients=4, nodes=3, p_info=0.04,
                  p_intr=0.03, p_enq=0.55, key="q"):
    """A valid queue history (a FIFO queue with put-back of items popped
    by uncertain dequeues) and its final drain: (events, drained)."""
    rng = random.Random(seed)
    t_client = [rng.randrange(0, MS) for _ in range(clients)]
    seq = [0] * clients
    proc_of = list(range(clients))
    next_proc = clients
    ops = []
    for i in range(n_ops):
        c = min(range(clients), key=lambda k: t_client[k])
        inv = t_client[c] + rng.randrange(0, MS // 2)
        comp = inv + int(rng.expovariate(1 / (2 * MS))) + 100_000
        f = "enqueue" if rng.random() < p_enq else "dequeue"
        r = rng.random()
        if f == "enqueue":
            outcome = "info" if r < p_info else "ok"
            seq[c] += 1
            item = "p%d-%d" % (proc_of[c], seq[c])
            point = rng.uniform(inv, comp) if outcome == "ok" or rng.random() < .5 \
                else None
        else:
            outcome = "info" if r < p_info else ("intr" if r < p_info + p_intr
                                                 else "ok")
            item = None
            point = rng.uniform(inv, comp) if outcome == "ok" or rng.random() < .7 \
                else None
        ops.append({"i": i, "f": f, "node": "n%d" % (c % nodes + 1),
                    "proc": proc_of[c], "inv": inv, "comp": comp,
                    "outcome": outcome, "point": point, "item": item,
                    "result": None})
        t_client[c] = comp
        if outcome == "info":
            proc_of[c] = next_proc
            seq.append(0)
            next_proc += 1
    # simulate: a list ordered by commit; items popped by uncertain
    # dequeues are put back in their place a little later
    actions = []
    for o in ops:
        if o["point"] is not None:
            actions.append((o["point"], 0, o))
    queue = []  # (commit order, item)
    order = 0
    heldout = []
    actions.sort(key=lambda a: a[0])
    k = 0
    while k < len(actions):
        t, kind, o = actions[k]
        k += 1
        if kind == 1:  # put back
            queue.append(o)
            queue.sort()
            continue
        if o["f"] == "enqueue":
            order += 1
            queue.append((order, o["item"]))
        elif queue:
            got = queue.pop(0)
            if o["outcome"] == "ok":
                o["result"] = got[1]
            else:  # uncertain: put back later
                back = t + rng.randrange(100_000, 5 * MS)
                actions.append((back, 1, got))
                actions.sort(key=lambda a: (a[0], a[1]))
                heldout.append(got)
        else:
            o["result"] = None
    drained = [item for _, item in sorted(queue)]
    events = []
    for o in ops:
        arg = o["item"]
        events.append(_ev(o["i"], "invoke", o["inv"], o["node"], o["proc"],
                          o["f"], key, arg))
        if o["outcome"] == "ok":
            events.append(_ev(o["i"], "ok", o["comp"], o["node"], o["proc"],
                              o["f"], key, o["result"] if o["f"] == "dequeue" else arg))
        elif o["outcome"] == "intr":
            events.append(_ev(o["i"], "fail", o["comp"], o["node"], o["proc"],
                              o["f"], key, None, "EINTR"))
        else:
            events.append(_ev(o["i"], "info", o["comp"], o["node"], o["proc"],
                              o["f"], key, arg, "ETIMEDOUT"))
    events.sort(key=lambda e: (e["t"], e["type"] != "invoke", e["i"]))
    return events, drained


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="random linearizable register history")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ops", type=int, default=2000)
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--stale", action="store_true", help="inject a stale read")
    a = p.parse_args(argv)
    ev = register_history(a.seed, a.ops, a.clients)
    if a.stale:
        ev, what = inject_stale_read(ev, a.seed)
        sys.stderr.write("injected: %s\n" % what)
    for e in ev:
        sys.stdout.write(json.dumps(e) + "\n")


if __name__ == "__main__":
    main()
