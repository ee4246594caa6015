"""Run one pytest suite in a subprocess of a given Python, with crash and hang containment.

    result = run_suite(python, "tests", timeout=600, extra_args=["--hypothesis-profile=ci"],
                       junit="reports/tests.junit.xml")
    result.status    # passed | failed | crashed | timeout | inconclusive | not-run
    result.failures  # [(nodeid, message)], crashes and hangs included, each with a stack

Why a subprocess: a segfault or an endless loop inside NVX must become a *named failed
result* (test id + stack), and the run must go on. This module is also a pytest plugin
(copied next to the run as ``_nvx_ft_suite_plugin`` and loaded with ``-p``, so it works in
any venv without nvx-ft installed there) that

* appends an event per collected / started / finished test to a JSON-lines file, flushed
  at once, so after a crash we know which test was running;
* arms ``faulthandler`` for fatal signals and holds a rolling per-test deadline on the
  process's hang guard (:mod:`nvx_ft.hang_guard`: faulthandler's C timer, which fires even
  when every Python thread is stuck in C; a test's own bound nests inside it), writing to
  a copy of the real stderr taken before pytest's capture, so the stack survives;
* deselects tests already finished or already blamed when the runner restarts the suite;
* reports, at the session's end, the file and sha256 of every ``_nvx_*`` module the
  session loaded (``SuiteResult.nvx_modules``): which NVX build the suite really tested.

The runner restarts the suite after a crash or hang (up to ``max_restarts`` times) without
the tests that already ran, so one crashing test does not hide the rest. The overall
``timeout`` is a hard bound: at expiry the child is asked for a stack (SIGABRT ->
faulthandler) and then killed; unfinished tests are counted as not run.

JUnit XML is written from the events (not by pytest; :mod:`nvx_ft.junit`), so tests that
ran before a crash are reported too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

STATUSES = ("passed", "failed", "crashed", "timeout", "inconclusive", "not-run")
#: ``inconclusive``: a race check that did not reach the overlap it needs (skipped or
#: failed with ``INCONCLUSIVE: ...``, nvx_ft.overlap) - neither a pass nor a failure
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "inconclusive",
            "crashed", "timeout")
#: outcomes of a test that ran to a result (a skip is not one)
RAN = ("passed", "failed", "error", "xfailed", "xpassed", "inconclusive", "crashed",
       "timeout")
#: user_properties of stress/ and protocol/ tests that carry a race check's need and
#: the overlap it reached; passed on in the events (``TestOutcome.races``)
RACE_PROPERTIES = ("nvx_hammer", "nvx_protocol_overlap")
_INCONCLUSIVE_RE = re.compile(r"^(?:E\s+)?(?:Skipped: |[\w.]*Inconclusive: )?INCONCLUSIVE:", re.M)
PLUGIN_NAME = "_nvx_ft_suite_plugin"
GUARD_COPY = "_nvx_ft_hang_guard"  # nvx_ft/hang_guard.py, for a child without nvx_ft
#: nvx_ft.settings.CHILD, spelt out: this file also runs where nvx_ft is absent. The
#: child reads its ``suite`` entry: ``events`` and ``skip`` files, ``test_timeout``.
_CHILD_ENV = "NVX_FT_CHILD"
_STACK_MARKERS = ("Fatal Python error", "Timeout (", "Current thread", "Thread 0x")
_MAX_MESSAGE = 4000


@dataclass
class TestOutcome:
    nodeid: str
    outcome: str  # one of OUTCOMES
    duration: float = 0.0
    message: str = ""
    #: per race run of the test: {"need", "overlap", "verdict"} (RACE_PROPERTIES)
    races: list[dict] = field(default_factory=list)


def is_inconclusive(message: str) -> bool:
    """Is this failure message or skip reason an inconclusive race check's?"""
    return bool(_INCONCLUSIVE_RE.search(message[:2000]))


@dataclass
class SuiteResult:
    name: str
    status: str  # one of STATUSES
    counts: dict[str, int]
    duration: float
    failures: list[tuple[str, str]]
    reason: str = ""
    tests: list[TestOutcome] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    attempts: int = 0
    junit: str | None = None
    output: list[str] = field(default_factory=list)  # per-attempt output files
    #: every ``_nvx_*`` module a session loaded: {name, file, sha256}, once per distinct file
    nvx_modules: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["failures"] = [{"nodeid": n, "message": m} for n, m in self.failures]
        return d

    def summary(self) -> str:
        c = self.counts
        parts = [f"{c.get(k, 0)} {k}" for k in OUTCOMES + ("not_run",) if c.get(k)]
        return ", ".join(parts) or self.reason or "nothing ran"


def run_suite(
    python: str,
    suite_path: str | os.PathLike,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 600.0,
    test_timeout: float | None = None,
    extra_args: Sequence[str] = (),
    junit: str | os.PathLike | None = None,
    cwd: str | os.PathLike | None = None,
    name: str | None = None,
    output_dir: str | os.PathLike | None = None,
    max_restarts: int = 5,
    progress: Callable[[int, int, int, float], None] | None = None,
    select: Sequence[str] = (),
) -> SuiteResult:
    """Run ``python -m pytest suite_path`` contained; never raises for what the suite does.

    ``env`` replaces the child's environment (default: ours). ``timeout`` bounds the whole
    suite including restarts; ``test_timeout`` (default: ``timeout``) bounds one test.
    ``progress(done, total, failed, elapsed)`` is called while the suite runs.
    ``select``: run only these test ids of the suite (relative to ``cwd``), e.g. a rerun.
    """
    suite = Path(suite_path)
    name = name or suite.name
    start = time.monotonic()
    if not suite.exists():
        return with_junit(SuiteResult(name, "not-run", {}, 0.0, [],
                                   reason=f"{suite} does not exist"), junit)
    work = Path(tempfile.mkdtemp(prefix="nvx-ft-suite-"))
    out_dir = Path(output_dir) if output_dir else work
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(__file__, work / f"{PLUGIN_NAME}.py")
    shutil.copyfile(Path(__file__).with_name("hang_guard.py"), work / f"{GUARD_COPY}.py")
    events_path, skip_path = work / "events.jsonl", work / "skip.txt"
    skip_path.write_text("", encoding="utf-8")
    suite_env = _suite_env(env, work, events_path, skip_path, test_timeout or timeout)
    command = [python, "-m", "pytest", *(select or [str(suite)]), "-p", PLUGIN_NAME,
               "-p", "no:faulthandler", "-p", "no:cacheprovider", "-q", *extra_args]
    result = SuiteResult(name, "passed", {}, 0.0, [], command=command)
    found = _Found()
    deadline = start + timeout

    for attempt in range(1, max_restarts + 2):
        result.attempts = attempt
        out_file = out_dir / f"{_slug(name)}.attempt{attempt}.txt"
        result.output.append(str(out_file))
        with open(out_file, "wb") as out:
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                    env=suite_env, cwd=cwd)
            hit_deadline = _wait(proc, deadline, events_path, progress, start, found.outcomes,
                                 len(found.collected))
        events = _read_events(events_path)
        found.absorb(events)
        if any(ev["event"] == "sessionfinish" for ev in events) and not hit_deadline:
            _judge_exit(result, found, proc.returncode, out_file)
            break
        # The child died abruptly (signal, faulthandler watchdog) or we stopped it.
        running = found.blame_abrupt_end(events, out_file, proc.returncode, hit_deadline,
                                         timeout, test_timeout or timeout)
        if (hit_deadline or running is None or attempt > max_restarts
                or time.monotonic() > deadline - 5  # no time left for a restart to say anything
                or not found.left):
            break
        # Restart without the tests already done; they keep their outcome.
        skip_path.write_text("\n".join(sorted(set(found.outcomes) | found.blamed)) + "\n",
                             encoding="utf-8")
        events_path.write_text("", encoding="utf-8")

    _tally(result, found)
    result.nvx_modules = found.nvx_modules
    result.duration = time.monotonic() - start
    shutil.rmtree(work, ignore_errors=True) if output_dir else None
    return with_junit(result, junit)


def _suite_env(env, work: Path, events_path: Path, skip_path: Path,
               test_timeout: float) -> dict[str, str]:
    """``env`` (default: ours) with the plugin importable and told where to write."""
    # imported here, not at the top: this file also runs as the child's plugin, where
    # nvx_ft need not be installed
    from dataclasses import replace

    from nvx_ft.childenv import child_env
    from nvx_ft.settings import CHILD, Child

    base = dict(os.environ if env is None else env)
    child = replace(Child.decode(base.get(CHILD)),  # the gate's own entry is kept
                    suite={"events": str(events_path), "skip": str(skip_path),
                           "test_timeout": test_timeout})
    return child_env(base=base, pythonpath_first=[work],
                     set={**child.env(), "PYTHONUNBUFFERED": "1"})


@dataclass
class _Found:
    """What the attempts of one suite run learnt: the tests, their outcomes, the blamed."""

    collected: list[str] = field(default_factory=list)
    outcomes: dict[str, TestOutcome] = field(default_factory=dict)
    blamed: set[str] = field(default_factory=set)
    collect_errors: list[tuple[str, str]] = field(default_factory=list)
    nvx_modules: list[dict] = field(default_factory=list)

    @property
    def left(self) -> list[str]:
        """Collected tests without an outcome yet."""
        return [n for n in self.collected if n not in self.outcomes]

    def absorb(self, events: list[dict]) -> None:
        for ev in events:
            if ev["event"] == "collected" and not self.collected:
                self.collected = list(ev["nodeids"])
            elif ev["event"] == "finish":
                outcome, message = ev["outcome"], ev.get("message", "")
                if outcome in ("failed", "skipped") and is_inconclusive(message):
                    outcome = "inconclusive"
                self.outcomes[ev["nodeid"]] = TestOutcome(
                    ev["nodeid"], outcome, ev.get("duration", 0.0), message,
                    ev.get("races", []))
            elif ev["event"] == "collect-error":
                self.collect_errors.append((ev["nodeid"], ev["message"]))
            elif ev["event"] == "nvx-modules":
                self.nvx_modules += [m for m in ev["modules"] if m not in self.nvx_modules]

    def blame_abrupt_end(self, events: list[dict], out_file: Path, rc: int | None,
                         hit_deadline: bool, timeout: float,
                         test_timeout: float) -> str | None:
        """A crash or hang is the outcome of the test that was running (or of the session);
        returns that test's id, None when no test was running."""
        started = [ev["nodeid"] for ev in events if ev["event"] == "start"]
        running = next((n for n in reversed(started) if n not in self.outcomes), None)
        text = out_file.read_text(encoding="utf-8", errors="replace")
        hang = hit_deadline or "Timeout (" in text
        bound, seconds = (("the suite timeout", timeout) if hit_deadline
                          else ("the test timeout", test_timeout))
        why = (f"hung: no result within {bound} ({seconds:.0f}s)" if hang
               else f"crashed: {_describe_exit(rc)}")
        nodeid = running or "<session>"
        self.outcomes[nodeid] = TestOutcome(nodeid, "timeout" if hang else "crashed", 0.0,
                                            f"{why}\n{_stack(text)}")
        self.blamed.add(nodeid)
        return running


def merge_rerun(first: SuiteResult, rerun: SuiteResult) -> SuiteResult:
    """``first`` with the outcomes of ``rerun`` (some of its tests run again) in place of
    the first ones; counts, failures and status recomputed, both runs' outputs kept."""
    outcomes = {o.nodeid: o for o in first.tests}
    outcomes.update({o.nodeid: o for o in rerun.tests})
    collected = [o.nodeid for o in first.tests]
    found = _Found(collected, outcomes,
                   collect_errors=[f for f in first.failures if f[0] not in outcomes])
    merged = SuiteResult(first.name, "passed", {}, first.duration + rerun.duration, [],
                         command=first.command, attempts=first.attempts + rerun.attempts,
                         junit=first.junit, output=first.output + rerun.output,
                         nvx_modules=first.nvx_modules + [m for m in rerun.nvx_modules
                                                          if m not in first.nvx_modules])
    merged.reason = first.reason if first.status not in ("passed", "inconclusive") else ""
    if first.status == "not-run":
        merged.status = "not-run"
    _tally(merged, found)
    return merged


def _judge_exit(result: SuiteResult, found: _Found, rc: int, out_file: Path) -> None:
    """pytest finished its session: what its exit code says beyond the outcomes."""
    if rc == 5 and not found.outcomes:
        result.status, result.reason = "not-run", "no tests collected"
    elif rc not in (0, 1):
        result.reason = f"pytest exited {rc}: " + _tail(out_file, 1500)
        if rc == 2 and found.collect_errors:
            result.reason = f"{len(found.collect_errors)} collection error(s)"
        found.collect_errors = found.collect_errors or [("<pytest>", result.reason)]


def _tally(result: SuiteResult, found: _Found) -> None:
    """The result's tests, counts, failures and status, from every attempt's outcomes."""
    result.tests = [found.outcomes[n] for n in found.collected if n in found.outcomes] + \
                   [o for n, o in found.outcomes.items() if n not in found.collected]
    result.counts = {k: sum(1 for o in result.tests if o.outcome == k) for k in OUTCOMES}
    not_run = found.left
    result.counts["not_run"] = len(not_run)
    result.failures = ([(o.nodeid, o.message) for o in result.tests
                        if o.outcome in ("failed", "error", "xpassed", "crashed", "timeout")]
                       + found.collect_errors)
    ran = sum(result.counts[k] for k in RAN)
    if result.status != "not-run":
        if result.counts["crashed"]:
            result.status = "crashed"
        elif result.counts["timeout"]:
            result.status = "timeout"
        elif result.failures or result.reason:
            result.status = "failed"
        elif not result.tests:
            result.status, result.reason = "not-run", result.reason or "no test ran"
        elif not ran:  # a suite that skipped everything showed nothing
            result.status = "not-run"
            result.reason = f"every test was skipped ({result.counts['skipped']})"
        elif result.counts["inconclusive"]:
            result.status = "inconclusive"
    if not_run and not result.reason:
        result.reason = f"{len(not_run)} test(s) not run after the suite was stopped"


def _wait(proc, deadline, events_path, progress, start, outcomes, total_known) -> bool:
    """Wait for ``proc``; at ``deadline`` get a stack from it and kill it. True if killed."""
    last = None
    while True:
        try:
            proc.wait(timeout=0.5)
            return False
        except subprocess.TimeoutExpired:
            pass
        if progress:
            evs = _read_events(events_path)
            total = next((len(e["nodeids"]) for e in evs if e["event"] == "collected"), 0)
            fin = [e for e in evs if e["event"] == "finish"]
            failed = sum(1 for e in fin if e["outcome"] in ("failed", "error")
                         and not is_inconclusive(e.get("message", "")))
            failed += sum(1 for o in outcomes.values() if o.outcome != "passed"
                          and o.outcome not in ("skipped", "xfailed"))
            state = (len(fin) + len(outcomes), max(total + len(outcomes), total_known), failed)
            if state != last:
                progress(*state, time.monotonic() - start)
                last = state
        if time.monotonic() >= deadline:
            if hasattr(signal, "SIGABRT") and os.name != "nt":
                proc.send_signal(signal.SIGABRT)  # faulthandler dumps every thread's stack
                try:
                    proc.wait(timeout=10)
                    return True
                except subprocess.TimeoutExpired:
                    pass
            proc.kill()
            proc.wait()
            return True


def _read_events(path: Path) -> list[dict]:
    events = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    events.append(json.loads(line))
                except ValueError:  # a line cut short by the crash
                    pass
    except FileNotFoundError:
        pass
    return events


def _describe_exit(rc: int | None) -> str:
    if rc is not None and rc < 0:
        try:
            return f"killed by signal {-rc} ({signal.Signals(-rc).name})"
        except ValueError:
            return f"killed by signal {-rc}"
    if rc is not None and rc > 0xC0000000:  # Windows NTSTATUS, e.g. access violation
        return f"exit status 0x{rc:08X}"
    return f"exit status {rc} before pytest finished"


def _stack(text: str) -> str:
    """The faulthandler part of the output (or its tail)."""
    idx = [text.find(m) for m in _STACK_MARKERS if m in text]
    # Keep the head: faulthandler prints the innermost frame first.
    return (text[min(idx):][:_MAX_MESSAGE] if idx else text[-_MAX_MESSAGE:]).strip()


def _tail(path: Path, n: int) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-n:].strip()


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", s).strip("-") or "suite"


def with_junit(result: SuiteResult, junit) -> SuiteResult:
    if junit:
        # here, not at the top: this file also runs as a plugin where nvx_ft is absent
        from nvx_ft.junit import junit_testsuite, write_junit

        write_junit(junit, [junit_testsuite(result)])
        result.junit = str(junit)
    return result


# --------------------------------------------------------------------------- plugin
# Everything below runs inside the child pytest, loaded as ``-p _nvx_ft_suite_plugin``.

if __name__ == PLUGIN_NAME:
    import faulthandler

    try:  # the process's one guard: stress/'s and protocol/'s bounds nest inside ours
        from nvx_ft.hang_guard import GUARD, STDERR_FD
    except ImportError:  # nvx_ft not installed here: the same file, copied by run_suite
        from _nvx_ft_hang_guard import GUARD, STDERR_FD  # type: ignore[no-redef]

    # A copy of the real stderr, taken before pytest's capture redirects fd 2.
    _STDERR_FD = STDERR_FD if STDERR_FD is not None else os.dup(2)
    faulthandler.enable(file=_STDERR_FD, all_threads=True)
    _SUITE = json.loads(os.environ[_CHILD_ENV])["suite"]  # what run_suite told us
    _EVENTS = open(_SUITE["events"], "a", encoding="utf-8")
    _TEST_TIMEOUT = float(_SUITE.get("test_timeout") or 0)
    _reports: dict[str, list] = {}
    _started: dict[str, float] = {}

    def _emit(**event) -> None:
        _EVENTS.write(json.dumps(event) + "\n")
        _EVENTS.flush()

    # Held from start-up to the end of the session, reset at each test's start and end,
    # so a hang in collection, a test or a fixture between tests dumps every thread's
    # stack and ends the process within the bound.
    _DEADLINE = GUARD.push(_TEST_TIMEOUT) if _TEST_TIMEOUT else None

    def _arm() -> None:
        if _DEADLINE is not None:
            GUARD.reset(_DEADLINE, _TEST_TIMEOUT)

    import pytest

    @pytest.hookimpl(trylast=True)  # after -m/-k: deselected tests are not "not run"
    def pytest_collection_modifyitems(session, config, items):
        with open(_SUITE["skip"], encoding="utf-8") as f:
            skip = {line.strip() for line in f if line.strip()}
        if skip:
            keep = [i for i in items if i.nodeid not in skip]
            config.hook.pytest_deselected(items=[i for i in items if i.nodeid in skip])
            items[:] = keep
        _emit(event="collected", nodeids=[i.nodeid for i in items])

    def pytest_collectreport(report):
        if report.failed:
            _emit(event="collect-error", nodeid=report.nodeid or "<collection>",
                  message=str(report.longreprtext)[-_MAX_MESSAGE:])

    def pytest_runtest_logstart(nodeid, location):
        _started[nodeid] = time.monotonic()
        _emit(event="start", nodeid=nodeid)
        _arm()

    def pytest_runtest_logreport(report):
        _reports.setdefault(report.nodeid, []).append(report)

    def pytest_runtest_logfinish(nodeid, location):
        _arm()
        outcome, message, races = "passed", "", []
        for rep in _reports.pop(nodeid, []):
            xfail = hasattr(rep, "wasxfail")
            if rep.failed:
                outcome = "failed" if rep.when == "call" else "error"
            elif rep.skipped and outcome == "passed":
                outcome = "xfailed" if xfail else "skipped"
            elif rep.passed and xfail and rep.when == "call":
                outcome = "xpassed"
            if rep.failed or (outcome == "xpassed" and not message):
                message = str(rep.longreprtext) if rep.failed else f"XPASS {rep.wasxfail}"
                for title, content in rep.sections:
                    if "reproduce" in title:
                        message += f"\n{title}: {content}"
            elif rep.skipped and not message and isinstance(rep.longrepr, tuple):
                message = str(rep.longrepr[2])
            races += [v for k, v in rep.user_properties if k in RACE_PROPERTIES]
        _emit(event="finish", nodeid=nodeid, outcome=outcome,
              duration=round(time.monotonic() - _started.pop(nodeid, time.monotonic()), 3),
              # the head: an INCONCLUSIVE message starts there
              message=message[:_MAX_MESSAGE] if is_inconclusive(message)
              else message[-_MAX_MESSAGE:], races=races)

    def _nvx_modules() -> list[dict]:
        """The ``_nvx_*`` modules this process loaded: where from, and their sha256."""
        import hashlib
        import sys

        found = []
        for name, mod in sorted(sys.modules.items()):
            ours = name.startswith("_nvx_") and name != PLUGIN_NAME  # not this plugin
            path = getattr(mod, "__file__", None) if ours else None
            if path:
                with open(path, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                found.append({"name": name, "file": os.path.abspath(path), "sha256": digest})
        return found

    def pytest_sessionfinish(session, exitstatus):
        if _DEADLINE is not None:
            GUARD.pop(_DEADLINE)
        _emit(event="nvx-modules", modules=_nvx_modules())
        _emit(event="sessionfinish", exitstatus=int(exitstatus))
