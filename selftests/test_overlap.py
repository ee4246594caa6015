"""Self-tests of ``nvx_ft.overlap`` and of run_threaded's rounds: the figures, the need, the modes.

The sweep is checked on intervals whose times the test sets itself (a fake clock), so
the expected figures are exact; the rounds with real threads.
"""

import os
import sys
import threading
import time

import pytest

from nvx_ft import overlap, settings
from nvx_ft.hammer import run_threaded
from nvx_ft.overlap import Machine, Need, Overlap

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="records per thread and starts its own threads"),
]


class FakeClock:
    def __init__(self):
        self.now = 0

    def __call__(self):
        return self.now


@pytest.fixture
def clocks(monkeypatch):
    wall, cpu = FakeClock(), FakeClock()
    monkeypatch.setattr(overlap, "_clock", wall)
    monkeypatch.setattr(overlap, "_cpu_clock", cpu)
    return wall, cpu


def record_in_thread(fn):
    """Run ``fn`` in a new thread (each thread has its own slot) and wait for it."""
    t = threading.Thread(target=fn)
    t.start()
    t.join()


def interval(rec, wall, start, end):
    wall.now = start
    rec.__enter__()
    wall.now = end
    rec.__exit__(None, None, None)


def test_sweep_counts_pairs_interleaved_calls_and_time(clocks):
    wall, _ = clocks
    rec = Overlap()
    # Intervals are recorded per thread; the sweep only looks at their times:
    # A [0,10]; B [5,15] and [16,20]; C [17,18] and [20,22] (touches B's end: no overlap)
    record_in_thread(lambda: interval(rec, wall, 0, 10))
    record_in_thread(lambda: (interval(rec, wall, 5, 15), interval(rec, wall, 16, 20)))
    record_in_thread(lambda: (interval(rec, wall, 17, 18), interval(rec, wall, 20, 22)))
    r = rec.report()
    assert r.calls == 5 and r.threads == 3
    assert r.overlap_pairs == 2  # B1 starts inside A, C1 inside B2
    assert r.interleaved_calls == 2  # A and B2 saw another thread start a call
    assert r.overlap_seconds == pytest.approx((5 + 1) / 1e9)
    assert r.max_inside == 2
    assert r.wall_seconds == pytest.approx(22 / 1e9)
    assert r.cpu_seconds is None and r.parallel_seconds is None  # no thread() spans


def test_nested_entries_of_one_thread_are_one_interval(clocks):
    wall, _ = clocks
    rec = Overlap()

    def body():
        wall.now = 1
        with rec:
            wall.now = 2
            with rec:
                wall.now = 3
            wall.now = 4
    record_in_thread(body)
    assert rec.report().calls == 1


def spans(rec, wall, cpu, start, end, cpu_used):
    def body():
        wall.now, cpu.now = start, 0
        with rec.thread():
            interval(rec, wall, start, end)
            cpu.now = cpu_used
            wall.now = end
    record_in_thread(body)


def test_parallel_seconds_is_cpu_time_beyond_one_core(clocks):
    wall, cpu = clocks
    side_by_side = Overlap()
    spans(side_by_side, wall, cpu, 0, 100, 100)
    spans(side_by_side, wall, cpu, 0, 100, 100)
    r = side_by_side.report()
    assert r.cpu_seconds == pytest.approx(200e-9)
    assert r.parallel_seconds == pytest.approx(100e-9)
    assert r.parallelism == pytest.approx(2.0)
    time_sliced = Overlap()  # two threads sharing one core: never at the same moment
    spans(time_sliced, wall, cpu, 0, 100, 50)
    spans(time_sliced, wall, cpu, 0, 100, 50)
    r = time_sliced.report()
    assert r.interleaved_calls == 1 and r.parallel_seconds == 0.0


def report_with(gil: bool, interleaved: int, parallel: float | None):
    machine = Machine(cpus=2, cpu_count=2, load=0.0, gil_enabled=gil, free_threaded_build=not gil)
    return overlap.OverlapReport("calls", 4, 1000, 1.0, 0.5, 500, interleaved, 4,
                                 None if parallel is None else 1.0, parallel, machine)


def test_need_requires_parallel_time_only_where_the_gil_is_off():
    need = Need(interleaved_calls=100, parallel_seconds=0.2)
    assert need.met(report_with(gil=False, interleaved=100, parallel=0.2))
    assert need.missing(report_with(gil=False, interleaved=5000, parallel=0.0)) == [
        "0.000s of 0.2s of threads running in parallel"]
    assert not need.met(report_with(gil=False, interleaved=100, parallel=None))
    assert need.met(report_with(gil=True, interleaved=100, parallel=0.0))
    assert need.missing(report_with(gil=True, interleaved=99, parallel=0.0)) == [
        "99 of 100 interleaved calls"]


def test_inconclusive_fails_or_warns_and_never_passes(capsys):
    need = Need(interleaved_calls=100, why="a shared slot is only hit by overlapping calls")
    thin = report_with(gil=True, interleaved=3, parallel=0.0)
    with pytest.raises(overlap.Inconclusive, match=r"^INCONCLUSIVE: the check did not reach "
                                                   r".*3 of 100 interleaved calls"):
        overlap.enforce(thin, need, "the check", "fail")
    with pytest.warns(overlap.InconclusiveWarning, match="^INCONCLUSIVE:"):
        assert overlap.enforce(thin, need, "the check", "skip") == "inconclusive"
    assert "*** nvx-ft INCONCLUSIVE:" in capsys.readouterr().err
    assert overlap.enforce(report_with(True, 100, 0.0), need, "x", "fail") == "conclusive"
    assert overlap.verdict(thin, None) == "conclusive"  # no need stated: nothing to miss


GATE_CHILD = {"NVX_FT_CHILD": settings.Child(gate=True).encode()}


@pytest.mark.parametrize("env, mode", [
    ({}, "skip"),
    ({"CI": "true"}, "skip"),  # plain CI: see stress/README.md, "Inconclusive"
    ({"CI": "true", "NVX_FT_REQUIRE_PYTHONS": "3.14t"}, "skip"),  # required != fail
    ({"NVX_FT_INCONCLUSIVE": "fail"}, "fail"),  # the nightly's
    ({"NVX_FT_INCONCLUSIVE": "skip", **GATE_CHILD}, "skip"),  # the variable over the gate
    (GATE_CHILD, "fail"),
    ({"NVX_FT_CHILD": settings.Child().encode(), "CI": "false"}, "skip"),
])
def test_inconclusive_mode_from_the_environment(env, mode):
    assert overlap.inconclusive_mode(None, env) == mode
    assert overlap.inconclusive_mode("skip", GATE_CHILD) == "skip"  # option wins
    assert overlap.inconclusive_mode("warn", env) == "skip"  # skip's old name
    with pytest.raises(ValueError):
        overlap.inconclusive_mode("pass", env)


def test_one_usable_cpu_makes_a_parallel_need_unreachable_not_a_longer_wait():
    need = Need(interleaved_calls=10, parallel_seconds=0.1)
    one = Machine(cpus=1, cpu_count=2, load=0.0, gil_enabled=False, free_threaded_build=True)
    two = Machine(cpus=2, cpu_count=2, load=0.0, gil_enabled=False, free_threaded_build=True)
    gil_one = Machine(cpus=1, cpu_count=2, load=0.0, gil_enabled=True, free_threaded_build=False)
    assert need.unreachable(one) and not need.unreachable(two)
    assert not need.unreachable(gil_one)  # a GIL build needs interleaving only: reachable
    report = overlap.OverlapReport("calls", 4, 100, 1.0, 0.5, 50, 40, 4, 1.0, 0.0, one)
    assert overlap.UNREACHABLE in "; ".join(need.missing(report))


def test_an_unreachable_need_leads_a_long_inconclusive_message(monkeypatch):
    """The shared-object probe notes one run per implementation (interleaving only, which
    time-slicing may give) and then their sum (parallel time): pinned to one CPU the sum's
    "cannot be met" came last, past the 4,000 characters a runner keeps, so the gate
    reran the probe twice "(a busy machine?)". The unreachable run now comes first."""
    from types import SimpleNamespace

    from nvx_ft import stress_pytest, suites

    one = Machine(cpus=1, cpu_count=2, load=0.0, gil_enabled=False, free_threaded_build=True)
    report = overlap.OverlapReport("calls", 4, 100, 1.0, 0.5, 50, 3, 2, 1.0, 0.0, one)
    node = SimpleNamespace(nodeid="stress/test_x.py::test_probe", user_properties=[])
    monkeypatch.setattr(stress_pytest, "INTENSITIES", {"default": None})
    hammer = stress_pytest.Hammer(SimpleNamespace(node=node), None, 1, "default")
    for _ in range(12):  # per implementation: reachable in principle
        hammer.note(report, Need(interleaved_calls=100, why="x" * 200))
    hammer.note(report, Need(parallel_seconds=0.1, why="summed"))
    with pytest.raises(pytest.fail.Exception) as caught:
        hammer.conclude("fail")
    text = str(caught.value)
    assert len(text) > suites._MAX_MESSAGE
    assert overlap.UNREACHABLE in text[:suites._MAX_MESSAGE].splitlines()[0]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_pinned_to_one_cpu_the_hammer_stops_after_one_round_where_parallel_time_is_needed():
    """Pinned (this thread, so the hammer's threads too), a free-threaded run that needs
    parallel time ends after its first round; a GIL build (interleaving only) and an
    unpinned run go on for further rounds (the need below is never met)."""
    def run():
        return run_threaded(lambda t, i: None, 2, iterations=1, need=Need(10**9, 10.0),
                            overlap_budget=0.3, record="iterations")
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        pinned = run()
    finally:
        os.sched_setaffinity(0, before)
    assert pinned.overlap.machine.cpus == 1
    if pinned.overlap.machine.gil_enabled:
        assert pinned.rounds > 1
    else:
        assert pinned.rounds == 1 and pinned.verdict == "inconclusive"
    if len(before) > 1:
        assert run().rounds > 1


def test_margin_is_the_figure_closest_to_its_need():
    need = Need(interleaved_calls=100, parallel_seconds=0.1)
    ratio, figure = need.margin(report_with(gil=False, interleaved=400, parallel=0.103))
    assert ratio == pytest.approx(1.03) and "0.103s of 0.1s parallel" in figure
    ratio, figure = need.margin(report_with(gil=True, interleaved=50, parallel=0.0))
    assert ratio == pytest.approx(0.5) and "50 of 100 interleaved" in figure
    assert Need().margin(report_with(gil=False, interleaved=1, parallel=0.0))[0] == float("inf")


@pytest.mark.parametrize("text, inconclusive", [
    ("INCONCLUSIVE: x did not reach", True),
    ("Skipped: INCONCLUSIVE: x did not reach", True),
    ("  INCONCLUSIVE: indented", True),
    ("assert 1 == 2 (INCONCLUSIVE: quoted)", False),
    ("Skipped: not applicable on a GIL build", False),
])
def test_inconclusive_messages_are_told_from_others(text, inconclusive):
    assert overlap.is_inconclusive_message(text) is inconclusive


def test_current_is_the_runs_recorder_inside_a_worker_and_a_no_op_outside():
    assert overlap.current() is overlap.NULL
    seen = []
    run_threaded(lambda t, i: seen.append(overlap.current()), 2, iterations=2, record="calls")
    assert len({id(r) for r in seen}) == 1 and seen[0] is not overlap.NULL
    assert overlap.current() is overlap.NULL


def test_rounds_go_on_until_the_need_is_met():
    def worker(t, i):
        with overlap.current():
            time.sleep(0.001)  # threads sleep inside their calls: they interleave
        return i

    run = run_threaded(worker, 3, iterations=2, record="calls",
                       need=Need(interleaved_calls=30), overlap_budget=30, timeout=60)
    assert run.verdict == "conclusive" and run.rounds > 1
    assert run.overlap.interleaved_calls >= 30 and run.overlap.rounds == run.rounds
    # iteration numbers go on across rounds; the rounds after the first run by time
    assert all(r == list(range(len(r))) for r in run.results)
    assert run.iterations == [len(r) for r in run.results] and min(run.iterations) > 2


def test_an_unreachable_need_is_inconclusive_within_its_budget():
    lock = threading.Lock()
    rounds_seen = []

    def worker(t, i):
        with lock, overlap.current():  # one thread inside at a time: never interleaved
            pass

    start = time.monotonic()
    run = run_threaded(worker, 2, iterations=5, record="calls", need=Need(interleaved_calls=1),
                       overlap_budget=0.3, between_rounds=rounds_seen.append, timeout=60)
    assert time.monotonic() - start < 5
    assert run.verdict == "inconclusive" and run.overlap.interleaved_calls == 0
    assert run.rounds > 1 and len(rounds_seen) == run.rounds - 1


def test_between_rounds_can_stop_the_run():
    class Found(Exception):
        pass

    def check(run):
        raise Found(f"after round {run.rounds}")

    with pytest.raises(Found, match="after round 1"):
        run_threaded(lambda t, i: None, 2, iterations=1, need=Need(interleaved_calls=10**9),
                     overlap_budget=30, between_rounds=check)


def test_a_run_reports_the_machine_it_had():
    run = run_threaded(lambda t, i: None, 2, iterations=3)
    m = run.overlap.machine
    assert m.cpus >= 1 and m.cpus <= (m.cpu_count or m.cpus)
    assert run.overlap.unit == "iterations" and run.overlap.calls == 6
    assert "CPU(s) usable" in run.overlap.summary()


def test_rounds_merge_into_one_report():
    a = report_with(gil=False, interleaved=10, parallel=0.5)
    b = report_with(gil=False, interleaved=5, parallel=None)
    m = overlap.merge([a, a])
    assert (m.interleaved_calls, m.calls, m.rounds, m.parallel_seconds) == (20, 2000, 2, 1.0)
    assert m.wall_seconds == 2.0 and m.max_inside == 4
    assert overlap.merge([a, b]).parallel_seconds is None  # unknown in one round: unknown


def test_parallel_bursts_count_even_below_one_core_on_average():
    from array import array

    from nvx_ft import overlap_sweep

    # two threads, both running during [0, 100] only, then idle until 1000: on average
    # they got 0.2 core (sum(CPU) - span = 200 - 1000 < 0), yet 100 ran side by side
    burst = array("q", [0, 0, 100, 100, 1000, 100])
    assert overlap_sweep.parallel([burst, burst]) == (200, 100)
    # the same CPU time one after the other (one core): nothing in parallel
    first = array("q", [0, 0, 100, 100, 1000, 100])
    second = array("q", [0, 0, 100, 0, 200, 100, 1000, 100])
    assert overlap_sweep.parallel([first, second]) == (200, 0)


def _short_calls_in_threads(rec: Overlap, threads: int, seconds: float) -> None:
    """Threads making short calls with pauses between them (a server's reads)."""
    def worker():
        with rec.thread():
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                with rec:
                    for _ in range(1000):  # a call: bytecode a GIL switch can interrupt
                        pass
                time.sleep(0)  # between calls: let the others run
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_every_call_sampling_adds_up_to_no_parallel_time_on_one_cpu():
    """The protocol's recorder samples CPU time at every call's entry and exit: pinned to
    one CPU, thousands of calls (30 000 here) must still add up to no parallel time; on 2+
    CPUs, unpinned, a free-threaded build shows some."""
    before, interval = os.sched_getaffinity(0), sys.getswitchinterval()
    os.sched_setaffinity(0, {min(before)})
    sys.setswitchinterval(1e-5)  # a GIL build too switches threads inside calls
    try:
        rec = Overlap(sample_every_call=True)
        for _ in range(5):  # a switch inside a call is likely in a second, not certain
            _short_calls_in_threads(rec, 3, 1.0)  # (0 of 34 000 seen once, under load)
            if rec.report().interleaved_calls:
                break
    finally:
        os.sched_setaffinity(0, before)
        sys.setswitchinterval(interval)
    report = rec.report()
    assert report.calls > 1_000 and report.interleaved_calls > 0, report.summary()
    # not exactly 0: the thread CPU clock and the raw wall clock tick at rates a fraction
    # of a ppm apart (8e-7 s over 3 x 1 s here on 3.11); far below the protocol's 0.001 s.
    # With the NTP-slewed CLOCK_MONOTONIC a new CI machine showed 1.4e-4 s (45 ppm)
    assert report.parallel_seconds < 1e-4, report.summary()
    if len(before) > 1 and not report.machine.gil_enabled:
        rec = Overlap(sample_every_call=True)
        _short_calls_in_threads(rec, 2, 1.0)
        assert rec.report().parallel_seconds > 0, rec.report().summary()
