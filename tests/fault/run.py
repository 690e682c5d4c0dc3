#!/usr/bin/env python3
"""One fault-injection run of quorumfs: a 3- or 5-node cluster in network
namespaces, workload clients on every node's mount, a seeded nemesis, then
heal, convergence, final reads and the checkers. See README.md.

    tests/fault/run.py --nodes 3 --cycles 20 --seed 42 [--keep]

Exit status: 0 pass, 1 anomalies or failures, 2 harness error, 77 skipped
(not root, no network namespaces, no /dev/fuse), 130 interrupted (SIGINT,
SIGTERM, the time limit).
"""
import argparse
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
# No __pycache__ in the source tree (ours, the clients' and the checkers').
sys.dont_write_bytecode = True
os.environ["PYTHONDONTWRITEBYTECODE"] = "1"

import cluster  # noqa: E402
from cluster import Cluster, Ledger, teardown, run, proc_alive  # noqa: E402
from nemesis import Nemesis, make_schedule, FAULTS, names  # noqa: E402

CHECKER = os.path.join(HERE, "checkers", "check.py")


class Stop(BaseException):
    """SIGINT, SIGTERM or the time limit: stop and tear down."""


def say(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


# --- clients ---------------------------------------------------------------------

class ClientPool:
    """Workload clients (separate processes, root namespace) plus a monitor
    thread that follows the history: a client whose op has been open for
    longer than op_timeout + grace is stuck in a syscall only a fatal signal
    ends (FUSE waits killable once the daemon took the request), so it is
    killed, its open op is recorded as info, and a new client (new proc id:
    a process with an op in flight never issues another) takes its place."""

    GRACE = 4.0

    def __init__(self, a, cl, ledger, run_dir, t0, seed):
        self.a = a
        self.cl = cl
        self.ledger = ledger
        self.history = os.path.join(run_dir, "history.jsonl")
        self.stop_file = os.path.join(run_dir, "stop")
        self.t0 = t0
        self.seed = seed
        self.next_proc = 1
        self.clients = {}   # proc -> (Popen, node)
        self.pending = {}   # proc -> invoke event
        self.counts = {}    # (f, type) -> n
        self.killed = 0
        self.restarted = 0
        self.pos = 0
        self.buf = b""
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = None
        self.hfd = os.open(self.history, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def new_proc(self):
        p = self.next_proc
        self.next_proc += 1
        return p

    def client_argv(self, mode, node, proc, extra=()):
        return [sys.executable, os.path.join(HERE, "client.py"), mode, "--mount", node.mnt,
                "--node", node.name, "--proc", str(proc), "--history", self.history,
                "--t0", str(self.t0), "--seed", str(self.seed * 1000003 + proc),
                "--op-timeout", str(self.a.op_timeout)] + list(extra)

    def start_client(self, node):
        proc = self.new_proc()
        logf = open(os.path.join(self.cl.run_dir, "clients.log"), "ab")
        p = subprocess.Popen(self.client_argv("work", node, proc, ["--stop", self.stop_file]),
                             stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        self.ledger.proc(p.pid, "client", "%s/%d" % (node.name, proc))
        self.clients[proc] = (p, node)

    def start(self):
        for node in self.cl.nodes:
            for _ in range(self.a.clients_per_node):
                self.start_client(node)
        self.thread = threading.Thread(target=self.monitor, daemon=True)
        self.thread.start()

    def emit(self, ev):
        os.write(self.hfd, (json.dumps(ev, separators=(",", ":")) + "\n").encode())

    def tail(self):
        with open(self.history, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            k = (ev["f"], ev["type"])
            self.counts[k] = self.counts.get(k, 0) + 1
            if ev["type"] == "invoke":
                self.pending[ev["proc"]] = ev
            else:
                self.pending.pop(ev["proc"], None)

    def close_out(self, proc, why):
        """Record the open op of a dead client as info (after it is dead)."""
        ev = self.pending.pop(proc, None)
        if ev is None:
            return
        done = dict(ev, type="info", t=time.monotonic_ns() - self.t0, errno=why)
        if ev["f"] == "dequeue":
            done["value"] = None
        self.emit(done)
        self.counts[(ev["f"], "info")] = self.counts.get((ev["f"], "info"), 0) + 1

    def monitor(self):
        while not self.stopping.is_set():
            with self.lock:
                self.check(replace=True)
            self.stopping.wait(0.25)

    def check(self, replace):
        self.tail()
        now = time.monotonic_ns() - self.t0
        for proc, (p, node) in list(self.clients.items()):
            why = None
            if p.poll() is not None:
                if p.returncode != 0:
                    why = "EEXITED"
                    say("client %d on %s exited %s" % (proc, node.name, p.returncode))
                else:
                    del self.clients[proc]
                    self.close_out(proc, "EEXITED")
                    continue
            else:
                ev = self.pending.get(proc)
                if ev and now - ev["t"] > (self.a.op_timeout + self.GRACE) * 1e9:
                    why = "EKILLED"
                    p.kill()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        say("client %d on %s survives SIGKILL" % (proc, node.name))
                        continue
                    self.killed += 1
                    say("client %d on %s stuck in %s for %.1fs: killed" % (proc, node.name, ev["f"],
                                                                         (now - ev["t"]) / 1e9))
            if why:
                del self.clients[proc]
                self.tail()  # it may have completed its op just before dying
                self.close_out(proc, why)
                if replace and not os.path.exists(self.stop_file):
                    self.restarted += 1
                    self.start_client(node)

    def stop(self):
        """Ask every client to stop after its current op; kill laggards."""
        with open(self.stop_file, "w"):
            pass
        self.stopping.set()
        if self.thread:
            self.thread.join()
        end = time.monotonic() + self.a.op_timeout + 3
        while time.monotonic() < end and any(p.poll() is None for p, _ in self.clients.values()):
            time.sleep(0.1)
        with self.lock:
            for proc, (p, node) in list(self.clients.items()):
                if p.poll() is None:
                    p.kill()
                    try:
                        p.wait(10)
                    except subprocess.TimeoutExpired:
                        pass
                    self.killed += 1
            self.tail()
            for proc in list(self.clients):
                self.close_out(proc, "EKILLED")
            self.clients.clear()
            for proc in list(self.pending):  # anything else left open
                self.close_out(proc, "EKILLED")

    def one_shot(self, mode, node, proc, extra, timeout):
        """A client run to completion (setup, final, tree)."""
        logf = open(os.path.join(self.cl.run_dir, "clients.log"), "ab")
        p = subprocess.Popen(self.client_argv(mode, node, proc, extra), stdin=subprocess.DEVNULL,
                             stdout=logf, stderr=logf, start_new_session=True)
        logf.close()
        self.ledger.proc(p.pid, "client", "%s/%s" % (node.name, mode))
        return p

    def ops_total(self):
        return sum(v for (f, t), v in self.counts.items() if t == "invoke")


# --- the run -----------------------------------------------------------------------------

def preflight(a):
    def skip(why):
        say("SKIP: %s" % why)
        sys.exit(77)

    if os.geteuid() != 0:
        skip("not root (network namespaces, iptables and mounts need root)")
    if not os.path.exists("/dev/fuse"):
        skip("/dev/fuse is missing")
    for tool in ("ip", "iptables", "iptables-restore", "nsenter", "fusermount3"):
        if not any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":")
                   + ["/usr/sbin", "/sbin"]):
            skip("%s is missing (scripts/deps.sh installs it)" % tool)
    probe = "qfs-f%d-probe" % os.getpid()
    r = run(["ip", "netns", "add", probe], timeout=10)
    if r.returncode != 0:
        skip("cannot make a network namespace: %s" % r.stderr.strip())
    ok = run(["nsenter", "--net=/run/netns/" + probe, "iptables", "-w", "-S"], timeout=10)
    run(["ip", "netns", "del", probe], timeout=10)
    if ok.returncode != 0:
        skip("iptables does not work in a namespace: %s" % ok.stderr.strip())
    for what, path in (("daemon", a.bin), ("quorumctl", a.ctl)):
        if not os.access(path, os.X_OK):
            say("ERROR: %s binary %s not found (build it, or pass --bin/--ctl)" % (what, path))
            sys.exit(2)


def replay_args(a):
    """The options that shape a run, except the seed."""
    cmd = ["--nodes", str(a.nodes), "--cycles", str(a.cycles)]
    if a.faults:
        cmd += ["--faults", a.faults]
    if a.reads != "linearizable":
        cmd += ["--reads", a.reads]
    if a.clients_per_node != 2:
        cmd += ["--clients-per-node", str(a.clients_per_node)]
    for o in a.daemon_opt:
        cmd += ["--daemon-opt=" + o]
    return " ".join(shlex.quote(x) for x in cmd)


def replay_cmd(a):
    return "tests/fault/run.py --seed %d %s" % (a.seed, replay_args(a))


def wait_converged(cl, nem, bound):
    """Every node applied everything committed (the same index), twice in a row."""
    end = time.monotonic() + bound
    prev = None
    last = {}
    while time.monotonic() < end:
        last = {n.name: n.status() for n in cl.nodes}
        vals = [(s.get("applied"), s.get("commit")) for s in last.values()]
        if all(s for s in last.values()) and len(set(vals)) == 1 and vals[0][0] == vals[0][1]:
            if prev == vals[0]:
                return True, last
            prev = vals[0]
        else:
            prev = None
        time.sleep(0.3)
    return False, last


def compare_trees(trees_dir, nodes):
    trees = {}
    for n in nodes:
        try:
            with open(os.path.join(trees_dir, n.name + ".json")) as f:
                trees[n.name] = json.load(f)
        except (OSError, ValueError):
            trees[n.name] = None
    ref = trees[nodes[0].name]
    if ref is None:
        return False, "no tree from %s" % nodes[0].name
    bad = []
    for n in nodes[1:]:
        t = trees[n.name]
        if t is None:
            bad.append("%s: no tree" % n.name)
            continue
        if t["entries"] != ref["entries"]:
            diff = sorted(k for k in set(t["entries"]) | set(ref["entries"])
                          if t["entries"].get(k) != ref["entries"].get(k))
            bad.append("%s differs from %s at %d paths (%s)" % (n.name, nodes[0].name, len(diff),
                                                                 ", ".join(diff[:4])))
    errs = [e for t in trees.values() if t for e in t.get("errors", [])]
    if errs:
        bad.append("dump errors: %s" % "; ".join(errs[:4]))
    if bad:
        return False, "; ".join(bad)
    return True, "identical on %s (%d entries)" % (names(nodes), len(ref["entries"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, choices=[3, 5], default=3)
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--seed", type=int, help="default: a random one (printed)")
    ap.add_argument("--keep", action="store_true", help="keep the run's temp dir (logs, history, trees)")
    ap.add_argument("--keep-failed", action="store_true", help="keep the temp dir when the run fails")
    ap.add_argument("--faults", help="comma-separated subset of: " + ",".join(f for f, _ in FAULTS))
    ap.add_argument("--clients-per-node", type=int, default=2)
    ap.add_argument("--op-timeout", type=float, default=6.0, help="seconds per client op (default 6)")
    ap.add_argument("--write-timeout", default="2s", help="the daemons' --write-timeout (default 2s)")
    ap.add_argument("--snapshot-entries", type=int, default=512)
    ap.add_argument("--reads", choices=["linearizable", "local"], default="linearizable",
                    help="mount with -o linearizable (default) or read the local replica")
    ap.add_argument("--daemon-opt", action="append", default=[], help="extra daemon option (repeatable)")
    ap.add_argument("--time-limit", type=float, help="seconds for the whole run (default 120 + 12 per cycle)")
    ap.add_argument("--bin", default=os.environ.get("QUORUMFS_BIN", os.path.join(SRC, "build", "quorumfs")))
    ap.add_argument("--ctl", default=os.environ.get("QUORUMCTL_BIN"))
    ap.add_argument("--summary-json", help="write the summary here too (soak.sh)")
    a = ap.parse_args()
    if a.ctl is None:
        a.ctl = os.path.join(os.path.dirname(os.path.abspath(a.bin)), "src", "ctl", "quorumctl")
    a.bin = os.path.abspath(a.bin)
    a.ctl = os.path.abspath(a.ctl)
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    if a.time_limit is None:
        a.time_limit = 120 + 12 * a.cycles
    faults = a.faults.split(",") if a.faults else None
    if faults and not set(faults) <= {f for f, _ in FAULTS}:
        ap.error("unknown fault in --faults")
    preflight(a)
    # The daemon reads QUORUMFS_* from its environment: hand it none of ours.
    for k in list(os.environ):
        if k.startswith("QUORUMFS_") or k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            del os.environ[k]

    started = time.monotonic()
    t0 = time.monotonic_ns()
    rng = random.Random(a.seed)
    schedule = make_schedule(rng, a.nodes, a.cycles, faults)
    client_seed = rng.getrandbits(32)
    run_dir = tempfile.mkdtemp(prefix="qfs-fault-%d-" % os.getpid(), dir="/tmp")
    ledger = Ledger(run_dir)
    say("=== quorumfs fault run: seed %d, %d nodes, %d cycles, run dir %s" % (a.seed, a.nodes, a.cycles, run_dir))
    say("replay: %s" % replay_cmd(a))

    # The reaper tears everything down if this process dies without doing it.
    reaper = subprocess.Popen([sys.executable, os.path.join(HERE, "cluster.py"), "reap", run_dir,
                               str(os.getpid()), str(time.time() + a.time_limit + 30)],
                              stdin=subprocess.DEVNULL, start_new_session=True)

    timed_out = []

    def on_signal(signum, frame):
        raise Stop("time limit of %.0f s" % a.time_limit if timed_out else signal.Signals(signum).name)

    def on_time_limit():
        timed_out.append(True)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    deadline = started + a.time_limit
    timer = threading.Timer(a.time_limit, on_time_limit)
    timer.daemon = True
    timer.start()

    daemon_opts = ["--write-timeout", a.write_timeout, "--snapshot-entries", str(a.snapshot_entries)]
    if a.reads == "linearizable":
        daemon_opts += ["-o", "linearizable"]
    daemon_opts += a.daemon_opt
    res = {"seed": a.seed, "nodes": a.nodes, "cycles": a.cycles, "cycles_done": 0, "ops": 0,
           "anomalies": None, "failures": [], "result": "ERROR", "run_dir": run_dir,
           "replay": replay_cmd(a)}
    cl = nem = pool = None
    check_rc = None
    interrupted = None
    phase_t = {}
    try:
        cl = Cluster(run_dir, a.nodes, a.bin, a.ctl, daemon_opts, say, ledger)
        with open(os.path.join(run_dir, "run.json"), "w") as f:
            json.dump({"seed": a.seed, "nodes": [n.name for n in cl.nodes], "cycles": a.cycles,
                       "reads": a.reads, "daemon_opts": daemon_opts, "t0_monotonic_ns": t0,
                       "history": "history.jsonl", "nemesis": "nemesis.jsonl", "schedule": schedule,
                       "addresses": {n.name: n.url for n in cl.nodes}, "replay": replay_cmd(a)}, f, indent=1)
        cl.build_network()
        for n in cl.nodes:
            n.start_proxy(rng.getrandbits(32))
        for n in cl.nodes:
            n.start()
        for n in cl.nodes:
            if not n.wait_mounted():
                raise RuntimeError("%s did not mount %s (see %s)" % (n.name, n.mnt, n.log))
        nem = Nemesis(cl, say, t0, os.path.join(run_dir, "nemesis.log"), os.path.join(run_dir, "nemesis.jsonl"))
        ld = nem.wait_leader(30)
        if ld is None:
            raise RuntimeError("no leader within 30 s of the start")
        nem.note(0, "start", leader=ld.name)
        pool = ClientPool(a, cl, ledger, run_dir, t0, client_seed)
        p = pool.one_shot("setup", cl.nodes[0], 0, ["--duration", "30"], 40)
        if p.wait(45) != 0:
            raise RuntimeError("setup of the workload keys failed (see clients.log)")
        pool.start()
        phase_t["nemesis_start"] = time.monotonic()
        final_budget = 60
        for step in schedule:
            if time.monotonic() > deadline - final_budget:
                say("time limit near: stopping the nemesis after %d cycles" % res["cycles_done"])
                res["failures"].append("time limit: only %d of %d cycles" % (res["cycles_done"], a.cycles))
                break
            nem.cycle(step)
            res["cycles_done"] += 1
        phase_t["nemesis_end"] = time.monotonic()
        # --- the end: heal, converge, read, dump -------------------------------------
        pool.stop()
        nem.heal_all()
        ld = nem.wait_leader(30)
        ok, st = wait_converged(cl, nem, 60)
        if not ok:
            res["failures"].append("no convergence within 60 s after healing: %s" % json.dumps(
                {k: (v.get("role"), v.get("commit"), v.get("applied")) for k, v in st.items()}))
        nem.note("final", "converged" if ok else "NOT-CONVERGED",
                 applied=",".join("%s:%s" % (k, v.get("applied")) for k, v in st.items()))
        final_json = os.path.join(run_dir, "final.json")
        reader = ld or cl.nodes[0]
        p = pool.one_shot("final", reader, pool.new_proc(), ["--out", final_json, "--duration", "60"], 70)
        try:
            if p.wait(75) != 0:
                res["failures"].append("final reads had errors (see %s)" % final_json)
        except subprocess.TimeoutExpired:
            p.kill()
            res["failures"].append("final reads did not finish")
        pool.tail()
        ok, st = wait_converged(cl, nem, 30)
        trees_dir = os.path.join(run_dir, "trees")
        os.makedirs(trees_dir, exist_ok=True)
        dumps = [pool.one_shot("tree", n, 0, ["--out", os.path.join(trees_dir, n.name + ".json"),
                                              "--duration", "50"], 60) for n in cl.nodes]
        for p in dumps:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        same, tree_msg = compare_trees(trees_dir, cl.nodes)
        res["trees"] = tree_msg
        nem.check_crashes("final")
        exits = {}
        for n in cl.nodes:
            exits[n.name] = n.stop_clean()
        res["daemon_exits"] = exits
        bad = {k: v for k, v in exits.items() if v != 0}
        if bad:
            res["failures"].append("daemons did not exit 0 after fusermount3 -u: %s" % bad)
    except Stop as e:
        interrupted = str(e)
        res["failures"].append("interrupted (%s)" % interrupted)
        say("interrupted (%s): tearing down" % interrupted)
    except Exception as e:  # a harness error: report, tear down
        import traceback
        traceback.print_exc()
        res["failures"].append("harness error: %s" % e)
        res["harness_error"] = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        timer.cancel()
        if pool and not pool.stopping.is_set():
            try:
                pool.stop()
            except Exception as e:
                say("stopping clients: %s" % e)
        teardown(run_dir, keep=True, say=say)
        open(os.path.join(run_dir, ".torn-down"), "w").close()
        reaper.terminate()
        reaper.wait()
        if cl:
            for n in cl.nodes:
                for p in (n.proc, n.proxy):
                    if p is not None:
                        p.poll()

    # --- the verdict ------------------------------------------------------------------
    if pool:
        pool.tail()
        res["ops"] = pool.ops_total()
        res["op_counts"] = {"%s:%s" % k: v for k, v in sorted(pool.counts.items())}
        res["clients_killed"] = pool.killed
    if nem:
        res["faults"] = nem.counts
        res["liveness"] = nem.liveness
        res["crashes"] = nem.crashes
        res["failures"] += nem.errors
        if nem.liveness:
            res["failures"].append("no leader within 20 s after healing, cycles %s" % nem.liveness)
        if nem.crashes:
            res["failures"].append("daemons crashed: %s" % nem.crashes)
    if "trees" in res and not res["trees"].startswith("identical"):
        res["failures"].append("trees differ: %s" % res["trees"])
    final_json = os.path.join(run_dir, "final.json")
    if interrupted is None and not res.get("harness_error") and os.path.exists(final_json):
        if os.path.exists(CHECKER):
            cmd = [sys.executable, CHECKER, "--history", os.path.join(run_dir, "history.jsonl"),
                   "--final", final_json, "--trees", os.path.join(run_dir, "trees"), "--seed", str(a.seed),
                   "--replay-args", replay_args(a)]
            say("check: %s" % " ".join(shlex.quote(x) for x in cmd))
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=max(60, deadline + 120 - time.monotonic()))
                out = (r.stdout + r.stderr).rstrip()
                check_rc = r.returncode
            except subprocess.TimeoutExpired:
                out, check_rc = "checker timed out", 124
            with open(os.path.join(run_dir, "check.out"), "w") as f:
                f.write(out + "\n")
            lines = out.splitlines()
            for line in lines[:60]:
                say("  | " + line)
            if len(lines) > 60:
                say("  | ... (%d more lines in check.out)" % (len(lines) - 60))
            res["anomalies"] = 0 if check_rc == 0 else check_rc
            if check_rc != 0:
                res["failures"].append("checker found anomalies (exit %d)" % check_rc)
        else:
            say("check: SKIPPED: %s does not exist yet" % os.path.relpath(CHECKER, SRC))
            res["check"] = "skipped"
    total = time.monotonic() - started
    res["time_s"] = round(total, 1)
    if "nemesis_start" in phase_t and "nemesis_end" in phase_t and res["cycles_done"]:
        res["s_per_cycle"] = round((phase_t["nemesis_end"] - phase_t["nemesis_start"]) / res["cycles_done"], 2)
    if interrupted and not timed_out:
        res["result"] = "INTERRUPTED"
    elif res.get("harness_error"):
        res["result"] = "ERROR"
    elif res["failures"]:
        res["result"] = "FAIL"
    else:
        res["result"] = "PASS"

    say("=== summary (seed %d, %d nodes) ===" % (a.seed, a.nodes))
    say("cycles:   %d of %d; faults: %s" % (res["cycles_done"], a.cycles,
                                            ", ".join("%s %d" % kv for kv in sorted((res.get("faults") or {}).items())) or "-"))
    oc = res.get("op_counts", {})
    by_type = {}
    for k, v in oc.items():
        f, t = k.split(":")
        if t != "invoke":
            by_type[t] = by_type.get(t, 0) + v
    by_f = {}
    for k, v in oc.items():
        f, t = k.split(":")
        if t == "invoke":
            by_f[f] = v
    say("ops:      %d (%s); %s" % (res["ops"], ", ".join("%s %d" % kv for kv in sorted(by_type.items())),
                                   ", ".join("%s %d" % kv for kv in sorted(by_f.items()))))
    say("clients:  %d killed while stuck" % res.get("clients_killed", 0))
    say("trees:    %s" % res.get("trees", "-"))
    say("daemons:  exits at the end %s; crashes %s" % (res.get("daemon_exits", "-"), res.get("crashes") or "none"))
    say("check:    %s" % ("skipped (no checker yet)" if res.get("check") == "skipped" else
                          "not run" if check_rc is None else "PASS" if check_rc == 0 else "FAIL (exit %d)" % check_rc))
    say("time:     %.1f s total%s" % (total, ", %.2f s per cycle" % res["s_per_cycle"] if "s_per_cycle" in res else ""))
    for f in res["failures"]:
        say("FAILURE:  %s" % f)
    keep = a.keep or (a.keep_failed and res["result"] != "PASS")
    if keep:
        say("kept:     %s (history.jsonl, nemesis.log, nN/daemon.log, trees/, final.json)" % run_dir)
    say("replay:   %s" % replay_cmd(a))
    say("RESULT:   %s" % res["result"])
    if a.summary_json:
        with open(a.summary_json, "w") as f:
            json.dump(res, f, indent=1)
    if not keep:
        import shutil
        if not any(cluster.mounted(n.mnt) for n in (cl.nodes if cl else [])):
            shutil.rmtree(run_dir, ignore_errors=True)
    return {"PASS": 0, "FAIL": 1, "INTERRUPTED": 130}.get(res["result"], 2)


if __name__ == "__main__":
    sys.exit(main())
