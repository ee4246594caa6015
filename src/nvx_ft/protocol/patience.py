"""Waiting for a server's answer by the server's progress, not by the wall clock.

A peer waiting for an answer (a handshake response, a close frame, an echo) must not
call a server "silent" just because the machine was slow: beside a busy loop per CPU,
5 s of wall time can pass before a healthy server's event loop even reaches the
connection. So each server loop thread beats a heartbeat (``LoopThread.heartbeat``: a
count of loop iterations, one callback every :data:`TICK` seconds; also in a
:class:`BeatFile` for the ``websockets`` peer's process), and a wait ends in one of
three ways besides the answer:

* **silent** (a failure): the server's loop went round ``quiet / TICK`` heartbeats -
  ``quiet`` seconds of its own running time, each heartbeat a loop iteration that would
  have read our bytes - and sent nothing;
* **blocked** (a failure; in-process, where the loop thread's CPU time is readable): the
  loop made no heartbeat and used no CPU for ``quiet`` seconds - a deadlock, not a
  starved loop (a runnable thread always gets some CPU within seconds). A loop busy in
  one long iteration uses CPU: it is waited for;
* **too slow to tell** (:class:`nvx_ft.overlap.Inconclusive`, ``INCONCLUSIVE: ...``):
  the run's deadline came before either - the machine starved the server. Never a
  failure, never a pass. (A loop that never comes back is named, with every thread's
  stack, when the servers stop: ``LoopStuck``.)

Without a heartbeat a wait is a plain wall-clock one: ``quiet`` seconds without an
answer are silence.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from nvx_ft.overlap import INCONCLUSIVE, Inconclusive

#: a loop thread's heartbeat interval (seconds); one beat is one loop iteration
TICK = 0.01
#: how often a waiter wakes to look at the heartbeat (seconds)
POLL = 0.05
#: loop CPU time (seconds) below which a loop without beats is blocked, not busy
_IDLE_CPU = 0.001
_SLOT = struct.Struct("<q")


class Silent(TimeoutError):
    """The server ran and said nothing (or its loop was blocked): a failure."""


class BeatFile:
    """The server loops' heartbeats where another process (the ``websockets`` peer) can
    read them: a temporary file, 8 bytes per loop, rewritten at every beat."""

    def __init__(self, loops: int) -> None:
        self.fd, self.path = tempfile.mkstemp(prefix="nvx-ft-beats-")
        os.write(self.fd, bytes(_SLOT.size * loops))

    def writer(self, index: int) -> Callable[[int], None]:
        return lambda beats: os.pwrite(self.fd, _SLOT.pack(beats), _SLOT.size * index)

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


def read_beats(path: str, index: int) -> Callable[[int], int]:
    """The beat count of loop ``index`` in a :class:`BeatFile` at ``path``."""
    fd = os.open(path, os.O_RDONLY)  # open for this process's life (a peer's short run)
    return lambda: _SLOT.unpack(os.pread(fd, _SLOT.size, _SLOT.size * index))[0]


@dataclass
class _Watch:
    """One wait: decides, each time it is asked, whether the wait is over undecided."""

    patience: "Patience"
    what: str
    start: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        p = self.patience
        self.first = self.last = p.heartbeat()
        self.last_change = self.start
        self.cpu_at_change = p.loop_cpu() if p.loop_cpu else None

    def check(self) -> None:
        """Raise :class:`Silent` or :class:`Inconclusive` when the wait is decided."""
        p, now, beats = self.patience, time.monotonic(), self.patience.heartbeat()
        if beats != self.last:
            self.last, self.last_change = beats, now
            self.cpu_at_change = p.loop_cpu() if p.loop_cpu else None
        if (beats - self.first) * TICK >= p.quiet:
            raise Silent(f"{self.what}: server silent while its event loop went round "
                         f"{beats - self.first} heartbeats ({p.quiet:g} s of its own running "
                         f"time, {now - self.start:.1f} s of wall time)")
        if self.cpu_at_change is not None and now - self.last_change >= p.quiet:
            cpu = p.loop_cpu()
            used = None if cpu is None else cpu - self.cpu_at_change
            if used is not None and used < _IDLE_CPU:
                raise Silent(f"{self.what}: the server's event loop made no progress and "
                             f"used no CPU ({used * 1e3:.2f} ms) for "
                             f"{now - self.last_change:.1f} s: blocked, not slow")
        if now >= p.deadline:
            raise Inconclusive(
                f"{INCONCLUSIVE} {self.what}: no answer yet when the run's deadline came, "
                f"but the server's event loop went round only {beats - self.first} "
                f"heartbeats in {now - self.start:.1f} s (silence needs "
                f"{p.quiet / TICK:.0f}): the machine is too slow to tell a silent "
                f"server from a starved one. Not a failure, not a pass")


@dataclass
class Patience:
    """How long a peer waits for a server: ``quiet`` seconds of the server loop's own
    heartbeats without an answer are silence; ``deadline`` (``time.monotonic()``) is
    where a starved wait becomes inconclusive. ``heartbeat`` returns the server loop's
    beat count (None: wait by the wall clock); ``loop_cpu``, the loop thread's CPU
    seconds (in-process only: a loop without beats and without CPU is blocked)."""

    quiet: float
    deadline: float
    heartbeat: Callable[[], int] | None = None
    loop_cpu: Callable[[], float] | None = None

    @classmethod
    def wall_clock(cls, seconds: float) -> Patience:
        """A plain bound: ``seconds`` without an answer are silence."""
        return cls(seconds, time.monotonic() + seconds)

    def recv(self, sock: socket.socket, size: int, what: str) -> bytes:
        """``sock.recv(size)``, waiting while the server makes progress; :class:`Silent`
        or :class:`~nvx_ft.overlap.Inconclusive` as the module doc says. The socket's
        own timeout is restored afterwards (a later ``sendall`` keeps its bound)."""
        before = sock.gettimeout()
        try:
            return self._recv(sock, size, what)
        finally:
            sock.settimeout(before)

    def _recv(self, sock: socket.socket, size: int, what: str) -> bytes:
        if self.heartbeat is None:
            sock.settimeout(max(0.0, min(self.quiet, self.deadline - time.monotonic())))
            try:
                return sock.recv(size)
            except (socket.timeout, TimeoutError):
                raise Silent(f"{what}: server silent for {self.quiet:g} s") from None
        sock.settimeout(POLL)
        watch = _Watch(self, what)
        while True:
            try:
                return sock.recv(size)
            except (socket.timeout, TimeoutError):
                watch.check()

    def result(self, future, what: str):
        """``future.result()`` (a ``concurrent.futures.Future`` another thread's loop
        completes), waiting the same way."""
        watch = _Watch(self, what) if self.heartbeat is not None else None
        end = time.monotonic() + self.quiet
        while True:
            try:
                return future.result(POLL)
            except TimeoutError:
                if future.done():
                    raise  # the coroutine's own TimeoutError
            if watch is not None:
                watch.check()
            elif time.monotonic() >= end:
                raise Silent(f"{what}: not finished within {self.quiet:g} s")

    async def wait(self, awaitable, what: str):
        """``await awaitable`` the same way (cancelled when the wait is decided)."""
        if self.heartbeat is None:
            try:
                return await asyncio.wait_for(awaitable, self.quiet)
            except TimeoutError:
                raise Silent(f"{what}: server silent for {self.quiet:g} s") from None
        task = asyncio.ensure_future(awaitable)
        watch = _Watch(self, what)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=POLL)
                if done:
                    return task.result()
                watch.check()
        finally:
            if not task.done():
                task.cancel()
