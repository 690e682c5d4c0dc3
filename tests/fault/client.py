#!/usr/bin/env python3
"""Workload client of the fault harness: runs operations through one node's
quorumfs mount and records each one's invocation and completion in the
history (JSON Lines, one event per line, one O_APPEND write() per line, so
many clients can share one file).

Modes (first argument):
  work   the workload loop: a seeded random mix of register reads, writes and
         compare-and-swaps, counter increments, queue enqueues/dequeues and
         appends, until the stop file appears or the duration is over
  setup  create the workload's keys with initial values (the register
         values are recorded as writes)
  final  after the run: read every register, the counter and the log, drain
         the queue, write FINAL.json (nothing goes to the history: the
         checkers take the final state from FINAL.json)
  tree   dump the node's whole tree (paths, types, values, revisions):
         OUT.json and tree-NODE.txt next to it (what checkers/ compares)

History event (the checkers in checkers/ read exactly this):
  {"i": op id, "type": "invoke"|"ok"|"fail"|"info", "t": ns since run start
   (CLOCK_MONOTONIC, shared by all processes), "node": "n1", "proc": client
   id, "f": op, "key": object, "value": ..., "errno": null|"ETIMEDOUT"|...}

Every path is opened relative to a descriptor of the mount's root (openat),
never by its absolute name: if the daemon dies and its mount is lazily
detached, an absolute path would silently reach the empty directory below
(a read would see "absent"); a root descriptor of a dead mount fails with
ENOTCONN instead. The client then reopens the root, checks that it is a
mount (not the directory below it) and only then invokes the next op.

Each op's syscalls run under an interval timer (--op-timeout, see timed()):
the signal interrupts a syscall the daemon has not taken yet (e.g. a paused
daemon) and the op is recorded as info (errno "EINTR"). A syscall the daemon
has taken waits killable only; the harness kills such a client and records
its open op as info itself.
"""
import argparse
import errno
import hashlib
import json
import os
import random
import signal
import stat
import sys
import time

REG_KEYS = ["r%d" % i for i in range(5)]
# Certainly not applied (INTERFACE §3/§4): nothing was proposed (EROFS), or
# the condition failed when applied (ECANCELED, EEXIST).
FAIL_ERRNOS = {errno.EROFS, errno.ECANCELED, errno.EEXIST}
# A mount that is gone: reopen the root before the next op.
GONE_ERRNOS = {errno.ENOTCONN, errno.ECONNABORTED, errno.ENODEV, errno.ESTALE, errno.EBADF}
WEIGHTS = [("read", 22), ("write", 14), ("cas", 14), ("incr", 10),
           ("enqueue", 12), ("dequeue", 12), ("append", 12)]
PUT = os.O_WRONLY | os.O_CREAT | os.O_TRUNC  # what the shell's `>` does


class OpTimeout(Exception):
    pass


_armed = False


def _on_alarm(signum, frame):
    global _armed
    if _armed:
        _armed = False  # at most one exception per arming
        raise OpTimeout()


def timed(fn, seconds):
    """fn() under the interval timer: (result, None) or (None, exception).

    The only place the timer is armed. Whenever the signal's exception is
    raised (inside fn, or in the finally before the timer is off), it is
    caught here; once disarmed, a late signal raises nothing."""
    global _armed
    try:
        try:
            _armed = True
            signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
            return fn(), None
        finally:
            _armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    except (OSError, OpTimeout, ValueError) as e:
        return None, e


def errname(e):
    if isinstance(e, OpTimeout):
        return "EINTR"  # our own timer: the outcome is unknown
    if isinstance(e, OSError) and e.errno is not None:
        return errno.errorcode.get(e.errno, "E%d" % e.errno)
    if e is None:
        return None
    return type(e).__name__


def certain_failure(e):
    return isinstance(e, OSError) and e.errno in FAIL_ERRNOS


class History:
    def __init__(self, path, t0, node, proc):
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.t0 = t0
        self.node = node
        self.proc = proc
        self.seq = 0

    def emit(self, i, typ, f, key, value, err=None):
        ev = {"i": i, "type": typ, "t": time.monotonic_ns() - self.t0, "node": self.node,
              "proc": self.proc, "f": f, "key": key, "value": value, "errno": err}
        os.write(self.fd, (json.dumps(ev, separators=(",", ":")) + "\n").encode())

    def invoke(self, f, key, value=None):
        self.seq += 1
        i = self.proc * 1000000 + self.seq
        self.emit(i, "invoke", f, key, value)
        return i


def read_fd(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks).decode("utf-8", "backslashreplace")


class Mount:
    """The mount's root as a descriptor; reopened when the mount went away."""

    def __init__(self, path):
        self.path = path
        self.parent_dev = os.stat(os.path.dirname(os.path.abspath(path))).st_dev
        self.fd = None

    def ensure(self, timeout):
        """True when we hold a descriptor of the live mount's root."""
        if self.fd is not None:
            return True
        box = []

        def op():
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
            box.append(fd)
            return os.fstat(fd)

        st, e = timed(op, timeout)
        if e is None and st.st_dev != self.parent_dev:  # else: the directory below
            self.fd = box[0]
            return True
        for fd in box:
            try:
                os.close(fd)
            except OSError:
                pass
        return False

    def drop(self):
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = None

    def dfd(self):
        """The root descriptor; never None (None would mean the cwd)."""
        if self.fd is None:
            raise OSError(errno.ENOTCONN, "mount root not open")
        return self.fd

    # --- primitive operations (raise OSError) ------------------------------
    def read(self, rel):
        """The value (str) of rel, or None when absent."""
        try:
            fd = os.open(rel, os.O_RDONLY, dir_fd=self.dfd())
        except FileNotFoundError:
            return None
        try:
            return read_fd(fd)
        finally:
            os.close(fd)

    def write(self, rel, data, flags):
        """open(flags) + exactly one write() + close; the write's error is the op's."""
        fd = os.open(rel, flags, 0o644, dir_fd=self.dfd())
        try:
            n = os.write(fd, data)
            if n != len(data):
                raise OSError(errno.EIO, "short write %d of %d" % (n, len(data)))
        finally:
            try:
                os.close(fd)
            except OSError:
                pass  # the change was committed (or refused) inside write()

    def rev(self, d, name):
        """mod_revision of d/name from d/.rev/name; 0 when absent."""
        v = self.read("%s/.rev/%s" % (d, name))
        return 0 if v is None else int(v.strip())

    def consistent(self, d, name):
        """(rev, value, rev again) of d/name."""
        r1 = self.rev(d, name)
        v = self.read("%s/%s" % (d, name))
        r2 = self.rev(d, name)
        return r1, v, r2


class Client:
    def __init__(self, a):
        self.a = a
        self.h = History(a.history, a.t0, a.node, a.proc)
        self.m = Mount(a.mount)
        self.rng = random.Random(a.seed)
        self.n = 0  # values written by this client

    def uniq(self, prefix):
        self.n += 1
        return "%s%d-%d" % (prefix, self.a.proc, self.n)

    def seen(self, e):
        """Note an error: a mount that is gone is reopened before the next op."""
        if isinstance(e, OSError) and e.errno in GONE_ERRNOS:
            self.m.drop()

    def complete(self, i, f, key, value, e, ok_value=None):
        """Record a change's completion: ok, fail when certainly not applied,
        else info."""
        if e is None:
            self.h.emit(i, "ok", f, key, value if ok_value is None else ok_value)
            return
        self.seen(e)
        self.h.emit(i, "fail" if certain_failure(e) else "info", f, key, value, errname(e))

    # --- registers ------------------------------------------------------------
    def op_read(self, key):
        k = "reg/" + key
        i = self.h.invoke("read", k)
        v, e = timed(lambda: self.m.read(k), self.a.op_timeout)
        if e is not None:
            self.seen(e)  # a read changes nothing: it certainly had no effect
            self.h.emit(i, "fail", "read", k, None, errname(e))
        else:
            self.h.emit(i, "ok", "read", k, v)

    def op_write(self, key):
        k = "reg/" + key
        v = self.uniq("w")
        i = self.h.invoke("write", k, v)
        _, e = timed(lambda: self.m.write(k, v.encode(), PUT), self.a.op_timeout)
        self.complete(i, "write", k, v, e)

    def op_cas(self, key):
        """Read a consistent (revision, value) pair (recorded as a read),
        then replace the value only if the revision is still that one."""
        k = "reg/" + key
        i = self.h.invoke("read", k)
        got, e = timed(lambda: self.m.consistent("reg", key), self.a.op_timeout)
        if e is not None:
            self.seen(e)
            self.h.emit(i, "fail", "read", k, None, errname(e))
            return
        r1, old, r2 = got
        self.h.emit(i, "ok", "read", k, old)
        if r1 != r2 or (r1 == 0) != (old is None):
            return  # changed under us: no cas this time
        new = self.uniq("c")
        val = [old, new]
        i = self.h.invoke("cas", k, val)
        _, e = timed(lambda: self.m.write("reg/.cas/%d/%s" % (r1, key), new.encode(), PUT),
                     self.a.op_timeout)
        self.complete(i, "cas", k, val, e)

    # --- counter ----------------------------------------------------------------
    def op_incr(self):
        """Read-revision/read-value/cas until a cas succeeds (ok), or give
        up (fail: every cas certainly failed), or stop at the first cas
        whose outcome is unknown (info: it may have applied, and a retry
        could apply a second time)."""
        key = "ctr/c"
        i = self.h.invoke("incr", key)
        deadline = time.monotonic() + self.a.op_timeout
        last = None
        for attempt in range(10):
            left = deadline - time.monotonic()
            if left <= 0.05:
                break
            got, e = timed(lambda: self.m.consistent("ctr", "c"), left)
            if e is not None:  # a failed read changes nothing: try again
                last = e
                self.seen(e)
                if self.m.fd is None:
                    break
                time.sleep(0.05)
                continue
            r1, v, r2 = got
            if r1 != r2 or v is None:
                continue
            try:
                n = int(v.strip())
            except ValueError:
                self.h.emit(i, "fail", "incr", key, None, "EBADVALUE")
                return
            left = deadline - time.monotonic()
            if left <= 0.05:
                break
            _, e = timed(lambda: self.m.write("ctr/.cas/%d/c" % r1, str(n + 1).encode(), PUT), left)
            if e is None:
                self.h.emit(i, "ok", "incr", key, None)
                return
            if not certain_failure(e):
                self.complete(i, "incr", key, None, e)  # info: never retry after this
                return
            last = e  # certainly not applied: another attempt is safe
            time.sleep(self.rng.uniform(0.0, 0.03 * (attempt + 1)))
        self.h.emit(i, "fail", "incr", key, None, errname(last) if last else "EGAVEUP")

    # --- queue ------------------------------------------------------------------
    def op_enqueue(self):
        v = self.uniq("p")
        i = self.h.invoke("enqueue", "q", v)
        _, e = timed(lambda: self.m.write("q/.enqueue", v.encode(), PUT), self.a.op_timeout)
        self.complete(i, "enqueue", "q", v, e)

    def dequeue(self):
        """Pop one item: ("item", value), ("empty", None) or ("fail"|"info", exc)."""
        box = []

        def op():
            fd = os.open("q/.dequeue", os.O_RDONLY | os.O_NONBLOCK, dir_fd=self.m.dfd())
            box.append(fd)  # the item is ours now: only its value is left to read
            return read_fd(fd)

        v, e = timed(op, self.a.op_timeout)
        for fd in box:
            os.close(fd)
        if e is None:
            return "item", v
        if isinstance(e, BlockingIOError):
            return "empty", None
        self.seen(e)
        if not box and certain_failure(e):
            return "fail", e
        return "info", e

    def op_dequeue(self):
        i = self.h.invoke("dequeue", "q")
        r, x = self.dequeue()
        if r in ("item", "empty"):
            self.h.emit(i, "ok", "dequeue", "q", x)
        else:
            self.h.emit(i, r, "dequeue", "q", None, errname(x))

    # --- append -----------------------------------------------------------------
    def op_append(self):
        self.n += 1
        v = "%d-%d" % (self.a.proc, self.n)
        i = self.h.invoke("append", "log/a", v)
        _, e = timed(lambda: self.m.write("log/a", (v + "\n").encode(), os.O_WRONLY | os.O_APPEND),
                     self.a.op_timeout)
        self.complete(i, "append", "log/a", v, e)

    # --- modes ------------------------------------------------------------------
    def work(self):
        names = [w for w, _ in WEIGHTS]
        weights = [n for _, n in WEIGHTS]
        deadline = time.monotonic() + self.a.duration
        while time.monotonic() < deadline and not os.path.exists(self.a.stop):
            if not self.m.ensure(self.a.op_timeout):
                time.sleep(0.1)  # mount down (killed node): no op to record
                continue
            f = self.rng.choices(names, weights)[0]
            key = self.rng.choice(REG_KEYS)
            {"read": lambda: self.op_read(key), "write": lambda: self.op_write(key),
             "cas": lambda: self.op_cas(key), "incr": self.op_incr, "enqueue": self.op_enqueue,
             "dequeue": self.op_dequeue, "append": self.op_append}[f]()
            # pacing: a short random think time, longer once the mount is lost
            time.sleep(self.rng.uniform(self.a.think_min, self.a.think_max))
            if self.m.fd is None:
                time.sleep(0.05)
        return 0

    def wait_mount(self, deadline):
        while not self.m.ensure(5):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def setup(self):
        """Keys exist before the workload starts, so that a plain write is
        never a create (a create and the first write are two changes: a
        reader could see the empty value between them)."""
        deadline = time.monotonic() + self.a.duration
        if not self.wait_mount(deadline):
            print("setup: mount %s not ready" % self.a.mount, file=sys.stderr)
            return 1

        def retry(what, fn):
            while True:
                _, e = timed(fn, 10)
                if e is None or isinstance(e, FileExistsError):
                    return True  # (EEXIST: an earlier try applied after all)
                self.seen(e)
                if time.monotonic() > deadline:
                    print("setup: %s failed: %s" % (what, errname(e)), file=sys.stderr)
                    return False
                time.sleep(0.2)
                self.m.ensure(5)

        for d in ("reg", "ctr", "q", "log"):
            if not retry("mkdir " + d, lambda d=d: os.mkdir(d, 0o755, dir_fd=self.m.dfd())):
                return 1
        for key in REG_KEYS:
            v = "init-" + key
            i = self.h.invoke("write", "reg/" + key, v)
            # create-if-absent with its value: one change, never empty
            if not retry("create reg/" + key,
                         lambda key=key, v=v: self.m.write("reg/.cas/0/" + key, v.encode(), PUT)):
                self.h.emit(i, "info", "write", "reg/" + key, v, "ESETUP")
                return 1
            self.h.emit(i, "ok", "write", "reg/" + key, v)
        if not retry("create ctr/c", lambda: self.m.write("ctr/.cas/0/c", b"0", PUT)):
            return 1
        # an O_CREAT|O_EXCL open without a write: one change, an empty key
        if not retry("create log/a", lambda: os.close(os.open("log/a", os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                                                              0o644, dir_fd=self.m.dfd()))):
            return 1
        return 0

    def final(self):
        """Reads after convergence; the queue drained through dequeues."""
        out = {"registers": {}, "counter": None, "queue_drained": [], "log": [], "errors": []}
        deadline = time.monotonic() + self.a.duration
        if not self.wait_mount(deadline):
            out["errors"].append("mount not ready")
        else:
            for key in REG_KEYS:
                for _ in range(5):
                    got, e = timed(lambda: self.m.consistent("reg", key), 10)
                    if e is not None:
                        out["errors"].append("read reg/%s: %s" % (key, errname(e)))
                        time.sleep(0.2)
                        continue
                    if got[0] == got[2]:
                        out["registers"]["reg/" + key] = got[1]
                        break
            v, e = timed(lambda: self.m.read("ctr/c"), 10)
            if e is None:
                out["counter"] = int(v.strip()) if v else 0
            else:
                out["errors"].append("read ctr/c: %s" % errname(e))
            errors = 0
            while True:
                if time.monotonic() > deadline or errors >= 20:
                    out["errors"].append("queue not drained")
                    break
                r, x = self.dequeue()
                if r == "empty":
                    break
                if r == "item":
                    out["queue_drained"].append(x)
                    continue
                errors += 1
                out["errors"].append("dequeue: %s" % errname(x))
                time.sleep(0.2)
                self.m.ensure(5)
            v, e = timed(lambda: self.m.read("log/a"), 10)
            if e is None:
                out["log"] = [x for x in (v or "").split("\n") if x != ""]
            else:
                out["errors"].append("read log/a: %s" % errname(e))
        with open(self.a.out, "w") as fp:
            json.dump(out, fp, indent=1, sort_keys=True)
        return 0 if not out["errors"] else 1

    def tree(self):
        """Every entry below the root: type, value (files), mode, revisions."""
        out = {"node": self.a.node, "entries": {}, "errors": []}
        if not self.m.ensure(10):
            out["errors"].append("mount not ready")
        else:
            _, e = timed(lambda: self.walk("", out), self.a.duration)
            if e is not None:
                out["errors"].append("walk: %s" % errname(e))
        with open(self.a.out, "w") as fp:
            json.dump(out, fp, indent=1, sort_keys=True)
        # the form checkers/convergence.py compares: one line per entry,
        # tab-separated, the path first
        if self.a.out.endswith(".json"):
            d, base = os.path.split(self.a.out)
            with open(os.path.join(d, "tree-%s.txt" % base[:-5]), "w") as fp:
                for p in sorted(out["entries"]):
                    e = out["entries"][p]
                    v = e.get("value")
                    h = hashlib.sha256(v.encode("utf-8", "surrogateescape")).hexdigest()[:16] if v is not None else "-"
                    fp.write("%s\t%s\t%s\t%s\tsha256:%s\trev=%s/%s/%s\n" % (
                        p, e["type"], e["mode"], len(v) if v is not None else "-", h,
                        e.get("mod_revision", "-"), e.get("create_revision", "-"), e.get("version", "-")))
                for err in out["errors"]:
                    fp.write("ERROR\t%s\n" % err)
        return 0 if not out["errors"] else 1

    def walk(self, rel, out):
        dfd = self.m.dfd()
        fd = os.open(rel or ".", os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
        try:
            names = sorted(os.listdir(fd))
        finally:
            os.close(fd)
        for name in names:
            p = rel + "/" + name if rel else name
            if rel == "" and name == "members":
                continue  # the cluster view (changes by the moment), not keys
            try:
                st = os.stat(p, dir_fd=dfd, follow_symlinks=False)
                e = {"mode": "%o" % stat.S_IMODE(st.st_mode)}
                if stat.S_ISLNK(st.st_mode):
                    e["type"] = "link"
                    e["value"] = os.readlink(p, dir_fd=dfd)
                    out["entries"][p] = e
                    continue
                isdir = stat.S_ISDIR(st.st_mode)
                fd = os.open(p, os.O_RDONLY | (os.O_DIRECTORY if isdir else 0), dir_fd=dfd)
                try:
                    for x in ("mod_revision", "create_revision", "version"):
                        try:
                            e[x] = int(os.getxattr(fd, "user.quorumfs." + x))
                        except (OSError, ValueError):
                            pass
                    if not isdir:
                        e["value"] = read_fd(fd)
                finally:
                    os.close(fd)
                e["type"] = "dir" if isdir else "file"
                out["entries"][p] = e
                if isdir:
                    self.walk(p, out)
            except OSError as ex:
                out["errors"].append("%s: %s" % (p, errname(ex)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["work", "setup", "final", "tree"])
    ap.add_argument("--mount", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--proc", type=int, default=0)
    ap.add_argument("--history", default=os.devnull, help="JSON Lines history to append to")
    ap.add_argument("--t0", type=int, default=0, help="CLOCK_MONOTONIC ns of the run's start")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--op-timeout", type=float, default=6.0)
    ap.add_argument("--duration", type=float, default=3600.0, help="seconds until the client stops")
    ap.add_argument("--stop", default="/nonexistent", help="stop when this file exists")
    ap.add_argument("--think-min", type=float, default=0.01)
    ap.add_argument("--think-max", type=float, default=0.06)
    ap.add_argument("--out", help="FINAL.json (final) or the tree's .json (tree)")
    a = ap.parse_args()
    signal.signal(signal.SIGALRM, _on_alarm)
    if a.mode in ("final", "tree"):
        a.history = os.devnull
    c = Client(a)
    return {"work": c.work, "setup": c.setup, "final": c.final, "tree": c.tree}[a.mode]()


if __name__ == "__main__":
    sys.exit(main())
