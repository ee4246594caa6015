"""Did the threads really race? Record when each thread is inside the code under test.

A thread hammer only finds a data race if threads run the code under test at the same
moment. On one CPU (a 1-vCPU container, ``taskset -c 0``) or a busy machine the OS
time-slices them and a race check may prove nothing, yet it would pass. So every
concurrent phase records, cheaply, when each thread was *inside* (per thread, no
shared lock on the hot path: two monotonic clock reads and an append to the
thread's own array), and after the phase the intervals are merged by a sweep into
an :class:`OverlapReport`. A :class:`Need` says how much overlap a check must reach;
a check that did not reach it is *inconclusive* (:func:`enforce`), never passed.

Any concurrent code can record into an :class:`Overlap`::

    ov = Overlap()
    def thread_body():
        with ov.thread():        # this thread's CPU time and span; binds ov to the thread
            for item in work:
                with ov:          # or ``with overlap.current():`` deeper down the stack
                    call_the_code_under_test(item)
    ... start and join the threads ...
    report = ov.report()
    enforce(report, Need(interleaved_calls=50, parallel_seconds=0.02), "my check", mode)

Two measures, because "overlap" means two things (stress/README.md, "Overlap"):

* **interleaved calls**: calls during which another thread *started* a call. Counted
  on wall-clock intervals, so a call suspended mid-way (OS time slice, GIL switch)
  while another thread enters counts: that is the interleaving a race on state kept
  across a call (a shared object, a module-level scratch slot) needs, on every build.
* **parallel seconds**: CPU time the recorded threads got beyond one core,
  ``sum(thread CPU time) - |union of the threads' spans|`` - a lower bound of the
  extra thread-seconds that ran *at the same moment*. Time-slicing on one CPU can
  never produce it (it stays 0 under ``taskset -c 0``), a busy machine produces less.
  A race inside one C function needs it; free-threaded builds must reach it.
"""

from __future__ import annotations

import os
import functools
import sys
import sysconfig
import threading
import time
import warnings
from array import array
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator

from nvx_ft import overlap_sweep, settings

if hasattr(time, "CLOCK_MONOTONIC_RAW"):
    # not slewed by NTP (CLOCK_MONOTONIC, behind perf_counter, runs up to 500 ppm fast or
    # slow while a freshly booted machine syncs; the thread CPU clock is never slewed):
    # a fast wall clock would let CPU time outrun wall time and show parallel time on one
    # CPU (0.14 ms over 3 thread-seconds seen in CI on a new machine)
    _clock = functools.partial(time.clock_gettime_ns, time.CLOCK_MONOTONIC_RAW)
else:
    _clock = time.perf_counter_ns
_cpu_clock = time.thread_time_ns

#: ``fail``: the test fails ``INCONCLUSIVE: ...``; ``skip``: it is skipped with that reason
#: (pytest's own "not passed, not failed"). ``warn`` is ``skip``'s old name.
MODES = settings.INCONCLUSIVE_MODES
ALIASES = {"warn": "skip"}
#: what every inconclusive check's message (failure or skip reason) starts with
INCONCLUSIVE = "INCONCLUSIVE:"
#: in the message of a need no run on this machine can meet (one usable CPU): the gate
#: does not rerun such a check with more time
UNREACHABLE = "cannot be met on this machine"


class Inconclusive(AssertionError):
    """A race check that did not reach the overlap it needs (message: ``INCONCLUSIVE: ...``)."""


class InconclusiveWarning(UserWarning):
    """The warning an inconclusive check also gives where it is skipped."""


def overlap_budget(option: float | None, default: float) -> float:
    """Seconds of further rounds a race check may spend reaching its need: the
    command-line option (``--nvx-overlap-budget``), else the intensity's default."""
    return float(option) if option is not None else default


def gil_enabled() -> bool:
    """Is the GIL on in this process now (always, before 3.13)? The one home of the
    question; child scripts that cannot import nvx-ft ask it inline."""
    return getattr(sys, "_is_gil_enabled", lambda: True)()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class Machine:
    """What the concurrent phase could get: CPUs it may use, load at start, GIL."""

    cpus: int
    cpu_count: int
    load: float | None
    gil_enabled: bool
    free_threaded_build: bool

    @classmethod
    def now(cls) -> Machine:
        return cls(usable_cpus(), os.cpu_count() or 1, _load(), gil_enabled(),
                   bool(sysconfig.get_config_var("Py_GIL_DISABLED")))


#: a thread inside Overlap.thread() samples its CPU time at a call's exit at most this often
SAMPLE_NS = 1_000_000


class _Slot:
    """One thread's records: its calls (flat array of enter, exit) and, per
    :meth:`Overlap.thread` span, samples of (wall, thread CPU time)."""

    __slots__ = ("depth", "enter", "calls", "series", "sampling", "next_sample")

    def __init__(self) -> None:
        self.depth = 0
        self.enter = 0
        self.calls = array("q")  # enter0, exit0, enter1, exit1, ...
        self.series: list[array] = []  # per thread() span: wall0, cpu0, wall1, cpu1, ...
        self.sampling: array | None = None  # the open span's series
        self.next_sample = 0


class _Null:
    """What :func:`current` gives a thread no recorder is bound to: records nothing."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> bool:
        return False


NULL = _Null()
_bound = threading.local()


def current() -> Overlap | _Null:
    """The recorder bound to this thread (by :meth:`Overlap.thread`), or a no-op one."""
    return getattr(_bound, "recorder", NULL)


class Overlap:
    """Per-thread recorder of "inside the code under test" intervals; see the module doc.

    ``with rec:`` marks one call (nested ``with`` in the same thread merge into the
    outermost one). ``with rec.thread():`` brackets a thread's whole run: it binds the
    recorder to the thread (so code deeper down can use :func:`current`) and records
    the thread's CPU time, from which :attr:`OverlapReport.parallel_seconds` comes.
    """

    def __init__(self, unit: str = "calls", *, sample_every_call: bool = False) -> None:
        self.unit = unit
        # CPU time at every call's entry and exit, not every SAMPLE_NS at an exit: for
        # sparse calls (a server thread's reads between waits on the network) each call
        # is then a sample interval of its own, so the fine bound sees two calls that
        # ran at once even where the threads got far less than a core on average
        self._sample_entries = sample_every_call
        self.machine = Machine.now()
        self._local = threading.local()
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()  # only when a thread records for the first time
        self._reported = 0  # slots already swept (see report(since=...))

    def _slot(self) -> _Slot:
        try:
            return self._local.slot
        except AttributeError:
            slot = self._local.slot = _Slot()
            with self._lock:
                self._slots.append(slot)
            return slot

    def __enter__(self) -> Overlap:
        slot = self._slot()
        if not slot.depth:
            slot.enter = _clock()
            if self._sample_entries and slot.sampling is not None:
                slot.sampling.extend((slot.enter, _cpu_clock()))
        slot.depth += 1
        return self

    def __exit__(self, *exc) -> bool:
        slot = self._local.slot
        slot.depth -= 1
        if not slot.depth:
            if self._sample_entries and slot.sampling is not None:
                # the CPU clock before the wall clock at an end (after it at a start):
                # a call's CPU time never spans more than its wall time, so thousands of
                # calls on one CPU add up to no parallel time at all
                cpu = _cpu_clock()
                now = _clock()
                slot.sampling.extend((now, cpu))
            else:
                now = _clock()
                if slot.sampling is not None and now >= slot.next_sample:
                    slot.sampling.extend((now, _cpu_clock()))
                    slot.next_sample = now + SAMPLE_NS
            slot.calls.extend((slot.enter, now))
        return False

    @contextmanager
    def thread(self) -> Iterator[Overlap]:
        """Bracket one thread's run: binds the recorder, records span and CPU time."""
        slot = self._slot()
        previous = getattr(_bound, "recorder", None)
        _bound.recorder = self
        series = array("q", (_clock(), _cpu_clock()))
        slot.series.append(series)
        slot.sampling, slot.next_sample = series, series[0] + SAMPLE_NS
        try:
            yield self
        finally:
            cpu = _cpu_clock()
            series.extend((_clock(), cpu))
            slot.sampling = None
            if previous is None:
                del _bound.recorder
            else:
                _bound.recorder = previous

    def report(self, *, rounds: int = 1, wall_seconds: float | None = None) -> OverlapReport:
        """Merge every thread's records (call after the concurrent phase)."""
        with self._lock:
            slots = list(self._slots)
        return sweep(slots, self.unit, self.machine, rounds=rounds, wall_seconds=wall_seconds)


@dataclass
class OverlapReport:
    """The overlap a concurrent phase achieved (``None`` where nothing was recorded)."""

    unit: str  # what one interval is: "calls" into the code under test, or "iterations"
    threads: int  # threads that recorded at least one interval
    calls: int
    wall_seconds: float
    overlap_seconds: float  # wall time with two or more intervals in progress
    overlap_pairs: int  # pairs of intervals of different threads in progress at once
    interleaved_calls: int  # intervals during which another thread started one
    max_inside: int
    cpu_seconds: float | None  # sum of the threads' CPU time (from Overlap.thread spans)
    parallel_seconds: float | None  # lower bound: CPU time beyond one core, at once
    machine: Machine = field(default_factory=Machine.now)
    rounds: int = 1

    @property
    def overlap_share(self) -> float:
        return self.overlap_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def parallelism(self) -> float | None:
        """Average number of recorded threads running at once (1.0 = one core's worth)."""
        if self.cpu_seconds is None or self.wall_seconds <= 0:
            return None
        return self.cpu_seconds / self.wall_seconds

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(overlap_share=round(self.overlap_share, 4), parallelism=(
            None if self.parallelism is None else round(self.parallelism, 3)))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> OverlapReport:
        """Back from :meth:`as_dict` (e.g. a report a subprocess printed as JSON)."""
        names = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in names}
        kw["machine"] = Machine(**d["machine"])
        return cls(**kw)

    def summary(self) -> str:
        m = self.machine
        par = ("n/a" if self.parallel_seconds is None else
               f"{self.parallel_seconds:.3f}s (x{self.parallelism:.2f})")
        return (f"{self.interleaved_calls} interleaved of {self.calls} {self.unit}, "
                f"{self.overlap_pairs} overlapping pairs, >=2 inside "
                f"{self.overlap_seconds:.3f}s ({100 * self.overlap_share:.0f}% of "
                f"{self.wall_seconds:.2f}s), parallel {par}, max {self.max_inside} inside, "
                f"{self.rounds} round(s); {m.cpus} CPU(s) usable, load {m.load}, "
                f"GIL {'on' if m.gil_enabled else 'off'}")


def sweep(slots: list[_Slot], unit: str, machine: Machine, *, rounds: int = 1,
          wall_seconds: float | None = None) -> OverlapReport:
    """The figures of :class:`OverlapReport` from per-thread records
    (:mod:`nvx_ft.overlap_sweep` does the sweeps)."""
    pairs, overlap_ns, interleaved, max_inside, calls = overlap_sweep.calls(
        [slot.calls for slot in slots])
    series = [ser for slot in slots for ser in slot.series]
    cpu = par = None
    if series:
        cpu_ns, par_ns = overlap_sweep.parallel(series)
        cpu, par = cpu_ns / 1e9, par_ns / 1e9
    if wall_seconds is None:
        bounds = [x for slot in slots for x in (slot.calls[:1] + slot.calls[-1:])]
        bounds += [x for ser in series for x in (ser[0], ser[-2])]
        wall_seconds = (max(bounds) - min(bounds)) / 1e9 if bounds else 0.0
    threads = sum(1 for slot in slots if slot.calls)
    return OverlapReport(unit, threads, calls, wall_seconds, overlap_ns / 1e9, pairs,
                         interleaved, max_inside, cpu, par, machine, rounds)


def merge(reports: list[OverlapReport]) -> OverlapReport:
    """One report for consecutive phases that did not overlap each other (the rounds of
    a run): counts and times add up, ``max_inside`` is the largest."""
    def total(name: str):
        values = [getattr(r, name) for r in reports]
        return None if any(v is None for v in values) else sum(values)

    first = reports[0]
    return OverlapReport(
        first.unit, max(r.threads for r in reports), total("calls"), total("wall_seconds"),
        total("overlap_seconds"), total("overlap_pairs"), total("interleaved_calls"),
        max(r.max_inside for r in reports), total("cpu_seconds"), total("parallel_seconds"),
        first.machine, sum(r.rounds for r in reports))


# ------------------------------------------------------------------ need and verdict


@dataclass(frozen=True)
class Need:
    """The overlap a check must reach to mean anything (stress/README.md says why).

    * ``interleaved_calls``: on every build;
    * ``parallel_seconds``: only where the GIL is disabled (threads can really run at
      once there; a GIL build runs Python one thread at a time by design, so only the
      interleaving counts there and the figure is reported, not required).
    """

    interleaved_calls: int = 0
    parallel_seconds: float = 0.0
    why: str = ""

    def requires_parallel(self, machine: Machine) -> bool:
        return bool(self.parallel_seconds) and not machine.gil_enabled

    def unreachable(self, machine: Machine) -> bool:
        """No run on ``machine`` can meet this need: it asks for threads running in
        parallel and the process may use one CPU only (time-slicing gives exactly 0)."""
        return self.requires_parallel(machine) and machine.cpus < 2

    def missing(self, report: OverlapReport) -> list[str]:
        """What ``report`` lacks, in words; empty when the need is met."""
        out = []
        if report.interleaved_calls < self.interleaved_calls:
            out.append(f"{report.interleaved_calls} of {self.interleaved_calls} interleaved "
                       f"{report.unit}")
        if self.requires_parallel(report.machine):
            got = report.parallel_seconds
            if got is None or got < self.parallel_seconds:
                digits = 3 if self.parallel_seconds >= 0.01 else 5  # "0.001s of 0.001s" lied
                out.append(f"{0.0 if got is None else got:.{digits}f}s of "
                           f"{self.parallel_seconds:g}s "
                           f"of threads running in parallel"
                           + (f" ({report.machine.cpus} CPU usable: {UNREACHABLE})"
                              if self.unreachable(report.machine) else ""))
        return out

    def met(self, report: OverlapReport) -> bool:
        return not self.missing(report)

    def margin(self, report: OverlapReport) -> tuple[float, str]:
        """How far above this need ``report`` got: the smallest ratio reached / needed
        over the figures required on its build (1.0 = just met, below 1 = missed), and
        which figure it was. ``(inf, "")`` for a need of nothing."""
        ratios = []
        if self.interleaved_calls:
            ratios.append((report.interleaved_calls / self.interleaved_calls,
                           f"{report.interleaved_calls} of {self.interleaved_calls} "
                           f"interleaved {report.unit}"))
        if self.requires_parallel(report.machine):
            got = report.parallel_seconds or 0.0
            ratios.append((got / self.parallel_seconds,
                           f"{got:.3f}s of {self.parallel_seconds:g}s parallel"))
        return min(ratios, default=(float("inf"), ""))


def inconclusive_mode(option: str | None = None, environ=None) -> str:
    """``fail`` or ``skip``: the option if given, else ``$NVX_FT_INCONCLUSIVE``, else fail
    under the gate and skip elsewhere (stress/README.md, "Inconclusive", explains why);
    :class:`nvx_ft.settings.Settings` decides. Either way the check is not a pass."""
    if option:
        option = ALIASES.get(option, option)
        if option not in MODES:
            raise ValueError(f"inconclusive mode must be one of {MODES}, not {option!r}")
    return settings.from_environment(environ).with_options(
        inconclusive=option or None).inconclusive_mode()


def verdict(report: OverlapReport, need: Need | None) -> str:
    """``conclusive`` or ``inconclusive`` (no need: conclusive by definition)."""
    return "conclusive" if need is None or need.met(report) else "inconclusive"


def message(report: OverlapReport, need: Need, what: str) -> str:
    why = f" ({need.why})" if need.why else ""
    return (f"{INCONCLUSIVE} {what} did not reach the overlap it needs{why}: "
            f"{'; '.join(need.missing(report))}. Achieved: {report.summary()}. Not a pass: "
            f"the threads did not race enough for this check to prove anything (one CPU, "
            f"or a busy machine?)")


def only_inconclusive(failure_messages: list[str]) -> bool:
    """Are these test failures all inconclusive race checks (no evidence either way), so
    the run that had them is inconclusive rather than failed?"""
    return bool(failure_messages) and all(INCONCLUSIVE in m for m in failure_messages)


def is_inconclusive_message(text: str) -> bool:
    """Is this failure message or skip reason an inconclusive race check's? (pytest
    prefixes a skip reason with ``Skipped: ``.)"""
    text = text.lstrip()
    return text.removeprefix("Skipped: ").lstrip().startswith(INCONCLUSIVE)


def failed_inconclusive(rep) -> bool:
    """Did this failed pytest report fail as an inconclusive race check (not a check)?"""
    text = str(getattr(rep, "longreprtext", "") or rep.longrepr or "")
    return is_inconclusive_message(text)


def report_inconclusive(rep) -> bool:
    """Is this pytest report an inconclusive race check's, failed (mode ``fail``) or
    skipped (mode ``skip``)?"""
    if rep.failed:
        return failed_inconclusive(rep)
    if rep.skipped and isinstance(rep.longrepr, tuple) and not hasattr(rep, "wasxfail"):
        return is_inconclusive_message(str(rep.longrepr[2]))
    return False


def conclude(text: str, mode: str) -> None:
    """End a test whose race check was inconclusive: fail it (``fail``) or skip it with
    the reason (``skip``, plus an :class:`InconclusiveWarning`). Never returns: the
    test is not a pass either way."""
    import pytest  # only pytest-run code concludes; the recorder itself needs no pytest

    if mode == "fail":
        pytest.fail(text, pytrace=False)
    warnings.warn(InconclusiveWarning(text), stacklevel=3)
    pytest.skip(text)


def outcome_counts_lines(counts: dict[str, int], runs: str, readme: str
                         ) -> list[tuple[str, dict]]:
    """The closing lines of a race-check summary, (text, terminal markup): the count per
    outcome, and - loudly - how many were INCONCLUSIVE and so NOT passed. ``runs``: what
    was counted ("race checks", "protocol runs"); ``readme``: where the overlap is
    explained."""
    lines = [(f"{runs}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())),
              {"bold": True})]
    if counts.get("INCONCLUSIVE"):
        lines.append((f"*** {counts['INCONCLUSIVE']} {runs} INCONCLUSIVE: their threads did "
                      f"not overlap enough to prove anything - NOT passed ({readme}, "
                      f"'Overlap')", {"yellow": True, "bold": True}))
    return lines


def enforce(report: OverlapReport, need: Need | None, what: str, mode: str) -> str:
    """Raise :class:`Inconclusive` (mode ``fail``) or warn loudly (``skip``: the caller
    skips the test) when ``report`` misses ``need``; return the verdict."""
    v = verdict(report, need)
    if v == "inconclusive":
        text = message(report, need, what)
        if mode == "fail":
            raise Inconclusive(text)
        warnings.warn(InconclusiveWarning(text), stacklevel=2)
        print(f"\n*** nvx-ft {text}", file=sys.stderr, flush=True)
    return v
