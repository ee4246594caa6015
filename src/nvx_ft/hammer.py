"""``run_threaded``: the one way nvx-ft runs a worker in many threads at once.

In the spirit of numpy's ``numpy.testing._private.utils.run_threaded`` and CPython's
``Lib/test/support/threading_helper.run_concurrently``: all threads start together
behind a barrier (so they really overlap instead of running one after the other while
the next is being created), each runs a bounded number of iterations or until a time
budget is spent, and the caller gets every thread's results back to check *after* the
concurrent phase, against a model, in one thread.

Unlike those, it measures whether the threads really raced (:mod:`nvx_ft.overlap`):
every run carries an :class:`~nvx_ft.overlap.OverlapReport`, and given a
:class:`~nvx_ft.overlap.Need` it runs further rounds until the need is met or its
``overlap_budget`` is spent; a run that still misses it is *inconclusive*
(``ThreadedRun.verdict``), which the caller must never report as passed.

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

from nvx_ft import overlap as overlap_mod
from nvx_ft.overlap import Need, Overlap, OverlapReport

#: generous: a healthy run of any nvx-ft worker finishes far below this
DEFAULT_TIMEOUT = 120.0
#: what one recorded interval is: a whole worker call, or the worker's own marked calls
RECORD_MODES = ("iterations", "calls")
#: shortest further round (seconds): threads must outlive their start-up
MIN_ROUND = 0.05


class HammerTimeout(AssertionError):
    """Threads still running at the deadline: a hang or deadlock, reported with stacks."""


@dataclass
class ThreadedRun:
    threads: int
    #: results[thread_index] = the worker's return values, one per iteration
    results: list[list[Any]]
    #: iterations each thread completed (over all rounds)
    iterations: list[int]
    wall_seconds: float
    #: the overlap the threads achieved (nvx_ft.overlap)
    overlap: OverlapReport | None = None
    #: the overlap the caller asked for (None: no requirement)
    need: Need | None = None
    rounds: int = 1

    @property
    def total_iterations(self) -> int:
        return sum(self.iterations)

    @property
    def verdict(self) -> str:
        """``conclusive`` or ``inconclusive`` (the need was not met: never a pass)."""
        return overlap_mod.verdict(self.overlap, self.need)


def rng(seed: int, label: str, thread_index: int) -> random.Random:
    """Thread ``thread_index``'s generator for ``label`` (a test's name), from one seed.

    String seeds are hashed with SHA-512 by :class:`random.Random`, so the stream is the
    same on every interpreter and platform for the same (seed, label, index).
    """
    return random.Random(f"nvx-ft:{seed}:{label}:{thread_index}")


@contextmanager
def fast_switching(interval: float = 1e-6) -> Iterator[None]:
    """On a GIL build, switch threads as often as CPython allows while inside.

    cffi releases the GIL around every C call, so C code races on GIL builds too; a
    tiny switch interval makes the Python parts between those calls interleave as
    well. A no-op while the GIL is disabled (no switching to speed up).
    """
    if not overlap_mod.gil_enabled():
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


# ------------------------------------------------------------------ the threaded run


@dataclass
class _State:
    """Everything the threads of every round share."""

    worker: Callable[..., Any]
    threads: int
    pass_barrier: bool
    recorder: Overlap
    record_iterations: bool
    timeout: float
    deadline: float  # monotonic: the hard bound of the whole run
    stop: threading.Event = field(default_factory=threading.Event)
    results: list = field(default_factory=list)
    done: list = field(default_factory=list)
    errors: list = field(default_factory=list)  # (thread, iteration, exception)
    errors_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.results = [[] for _ in range(self.threads)]
        self.done = [0] * self.threads


def _iterate(st: _State, index: int, limit: int | None, until: float | None,
             kwargs: dict) -> None:
    """One thread's loop for one round: from its next iteration up to ``limit`` more."""
    i, first = st.done[index], st.done[index]
    while not st.stop.is_set():
        if limit is not None and i - first >= limit:
            break
        if until is not None and i > first and time.monotonic() >= until:
            break
        if st.record_iterations:
            with st.recorder:
                value = st.worker(index, i, **kwargs)
        else:
            value = st.worker(index, i, **kwargs)
        st.results[index].append(value)
        i += 1
        st.done[index] = i


def _body(st: _State, index: int, start_line: threading.Barrier,
          worker_barrier: threading.Barrier | None, limit: int | None,
          until: float | None) -> None:
    try:
        start_line.wait(max(0.0, st.deadline - time.monotonic()))
    except threading.BrokenBarrierError:
        return  # another thread failed to start, or we timed out: reported by the caller
    kwargs = {"barrier": worker_barrier} if worker_barrier is not None else {}
    try:
        with st.recorder.thread():
            _iterate(st, index, limit, until, kwargs)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
        with st.errors_lock:
            st.errors.append((index, st.done[index], exc))
        st.stop.set()
        if worker_barrier is not None:
            worker_barrier.abort()  # release threads waiting for this one


def _run_round(st: _State, limit: int | None, until: float | None) -> float:
    """Start all threads behind a barrier (recording into a fresh recorder), join them;
    HammerTimeout past the deadline. Returns the round's wall time."""
    st.recorder = Overlap(st.recorder.unit)
    start = time.monotonic()
    start_line = threading.Barrier(st.threads)
    worker_barrier = threading.Barrier(st.threads) if st.pass_barrier else None
    pool = [threading.Thread(target=_body, name=f"nvx-ft-hammer-{k}", daemon=True,
                             args=(st, k, start_line, worker_barrier, limit, until))
            for k in range(st.threads)]
    try:
        for t in pool:
            t.start()
    except BaseException:
        start_line.abort()  # threads already waiting must not wait forever
        st.stop.set()
        raise
    for t in pool:
        t.join(max(0.0, st.deadline - time.monotonic()))
    stuck = [t for t in pool if t.is_alive()]
    if stuck:
        st.stop.set()
        start_line.abort()
        if worker_barrier is not None:
            worker_barrier.abort()
        raise HammerTimeout(
            f"{len(stuck)} of {st.threads} threads did not finish within {st.timeout:g} s: "
            f"a hang or deadlock. Iterations done per thread: {st.done}. Stacks "
            f"of the threads still running:\n{_stacks(stuck)}")
    return time.monotonic() - start


def _raise_first_error(st: _State) -> None:
    if not st.errors:
        return
    index, iteration, exc = st.errors[0]
    others = "" if len(st.errors) == 1 else \
        f" ({len(st.errors) - 1} other thread(s) failed too: " + ", ".join(
            f"thread {k}: {type(e).__name__}" for k, _, e in st.errors[1:5]) + ")"
    exc.add_note(f"nvx-ft hammer: raised in thread {index} of {st.threads}, "
                 f"iteration {iteration}{others}")
    raise exc


def run_threaded(
    worker: Callable[..., Any],
    threads: int,
    iterations: int | None = None,
    time_budget: float | None = None,
    pass_barrier: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    need: Need | None = None,
    overlap_budget: float = 0.0,
    record: str = "iterations",
    between_rounds: Callable[[ThreadedRun], None] | None = None,
) -> ThreadedRun:
    """Run ``worker(thread_index, iteration)`` in ``threads`` threads started together.

    * ``iterations``: each thread calls the worker this many times per round (default
      1); ``time_budget``: seconds; in the first round each thread stops starting new
      iterations once the budget (counted from the common start) is spent, after at
      least one. With both, whichever ends first.
    * ``pass_barrier``: also pass ``barrier=`` (a :class:`threading.Barrier` over all
      threads) so a worker can line threads up again mid-run.
    * ``timeout``: hard deadline for the whole run (all rounds); threads still alive
      then are a :class:`HammerTimeout` carrying the stacks of those threads.
    * ``record``: what is "inside": ``iterations`` (each worker call) or ``calls``
      (what the worker marks with ``with nvx_ft.overlap.current():``).
    * ``need``: the overlap to reach; while it is not met, further rounds run, each
      by time and twice as long as the last (iteration numbers go on), until the rounds
      took ``overlap_budget`` seconds; ``between_rounds(run_so_far)`` runs before each
      further round (it may raise, e.g. to fail early on a wrong answer found so far).
      A need no run here can meet (parallel time with one usable CPU) ends the run
      after its first round: inconclusive at once, not after the budget.

    The first exception in any thread stops the others at their next iteration and is
    re-raised here with a note: thread index and count, iteration, other failures.
    """
    if threads < 1:
        raise ValueError("threads must be >= 1")
    if record not in RECORD_MODES:
        raise ValueError(f"record must be one of {RECORD_MODES}")
    if iterations is None and time_budget is None:
        iterations = 1
    st = _State(worker, threads, pass_barrier, Overlap(record), record == "iterations",
                timeout, deadline=time.monotonic() + timeout)
    reports: list[OverlapReport] = []
    limit, until = iterations, None if time_budget is None else time.monotonic() + time_budget
    while True:
        last = _run_round(st, limit, until)
        reports.append(st.recorder.report(wall_seconds=last))
        _raise_first_error(st)
        run = ThreadedRun(threads, st.results, list(st.done), sum(r.wall_seconds for r in reports),
                          overlap_mod.merge(reports), need, len(reports))
        if (need is None or need.met(run.overlap) or run.wall_seconds >= overlap_budget
                or need.unreachable(run.overlap.machine)):  # one CPU: more time is no help
            return run
        if between_rounds is not None:
            between_rounds(run)
        # further rounds run by time, each twice as long as the last: few rounds, few checks
        limit = None
        until = time.monotonic() + min(max(2 * last, MIN_ROUND),
                                       overlap_budget - run.wall_seconds)


# --------------------------------------------------------------------------- checking


@dataclass
class Stream:
    """Everything one thread did with one object of ``impl``: the calls and the answers.

    ``ops`` and ``got`` use :mod:`nvx_ft.compare`'s vocabulary (``("validate", chunk)``,
    ``("process", chunk)``, ``("reset",)``), so the check after the concurrent phase is
    the same exact model comparison the single-threaded suite makes. A :class:`Verifier`
    drops what it has checked up to the last reset (``dropped`` counts it), and all of a
    stream marked :meth:`close` - so a long adaptive run keeps its memory bounded.
    """

    impl: Any  # nvx_ft.target.Impl
    kind: str  # "utf8" or "xor"
    thread: int
    mask: bytes | None = None
    align: int = 0
    ops: list = field(default_factory=list)
    got: list = field(default_factory=list)
    dropped: int = 0  # calls checked and forgotten (before ops[0])
    closed: bool = False

    def close(self) -> None:
        """No more calls will be recorded here (the object is done with)."""
        self.closed = True

    def record(self, obj: Any, ops: list) -> None:
        """Run ``ops`` on ``obj``; each call is one interval of the thread's recorder."""
        from nvx_ft import compare

        inside = overlap_mod.current()
        self.ops.extend(ops)
        for op in ops:
            with inside:
                got = compare.replay(obj, self.kind, (op,))
            self.got.extend(got)


def verify(streams: list[Stream], target_name: str, *, threads: int, seed: int,
           reproduce: str = "") -> int:
    """Check every stream against its expected model; return how many calls were checked.

    The first difference raises an AssertionError naming the implementation, the
    thread (and thread count), the seed, the calls since the object's last reset up
    to the one that differs (that is all the state the model needs), and the command
    that reproduces the run.
    """
    return Verifier(target_name, threads=threads, seed=seed, reproduce=reproduce)(streams)


class Verifier:
    """:func:`verify` that resumes where its last call stopped, stream by stream.

    Streams only grow between rounds of a run, so checking after every round (to fail
    as soon as a race showed) costs no more than one check at the end.
    """

    def __init__(self, target_name: str, *, threads: int, seed: int, reproduce: str = ""):
        self.target_name, self.threads, self.seed = target_name, threads, seed
        self.reproduce = reproduce
        #: id(stream) -> [stream, model class, model, calls already checked]
        self._done: dict[int, list] = {}

    def __call__(self, streams: list[Stream]) -> int:
        return sum(self._check(s) for s in streams)

    def _check(self, s: Stream) -> int:
        from nvx_ft import compare
        from nvx_ft.divergences import expected_model

        entry = self._done.get(id(s))
        if entry is None:
            model_cls = expected_model(self.target_name, s.kind, s.impl.name)
            entry = [s, model_cls, model_cls(*((s.mask,) if s.kind == "xor" else ())), 0]
            self._done[id(s)] = entry
        _, model_cls, model, first = entry
        if len(s.got) != len(s.ops):
            raise AssertionError(f"{s.impl.name}: thread {s.thread} recorded {len(s.got)} "
                                 f"answers for {len(s.ops)} calls")
        for n in range(first, len(s.ops)):
            want = compare.replay(model, s.kind, (s.ops[n],))[0]
            if s.got[n] != want:
                raise AssertionError(self._mismatch(s, n, want, model_cls))
        entry[3] = _forget_checked(s)
        return s.dropped + len(s.ops)

    def _mismatch(self, s: Stream, n: int, want: Any, model_cls: type) -> str:
        from nvx_ft import compare

        got = s.got[n]
        start = max((k + 1 for k in range(n) if s.ops[k][0] == "reset"), default=0)
        ops = s.ops[start:n + 1]
        context = (f" in thread {s.thread} of {self.threads} threads, seed {self.seed}"
                   + (f" (call {s.dropped + n + 1} of this thread's object; shown from its "
                      f"last reset)" if start or s.dropped else ""))
        msg = compare.describe_mismatch(s.impl, s.kind, ops, len(ops) - 1, got, want,
                                        model_cls, mask=s.mask, align=s.align, context=context)
        if s.kind == "xor" and isinstance(got[0], bytes) and isinstance(want[0], bytes):
            at = next((k for k, (a, b) in enumerate(zip(got[0], want[0])) if a != b), None)
            if at is not None:
                msg += f"\n  first wrong output byte: offset {at} of {len(want[0])}"
        if self.reproduce:
            msg += f"\n  reproduce: {self.reproduce}"
        return msg


def _forget_checked(s: Stream) -> int:
    """Drop the checked calls a mismatch message can no longer need; returns how many
    calls stay (all checked)."""
    if s.closed:
        cut = len(s.ops)
    else:
        cut = max((k + 1 for k in range(len(s.ops) - 1, -1, -1) if s.ops[k][0] == "reset"),
                  default=0)  # everything up to and including the last reset
    if cut:
        del s.ops[:cut], s.got[:cut]
        s.dropped += cut
    return len(s.ops)
