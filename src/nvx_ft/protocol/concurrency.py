"""Did the autobahn server threads really run at once? The protocol suite's overlap.

A run with several server threads proves something about thread safety only if the
threads processed traffic at the same moment. Each run records, per server thread, when
it was inside autobahn's processing of received bytes (``EchoServers(overlap=...)``:
the server protocol's ``_dataReceived`` - frame parsing, unmasking, UTF-8 validation,
``onMessage`` and its echo) with :mod:`nvx_ft.overlap`, the recorder and the figures
the stress suite uses (stress/README.md, "Overlap"). A run with two or more server
threads states the overlap it needs (:data:`TRAFFIC_NEED`, protocol/README.md); while
it is not met the test repeats its traffic in further rounds until they took the
intensity's overlap budget (at once when it asks for parallel time and one CPU is
usable). A run that still misses it is *inconclusive*: failed or skipped with the
reason (``--nvx-inconclusive``), never passed. One server thread has no need:
it cannot overlap itself, and what it checks (transcripts, close codes) needs none.
"""

from __future__ import annotations

import time
from typing import Iterator

from nvx_ft import overlap
from nvx_ft.overlap import Need, Overlap, OverlapReport

#: what one recorded interval is: one chunk of bytes autobahn's server read and processed
UNIT = "reads"

# Calibrated, conservatively, on a 2-vCPU machine that other jobs kept busy (load 4.7-8.3;
# protocol/README.md has the figures): met there in 1-6 rounds, except the 4-thread
# websockets run now and then. The server threads are I/O-bound, so the parallel time
# asked for is small: evidence that two really ran at once (pinned, it is exactly 0).
TRAFFIC_NEED = Need(
    interleaved_calls=50, parallel_seconds=0.001,
    why="state autobahn or NVX shares between connections on different threads (a "
        "module-level buffer, a shared validator or masker, NVX's C statics) is only hit "
        "while two server threads are inside the protocol at once; on a free-threaded "
        "build they must also have run side by side")


class ServerOverlap:
    """One test's record of its server threads' overlap, over its rounds of traffic.

    ``for recorder in so.rounds(): ...`` runs the test's traffic once per round with
    ``EchoServers(..., overlap=recorder)``; a further round follows only while the need
    is not met and the rounds so far took less than ``budget`` seconds.
    """

    def __init__(self, what: str, server_threads: int, need: Need | None,
                 budget: float) -> None:
        self.what = what
        self.server_threads = server_threads
        self.need = need if server_threads >= 2 else None
        self.budget = budget
        self.reports: list[OverlapReport] = []
        self.round = 0
        self.spent = 0.0
        self._open: Overlap | None = None

    def rounds(self) -> Iterator[Overlap]:
        while True:
            self.round += 1
            self._open = Overlap(unit=UNIT, sample_every_call=True)
            start = time.monotonic()
            yield self._open
            self.spent += time.monotonic() - start
            self.finish()
            if (self.need is None or self.need.met(self.report) or self.spent >= self.budget
                    or self.need.unreachable(self.report.machine)):  # one CPU: no use
                return

    def finish(self) -> None:
        """Sweep the open round's records (its threads have ended: the servers closed)."""
        if self._open is not None:
            self.reports.append(self._open.report())
            self._open = None

    @property
    def report(self) -> OverlapReport | None:
        return overlap.merge(self.reports) if self.reports else None

    @property
    def verdict(self) -> str:
        report = self.report
        return "not measured" if report is None else overlap.verdict(report, self.need)

    def as_dict(self) -> dict:
        report = self.report
        return {"what": self.what, "server_threads": self.server_threads,
                "rounds": len(self.reports), "seconds": round(self.spent, 2),
                "wall": round(self.spent, 3), "budget": self.budget,
                "verdict": self.verdict, "need": None if self.need is None else {
                    "interleaved_calls": self.need.interleaved_calls,
                    "parallel_seconds": self.need.parallel_seconds, "why": self.need.why},
                "overlap": None if report is None else report.as_dict()}

    def conclude(self, mode: str) -> None:
        """After a test body that passed: fail the test (``fail``) or skip it with the
        reason (``skip``) when the need was not met (:func:`nvx_ft.overlap.conclude`)."""
        report = self.report
        if report is not None and overlap.verdict(report, self.need) == "inconclusive":
            overlap.conclude(overlap.message(
                report, self.need, f"{self.what} ({len(self.reports)} round(s) in "
                                   f"{self.spent:.1f}s)"), mode)


def describe(run: dict) -> str:
    """One summary line for :meth:`ServerOverlap.as_dict`: figures reached, need, verdict."""
    if run["overlap"] is None:
        return "overlap: not measured (the run failed before its servers closed)"
    report = OverlapReport.from_dict(run["overlap"])
    par = ("n/a" if report.parallel_seconds is None else
           f"{report.parallel_seconds:.3f}s (x{report.parallelism:.2f})")
    reached = (f"{report.interleaved_calls} interleaved of {report.calls} {report.unit}, "
               f"parallel {par}, max {report.max_inside} inside, {run['rounds']} round(s) "
               f"in {run['seconds']:.1f}s")
    need = run["need"]
    if need is None:
        return f"overlap: {reached}; no need (one server thread)"
    wanted = f"{need['interleaved_calls']} interleaved"
    if need["parallel_seconds"]:
        wanted += f", {need['parallel_seconds']:g}s parallel"
        if report.machine.gil_enabled:
            wanted += " (not required: GIL enabled)"
    missing = Need(need["interleaved_calls"], need["parallel_seconds"]).missing(report)
    verdict = "met" if not missing else "NOT met: got " + "; ".join(missing)
    return f"overlap: {reached}; need {wanted}: {verdict}"
