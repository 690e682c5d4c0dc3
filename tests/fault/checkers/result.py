"""result.py: what every checker returns."""


class Anomaly:
    """One violation: a one-line summary and optional detail lines."""

    __slots__ = ("what", "detail")

    def __init__(self, what, detail=()):
        self.what = what
        self.detail = list(detail)

    def lines(self):
        return [self.what] + ["    " + d for d in self.detail]

    def __repr__(self):
        return "Anomaly(%r)" % (self.what,)


class CheckResult:
    """A checker's verdict.

    anomalies: proven violations.  unknown: things the checker could not
    decide (a search budget ran out): not a pass, reported apart.
    notes: facts worth printing that are not failures.  checked: how many
    operations (or lines, or nodes) the checker looked at."""

    def __init__(self, name, checked=0, anomalies=None, unknown=None,
                 notes=None, elapsed=0.0):
        self.name = name
        self.checked = checked
        self.anomalies = anomalies if anomalies is not None else []
        self.unknown = unknown if unknown is not None else []
        self.notes = notes if notes is not None else []
        self.elapsed = elapsed

    @property
    def ok(self):
        return not self.anomalies and not self.unknown

    def status(self):
        if self.anomalies:
            return "FAIL"
        if self.unknown:
            return "UNKNOWN"
        return "ok"

    def __repr__(self):
        return "CheckResult(%s, %s, checked=%d, anomalies=%d, unknown=%d)" % (
            self.name, self.status(), self.checked, len(self.anomalies),
            len(self.unknown))
