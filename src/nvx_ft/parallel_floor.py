"""pytest plugin for ``nox -s parallel`` (``-p nvx_ft.parallel_floor``): a run under
pytest-run-parallel passes only when its tests really ran in threads.

pytest-run-parallel runs a test in one thread, silently, when it finds it thread-unsafe
(a ``thread_unsafe`` mark, a fixture such as ``monkeypatch``, a call it distrusts) or when
``--parallel-threads`` is 1; the run then passes as if it had shown something. The floor:

* at least two threads configured (``--parallel-threads`` N >= 2, or ``auto`` on a
  machine with 2+ CPUs);
* every test that ran did so in 2+ threads, unless it carries
  ``pytest.mark.thread_unsafe(reason="...")`` with the reason written beside the mark;
* at least one test ran in threads.

Below the floor the session fails (exit 1) and the "nvx-ft parallel floor" section of
the terminal summary names each test that ran in one thread and why
(pytest-run-parallel's own reason). It reads pytest-run-parallel's per-test decision
(its plugin's ``run_in_parallel``; shape of 0.10), so what is counted is what ran.
"""

from __future__ import annotations

import pytest

RUN_PARALLEL = "_run-parallel"  # pytest-run-parallel's registered plugin name


def pytest_configure(config):
    plugin = config.pluginmanager.get_plugin(RUN_PARALLEL)
    if plugin is None or not hasattr(plugin, "run_in_parallel"):
        raise pytest.UsageError("nvx_ft.parallel_floor: pytest-run-parallel (>= 0.10) is not "
                                "active; install nvx-ft[stress]")
    config.pluginmanager.register(ParallelFloor(config, plugin), "nvx-ft-parallel-floor")


class ParallelFloor:
    def __init__(self, config, run_parallel):
        from pytest_run_parallel.utils import get_configured_num_workers

        self.threads = get_configured_num_workers(config)
        self.run_parallel = run_parallel
        self.reasons: dict[str, str] = {}  # nodeid -> the reason written beside its mark
        self.threaded: list[str] = []
        self.marked: list[str] = []
        self.serial: list[str] = []  # ran in one thread with no reason of ours

    @pytest.hookimpl(trylast=True)  # after pytest-run-parallel decided (tryfirst)
    def pytest_collection_finish(self, session):
        for item in session.items:
            mark = item.get_closest_marker("thread_unsafe")
            reason = mark.kwargs.get("reason", "").strip() if mark else ""
            if reason:
                self.reasons[item.nodeid] = reason

    def pytest_runtest_logreport(self, report):
        if report.when != "call":  # skipped tests never reach "call": they ran in no thread
            return
        if self.run_parallel.run_in_parallel.get(report.nodeid, 1) > 1:
            self.threaded.append(report.nodeid)
        elif report.nodeid in self.reasons:
            self.marked.append(report.nodeid)
        else:
            self.serial.append(report.nodeid)

    def problems(self) -> list[str]:
        out = []
        if self.threads < 2:
            out.append(f"configured for {self.threads} thread(s): nothing ran in parallel")
        if not self.threaded:
            out.append("no test ran in threads")
        if self.serial:
            out.append(f"{len(self.serial)} test(s) ran in one thread without a "
                       f"thread_unsafe(reason=...) mark")
        return out

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if self.problems() and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        tr = terminalreporter
        tr.section("nvx-ft parallel floor")
        tr.line(f"{len(self.threaded)} test(s) ran in {self.threads} threads; "
                f"{len(self.marked)} in one thread by their thread_unsafe mark; "
                f"{len(self.serial)} in one thread without a written reason")
        for nodeid in self.marked:
            tr.line(f"  one thread (marked): {nodeid}: {self.reasons[nodeid]}")
        unsafe = getattr(self.run_parallel, "thread_unsafe", {})
        for nodeid in self.serial:
            why = unsafe.get(nodeid) or "one thread configured"
            tr.line(f"  one thread, NO REASON: {nodeid}: {why}", red=True)
        problems = self.problems()
        if problems:
            tr.line("BELOW THE FLOOR (nvx_ft.parallel_floor): " + "; ".join(problems)
                    + ". Run threads >= 2; mark a test that must stay serial with "
                      "pytest.mark.thread_unsafe(reason=...)", red=True)
