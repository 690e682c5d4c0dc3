"""The nemesis: a seeded schedule of fault cycles and how each fault is
applied and healed.

A cycle: pick one fault (from the schedule), apply it, hold it for a random
0.5-3 s, heal it, wait until the cluster has a leader again (bounded), pause
briefly. At most a minority of the voters is faulty at any time (the bridge
partition cuts links, not nodes: every node still reaches a majority
through the bridge node).

The whole schedule (fault kinds, durations, subsets as positions in a
seeded permutation, loss rates, delays) is drawn from the seed before the
run starts, so a replay with the same seed applies the same faults in the
same order. Only "leader" targets are resolved at run time (the current
leader, which depends on timing).

Faults:
  partition-halves   a random minority | the rest, both directions DROPped
  partition-leader   the current leader | the rest
  partition-bridge   two groups that cannot see each other, one node that
                     sees both (3 nodes: a | b, c bridges; 5: ab | cd, e bridges)
  loss               a minority drops each packet in and out with probability P
  delay              every connection to or from a minority (sometimes every
                     node, with less delay) is held DELAY +- JITTER ms per chunk
                     by the proxy it passes
  kill               kill -9 a minority (the leader or random); restart at heal
  pause              SIGSTOP a minority (the leader or random); SIGCONT at heal
  wipe               one node loses its disk: kill -9, `quorumctl remove` via a
                     live node, wipe the data dir, restart with --join (a
                     learner), `quorumctl promote` once it caught up
"""
import json
import random
import shutil
import os
import time

FAULTS = [("partition-halves", 3), ("partition-leader", 2), ("partition-bridge", 2),
          ("loss", 2), ("delay", 3), ("kill", 3), ("pause", 2), ("wipe", 1)]


# How many entries a learner may trail the leader's commit when promoted.
PROMOTE_SLACK = 64


def make_schedule(rng, n, cycles, faults=None):
    names = [f for f, _ in FAULTS if faults is None or f in faults]
    weights = [w for f, w in FAULTS if faults is None or f in faults]
    minority = (n - 1) // 2
    out = []
    for c in range(cycles):
        f = rng.choices(names, weights)[0]
        perm = list(range(1, n + 1))
        rng.shuffle(perm)
        step = {"cycle": c + 1, "fault": f, "hold": round(rng.uniform(0.5, 3.0), 3),
                "perm": perm, "size": rng.randint(1, minority),
                "gap": round(rng.uniform(0.1, 0.5), 3)}
        if f in ("kill", "pause", "wipe"):
            step["target"] = "leader" if rng.random() < 0.5 else "random"
        if f == "loss":
            step["p"] = round(rng.choice([0.05, 0.1, 0.2, 0.3, 0.5]), 2)
        if f == "delay":
            step["all"] = rng.random() < 0.3
            step["ms"] = rng.choice([20, 50, 100, 200, 400]) if not step["all"] else rng.choice([10, 30, 60, 100])
            step["jitter"] = round(step["ms"] * rng.choice([0, 0.25, 0.5]))
        out.append(step)
    return out


class Nemesis:
    def __init__(self, cl, say, t0_ns, log_path, jlog_path):
        self.cl = cl
        self.say = say
        self.t0 = t0_ns
        self.log = open(log_path, "a")
        self.jlog = open(jlog_path, "a")
        self.counts = {}
        self.liveness = []   # cycles after which no leader came within the bound
        self.crashes = []    # daemons that died on their own
        self.errors = []     # harness-level failures (a procedure that did not finish)
        self.active = None   # what to undo at heal

    def t(self):
        return time.monotonic_ns() - self.t0

    def note(self, cycle, action, **kw):
        t = self.t()
        kw2 = " ".join("%s=%s" % (k, v) for k, v in kw.items())
        line = "%9.3fs cycle %s %s %s" % (t / 1e9, cycle, action, kw2)
        self.log.write(line + "\n")
        self.log.flush()
        self.jlog.write(json.dumps(dict(t=t, cycle=cycle, action=action, **kw)) + "\n")
        self.jlog.flush()
        self.say(line)

    # --- cluster views ------------------------------------------------------------
    def leader(self):
        """The node that leads with a quorum, as seen by the live nodes; None."""
        sts = {n.name: n.status() for n in self.cl.live()}
        for name, st in sts.items():
            if st.get("role") == "leader" and st.get("quorum") == "yes":
                if all(s.get("leader") == name for s in sts.values() if s):
                    return self.cl.node(name)
        return None

    def wait_leader(self, bound):
        end = time.monotonic() + bound
        while time.monotonic() < end:
            ld = self.leader()
            if ld is not None:
                return ld
            time.sleep(0.1)
        return None

    def voters(self):
        """(voters, learners) from the leader's status, or None."""
        ld = self.leader()
        if ld is None:
            return None
        st = ld.status()
        try:
            return int(st["voters"]), int(st["learners"])
        except (KeyError, ValueError):
            return None

    def backtrace(self, n):
        """Print the backtrace of a crashed daemon's core, when gdb and a core exist."""
        import glob
        import subprocess
        cores = sorted(glob.glob(os.path.join(n.cwd, "core*")), key=os.path.getmtime)
        if not cores:
            print("  (no core dump of %s in %s)" % (n.name, n.cwd), flush=True)
            return
        if not shutil.which("gdb"):
            print("  core dump of %s: %s (gdb not installed)" % (n.name, cores[-1]), flush=True)
            return
        out = subprocess.run(["gdb", "-batch", "-ex", "thread apply all bt 20", n.cl.bin, cores[-1]],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60).stdout
        print("  backtrace of %s (%s):\n%s" % (n.name, cores[-1], out.decode(errors="replace")[-6000:]),
              flush=True)

    def check_crashes(self, cycle):
        """A daemon that should run but exited by itself: a failure; restart it."""
        for n in self.cl.nodes:
            if n.up and not n.alive():
                rc = n.proc.returncode
                self.crashes.append({"node": n.name, "rc": rc, "cycle": cycle})
                self.note(cycle, "CRASH", node=n.name, exit=rc)
                self.backtrace(n)
                n.kill9()
                n.start()
                n.wait_mounted()

    # --- one cycle ------------------------------------------------------------------
    def cycle(self, step, leader_bound=20):
        c = step["cycle"]
        self.check_crashes(c)
        self.ensure_membership(c)
        nodes = self.cl.nodes
        n = len(nodes)
        vl = self.voters()
        voters = vl[0] if vl else n
        budget = (voters - 1) // 2 - (n - voters)  # non-voters count as faulty
        f = step["fault"]
        if budget < 1:
            self.note(c, "skip", fault=f, why="%d voters of %d: no fault allowed" % (voters, n))
            return
        size = min(step["size"], budget)
        perm = [self.cl.node("n%d" % i) for i in step["perm"]]

        def pick(k):
            if step.get("target") == "leader":
                ld = self.leader()
                if ld is not None:
                    return [ld] + [x for x in perm if x is not ld][:k - 1]
            return perm[:k]

        hold = step["hold"]
        self.counts[f] = self.counts.get(f, 0) + 1
        if f == "partition-halves":
            a, b = perm[:size], perm[size:]
            self.partition(c, f, [(x, y) for x in a for y in b], groups=[a, b])
        elif f == "partition-leader":
            ld = self.leader() or perm[0]
            rest = [x for x in nodes if x is not ld]
            self.partition(c, f, [(ld, y) for y in rest], groups=[[ld], rest])
        elif f == "partition-bridge":
            bridge = perm[0]
            others = perm[1:]
            a, b = others[:len(others) // 2], others[len(others) // 2:]
            self.partition(c, f, [(x, y) for x in a for y in b], groups=[a, [bridge], b])
        elif f == "loss":
            tgt = perm[:size]
            for x in tgt:
                x.ipt_restore(["-A QFS -i eth0 -m statistic --mode random --probability %s -j DROP" % step["p"],
                               "-A QFS -o eth0 -m statistic --mode random --probability %s -j DROP" % step["p"]])
            self.note(c, "apply", fault=f, nodes=names(tgt), p=step["p"], hold=hold)
            self.active = ("net", tgt)
        elif f == "delay":
            tgt = list(nodes) if step["all"] else perm[:size]
            for x in tgt:  # connections others dialed to x
                x.proxy_cmd("delay %d %d" % (step["ms"], step["jitter"]))
            for y in nodes:  # connections x dialed to the others
                if y not in tgt:
                    for x in tgt:
                        y.proxy_cmd("delay-from %s %d %d" % (x.ip, step["ms"], step["jitter"]))
            self.note(c, "apply", fault=f, nodes=names(tgt), ms=step["ms"], jitter=step["jitter"], hold=hold)
            self.active = ("delay", tgt)
        elif f == "kill":
            tgt = pick(size)
            for x in tgt:
                x.kill9()
            self.note(c, "apply", fault=f, nodes=names(tgt), hold=hold)
            self.active = ("kill", tgt)
        elif f == "pause":
            tgt = pick(size)
            for x in tgt:
                x.pause()
            self.note(c, "apply", fault=f, nodes=names(tgt), hold=hold)
            self.active = ("pause", tgt)
        elif f == "wipe":
            tgt = pick(1)[0]
            self.wipe(c, tgt, hold)
            self.active = None
        time.sleep(hold if f != "wipe" else 0)
        self.heal(c)
        ld = self.wait_leader(leader_bound)
        if ld is None:
            self.liveness.append(c)
            self.note(c, "NO-LEADER", within="%ds" % leader_bound)
        else:
            self.note(c, "leader", node=ld.name)
        time.sleep(step["gap"])

    def partition(self, c, f, pairs, groups):
        rules = {}
        for x, y in pairs:
            rules.setdefault(x, []).extend(["-A QFS -s %s -j DROP" % y.ip, "-A QFS -d %s -j DROP" % y.ip])
            rules.setdefault(y, []).extend(["-A QFS -s %s -j DROP" % x.ip, "-A QFS -d %s -j DROP" % x.ip])
        for x, r in rules.items():
            x.ipt_restore(r)
        self.note(c, "apply", fault=f, groups="|".join(names(g) for g in groups))
        self.active = ("net", list(rules))

    def heal(self, c):
        a = self.active
        self.active = None
        if a is None:
            return
        kind, tgt = a
        if kind == "net":
            for x in tgt:
                x.ipt_flush()
        elif kind == "delay":
            for x in self.cl.nodes:
                x.proxy_cmd("clear")
        elif kind == "pause":
            for x in tgt:
                x.cont()
        elif kind == "kill":
            for x in tgt:
                x.start()
            for x in tgt:
                if not x.wait_mounted():
                    self.errors.append("cycle %s: %s did not mount after restart" % (c, x.name))
        self.note(c, "heal", nodes=names(tgt))

    def heal_all(self, c="final"):
        """Undo everything, whatever state the run is in."""
        self.heal(c)
        for x in self.cl.nodes:
            try:
                x.ipt_flush()
            except RuntimeError as e:
                self.errors.append(str(e))
            try:
                x.proxy_cmd("clear")
            except OSError as e:
                self.errors.append("proxy of %s: %s" % (x.name, e))
            if x.paused:
                x.cont()
        self.check_crashes(c)
        for x in self.cl.nodes:
            if not x.up:
                x.start()
                x.wait_mounted()
        self.ensure_membership(c)

    # --- a lost disk ------------------------------------------------------------------
    def wipe(self, c, x, hold):
        """The operator's procedure for a voter that lost its disk. Restarting
        it empty with --peer would let it vote again in a term it already
        voted in (its vote was on the lost disk): it must come back as a new
        member that has never voted, i.e. removed, then joined as a learner,
        then promoted once it has the log."""
        self.note(c, "apply", fault="wipe", node=x.name, hold=hold)
        x.kill9()
        time.sleep(hold)
        ld = self.wait_leader(20)
        if ld is None:
            self.errors.append("cycle %s: no leader to remove %s through" % (c, x.name))
            self.note(c, "wipe-abort", node=x.name, why="no leader")
            x.start()  # same disk: it is still a voter
            x.wait_mounted()
            return
        if not self.remove(c, x):
            x.start()
            x.wait_mounted()
            return
        shutil.rmtree(x.data, ignore_errors=True)
        os.makedirs(x.data)
        via = self.leader() or ld
        x.join_url = via.url
        self.note(c, "wiped", node=x.name, join=via.name)
        x.start()
        if not x.wait_mounted():
            self.errors.append("cycle %s: %s did not mount after --join" % (c, x.name))
        self.promote_when_caught_up(c, x)

    def remove(self, c, x, bound=20):
        end = time.monotonic() + bound
        out = "no live node"
        while time.monotonic() < end:
            via = [n for n in self.cl.live() if n is not x]
            if not via:
                time.sleep(0.3)
                continue
            r = via[0].ctl("remove", x.name, timeout=10)
            out = (r.stdout + r.stderr).strip()
            if r.returncode == 0 or "is not a member" in out:
                # (not a member: an earlier try's change committed after all)
                self.note(c, "removed", node=x.name, via=via[0].name)
                return True
            time.sleep(0.3)
        self.errors.append("cycle %s: quorumctl remove %s did not succeed: %s" % (c, x.name, out[:200]))
        self.note(c, "wipe-abort", node=x.name, why="remove failed")
        return False

    def promote_when_caught_up(self, c, x, bound=30):
        end = time.monotonic() + bound
        last = ""
        while time.monotonic() < end:
            ld = self.leader()
            st = x.status()
            if ld is not None and st.get("role") == "learner":
                lst = ld.status()
                # Within a few entries: clients keep writing, and the two
                # status calls are apart in time (under ASan by 100s of ms),
                # so an exact match can miss forever.  Promoting a learner
                # that trails a little is safe; it only must not trail far.
                try:
                    caught = int(st.get("applied", 0)) + PROMOTE_SLACK >= int(lst.get("commit", 1 << 62))
                except ValueError:
                    caught = False
                if caught:
                    r = ld.ctl("promote", x.name, timeout=10)
                    last = (r.stdout + r.stderr).strip()
                    if r.returncode == 0:
                        self.note(c, "promoted", node=x.name, via=ld.name)
                        return True
            elif st.get("role") in ("follower", "leader", "candidate") and self.is_voter(x):
                self.note(c, "promoted", node=x.name, note="already a voter")
                return True
            time.sleep(0.2)
        self.errors.append("cycle %s: %s not promoted within %ds (%s)" % (c, x.name, bound, last[:200]))
        self.note(c, "promote-failed", node=x.name, last=last[:80])
        return False

    def is_voter(self, x):
        ld = self.leader()
        if ld is None:
            return False
        r = ld.ctl("members", timeout=5)
        for line in r.stdout.splitlines()[1:]:
            w = line.split()
            if len(w) >= 2 and w[0] == x.name:
                return w[1] in ("voter", "leader")
        return False

    def ensure_membership(self, c):
        """A node left a learner (a promote that did not finish): promote it."""
        vl = self.voters()
        if vl is None or vl[1] == 0:
            return
        for x in self.cl.nodes:
            if x.status().get("role") == "learner":
                self.note(c, "finish-promote", node=x.name)
                self.promote_when_caught_up(c, x)


def names(nodes):
    return ",".join(x.name for x in nodes) if nodes else "-"
