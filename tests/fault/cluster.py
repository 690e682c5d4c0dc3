#!/usr/bin/env python3
"""Network-namespace clusters for the fault harness: topology, daemons,
proxies, the resource ledger and teardown.

Topology of a run (RUN = the run's temp dir, P = "qfs-f<pid>"):

    root namespace: run.py, the nemesis, the clients, every FUSE mount (RUN/mnt/nI)
    P-br:  bridge br0; one veth end per node (n1, n2, ...)
    P-nI:  eth0 = 10.77.<R>.<I>/24 (the other end of the veth), lo
           quorumfs nI: --listen tcp://127.0.0.1:7400, --advertise tcp://10.77.R.I:7400
           proxy.py: 10.77.R.I:7400 -> 127.0.0.1:7400 (delay, jitter)
           iptables chain QFS (jumped to from INPUT and OUTPUT): the nemesis's
           DROP rules (partitions, packet loss)

Every resource is written to RUN/resources.jsonl *before* it is created, so
that teardown (here, or by the reaper process if run.py itself dies) can
remove what exists of it: processes by PID (checked against their start
time, so a reused PID is never hit), mounts (fusermount3 -u, then -uz),
namespaces (which takes the veths and the iptables rules with them), the
temp dir. Nothing is ever found by name patterns.

`python3 cluster.py reap RUN PARENT_PID DEADLINE` is the reaper: it tears the
run down when the parent dies, and when the (epoch) deadline passes it first
asks the parent to stop (SIGTERM), then kills it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DAEMON_PORT = 7400


def now_s():
    return time.monotonic()


def proc_start_time(pid):
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[19]


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()[0]


def proc_alive(pid, start=None):
    """Running (not a zombie) and, when start is given, the same process."""
    st = proc_state(pid)
    if st is None or st in ("Z", "X"):
        return False
    return start is None or proc_start_time(pid) == start


def mounted(path):
    path = os.path.abspath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                if line.split()[4] == path:
                    return True
    except OSError:
        pass
    return False


def run(cmd, timeout=20, check=False, input=None):
    """A short command; returns CompletedProcess (never raises on timeout)."""
    try:
        r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        r = subprocess.CompletedProcess(cmd, 124, e.stdout or "", "timed out after %ss" % timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, (r.stderr or "").strip()))
    return r


# --- the ledger ---------------------------------------------------------------

def allow_core_dumps():
    """In the daemon's child: a crash leaves a core in its cwd (core_pattern
    "core"), which check_crashes turns into a backtrace."""
    import resource
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


class Ledger:
    """Append-only record of what this run created (RUN/resources.jsonl)."""

    def __init__(self, run_dir):
        self.path = os.path.join(run_dir, "resources.jsonl")

    def add(self, **rec):
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def proc(self, pid, role, name=""):
        self.add(kind="proc", pid=pid, start=proc_start_time(pid), role=role, name=name)

    def load(self):
        out = []
        try:
            with open(self.path) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except OSError:
            pass
        return out


def unmount(path, say=print):
    """fusermount3 -u (retried while busy), then -uz, then umount -l."""
    if not mounted(path):
        return True
    for _ in range(8):
        run(["fusermount3", "-u", path], timeout=5)
        if not mounted(path):
            return True
        time.sleep(0.25)
    run(["fusermount3", "-uz", path], timeout=5)
    if mounted(path):
        run(["umount", "-l", path], timeout=5)
    if mounted(path):
        say("teardown: could not unmount %s" % path)
        return False
    return True


def kill_wait(pid, start, sig, bound):
    if not proc_alive(pid, start):
        return True
    try:
        os.kill(pid, sig)
    except OSError:
        return True
    end = now_s() + bound
    while now_s() < end:
        if not proc_alive(pid, start):
            return True
        time.sleep(0.05)
    return not proc_alive(pid, start)


def teardown(run_dir, keep=False, say=print):
    """Remove everything the ledger of run_dir lists. Idempotent."""
    recs = Ledger(run_dir).load()
    procs = [r for r in recs if r["kind"] == "proc" and r.get("start")]
    by_role = lambda role: [r for r in procs if r["role"] == role]
    # 1. clients and helpers: nothing of theirs needs to survive
    for r in by_role("client") + by_role("helper"):
        kill_wait(r["pid"], r["start"], signal.SIGKILL, 3)
    # 2. daemons: resume paused ones, unmount (a clean exit), then signals
    daemons = by_role("daemon")
    for r in daemons:
        if proc_alive(r["pid"], r["start"]):
            try:
                os.kill(r["pid"], signal.SIGCONT)
            except OSError:
                pass
    mounts = []
    for r in recs:
        if r["kind"] == "mount" and r["path"] not in mounts:
            mounts.append(r["path"])
    for m in mounts:
        unmount(m, say)
    for r in daemons:
        if not kill_wait(r["pid"], r["start"], signal.SIGTERM, 5):
            say("teardown: daemon pid %d ignored SIGTERM: SIGKILL" % r["pid"])
            kill_wait(r["pid"], r["start"], signal.SIGKILL, 5)
    for m in mounts:  # a killed daemon leaves a dead mount
        unmount(m, say)
    # 3. proxies (inside the namespaces)
    for r in by_role("proxy"):
        if not kill_wait(r["pid"], r["start"], signal.SIGTERM, 3):
            kill_wait(r["pid"], r["start"], signal.SIGKILL, 3)
    # 4. namespaces: their veths and iptables rules go with them
    for r in reversed(recs):
        if r["kind"] == "netns" and os.path.exists("/run/netns/" + r["name"]):
            rr = run(["ip", "netns", "del", r["name"]], timeout=10)
            if rr.returncode != 0:
                say("teardown: ip netns del %s: %s" % (r["name"], rr.stderr.strip()))
    # 5. the temp dir
    if not keep:
        left = [m for m in mounts if mounted(m)]
        if left:
            say("teardown: keeping %s: still mounted: %s" % (run_dir, " ".join(left)))
        else:
            shutil.rmtree(run_dir, ignore_errors=True)


# --- nodes ------------------------------------------------------------------------

class Node:
    def __init__(self, cl, i):
        self.cl = cl
        self.i = i
        self.name = "n%d" % i
        self.ns = "%s-n%d" % (cl.prefix, i)
        self.ip = "10.77.%d.%d" % (cl.subnet, i)
        self.url = "tcp://%s:%d" % (self.ip, DAEMON_PORT)
        self.dir = os.path.join(cl.run_dir, self.name)
        self.data = os.path.join(self.dir, "data")
        self.cwd = os.path.join(self.dir, "cwd")  # core dumps land here
        self.log = os.path.join(self.dir, "daemon.log")
        self.mnt = os.path.join(cl.run_dir, "mnt", self.name)
        self.ctl_sock = os.path.join(self.dir, "proxy.sock")
        self.proc = None       # Popen of the daemon
        self.proxy = None      # Popen of the proxy
        self.up = False        # started and not deliberately killed
        self.paused = False
        self.join_url = None   # set once the node was wiped and rejoined
        self.expected_exit = False
        for d in (self.dir, self.data, self.cwd, self.mnt):
            os.makedirs(d, exist_ok=True)

    # --- processes ------------------------------------------------------------
    def nsenter(self, argv):
        return ["nsenter", "--net=/run/netns/" + self.ns] + argv

    def start_proxy(self, seed):
        logf = open(os.path.join(self.dir, "proxy.log"), "ab")
        argv = self.nsenter([sys.executable, os.path.join(HERE, "proxy.py"),
                             "--listen", "%s:%d" % (self.ip, DAEMON_PORT),
                             "--target", "127.0.0.1:%d" % DAEMON_PORT,
                             "--control", self.ctl_sock, "--seed", str(seed)])
        self.proxy = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                                      start_new_session=True)
        logf.close()
        self.cl.ledger.proc(self.proxy.pid, "proxy", self.name)

    def daemon_argv(self):
        cl = self.cl
        argv = [cl.bin, "-f", "--name", self.name, "--data", self.data,
                "--listen", "tcp://127.0.0.1:%d" % DAEMON_PORT, "--advertise", self.url]
        if self.join_url:
            argv += ["--join", self.join_url]
        else:
            for n in cl.nodes:
                argv += ["--peer", "%s=%s" % (n.name, n.url)]
        argv += cl.daemon_opts
        argv.append(self.mnt)
        return argv

    def start(self):
        """Start the daemon (in the background); see wait_mounted."""
        if mounted(self.mnt):  # a dead mount left by kill -9
            run(["fusermount3", "-uz", self.mnt], timeout=5)
        argv = self.nsenter(self.daemon_argv())
        with open(self.log, "ab") as logf:
            logf.write(("=== %s start: %s\n" % (time.strftime("%H:%M:%S"), " ".join(argv))).encode())
            logf.flush()
            self.proc = subprocess.Popen(argv, cwd=self.cwd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=logf, start_new_session=True,
                                         preexec_fn=allow_core_dumps)
        self.cl.ledger.proc(self.proc.pid, "daemon", self.name)
        self.cl.ledger.add(kind="mount", path=self.mnt)
        self.up = True
        self.paused = False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_mounted(self, bound=15):
        end = now_s() + bound
        while now_s() < end:
            if not self.alive():
                return False
            if mounted(self.mnt):
                return True
            time.sleep(0.05)
        return False

    def kill9(self):
        if self.proc is not None:
            if self.paused:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.up = False
        self.paused = False
        if mounted(self.mnt):
            run(["fusermount3", "-uz", self.mnt], timeout=5)
        if mounted(self.mnt):
            run(["umount", "-l", self.mnt], timeout=5)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def cont(self):
        if self.proc is not None and self.alive():
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop_clean(self, bound=15):
        """fusermount3 -u; the daemon should exit 0. Returns its exit status."""
        if self.paused:
            self.cont()
        if self.proc is None:
            return None
        unmount(self.mnt, self.cl.say)
        try:
            rc = self.proc.wait(bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = "hung"
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.up = False
        return rc

    # --- admin ------------------------------------------------------------------
    def ctl(self, *args, timeout=10):
        return run([self.cl.ctl, "--data", self.data] + list(args), timeout=timeout)

    def status(self):
        """quorumctl status as a dict ({} when the daemon does not answer)."""
        if not self.up or self.paused or not self.alive():
            return {}
        r = self.ctl("status", timeout=3)
        if r.returncode != 0:
            return {}
        out = {}
        for line in r.stdout.splitlines():
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
        return out

    def proxy_cmd(self, line):
        import socket
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect(self.ctl_sock)
            s.sendall((line + "\n").encode())
            return s.recv(256).decode().strip()
        finally:
            s.close()

    # --- firewall (the QFS chain in this namespace) -------------------------------
    def ipt_restore(self, rules):
        """Append rules (lines like "-A QFS ...") in one iptables-restore."""
        if not rules:
            return
        text = "*filter\n" + "\n".join(rules) + "\nCOMMIT\n"
        r = run(self.nsenter(["iptables-restore", "-w", "--noflush"]), input=text, timeout=10)
        if r.returncode != 0:
            raise RuntimeError("iptables-restore in %s: %s" % (self.ns, r.stderr.strip()))

    def ipt_flush(self):
        r = run(self.nsenter(["iptables", "-w", "-F", "QFS"]), timeout=10)
        if r.returncode != 0:
            raise RuntimeError("iptables -F QFS in %s: %s" % (self.ns, r.stderr.strip()))


class Cluster:
    def __init__(self, run_dir, n, bin_, ctl, daemon_opts, say, ledger):
        self.run_dir = run_dir
        self.prefix = "qfs-f%d" % os.getpid()
        self.subnet = os.getpid() % 250 + 1
        self.bin = bin_
        self.ctl = ctl
        self.daemon_opts = daemon_opts
        self.say = say
        self.ledger = ledger
        self.br_ns = self.prefix + "-br"
        self.nodes = []
        self.nodes = [Node(self, i) for i in range(1, n + 1)]

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def build_network(self):
        def ip(*args):
            run(["ip"] + list(args), check=True)

        self.ledger.add(kind="netns", name=self.br_ns)
        ip("netns", "add", self.br_ns)
        ip("-n", self.br_ns, "link", "add", "br0", "type", "bridge")
        ip("-n", self.br_ns, "link", "set", "br0", "up")
        ip("-n", self.br_ns, "link", "set", "lo", "up")
        for n in self.nodes:
            self.ledger.add(kind="netns", name=n.ns)
            ip("netns", "add", n.ns)
            # both ends are born in their namespaces: nothing in the root one
            ip("link", "add", "eth0", "netns", n.ns, "type", "veth", "peer", "name", n.name,
               "netns", self.br_ns)
            ip("-n", self.br_ns, "link", "set", n.name, "master", "br0")
            ip("-n", self.br_ns, "link", "set", n.name, "up")
            ip("-n", n.ns, "addr", "add", n.ip + "/24", "dev", "eth0")
            ip("-n", n.ns, "link", "set", "eth0", "up")
            ip("-n", n.ns, "link", "set", "lo", "up")
            for rule in (["-N", "QFS"], ["-A", "INPUT", "-j", "QFS"], ["-A", "OUTPUT", "-j", "QFS"]):
                run(n.nsenter(["iptables", "-w"] + rule), check=True)

    def live(self):
        """Nodes that are up, running and not paused."""
        return [n for n in self.nodes if n.up and not n.paused and n.alive()]


# --- the reaper -----------------------------------------------------------------------

def reap_main(run_dir, parent, deadline):
    """Watch the parent; tear down when it dies; stop it at the deadline."""
    pstart = proc_start_time(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = False
    say = lambda m: sys.stderr.write("reaper: %s\n" % m)
    while True:
        if not os.path.isdir(run_dir):
            return 0
        if not proc_alive(parent, pstart):
            if os.path.exists(os.path.join(run_dir, ".torn-down")):
                return 0
            say("run.py (pid %d) is gone: tearing down %s" % (parent, run_dir))
            teardown(run_dir, keep=True, say=say)
            return 0
        if time.time() > deadline and not stopping:
            say("time limit reached: stopping run.py (pid %d)" % parent)
            stopping = True
            try:
                os.kill(parent, signal.SIGTERM)
            except OSError:
                pass
            hard = time.time() + 60
        if stopping and time.time() > hard:
            say("run.py did not stop: SIGKILL, tearing down")
            kill_wait(parent, pstart, signal.SIGKILL, 5)
            teardown(run_dir, keep=True, say=say)
            return 0
        time.sleep(0.5)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "reap":
        sys.exit(reap_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
    if len(sys.argv) == 3 and sys.argv[1] == "teardown":
        teardown(sys.argv[2], keep=True)
        sys.exit(0)
    print("usage: cluster.py reap RUN PARENT_PID DEADLINE | cluster.py teardown RUN", file=sys.stderr)
    sys.exit(2)
