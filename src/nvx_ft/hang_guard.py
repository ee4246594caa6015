"""The one owner of faulthandler's ``dump_traceback_later`` timer: nested deadlines.

A process has one such timer; whoever arms it replaces whoever armed it before, and
whoever cancels it cancels everyone's. So nobody else calls it: a bound is a deadline
pushed on :data:`GUARD`, and the timer is always armed for the nearest deadline held::

    token = GUARD.push(600)          # the suite's bound for its next test
    with GUARD.bound(360):           # a test's own bound, inside it
        ...
    # the inner deadline popped: the timer is armed again for the suite's
    GUARD.pop(token)                 # nothing held: the timer is cancelled

At a deadline faulthandler - a C thread, which fires even when every Python thread is
stuck in C - writes every thread's stack to a copy of the real stderr (taken at import,
before pytest's capture redirects fd 2) and ends the process with exit code 1.

Standard library only, and no import of nvx_ft: :mod:`nvx_ft.suites` copies this file
next to its child plugin for venvs where nvx_ft is not installed (the plugin imports
``nvx_ft.hang_guard`` when it can, so one process never holds two guards).
"""

from __future__ import annotations

import faulthandler
import itertools
import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

try:  # a copy of the real stderr, taken before pytest's capture redirects fd 2
    STDERR_FD: int | None = os.dup(2)
except OSError:
    STDERR_FD = None


class HangGuard:
    """A stack of deadlines (any one may be popped); the timer follows the nearest."""

    def __init__(self, file=None, arm: Callable | None = None, cancel: Callable | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._file = file
        self._arm = arm or faulthandler.dump_traceback_later
        self._cancel = cancel or faulthandler.cancel_dump_traceback_later
        self._clock = clock
        self._deadlines: dict[int, float] = {}  # token -> absolute deadline (clock)
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()

    def push(self, seconds: float) -> int:
        """Hold a deadline ``seconds`` from now; returns the token that pops it."""
        with self._lock:
            token = next(self._tokens)
            self._deadlines[token] = self._clock() + seconds
            self._follow()
            return token

    def reset(self, token: int, seconds: float) -> None:
        """Move the deadline of ``token`` to ``seconds`` from now (a rolling bound)."""
        with self._lock:
            self._deadlines[token] = self._clock() + seconds
            self._follow()

    def pop(self, token: int) -> None:
        """Release a deadline; the timer goes back to the nearest one still held."""
        with self._lock:
            self._deadlines.pop(token, None)
            self._follow()

    @contextmanager
    def bound(self, seconds: float) -> Iterator[None]:
        token = self.push(seconds)
        try:
            yield
        finally:
            self.pop(token)

    def nearest(self) -> float | None:
        """Seconds left until the nearest deadline held, or None."""
        with self._lock:
            return (min(self._deadlines.values()) - self._clock()) if self._deadlines else None

    def _follow(self) -> None:
        if not self._deadlines:
            self._cancel()
            return
        left = max(0.001, min(self._deadlines.values()) - self._clock())
        self._arm(left, exit=True, file=self._file if self._file is not None else _stderr())


def _stderr():
    return STDERR_FD if STDERR_FD is not None else sys.__stderr__


#: the process's guard: every bound in nvx-ft goes through it
GUARD = HangGuard()
