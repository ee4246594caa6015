"""The pytest side of the free-threading suite (``stress/``), used by its conftest.

* :class:`Hammer`: one stress test's handle on the run - seed, intensity, target,
  thread runs (recorded for the summary), exact checks against the model;
* :func:`write_hammer_summary`: the "nvx-ft hammer runs" section after the run.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Callable

from nvx_ft import hammer as hammer_mod
from nvx_ft import overlap as overlap_mod
from nvx_ft.overlap import Need, OverlapReport
from nvx_ft.pytest_plugin import reproduce_command, settings_of
from nvx_ft.stress_inputs import chunk_ops
from nvx_ft.stress_settings import INTENSITIES


def overlap_budget(config, intensity) -> float:
    """The run's overlap budget: ``--nvx-overlap-budget``, else the intensity's."""
    return overlap_mod.overlap_budget(config.getoption("--nvx-overlap-budget", None),
                                      intensity.overlap_budget)


class Hammer:
    """One stress test's view of the run: seed, intensity, target, thread runs, checks.

    Every run states the overlap its scenario needs (:class:`nvx_ft.overlap.Need`); it
    goes on in rounds, checked after each (a race found fails the test at once), until
    the need is met or the intensity's overlap budget is spent. A run that missed it
    leaves the test *inconclusive* (:meth:`conclude`, called by stress/conftest.py
    after a test body that passed): a failure ``INCONCLUSIVE: ...`` or a loud warning.
    """

    def __init__(self, request, target, seed: int, intensity_name: str):
        self.request = request
        self.target = target
        self.seed = seed
        self.intensity_name = intensity_name
        self.intensity = INTENSITIES[intensity_name]
        self.label = request.node.nodeid
        self.runs: list[hammer_mod.ThreadedRun] = []
        #: (what, report, need) of every run that missed its need
        self.inconclusive: list[tuple[str, OverlapReport, Need]] = []
        self._verifier: hammer_mod.Verifier | None = None
        self._noted = 0

    chunk_ops = staticmethod(chunk_ops)

    def rng(self, thread_index: int):
        return hammer_mod.rng(self.seed, self.label, thread_index)

    @property
    def budget(self) -> float:
        """Seconds of further rounds a run may take to reach its need."""
        return overlap_budget(self.request.config, self.intensity)

    @property
    def reproduce(self) -> str:
        return reproduce_command(self.request.config, self.request.node.nodeid)

    def run(self, worker, threads: int, iterations: int, *, need: Need | None,
            streams: Callable[[], list] | None = None, record: str = "calls",
            **kw) -> hammer_mod.ThreadedRun:
        """``run_threaded`` with the scenario's ``need``; ``streams()`` (all the
        streams so far) are verified after every round that is not the last."""
        kw.setdefault("timeout", self.intensity.hang_timeout)
        # the first round's iterations are a count: on a slow machine its time ends it
        kw.setdefault("time_budget", kw["timeout"] / 2)
        kw.setdefault("overlap_budget", min(self.budget, kw["timeout"] / 2))
        so_far: list[hammer_mod.ThreadedRun] = []  # the rounds before a race was caught

        def between_rounds(run: hammer_mod.ThreadedRun) -> None:
            so_far[:] = [run]
            self._verify(streams(), threads)

        if streams is not None:
            kw.setdefault("between_rounds", between_rounds)
        try:
            run = hammer_mod.run_threaded(worker, threads, iterations, need=need,
                                          record=record, **kw)
        except BaseException as exc:
            exc.add_note(f"nvx-ft: seed {self.seed}, {threads} threads, intensity "
                         f"{self.intensity_name}\n  reproduce: {self.reproduce}")
            if so_far:
                self._note_run(so_far[0], need, kw["overlap_budget"])
            raise
        self._note_run(run, need, kw["overlap_budget"])
        return run

    def _note_run(self, run: hammer_mod.ThreadedRun, need: Need | None,
                  budget: float) -> None:
        self.runs.append(run)
        self.note(run.overlap, need, threads=run.threads, per_thread=max(run.iterations),
                  iterations=run.total_iterations, wall=round(run.wall_seconds, 3),
                  budget=budget)

    def note(self, report: OverlapReport, need: Need | None, **figures) -> str:
        """Record a concurrent phase's overlap (also one run elsewhere, e.g. in a
        subprocess) for the summary and :meth:`conclude`; returns its verdict."""
        verdict = overlap_mod.verdict(report, need)
        self._noted += 1
        what = f"{self.label} (run {self._noted})"
        if verdict == "inconclusive":
            self.inconclusive.append((what, report, need))
        self.request.node.user_properties.append(("nvx_hammer", {
            **figures, "overlap": report.as_dict(), "verdict": verdict,
            "need": None if need is None else asdict(need)}))
        return verdict

    def _verify(self, streams, threads: int) -> int:
        if self._verifier is None:
            self._verifier = hammer_mod.Verifier(self.target.name, threads=threads,
                                                 seed=self.seed, reproduce=self.reproduce)
        return self._verifier(streams)

    def verify(self, streams, threads: int) -> int:
        """Exact comparison of every stream with its model; returns the calls checked."""
        checked = self._verify(streams, threads)
        self.request.node.user_properties.append(("nvx_checked_calls", checked))
        assert checked > 0, "nothing was checked"
        return checked

    def conclude(self, mode: str) -> None:
        """After a test body that passed: an inconclusive run fails it (``fail``) or
        skips it with the reason (``skip``) - it is never reported as a pass."""
        if self.inconclusive:
            # a need this machine can never meet first: the head of the message (all a
            # runner keeps of a long one) says so, and no rerun waits for it in vain
            texts = [overlap_mod.message(report, need, what) for what, report, need in sorted(
                self.inconclusive, key=lambda run: not run[2].unreachable(run[1].machine))]
            overlap_mod.conclude("\n".join(texts), mode)


def inconclusive_mode(config) -> str:
    """``fail`` or ``skip`` for this session (``nvx_ft.settings``)."""
    return settings_of(config).inconclusive_mode()




def _rows(terminalreporter) -> list[tuple]:
    rows = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call" or "stress" not in rep.nodeid.split("::")[0]:
                continue
            props = getattr(rep, "user_properties", ())
            runs = [v for k, v in props if k == "nvx_hammer"]
            calls = sum(v for k, v in props if k == "nvx_checked_calls")
            shared = [v for k, v in props if k == "nvx_shared_object"]
            if runs or shared:
                rows.append((rep.nodeid, runs, calls, rep, shared))
    return sorted(rows, key=lambda row: row[0])


def outcome(rep, runs: list[dict]) -> str:
    """``passed``, ``killed`` (a check failed), or ``INCONCLUSIVE`` (never a pass)."""
    if overlap_mod.report_inconclusive(rep):
        return "INCONCLUSIVE"
    if rep.failed:
        return "killed"
    if any(r.get("verdict") == "inconclusive" for r in runs):
        return "INCONCLUSIVE"
    return "passed" if rep.passed else rep.outcome


def write_hammer_summary(terminalreporter) -> None:
    """Per stress test: its thread runs, the overlap they reached, the calls checked,
    the outcome (passed / killed / INCONCLUSIVE), and what unsynchronised sharing did
    (scenario 5: documented, not asserted)."""
    rows = _rows(terminalreporter)
    if not rows:
        return
    tr = terminalreporter
    tr.section("nvx-ft hammer runs")
    tr.line(f"threading: {threading.active_count()} threads alive now, "
            f"GIL enabled now: {overlap_mod.gil_enabled()}")
    if overlap_mod.gil_enabled():
        tr.line("GIL enabled: a race check needs interleaved calls only; a race inside one "
                "C function is excluded by the free-threaded run (stress/README.md, 'Overlap')")
    counts: dict[str, int] = {}
    for nodeid, runs, calls, rep, shared in rows:
        result = outcome(rep, runs)
        counts[result] = counts.get(result, 0) + 1
        desc = ", ".join(f"{r['threads']} threads x {r['per_thread']} iterations in "
                         f"{r['wall']:.2f}s" for r in runs if "per_thread" in r)
        tr.line(f"{nodeid}: {desc or 'subprocess probe'}; {calls} calls checked; "
                f"test {rep.duration:.2f}s: {result}", yellow=result == "INCONCLUSIVE")
        for r in runs:
            tr.line(f"    overlap: {OverlapReport.from_dict(r['overlap']).summary()}"
                    f"{_missed(r)}")
        for r in shared:
            tr.line(f"    shared, no lock: {r['kind']} {r['impl']}: {r['threads']}t, "
                    f"{r['calls']} calls: {r['symptoms']}")
    for text, markup in overlap_mod.outcome_counts_lines(counts, "race checks",
                                                         "stress/README.md"):
        tr.line(text, **markup)


def _missed(run: dict) -> str:
    if run.get("verdict") != "inconclusive" or not run.get("need"):
        return ""
    report = OverlapReport.from_dict(run["overlap"])
    return " - INCONCLUSIVE, got " + "; ".join(Need(**run["need"]).missing(report))
