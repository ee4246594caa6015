"""Self-tests of ``nvx_ft.hammer.run_threaded``: overlap, results, errors, no hangs."""

import threading

import pytest

from nvx_ft.hammer import HammerTimeout, rng, run_threaded

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="starts its own threads through run_threaded"),
]


def test_threads_really_overlap():
    # every thread waits for all the others mid-run: only possible if they all run at once
    run = run_threaded(lambda t, i, barrier: (barrier.wait(10), t)[1], 6, iterations=3,
                       pass_barrier=True, timeout=30)
    assert run.results == [[t] * 3 for t in range(6)]
    assert run.iterations == [3] * 6


def test_worker_exception_names_its_thread():
    def worker(t, i):
        if t == 2 and i == 5:
            raise ValueError("boom")
        return i

    with pytest.raises(ValueError, match="boom") as info:
        run_threaded(worker, 4, iterations=50, timeout=30)
    assert any("thread 2 of 4, iteration 5" in note for note in info.value.__notes__)


def test_failure_while_others_wait_at_a_barrier_does_not_hang():
    def worker(t, i, barrier):
        if t == 0:
            raise RuntimeError("thread 0 gives up")
        barrier.wait()  # would wait forever for thread 0 without the abort

    with pytest.raises(RuntimeError) as info:
        run_threaded(worker, 3, pass_barrier=True, timeout=30)
    assert any("thread 0 of 3" in note for note in info.value.__notes__)


def test_hang_becomes_a_timeout_with_stacks():
    never = threading.Event()

    def stuck_worker(t, i):
        never.wait()

    with pytest.raises(HammerTimeout, match="2 of 2 threads did not finish") as info:
        run_threaded(stuck_worker, 2, timeout=0.5)
    never.set()  # let the daemon threads go
    assert "--- nvx-ft-hammer-0" in str(info.value)
    assert "in stuck_worker" in str(info.value)


def test_time_budget_and_iterations_bound_the_run():
    # the budget is checked after each iteration, from the second one on: a spent
    # budget means exactly one iteration per thread
    assert run_threaded(lambda t, i: i, 3, time_budget=0, timeout=30).iterations == [1, 1, 1]
    # with both bounds, whichever ends first
    run = run_threaded(lambda t, i: i, 3, iterations=4, time_budget=3600, timeout=30)
    assert run.results == [[0, 1, 2, 3]] * 3


def test_per_thread_randomness_is_reproducible_and_distinct():
    a = [rng(7, "x", t).random() for t in range(4)]
    assert a == [rng(7, "x", t).random() for t in range(4)]
    assert len(set(a)) == 4
    assert rng(8, "x", 0).random() != a[0]
