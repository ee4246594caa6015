"""Event loops in threads: one asyncio loop per thread, started and stopped within bounds.

Both the autobahn servers and the autobahn clients run this way - the deployment the
issue is about (an application serving from several threads, each with its own loop).
Exceptions handed to a loop's exception handler are collected, never just logged, so an
invariant check can fail on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from nvx_ft.overlap import Inconclusive
from nvx_ft.protocol.patience import TICK, Patience, Silent

#: a loop that neither finishes nor is found stuck within this many times a call's
#: timeout is too starved to tell: the call is inconclusive
STARVED_BOUND = 6


class LoopStuck(AssertionError):
    """A loop thread did not stop within its bound; carries every thread's stack."""


def all_stacks() -> str:
    frames = sys._current_frames()
    out = []
    for t in threading.enumerate():
        frame = frames.get(t.ident)
        stack = "".join(traceback.format_stack(frame)) if frame else "  (no Python frame)\n"
        out.append(f"--- thread {t.name} (daemon={t.daemon}):\n{stack}")
    return "".join(out)


@dataclass
class LoopThread:
    """One thread running one event loop; ``setup(loop, index)`` runs in it first.

    With an ``overlap`` recorder (:class:`nvx_ft.overlap.Overlap`) the loop runs inside
    ``overlap.thread()``: the recorder is bound to the thread (code on the loop marks
    its calls with ``with overlap:``) and the thread's CPU time is sampled.

    The loop beats a heartbeat (:meth:`heartbeat`: one beat per
    :data:`nvx_ft.protocol.patience.TICK`, each a loop iteration), so a peer can wait on
    the server's progress instead of the wall clock (:mod:`nvx_ft.protocol.patience`)."""

    index: int
    name: str
    setup: object
    overlap: object = None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    value: object = None
    error: BaseException | None = None
    #: contexts handed to the loop's exception handler (message, exception repr)
    loop_errors: list = field(default_factory=list)
    #: tasks still pending when the loop was stopped
    leftover_tasks: list = field(default_factory=list)
    #: also called with each beat count (e.g. a BeatFile writer for another process)
    beat_hook: object = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _beats: int = 0

    def heartbeat(self) -> int:
        """Loop iterations seen so far, one every ``TICK`` seconds while the loop runs."""
        return self._beats

    def cpu_seconds(self) -> float | None:
        """CPU time the loop thread has used (its own clock; None where unreadable - then
        a wait cannot tell a blocked loop from a starved one and waits for its deadline)."""
        try:
            return time.clock_gettime(time.pthread_getcpuclockid(self.thread.ident))
        except (AttributeError, OSError, TypeError):
            return None

    def _beat(self) -> None:
        self._beats += 1
        if self.beat_hook is not None:
            self.beat_hook(self._beats)
        self.loop.call_later(TICK, self._beat)

    def _handler(self, loop, context) -> None:
        exc = context.get("exception")
        self.loop_errors.append(f"{self.name}: {context.get('message')}"
                                + (f": {type(exc).__name__}: {exc}" if exc else ""))

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(self._handler)
        self.loop = loop
        try:
            try:
                self.value = loop.run_until_complete(self.setup(loop, self.index))
            except BaseException as exc:  # reported by start(), not swallowed
                self.error = exc
                return
            finally:
                self._ready.set()
            loop.call_soon(self._beat)
            with (self.overlap.thread() if self.overlap is not None
                  else contextlib.nullcontext()):
                loop.run_forever()
            # what is still pending now was left behind by the code under test
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            self.leftover_tasks = [repr(t.get_coro()) for t in pending]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    def start(self, timeout: float) -> None:
        self.thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self.thread.start()
        if not self._ready.wait(timeout):
            raise LoopStuck(f"{self.name}: set-up did not finish within {timeout} s\n"
                            + all_stacks())
        if self.error is not None:
            raise self.error

    def call(self, coro_fn, timeout: float):
        """Run ``coro_fn()`` on this loop from another thread and wait for its result,
        on the loop's progress (:mod:`nvx_ft.protocol.patience`): ``timeout`` seconds of
        its heartbeats, or no beat and no CPU that long, are :class:`LoopStuck`; a loop
        too starved to decide by :data:`STARVED_BOUND` x ``timeout`` is inconclusive."""
        fut = asyncio.run_coroutine_threadsafe(coro_fn(), self.loop)
        wait = Patience(timeout, time.monotonic() + STARVED_BOUND * timeout,
                        self.heartbeat, self.cpu_seconds)
        try:
            return wait.result(fut, f"{self.name}: {coro_fn!r}")
        except Silent as exc:
            fut.cancel()
            raise LoopStuck(f"{exc}\n" + all_stacks()) from None
        except Inconclusive:
            fut.cancel()
            raise

    def stop(self, before_stop, timeout: float) -> None:
        """Run ``before_stop()`` (a coroutine function) on the loop, then stop and join."""
        if self.thread is None or not self.thread.is_alive():
            return
        try:
            if before_stop is not None:
                self.call(before_stop, timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
            if self.thread.is_alive():
                raise LoopStuck(f"{self.name}: loop thread still running {timeout} s after "
                                f"stop\n" + all_stacks())
