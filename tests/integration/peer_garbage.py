#!/usr/bin/env python3
"""peer_garbage.py: send garbage, truncated and malformed messages to a
quorumfs peer port (used by c07_garbage.sh).

    peer_garbage.py PHASE HOST PORT --peers n1=URL,n2=URL,... --to NAME [--seed N]
    peer_garbage.py proxy HOST PORT --upstream HOST:PORT --capture FILE [--hold S]
    peer_garbage.py replay HOST PORT --capture FILE [--last N]

PHASE:
  raw      raw TCP garbage: random streams, an HTTP request, a half SP
           handshake, a wrong-protocol handshake, truncated frames, huge
           frame lengths
  framed   valid nng SP-over-TCP (push0) handshake, then framed messages that
           the quorumfs decoder must refuse: random bytes, short, bad magic,
           version, checksum, body_len, kind, flags, ids; body-level lies
           (counts, lengths); wrong cluster / wrong destination; a flood
  spoof    well-formed messages from a node id that is not a member: stale
           RAFT messages (term 1) of every type
  idle     opens 50 connections that stop mid-handshake and keeps them open
           for --hold seconds
  proxy    (--secret-file tests, c17) a man in the middle: listens on HOST:PORT,
           forwards every push0 connection to --upstream (SP handshakes and
           frames, both ways for the handshake) and appends each forwarded
           frame to --capture (u64 length + payload), for --hold seconds
  replay   sends to HOST:PORT, over one push0 connection, the last --last
           captured frames as they were (authentic, already delivered: the
           receiver must drop them as replays); then forgeries made from them:
           a bit flipped in the body (crc fixed: bad MAC), a random tag (bad
           MAC), the MAC stripped (no MAC), and a FORWARD (a proposal) with a
           made-up tag. Prints one line per kind with its count.

The wire format is docs/wire-format.md; the SP handshake is nng's: 8 bytes
"\\0SP\\0" + protocol (u16 big endian) + 2 zero bytes; every message is a u64
big-endian length then the payload. Prints one line per case; exit 0 unless
the target could not be reached at all.
"""
import argparse
import os
import random
import socket
import struct
import sys
import threading
import time

PROTO_PUSH0 = 0x50  # NNI_PROTO(5, 0)
PROTO_PAIR1 = 0x11
MAGIC = 0x57534651
HDR = 40


def crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_T = crc32c_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = CRC_T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def fnv(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def header(kind, cluster, frm, to, body, version=1, flags=0, magic=MAGIC, body_len=None, good_crc=True):
    bl = len(body) if body_len is None else body_len
    h = struct.pack("<IBBHQQQI", magic, version, kind, flags, cluster, frm, to, bl)
    crc = crc32c(h + b"\0\0\0\0" + body)
    if not good_crc:
        crc ^= 0x5A5A5A5A
    return h + struct.pack("<I", crc) + body


AUTH_FLAG = 1
AUTH_TRAILER = 48  # epoch u64, seq u64, tag (32)
TAG = 32


def fix_crc(m):
    """Recomputes the crc of message m: over everything before the tag (the
    whole message without NET_FLAG_AUTH), with the crc field zeroed."""
    flags = struct.unpack_from("<H", m, 6)[0]
    end = len(m) - (TAG if flags & AUTH_FLAG else 0)
    b = bytearray(m)
    b[36:40] = b"\0\0\0\0"
    b[36:40] = struct.pack("<I", crc32c(bytes(b[:end])))
    return bytes(b)


def recv_exact(s, n):
    got = b""
    while len(got) < n:
        chunk = s.recv(n - len(got))
        if not chunk:
            raise EOFError("connection closed")
        got += chunk
    return got


def read_capture(path):
    frames = []
    with open(path, "rb") as f:
        data = f.read()
    off = 0
    while off + 8 <= len(data):
        n = struct.unpack_from(">Q", data, off)[0]
        if off + 8 + n > len(data):
            break
        frames.append(data[off + 8:off + 8 + n])
        off += 8 + n
    return frames


def proxy(a):
    """Forwards push0 connections to --upstream, recording every frame."""
    up_host, up_port = a.upstream.rsplit(":", 1)
    up_port = int(up_port)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.host, a.port))
    srv.listen(64)
    srv.settimeout(0.5)
    out = open(a.capture, "ab")
    lock = threading.Lock()
    stats = {"conns": 0, "frames": 0}

    def serve(c):
        u = None
        try:
            c.settimeout(None)
            hs = recv_exact(c, 8)
            u = socket.create_connection((up_host, up_port), timeout=5)
            u.settimeout(None)
            u.sendall(hs)
            c.sendall(recv_exact(u, 8))
            while True:
                hdr = recv_exact(c, 8)
                n = struct.unpack(">Q", hdr)[0]
                if n > (64 << 20):
                    return
                body = recv_exact(c, n)
                u.sendall(hdr + body)
                with lock:
                    stats["frames"] += 1
                    if stats["frames"] <= a.max_capture:
                        out.write(hdr + body)
                        out.flush()
        except (OSError, EOFError):
            pass
        finally:
            closing(c)
            if u is not None:
                closing(u)

    print("proxy on %s:%d -> %s" % (a.host, a.port, a.upstream))
    sys.stdout.flush()
    end = time.time() + a.hold
    while time.time() < end:
        try:
            c, _ = srv.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        stats["conns"] += 1
        threading.Thread(target=serve, args=(c,), daemon=True).start()
    print("proxy: %d connections, %d frames" % (stats["conns"], stats["frames"]))
    return 0


def replay(a):
    frames = [f for f in read_capture(a.capture)
              if len(f) >= 40 + AUTH_TRAILER and struct.unpack_from("<H", f, 6)[0] & AUTH_FLAG]
    if not frames:
        print("no authenticated frames in %s" % a.capture)
        return 1
    rnd = random.Random(a.seed)
    last = frames[-a.last:]
    s = connect(a.host, a.port)
    if sp_handshake(s) is None:
        print("no SP handshake answer from the node")
        return 1
    sent = {}

    def put(kind, m):
        r = send_quiet(s, frame(m))
        if r == "sent":
            sent[kind] = sent.get(kind, 0) + 1

    for m in last:
        put("replayed as captured", m)
    for m in last[:10]:
        b = bytearray(m)
        b[41] ^= 0x04  # the body's second byte
        put("body bit flipped, crc fixed (bad MAC)", fix_crc(bytes(b)))
        put("random tag (bad MAC)", m[:-TAG] + bytes(rnd.getrandbits(8) for _ in range(TAG)))
        stripped = bytearray(m[:-AUTH_TRAILER])
        stripped[6:8] = b"\0\0"
        put("MAC stripped (no MAC)", fix_crc(bytes(stripped)))
        # A proposal for the leader, from a member's id, with a made-up tag.
        cluster, frm, to = struct.unpack_from("<QQQ", m, 8)
        body = struct.pack("<QI", 77, 12) + b"inject-entry"
        h = struct.pack("<IBBHQQQI", MAGIC, 1, 2, AUTH_FLAG, cluster, frm, to, len(body))
        f = h + b"\0\0\0\0" + body + struct.pack("<QQ", 1 << 62, 1 << 40) + bytes(TAG)
        put("FORWARD with a made-up tag (bad MAC)", fix_crc(f))
    time.sleep(0.3)
    closing(s)
    for kind in sorted(sent):
        print("%-44s %d" % (kind, sent[kind]))
    return 0


def connect(host, port, timeout=3.0):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    return s


def sp_handshake(s, proto=PROTO_PUSH0):
    s.sendall(b"\0SP\0" + struct.pack(">H", proto) + b"\0\0")
    got = b""
    while len(got) < 8:
        chunk = s.recv(8 - len(got))
        if not chunk:
            return None
        got += chunk
    return got


def frame(payload):
    return struct.pack(">Q", len(payload)) + payload


def closing(s):
    try:
        s.close()
    except OSError:
        pass


def send_quiet(s, data):
    try:
        s.sendall(data)
        return "sent"
    except OSError as e:
        return "peer closed (%s)" % e.__class__.__name__


def snap_part(index=0, term=0, offset=0, conf=b"", chunk=b""):
    return struct.pack("<QQQH", index, term, offset, len(conf)) + conf + struct.pack("<I", len(chunk)) + chunk


def conf_bytes(voters, learners=()):
    return bytes([1, len(voters), len(learners), 0]) + b"".join(struct.pack("<Q", v) for v in list(voters) + list(learners))


def raft_body(typ, term=1, n_entries=0, entries=b"", reject=0, transfer=0, snap_last=0,
              index=0, log_term=0, commit=0, snap=None):
    """A RAFT body as the decoder wants it (docs/wire-format.md): the fixed
    part, the entries, then the snapshot part (always present)."""
    return struct.pack("<BBBBIQQQQQQQQ", typ, reject, transfer, snap_last, n_entries,
                       term, log_term, index, commit, 0, 0, 0, 0) + entries + (snap_part() if snap is None else snap)


def entry(term, index, data, typ=0, length=None):
    return struct.pack("<QQBI", term, index, typ, len(data) if length is None else length) + data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase")
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--peers", default="")
    ap.add_argument("--to", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--upstream", default="")
    ap.add_argument("--capture", default="")
    ap.add_argument("--max-capture", type=int, default=20000)
    ap.add_argument("--last", type=int, default=40)
    a = ap.parse_args()
    if a.phase == "proxy":
        return proxy(a)
    if a.phase == "replay":
        return replay(a)
    if not a.peers or not a.to:
        ap.error("--peers and --to are needed for phase " + a.phase)
    rnd = random.Random(a.seed)
    rb = lambda n: bytes(rnd.getrandbits(8) for _ in range(n))
    peers = [p.split("=", 1) for p in a.peers.split(",")]
    cluster = fnv("".join("%s=%s;" % (n, u) for n, u in peers))
    to = fnv(a.to)
    member = fnv(peers[0][0]) if peers[0][0] != a.to else fnv(peers[1][0])
    intruder = fnv("intruder-%d" % a.seed)
    host, port = a.host, a.port

    try:
        closing(connect(host, port))
    except OSError as e:
        print("cannot connect to %s:%d: %s" % (host, port, e))
        return 1

    def case(name, fn):
        try:
            r = fn()
        except OSError as e:
            r = "peer closed (%s)" % e.__class__.__name__
        print("%-44s %s" % (name, r))
        sys.stdout.flush()

    if a.phase == "raw":
        def raw(data, linger=0.0):
            def f():
                s = connect(host, port)
                r = send_quiet(s, data)
                time.sleep(linger)
                closing(s)
                return r
            return f
        case("raw: 64 KiB of random bytes", raw(rb(65536)))
        case("raw: 3 random bytes", raw(rb(3)))
        case("raw: 1 MiB of zeros", raw(bytes(1 << 20)))
        case("raw: HTTP request", raw(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n", 0.2))
        case("raw: half an SP handshake", raw(b"\0SP", 0.2))
        case("raw: SP handshake, bad reserved bytes", raw(b"\0SP\0\0\x50\xff\xff" + rb(100), 0.2))
        for i in range(20):
            case("raw: random burst %d" % i, raw(rb(rnd.randint(1, 5000))))

        def wrong_proto():
            s = connect(host, port)
            got = sp_handshake(s, PROTO_PAIR1)
            r = send_quiet(s, frame(rb(100)))
            closing(s)
            return "handshake answer %r, then %s" % (got, r)
        case("SP handshake as pair1 (wrong protocol)", wrong_proto)

        def framed_raw(data, linger=0.2):
            def f():
                s = connect(host, port)
                got = sp_handshake(s)
                if got is None:
                    closing(s)
                    return "no handshake answer"
                r = send_quiet(s, data)
                time.sleep(linger)
                closing(s)
                return r
            return f
        case("push0: frame length 2^63, then close", framed_raw(struct.pack(">Q", 1 << 63)))
        case("push0: frame length 1 GiB, 1 KiB sent", framed_raw(struct.pack(">Q", 1 << 30) + rb(1024)))
        case("push0: frame length 1000, 10 bytes sent", framed_raw(struct.pack(">Q", 1000) + rb(10)))
        case("push0: 5 bytes of a length", framed_raw(b"\0\0\0\0\0"))
        case("push0: frame 64 MiB + 1 (over the limit)", framed_raw(struct.pack(">Q", (64 << 20) + 1) + rb(4096)))
        return 0

    if a.phase == "framed":
        s = connect(host, port)
        got = sp_handshake(s)
        if got is None:
            print("no SP handshake answer from the node")
            return 1
        print("handshake answer %r" % got)
        msgs = []
        msgs.append(("empty message", b""))
        msgs.append(("1 byte", b"\x01"))
        msgs.append(("39 bytes (short header)", rb(39)))
        msgs.append(("random 40 bytes", rb(40)))
        msgs.append(("random 4 KiB", rb(4096)))
        msgs.append(("bad magic", header(1, cluster, member, to, raft_body(7), magic=0x12345678)))
        msgs.append(("version 2", header(1, cluster, member, to, raft_body(7), version=2)))
        msgs.append(("version 0", header(1, cluster, member, to, raft_body(7), version=0)))
        msgs.append(("bad checksum", header(1, cluster, member, to, raft_body(7), good_crc=False)))
        msgs.append(("body_len larger than the message", header(1, cluster, member, to, raft_body(7), body_len=10000)))
        msgs.append(("body_len smaller than the message", header(1, cluster, member, to, raft_body(7), body_len=3)))
        msgs.append(("body_len 2^32-1", header(1, cluster, member, to, raft_body(7), body_len=0xFFFFFFFF)))
        msgs.append(("kind 0", header(0, cluster, member, to, raft_body(7))))
        msgs.append(("kind 6", header(6, cluster, member, to, raft_body(7))))
        msgs.append(("kind 255", header(255, cluster, member, to, rb(50))))
        msgs.append(("flags set", header(1, cluster, member, to, raft_body(7), flags=1)))
        msgs.append(("from 0", header(1, cluster, 0, to, raft_body(7))))
        msgs.append(("to 0 (not a JOIN)", header(1, cluster, member, 0, raft_body(7))))
        msgs.append(("wrong destination", header(1, cluster, member, to ^ 1, raft_body(7))))
        msgs.append(("wrong cluster", header(1, cluster ^ 1, member, to, raft_body(7))))
        msgs.append(("RAFT: empty body", header(1, cluster, member, to, b"")))
        msgs.append(("RAFT: body cut in the middle", header(1, cluster, member, to, raft_body(7)[:30])))
        msgs.append(("RAFT: type 0", header(1, cluster, member, to, raft_body(0))))
        msgs.append(("RAFT: type 14", header(1, cluster, member, to, raft_body(14))))
        msgs.append(("RAFT: type 200", header(1, cluster, member, to, raft_body(200))))
        msgs.append(("RAFT: reject=7", header(1, cluster, member, to, raft_body(2, reject=7))))
        msgs.append(("RAFT: APP, 2^31 entries claimed", header(1, cluster, member, to, raft_body(1, n_entries=1 << 31))))
        msgs.append(("RAFT: APP, 3 entries claimed, 1 sent", header(1, cluster, member, to,
                     raft_body(1, n_entries=3, entries=entry(1, 5, b"abcd")))))
        msgs.append(("RAFT: APP entry len beyond the body", header(1, cluster, member, to,
                     raft_body(1, n_entries=1, entries=entry(1, 5, b"ab", length=1 << 30)))))
        msgs.append(("RAFT: APP entry len 2^32-1", header(1, cluster, member, to,
                     raft_body(1, n_entries=1, entries=entry(1, 5, b"ab", length=0xFFFFFFFF)))))
        msgs.append(("RAFT: APP entry type 9", header(1, cluster, member, to,
                     raft_body(1, n_entries=1, entries=entry(1, 5, b"ab", typ=9)))))
        msgs.append(("RAFT: entries on a heartbeat", header(1, cluster, member, to,
                     raft_body(7, n_entries=1, entries=entry(1, 5, b"ab")))))
        msgs.append(("RAFT: no snapshot part", header(1, cluster, member, to, raft_body(7, snap=b""))))
        msgs.append(("RAFT: SNAP without a configuration", header(1, cluster, member, to, raft_body(9))))
        msgs.append(("RAFT: SNAP conf_len beyond the body", header(1, cluster, member, to,
                     raft_body(9, snap=struct.pack("<QQQH", 5, 1, 0, 60000) + b"xx"))))
        msgs.append(("RAFT: SNAP bad configuration", header(1, cluster, member, to,
                     raft_body(9, snap=snap_part(5, 1, 0, conf=b"\x01\x09\x00\x00" + rb(8))))))
        msgs.append(("RAFT: SNAP configuration with duplicates", header(1, cluster, member, to,
                     raft_body(9, snap=snap_part(5, 1, 0, conf=conf_bytes([member, member]))))))
        msgs.append(("RAFT: SNAP configuration with node 0", header(1, cluster, member, to,
                     raft_body(9, snap=snap_part(5, 1, 0, conf=conf_bytes([0]))))))
        msgs.append(("RAFT: SNAP snap_len beyond the body", header(1, cluster, member, to,
                     raft_body(9, snap=struct.pack("<QQQH", 5, 1, 0, 0) + struct.pack("<I", 1 << 30)))))
        msgs.append(("RAFT: chunk on a heartbeat", header(1, cluster, member, to,
                     raft_body(7, snap=snap_part(chunk=b"abc")))))
        msgs.append(("RAFT: trailing bytes", header(1, cluster, member, to, raft_body(7) + b"zz")))
        msgs.append(("FORWARD: len beyond the body", header(2, cluster, member, to, struct.pack("<QI", 9, 1 << 20) + b"abc")))
        msgs.append(("FORWARD: truncated", header(2, cluster, member, to, b"\x01\x02")))
        msgs.append(("FORWARD_NACK: short", header(3, cluster, member, to, b"\x01")))
        msgs.append(("CONF_FORWARD: type 9", header(4, cluster, member, to, struct.pack("<QBQI", 1, 9, 5, 0))))
        msgs.append(("CONF_FORWARD: node 0", header(4, cluster, member, to, struct.pack("<QBQI", 1, 1, 0, 0))))
        msgs.append(("CONF_FORWARD: ctx_len beyond the body", header(4, cluster, member, to, struct.pack("<QBQI", 1, 1, 5, 1 << 20))))
        msgs.append(("JOIN: name_len 60000", header(5, 0, intruder, 0, struct.pack("<H", 60000) + b"ab")))
        msgs.append(("JOIN: empty name", header(5, 0, intruder, 0, struct.pack("<H", 0) + struct.pack("<H", 3) + b"tcp")))
        msgs.append(("JOIN: NUL in the name", header(5, 0, intruder, 0, struct.pack("<H", 3) + b"a\0b" + struct.pack("<H", 3) + b"tcp")))
        msgs.append(("JOIN: url_len beyond the body", header(5, 0, intruder, 0, struct.pack("<H", 1) + b"x" + struct.pack("<H", 500))))
        for name, m in msgs:
            case("push0: " + name, lambda m=m: send_quiet(s, frame(m)))
        # A flood of random messages of random sizes, some with a valid header.
        def flood():
            n = 0
            for i in range(3000):
                if i % 3 == 0:
                    body = rb(rnd.randint(0, 300))
                    m = header(rnd.randint(1, 5), cluster, member, to, body)
                else:
                    m = rb(rnd.randint(0, 200))
                r = send_quiet(s, frame(m))
                if r != "sent":
                    return "after %d messages: %s" % (n, r)
                n += 1
            return "%d messages sent" % n
        case("push0: flood of 3000 random messages", flood)
        time.sleep(0.3)
        closing(s)
        return 0

    if a.phase == "spoof":
        s = connect(host, port)
        if sp_handshake(s) is None:
            print("no SP handshake answer from the node")
            return 1
        n = 0
        # Stale (term 0 and 1: the cluster is past term 1) but well-formed
        # messages of every type from a node that is not a member; an APP
        # carries an entry and a huge commit, a SNAP names the intruder as the
        # only voter. Raft must ignore them all.
        for typ in range(1, 14):
            for term in (0, 1):
                kw = {}
                if typ == 1:
                    kw = dict(n_entries=1, entries=entry(term, 2, rb(40)), index=1, log_term=term, commit=1 << 40)
                elif typ == 7:
                    kw = dict(commit=1 << 40)
                elif typ == 9:
                    kw = dict(snap_last=1, snap=snap_part(1 << 20, term, 0, conf=conf_bytes([intruder]), chunk=rb(64)))
                r = send_quiet(s, frame(header(1, cluster, intruder, to, raft_body(typ, term=term, **kw))))
                n += r == "sent"
        print("stale RAFT messages from a non-member: %d sent" % n)
        time.sleep(0.3)
        closing(s)
        return 0

    if a.phase == "idle":
        conns = []
        for i in range(50):
            try:
                c = connect(host, port)
                c.sendall(b"\0S")
                conns.append(c)
            except OSError:
                break
        print("%d idle half-handshake connections open" % len(conns))
        sys.stdout.flush()
        time.sleep(a.hold)
        for c in conns:
            closing(c)
        return 0

    print("unknown phase " + a.phase)
    return 2


if __name__ == "__main__":
    sys.exit(main())
