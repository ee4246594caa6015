"""Waiting for a server's answer by the server's progress, not by the wall clock.

A peer waiting for an answer (a handshake response, a close frame, an echo) must not
call a server "silent" just because the machine was slow: beside a busy loop per CPU,
5 s of wall time can pass before a healthy server's event loop even reaches the
connection. So each server loop thread beats a heartbeat (``LoopThread.heartbeat``: a
count of loop iterations, one callback every :data:`TICK` seconds), and a wait ends in
one of three ways besides the answer:

* **silent** (a failure): the server's loop went round ``quiet / TICK`` heartbeats -
  ``quiet`` seconds of its own running time, each heartbeat a loop iteration that would
  have read our bytes - and sent nothing;
* **stuck** (a failure): the loop made no heartbeat at all for ``quiet`` seconds while
  this waiter itself kept getting the CPU (it woke for at least half its polls): the
  loop is blocked (a deadlock, an endless loop in C), not starved;
* **too slow to tell** (:class:`nvx_ft.overlap.Inconclusive`, ``INCONCLUSIVE: ...``):
  the run's deadline came before either - the machine starved server and waiter alike.
  Never a failure, never a pass.

Without a heartbeat (a server in another process) a wait is a plain wall-clock one:
``quiet`` seconds without an answer are silence.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Callable

from nvx_ft.overlap import INCONCLUSIVE, Inconclusive

#: a loop thread's heartbeat interval (seconds); one beat is one loop iteration
TICK = 0.01
#: how often a waiter wakes to look at the heartbeat (seconds)
POLL = 0.05


class Silent(TimeoutError):
    """The server ran and said nothing (or its loop was blocked): a failure."""


@dataclass
class Patience:
    """How long a peer waits for a server: ``quiet`` seconds of the server loop's own
    heartbeats without an answer are silence; ``deadline`` (``time.monotonic()``) is
    where a starved wait becomes inconclusive. ``heartbeat`` returns the server loop's
    beat count (None: wait by the wall clock)."""

    quiet: float
    deadline: float
    heartbeat: Callable[[], int] | None = None

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
        start = last_change = time.monotonic()
        first = last = self.heartbeat()
        polls = 0  # this waiter's wake-ups since the last heartbeat: is it getting CPU?
        while True:
            try:
                return sock.recv(size)
            except (socket.timeout, TimeoutError):
                pass
            now, beats = time.monotonic(), self.heartbeat()
            if beats != last:
                last, last_change, polls = beats, now, 0
            else:
                polls += 1
            if (beats - first) * TICK >= self.quiet:
                raise Silent(f"{what}: server silent while its event loop went round "
                             f"{beats - first} heartbeats ({self.quiet:g} s of its own "
                             f"running time, {now - start:.1f} s of wall time)")
            if now - last_change >= self.quiet and polls * POLL >= self.quiet / 2:
                raise Silent(f"{what}: the server's event loop made no progress for "
                             f"{now - last_change:.1f} s while this peer kept running "
                             f"({polls} polls): blocked, not slow")
            if now >= self.deadline:
                raise Inconclusive(
                    f"{INCONCLUSIVE} {what}: no answer yet when the run's deadline came, "
                    f"but the server's event loop went round only {beats - first} "
                    f"heartbeats in {now - start:.1f} s (silence needs "
                    f"{self.quiet / TICK:.0f}): the machine is too slow to tell a silent "
                    f"server from a starved one. Not a failure, not a pass")
