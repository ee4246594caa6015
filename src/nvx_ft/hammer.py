"""``run_threaded``: the one way nvx-ft runs a worker in many threads at once.

In the spirit of numpy's ``numpy.testing._private.utils.run_threaded`` and CPython's
``Lib/test/support/threading_helper.run_concurrently``: all threads start together
behind a barrier (so they really overlap instead of running one after the other while
the next is being created), each runs a bounded number of iterations or until a time
budget is spent, and the caller gets every thread's results back to check *after* the
concurrent phase, against a model, in one thread.

It never hangs: threads are daemons, every wait has a deadline, and on timeout
:class:`HammerTimeout` is raised with the stacks of the threads still running. A
worker's exception is re-raised in the calling thread with a note naming the thread
index and iteration, so a pytest failure points at the thread that broke.

Per-thread randomness comes from one seed (``rng(seed, label, thread_index)``), so a
failing run is reproduced by passing the printed seed back (``--nvx-seed``).
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

#: generous: a healthy run of any nvx-ft worker finishes far below this
DEFAULT_TIMEOUT = 120.0


class HammerTimeout(AssertionError):
    """Threads still running at the deadline: a hang or deadlock, reported with stacks."""


@dataclass
class ThreadedRun:
    threads: int
    #: results[thread_index] = the worker's return values, one per iteration
    results: list[list[Any]]
    #: iterations each thread completed
    iterations: list[int]
    wall_seconds: float

    @property
    def total_iterations(self) -> int:
        return sum(self.iterations)


def rng(seed: int, label: str, thread_index: int) -> random.Random:
    """Thread ``thread_index``'s generator for ``label`` (a test's name), from one seed.

    String seeds are hashed with SHA-512 by :class:`random.Random`, so the stream is the
    same on every interpreter and platform for the same (seed, label, index).
    """
    return random.Random(f"nvx-ft:{seed}:{label}:{thread_index}")


def is_gil_enabled() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


@contextmanager
def fast_switching(interval: float = 1e-6) -> Iterator[None]:
    """On a GIL build, switch threads as often as CPython allows while inside.

    cffi releases the GIL around every C call, so C code races on GIL builds too; a
    tiny switch interval makes the Python parts between those calls interleave as
    well. A no-op while the GIL is disabled (no switching to speed up).
    """
    if not is_gil_enabled():
        yield
        return
    old = sys.getswitchinterval()
    sys.setswitchinterval(interval)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _stacks(threads: list[threading.Thread]) -> str:
    """Python stacks of ``threads`` (a thread stuck in C shows the call that entered C)."""
    frames = sys._current_frames()
    out = []
    for t in threads:
        frame = frames.get(t.ident)
        stack = "".join(traceback.format_stack(frame)) if frame else "  (no frame)\n"
        out.append(f"--- {t.name}:\n{stack}")
    return "".join(out)


def cpu_count() -> int:
    return (os.process_cpu_count() if hasattr(os, "process_cpu_count") else os.cpu_count()) or 1


def run_threaded(
    worker: Callable[..., Any],
    threads: int,
    iterations: int | None = None,
    time_budget: float | None = None,
    pass_barrier: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> ThreadedRun:
    """Run ``worker(thread_index, iteration)`` in ``threads`` threads started together.

    * ``iterations``: each thread calls the worker this many times (default 1);
    * ``time_budget``: seconds; each thread stops starting new iterations once the
      budget (counted from the common start) is spent, after at least one. With both,
      whichever ends first.
    * ``pass_barrier``: also pass ``barrier=`` (a :class:`threading.Barrier` over all
      threads) so a worker can line threads up again mid-run.
    * ``timeout``: hard deadline for the whole run; threads still alive then are a
      :class:`HammerTimeout` carrying the stacks of the threads still running.

    After the first exception in any thread, the other threads stop at their next
    iteration and the exception is re-raised here with a note: thread index, thread
    count, iteration (and how many other threads failed too).
    """
    if threads < 1:
        raise ValueError("threads must be >= 1")
    if iterations is None and time_budget is None:
        iterations = 1
    start_line = threading.Barrier(threads)
    worker_barrier = threading.Barrier(threads) if pass_barrier else None
    stop = threading.Event()
    results: list[list[Any]] = [[] for _ in range(threads)]
    done: list[int] = [0] * threads
    errors: list[tuple[int, int, BaseException]] = []
    errors_lock = threading.Lock()

    def body(index: int) -> None:
        try:
            start_line.wait(timeout)
        except threading.BrokenBarrierError:
            return  # another thread failed to start, or we timed out: reported below
        t0 = time.monotonic()
        kwargs = {"barrier": worker_barrier} if pass_barrier else {}
        i = 0
        while not stop.is_set():
            if iterations is not None and i >= iterations:
                break
            if time_budget is not None and i > 0 and time.monotonic() - t0 >= time_budget:
                break
            try:
                results[index].append(worker(index, i, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                with errors_lock:
                    errors.append((index, i, exc))
                stop.set()
                if worker_barrier is not None:
                    worker_barrier.abort()  # release threads waiting for this one
                return
            i += 1
            done[index] = i

    pool = [threading.Thread(target=body, args=(k,), name=f"nvx-ft-hammer-{k}", daemon=True)
            for k in range(threads)]
    t_start = time.monotonic()
    deadline = t_start + timeout
    try:
        for t in pool:
            t.start()
    except BaseException:
        start_line.abort()  # threads already waiting must not wait forever
        stop.set()
        raise
    for t in pool:
        t.join(max(0.0, deadline - time.monotonic()))
    wall = time.monotonic() - t_start
    alive = [t.name for t in pool if t.is_alive()]
    if alive:
        stop.set()
        start_line.abort()
        if worker_barrier is not None:
            worker_barrier.abort()
        raise HammerTimeout(
            f"{len(alive)} of {threads} threads did not finish within {timeout:g} s: a hang "
            f"or deadlock. Iterations done per thread: {done}. Stacks of the threads still "
            f"running:\n{_stacks([t for t in pool if t.is_alive()])}"
        )
    if errors:
        index, iteration, exc = errors[0]
        others = "" if len(errors) == 1 else \
            f" ({len(errors) - 1} other thread(s) failed too: " + ", ".join(
                f"thread {k}: {type(e).__name__}" for k, _, e in errors[1:5]) + ")"
        exc.add_note(f"nvx-ft hammer: raised in thread {index} of {threads}, "
                     f"iteration {iteration}{others}")
        raise exc
    return ThreadedRun(threads, results, done, wall)


# --------------------------------------------------------------------------- checking


@dataclass
class Stream:
    """Everything one thread did with one object of ``impl``: the calls and the answers.

    ``ops`` and ``got`` use :mod:`nvx_ft.compare`'s vocabulary (``("validate", chunk)``,
    ``("process", chunk)``, ``("reset",)``), so the check after the concurrent phase is
    the same exact model comparison the single-threaded suite makes.
    """

    impl: Any  # nvx_ft.target.Impl
    kind: str  # "utf8" or "xor"
    thread: int
    mask: bytes | None = None
    align: int = 0
    ops: list = field(default_factory=list)
    got: list = field(default_factory=list)

    def record(self, obj: Any, ops: list) -> None:
        from nvx_ft import compare

        self.ops.extend(ops)
        self.got.extend(compare.replay(obj, self.kind, ops))


def verify(streams: list[Stream], target_name: str, *, threads: int, seed: int,
           reproduce: str = "") -> int:
    """Check every stream against its expected model; return how many calls were checked.

    The first difference raises an AssertionError naming the implementation, the
    thread (and thread count), the seed, the calls since the object's last reset up
    to the one that differs (that is all the state the model needs), and the command
    that reproduces the run.
    """
    from nvx_ft import compare
    from nvx_ft.divergences import expected_model

    checked = 0
    for s in streams:
        model_cls = expected_model(target_name, s.kind, s.impl.name)
        model = model_cls(*((s.mask,) if s.kind == "xor" else ()))
        want = compare.replay(model, s.kind, s.ops)
        for n, (g, w) in enumerate(zip(s.got, want)):
            if g != w:
                start = max((k + 1 for k in range(n) if s.ops[k][0] == "reset"), default=0)
                ops = s.ops[start:n + 1]
                context = (f" in thread {s.thread} of {threads} threads, seed {seed}"
                           + (f" (call {n + 1} of this thread's object; shown from its last "
                              f"reset)" if start else ""))
                msg = compare.describe_mismatch(s.impl, s.kind, ops, len(ops) - 1, g, w,
                                                model_cls, mask=s.mask, align=s.align,
                                                context=context)
                if s.kind == "xor" and isinstance(g[0], bytes) and isinstance(w[0], bytes):
                    at = next((k for k, (a, b) in enumerate(zip(g[0], w[0])) if a != b), None)
                    if at is not None:
                        msg += f"\n  first wrong output byte: offset {at} of {len(w[0])}"
                if reproduce:
                    msg += f"\n  reproduce: {reproduce}"
                raise AssertionError(msg)
        if len(s.got) != len(want):
            raise AssertionError(f"{s.impl.name}: thread {s.thread} recorded {len(s.got)} "
                                 f"answers for {len(want)} calls")
        checked += len(want)
    return checked
