#!/usr/bin/env python3
"""A TCP relay that can delay what it forwards: the fault harness's stand-in
for netem (the kernel here has none).

One proxy runs inside each node's network namespace, listens on the node's
veth address (the address the other nodes dial) and forwards every connection
to the daemon on 127.0.0.1 in the same namespace. Every chunk it reads, in
either direction, is held for DELAY + uniform(-JITTER, +JITTER) ms before it
is written on; order within a direction is kept (a chunk is never sent before
the one read before it), as on a real path.

Each connection is delayed by the setting for its source address (the
node that dialed) if there is one, else by the default. The nemesis delays
node X both ways by setting X's default (connections others dialed to X)
and, on every other proxy, the setting for X's address (connections X
dialed); every connection passes exactly one proxy, so nothing is delayed
twice.

Control: a UNIX stream socket (--control PATH; a pathname socket, so the
nemesis reaches it from the root namespace). One command per line, answered
with one line:
    delay MS [JITTER_MS]          -> "ok"   the default
    delay-from IP MS [JITTER_MS]  -> "ok"   connections from IP
    clear                         -> "ok"   no delay at all
    get                           -> "delay MS JITTER_MS from {...} conns N"
    ping                          -> "pong"

Python standard library only; single-threaded (selectors). Exits on SIGTERM.
"""
import argparse
import collections
import errno
import json
import os
import random
import selectors
import signal
import socket
import sys
import time

CHUNK = 65536
MAX_QUEUED = 4 << 20  # bytes held per direction before we stop reading


def log(msg):
    sys.stderr.write("%s proxy[%d]: %s\n" % (time.strftime("%H:%M:%S"), os.getpid(), msg))
    sys.stderr.flush()


class Direction:
    """Bytes read from src, to be written to dst once due."""

    def __init__(self, src, dst):
        self.src = src
        self.dst = dst
        self.q = collections.deque()  # (due, bytes)
        self.queued = 0
        self.last_due = 0.0
        self.eof = False      # src said EOF
        self.shut = False     # we shut dst's write side

    def next_due(self):
        return self.q[0][0] if self.q else None


class Pair:
    def __init__(self, proxy, client, upstream, src_ip):
        self.src_ip = src_ip
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.connected = False
        self.dirs = [Direction(client, upstream), Direction(upstream, client)]
        self.closed = False


class Proxy:
    def __init__(self, listen, target, control, seed):
        self.sel = selectors.DefaultSelector()
        self.target = target
        self.rng = random.Random(seed)
        self.delay = 0.0
        self.jitter = 0.0
        self.from_ip = {}  # source IP -> (delay, jitter)
        self.pairs = set()
        host, port = listen.rsplit(":", 1)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, int(port)))
        self.lsock.listen(128)
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, ("listen", None))
        if os.path.exists(control):
            os.unlink(control)
        self.csock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.csock.bind(control)
        self.csock.listen(8)
        self.csock.setblocking(False)
        self.sel.register(self.csock, selectors.EVENT_READ, ("ctl-listen", None))
        self.stop = False

    # --- registration -------------------------------------------------------
    def want(self, sock, pair):
        """(Re)compute the events we want on one socket of a pair."""
        if pair.closed:
            return
        ev = 0
        if sock is pair.upstream and not pair.connected:
            ev = selectors.EVENT_WRITE
        else:
            for d in pair.dirs:
                if d.src is sock and not d.eof and d.queued < MAX_QUEUED:
                    ev |= selectors.EVENT_READ
                if d.dst is sock and d.q and d.q[0][0] <= time.monotonic():
                    ev |= selectors.EVENT_WRITE
        try:
            key = self.sel.get_key(sock)
            if ev == 0:
                self.sel.unregister(sock)
            elif key.events != ev:
                self.sel.modify(sock, ev, ("pair", pair))
        except KeyError:
            if ev:
                self.sel.register(sock, ev, ("pair", pair))

    def close_pair(self, pair):
        if pair.closed:
            return
        pair.closed = True
        for s in (pair.client, pair.upstream):
            try:
                self.sel.unregister(s)
            except (KeyError, ValueError):
                pass
            try:
                s.close()
            except OSError:
                pass
        self.pairs.discard(pair)

    # --- events ---------------------------------------------------------------
    def accept(self):
        while True:
            try:
                c, peer = self.lsock.accept()
            except BlockingIOError:
                return
            except OSError as e:
                log("accept: %s" % e)
                return
            c.setblocking(False)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            u = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            u.setblocking(False)
            u.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rc = u.connect_ex(self.target)
            pair = Pair(self, c, u, peer[0])
            self.pairs.add(pair)
            if rc not in (0, errno.EINPROGRESS):
                self.close_pair(pair)
                continue
            self.want(u, pair)
            self.want(c, pair)

    def handle(self, sock, pair, events):
        if pair.closed:
            return
        if sock is pair.upstream and not pair.connected:
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.close_pair(pair)  # daemon down: drop the client
                return
            pair.connected = True
            self.want(pair.upstream, pair)
            self.want(pair.client, pair)
            return
        if events & selectors.EVENT_READ:
            for d in pair.dirs:
                if d.src is sock:
                    self.read(pair, d)
        if pair.closed:
            return
        if events & selectors.EVENT_WRITE:
            for d in pair.dirs:
                if d.dst is sock:
                    self.flush(pair, d)
        if not pair.closed:
            self.want(pair.client, pair)
            self.want(pair.upstream, pair)

    def read(self, pair, d):
        try:
            data = d.src.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close_pair(pair)
            return
        now = time.monotonic()
        if not data:
            d.eof = True
            d.q.append((max(now, d.last_due), b""))  # EOF marker, in order
            return
        delay, jitter = self.from_ip.get(pair.src_ip, (self.delay, self.jitter))
        hold = delay
        if jitter:
            hold += self.rng.uniform(-jitter, jitter)
        due = max(now + max(hold, 0.0) / 1000.0, d.last_due)
        d.last_due = due
        d.q.append((due, data))
        d.queued += len(data)

    def flush(self, pair, d):
        if d.dst is pair.upstream and not pair.connected:
            return
        now = time.monotonic()
        while d.q and d.q[0][0] <= now:
            due, data = d.q[0]
            if not data:  # EOF marker
                d.q.popleft()
                try:
                    d.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                d.shut = True
                if all(x.shut for x in pair.dirs):
                    self.close_pair(pair)
                return
            try:
                n = d.dst.send(data)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.close_pair(pair)
                return
            d.queued -= n
            if n < len(data):
                d.q[0] = (due, data[n:])
                return
            d.q.popleft()

    def control(self, c):
        try:
            c.settimeout(2)
            buf = b""
            while not buf.endswith(b"\n") and len(buf) < 512:
                x = c.recv(512)
                if not x:
                    break
                buf += x
            words = buf.decode(errors="replace").split()
            if words[:1] == ["delay"] and len(words) in (2, 3):
                self.delay = float(words[1])
                self.jitter = float(words[2]) if len(words) == 3 else 0.0
                log("delay %.0f ms, jitter %.0f ms" % (self.delay, self.jitter))
                reply = "ok"
            elif words[:1] == ["delay-from"] and len(words) in (3, 4):
                self.from_ip[words[1]] = (float(words[2]), float(words[3]) if len(words) == 4 else 0.0)
                log("delay from %s %s ms, jitter %s ms" % (words[1], words[2], words[3] if len(words) == 4 else 0))
                reply = "ok"
            elif words == ["clear"]:
                self.delay = self.jitter = 0.0
                self.from_ip = {}
                log("no delay")
                reply = "ok"
            elif words == ["get"]:
                reply = "delay %g %g from %s conns %d" % (self.delay, self.jitter, json.dumps(self.from_ip),
                                                          len(self.pairs))
            elif words == ["ping"]:
                reply = "pong"
            else:
                reply = "error: unknown command"
            c.sendall((reply + "\n").encode())
        except (OSError, ValueError) as e:
            log("control: %s" % e)
        finally:
            c.close()

    def run(self):
        while not self.stop:
            now = time.monotonic()
            timeout = 0.2
            due_pairs = []
            for p in self.pairs:
                for d in p.dirs:
                    nd = d.next_due()
                    if nd is not None:
                        if nd <= now:
                            due_pairs.append(p)
                        else:
                            timeout = min(timeout, nd - now)
            for p in due_pairs:  # something became due: make sure we write it
                if not p.closed:
                    for d in p.dirs:
                        self.flush(p, d)
                    if not p.closed:
                        self.want(p.client, p)
                        self.want(p.upstream, p)
            try:
                events = self.sel.select(max(timeout, 0.0005))
            except InterruptedError:
                continue
            for key, ev in events:
                kind, pair = key.data
                if kind == "listen":
                    self.accept()
                elif kind == "ctl-listen":
                    try:
                        c, _ = self.csock.accept()
                    except OSError:
                        continue
                    self.control(c)
                else:
                    self.handle(key.fileobj, pair, ev)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", required=True, help="IP:PORT to accept on")
    ap.add_argument("--target", required=True, help="IP:PORT to forward to")
    ap.add_argument("--control", required=True, help="UNIX socket path for commands")
    ap.add_argument("--seed", type=int, default=0, help="seed of the jitter")
    a = ap.parse_args()
    th, tp = a.target.rsplit(":", 1)
    # The listen address may take a moment to appear (DAD is off for IPv4,
    # but be patient with a freshly configured interface).
    for i in range(50):
        try:
            p = Proxy(a.listen, (th, int(tp)), a.control, a.seed)
            break
        except OSError as e:
            if i == 49:
                log("cannot listen on %s: %s" % (a.listen, e))
                return 1
            time.sleep(0.1)

    def on_term(signum, frame):
        p.stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    log("relaying %s -> %s (control %s)" % (a.listen, a.target, a.control))
    p.run()
    try:
        os.unlink(a.control)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
