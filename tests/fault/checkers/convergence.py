"""convergence.py: every node ended with the same tree.

Input: one dump per node of its whole tree (one line per entry: path,
type, mode, value hash).  Nodes with identical dumps form a group; with
more than one group, each pair of groups is compared and the first
differing lines are reported: positionally (first line index where the
dumps differ) and by path (the first field of a line: entries only on one
side, or different on both), up to MAX_SHOWN each.
"""
import time

try:
    from .result import Anomaly, CheckResult
except ImportError:
    from result import Anomaly, CheckResult

MAX_SHOWN = 5


def _path(line):
    if "\t" in line:
        return line.split("\t", 1)[0]
    parts = line.split(None, 1)
    return parts[0] if parts else ""


def _by_path(lines):
    d = {}
    for line in lines:
        p = _path(line)
        if p in d:
            return None  # not keyed by path: positional diff only
        d[p] = line
    return d


def diff(name_a, a, name_b, b, max_shown=MAX_SHOWN):
    """Lines describing how dump a differs from dump b."""
    out = []
    i = 0
    while i < len(a) and i < len(b) and a[i] == b[i]:
        i += 1
    out.append("first difference at line %d:" % (i + 1))
    out.append("  %s: %s" % (name_a, a[i] if i < len(a) else "(end of dump)"))
    out.append("  %s: %s" % (name_b, b[i] if i < len(b) else "(end of dump)"))
    pa, pb = _by_path(a), _by_path(b)
    if pa is None or pb is None:
        sa, sb = set(a), set(b)
        only_a = [x for x in a if x not in sb]
        only_b = [x for x in b if x not in sa]
        out.append("%d line(s) only on %s, %d only on %s" % (
            len(only_a), name_a, len(only_b), name_b))
        out += ["  only %s: %s" % (name_a, x) for x in only_a[:max_shown]]
        out += ["  only %s: %s" % (name_b, x) for x in only_b[:max_shown]]
        return out
    paths = sorted(set(pa) | set(pb))
    differing = [p for p in paths if pa.get(p) != pb.get(p)]
    out.append("%d path(s) differ (%d only on %s, %d only on %s)" % (
        len(differing), sum(1 for p in differing if p not in pb), name_a,
        sum(1 for p in differing if p not in pa), name_b))
    for p in differing[:max_shown]:
        out.append("  %s:" % p)
        out.append("    %s: %s" % (name_a, pa.get(p, "(absent)")))
        out.append("    %s: %s" % (name_b, pb.get(p, "(absent)")))
    if len(differing) > max_shown:
        out.append("  ... and %d more" % (len(differing) - max_shown))
    return out


def check(trees):
    """trees: {node name: list of dump lines (without newlines)}."""
    started = time.perf_counter()
    res = CheckResult("convergence", checked=len(trees))
    if not trees:
        res.anomalies.append(Anomaly("no tree dumps: convergence not checked"))
        res.elapsed = time.perf_counter() - started
        return res
    groups = {}
    for node in sorted(trees):
        groups.setdefault(tuple(trees[node]), []).append(node)
    gl = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1]))
    if len(gl) > 1:
        names = [",".join(nodes) for _, nodes in gl]
        for x in range(len(gl)):
            for y in range(x + 1, len(gl)):
                res.anomalies.append(Anomaly(
                    "trees differ: %s vs %s" % (names[x], names[y]),
                    diff(gl[x][1][0], list(gl[x][0]), gl[y][1][0], list(gl[y][0]))))
    if len(trees) == 1:
        res.notes.append("only one tree dump: nothing to compare")
    res.notes.append("%d node(s), %d distinct tree(s), %d lines in the largest"
                     % (len(trees), len(gl), max(len(t) for t in trees)))
    res.elapsed = time.perf_counter() - started
    return res
