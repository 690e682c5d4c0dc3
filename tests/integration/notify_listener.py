#!/usr/bin/env python3
"""Plays systemd's side of sd_notify(3) for t18_systemd.sh.

    notify_listener.py SOCKET_PATH OUT_FILE

Binds a Unix datagram socket at SOCKET_PATH ('@name': abstract namespace)
and appends one line per datagram to OUT_FILE, flushed at once:

    <CLOCK_MONOTONIC seconds> <sender pid> <assignments, '|'-separated>

The sender's pid comes from SCM_CREDENTIALS, as systemd reads it (its
NotifyAccess=main check).  Runs until killed; writes OUT_FILE.ready once
bound so the test knows when to start the daemon.
"""
import os
import socket
import struct
import sys
import time


def main():
    path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    s.bind("\0" + path[1:] if path.startswith("@") else path)
    with open(out + ".ready", "w") as f:
        f.write("%d\n" % os.getpid())
    creds_len = struct.calcsize("3i")
    with open(out, "a") as f:
        while True:
            data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(creds_len))
            pid = -1
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:creds_len])[0]
            text = data.decode("utf-8", "replace").strip("\n").replace("\n", "|")
            f.write("%.3f %d %s\n" % (time.monotonic(), pid, text))
            f.flush()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
