"""The pytest side of the free-threading suite (``stress/``), used by its conftest.

* :class:`Hammer`: one stress test's handle on the run - seed, intensity, target,
  thread runs (recorded for the summary), exact checks against the model;
* :func:`watchdog`: the last resort when a test's main thread is stuck in C;
* :func:`write_hammer_summary`: the "nvx-ft hammer runs" section after the run.
"""

from __future__ import annotations

import faulthandler
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from nvx_ft import hammer as hammer_mod
from nvx_ft.pytest_plugin import reproduce_command
from nvx_ft.stress_inputs import chunk_ops
from nvx_ft.stress_settings import INTENSITIES


class Hammer:
    """One stress test's view of the run: seed, intensity, target, thread runs, checks."""

    def __init__(self, request, target, seed: int, intensity_name: str):
        self.request = request
        self.target = target
        self.seed = seed
        self.intensity_name = intensity_name
        self.intensity = INTENSITIES[intensity_name]
        self.label = request.node.nodeid
        self.runs: list[hammer_mod.ThreadedRun] = []

    chunk_ops = staticmethod(chunk_ops)

    def rng(self, thread_index: int):
        return hammer_mod.rng(self.seed, self.label, thread_index)

    @property
    def reproduce(self) -> str:
        return reproduce_command(self.request.config, self.request.node.nodeid)

    def run(self, worker, threads: int, iterations: int, **kw) -> hammer_mod.ThreadedRun:
        kw.setdefault("timeout", self.intensity.hang_timeout)
        try:
            run = hammer_mod.run_threaded(worker, threads, iterations, **kw)
        except BaseException as exc:
            exc.add_note(f"nvx-ft: seed {self.seed}, {threads} threads, intensity "
                         f"{self.intensity_name}\n  reproduce: {self.reproduce}")
            raise
        self.runs.append(run)
        self.request.node.user_properties.append(
            ("nvx_hammer", {"threads": threads, "per_thread": max(run.iterations),
                            "iterations": run.total_iterations,
                            "wall": round(run.wall_seconds, 3)}))
        return run

    def verify(self, streams, threads: int) -> int:
        """Exact comparison of every stream with its model; returns the calls checked."""
        checked = hammer_mod.verify(streams, self.target.name, threads=threads,
                                    seed=self.seed, reproduce=self.reproduce)
        self.request.node.user_properties.append(("nvx_checked_calls", checked))
        assert checked > 0, "nothing was checked"
        return checked


def _stderr_fd(config) -> int:
    """The fd pytest's faulthandler plugin writes to (a dup of the real stderr)."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key

        return config.stash[fault_handler_stderr_fd_key]
    except (ImportError, KeyError):
        return sys.__stderr__.fileno()


@contextmanager
def watchdog(seconds: float, config) -> Iterator[None]:
    """Behind pytest-timeout: if the main thread itself is stuck in C (the timeout signal
    can then never be handled), faulthandler - which needs no Python code to run - dumps
    every thread's stack and ends the process after ``seconds``."""
    faulthandler.dump_traceback_later(seconds, exit=True, file=_stderr_fd(config))
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def write_hammer_summary(terminalreporter) -> None:
    """Per stress test: its thread runs, the calls checked, and what unsynchronised
    sharing did (scenario 5: documented, not asserted)."""
    rows = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call" or "stress" not in rep.nodeid.split("::")[0]:
                continue
            runs = [v for k, v in getattr(rep, "user_properties", ()) if k == "nvx_hammer"]
            calls = sum(v for k, v in getattr(rep, "user_properties", ())
                        if k == "nvx_checked_calls")
            shared = [v for k, v in getattr(rep, "user_properties", ())
                      if k == "nvx_shared_object"]
            if runs or shared:
                rows.append((rep.nodeid, runs, calls, rep.duration, shared))
    if not rows:
        return
    terminalreporter.section("nvx-ft hammer runs")
    terminalreporter.line(f"threading: {threading.active_count()} threads alive now, "
                          f"GIL enabled now: {hammer_mod.is_gil_enabled()}")
    for nodeid, runs, calls, duration, shared in sorted(rows, key=lambda row: row[0]):
        desc = ", ".join(f"{r['threads']} threads x {r['per_thread']} iterations in "
                         f"{r['wall']:.2f}s" for r in runs) or "subprocess probe"
        terminalreporter.line(f"{nodeid}: {desc}; {calls} calls checked; test {duration:.2f}s")
        for r in shared:
            terminalreporter.line(f"    shared, no lock: {r['kind']} {r['impl']}: {r['threads']}t, "
                                  f"{r['calls']} calls: {r['symptoms']}")
