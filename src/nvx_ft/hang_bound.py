"""One time bound per test for every pytest run that loads nvx-ft's plugin.

``pytest tests``, ``pytest stress``, ``pytest protocol`` and every nox session end a
hanging test on their own, in two layers:

1. pytest-timeout (the ``[stress]`` extra), when installed: every test without a
   ``timeout`` marker gets ``timeout(bound)``. A hang in Python code (a deadlock, a
   ``join`` that never returns) fails that test with every thread's stack and the run
   goes on. Markers already there (``stress/``, ``protocol/`` set their own) and a
   ``--timeout`` / ``$PYTEST_TIMEOUT`` / ini ``timeout`` given to pytest-timeout are kept.
2. A watchdog thread, always: a test still running ``grace`` seconds after its bound is
   stuck where no signal handler can run (the main thread inside C code, e.g. an endless
   loop in NVX). The watchdog writes ``TIMEOUT <nodeid>``, every thread's stack
   (faulthandler) and the reproduce command to the real stderr, then ends the process
   with exit code 1: C code cannot be interrupted, so the run cannot go on. Behind it, a
   ``grace`` later, a deadline on the process's hang guard (:mod:`nvx_ft.hang_guard`,
   faulthandler's C timer) for when no Python thread can run at all (a GIL build whose
   main thread holds the GIL in C).

The bound: ``--nvx-test-timeout=SECONDS`` (or ``$NVX_FT_TEST_TIMEOUT``, both read by
:mod:`nvx_ft.settings`; 0 turns both layers off), by default :data:`DEFAULT` seconds,
:data:`NIGHTLY` at the nightly intensity or Hypothesis profile (2 cores in mind). Inside
a contained run (:mod:`nvx_ft.suites`: the gate and the mutants runner; its
``NVX_FT_CHILD`` names the suite) that runner bounds every test itself and restarts the
suite after a hang, so this module steps aside there unless the option is given.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import time

import pytest

from nvx_ft.hang_guard import GUARD, STDERR_FD
from nvx_ft.settings import TEST_TIMEOUT as ENV

DEFAULT = 300.0
NIGHTLY = 1200.0

_STDERR_FD = STDERR_FD  # the hang guard's copy of the real stderr


def add_option(group) -> None:
    group.addoption("--nvx-test-timeout", type=float, default=None, metavar="SECONDS",
                    help=f"bound for one test: a hang fails it with every thread's stack "
                         f"(default: ${ENV}, else {DEFAULT:.0f}, {NIGHTLY:.0f} at nightly "
                         f"intensity; 0: no bound)")


def configured(settings, nightly: bool, option: float | None = None) -> float | None:
    """The run's default bound in seconds, or None (off): the command line's
    ``--nvx-test-timeout`` (``option``), else - outside a contained run, whose runner
    bounds every test itself - ``settings.test_timeout``, else by intensity."""
    if option is None and settings.child.suite:
        return None
    value = option if option is not None else settings.test_timeout
    if value is None:
        value = NIGHTLY if nightly else DEFAULT
    return value if value > 0 else None


def grace(bound: float) -> float:
    """How long after its bound the watchdog waits for pytest-timeout to have acted."""
    return max(2.0, min(30.0, bound / 10))


def _marker_seconds(marker) -> float | None:
    value = marker.kwargs.get("timeout", marker.args[0] if marker.args else None)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def item_bound(item, default: float | None) -> float | None:
    """The bound that holds for ``item``: its ``timeout`` marker, else pytest-timeout's
    own global setting, else ``default``. None or 0: not bounded."""
    marker = item.get_closest_marker("timeout")
    seconds = _marker_seconds(marker) if marker is not None else None
    if seconds is None:
        seconds = getattr(item.config, "_env_timeout", None)  # pytest-timeout's global
    if seconds is None:
        seconds = default
    return seconds if seconds and seconds > 0 else None


def mark_self_threaded(item, reason: str, test_timeout: float) -> None:
    """A test that starts its own threads: pytest-run-parallel must not multiply them
    (``thread_unsafe``), and unless the test sets its own, a pytest-timeout bound with
    the signal method - every thread's stack is dumped, the test fails, the run goes on."""
    item.add_marker(pytest.mark.thread_unsafe(reason=reason))
    if item.get_closest_marker("timeout") is None:
        item.add_marker(pytest.mark.timeout(test_timeout, method="signal"))


def add_markers(config, items, default: float | None) -> None:
    """pytest-timeout's ``timeout(default)`` on every test that has no bound of its own."""
    if default is None or not config.pluginmanager.hasplugin("timeout"):
        return
    if getattr(config, "_env_timeout", None) is not None:
        return  # --timeout / $PYTEST_TIMEOUT / ini: the user's choice holds
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(default))


class Watchdog:
    """One daemon thread per pytest session; :meth:`arm` before a test, :meth:`disarm`
    after it."""

    def __init__(self, write=None, exit=os._exit, dump=None, guard=GUARD):
        self._cond = threading.Condition()
        self._armed: tuple | None = None  # (deadline, nodeid, bound, reproduce)
        self._guard, self._backstop = guard, None  # the C timer's deadline, a grace later
        self._stopped = False
        self._write = write or _write_stderr
        self._dump = dump or _dump_stacks
        self._exit = exit
        self._thread = threading.Thread(target=self._watch, name="nvx-ft hang bound",
                                        daemon=True)
        self._thread.start()

    def arm(self, nodeid: str, bound: float, reproduce: str = "") -> None:
        with self._cond:
            self._armed = (time.monotonic() + bound + grace(bound), nodeid, bound, reproduce)
            self._cond.notify()
        self._release_backstop()
        self._backstop = self._guard.push(bound + 2 * grace(bound))

    def disarm(self) -> None:
        with self._cond:
            self._armed = None
            self._cond.notify()
        self._release_backstop()

    def _release_backstop(self) -> None:
        if self._backstop is not None:
            self._guard.pop(self._backstop)
            self._backstop = None

    def stop(self) -> None:
        self._release_backstop()
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._armed is None:
                    self._cond.wait()
                    continue
                left = self._armed[0] - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                _, nodeid, bound, reproduce = self._armed
                self._fire(nodeid, bound, reproduce)
                return

    def _fire(self, nodeid: str, bound: float, reproduce: str) -> None:
        waited = bound + grace(bound)
        self._write(f"\n{'+' * 30} nvx-ft: TIMEOUT {nodeid} {'+' * 30}\n"
                    f"{nodeid} is still running {waited:.0f}s after it started (bound "
                    f"{bound:.0f}s, --nvx-test-timeout / ${ENV} / its timeout marker): stuck "
                    "where no Python code runs (the main thread inside C code?). Every "
                    "thread's stack, innermost frame first:\n")
        self._dump()
        self._write(f"FAILED {nodeid} - hung: no result within {bound:.0f}s; the run "
                    "stops here (code stuck in C cannot be interrupted)\n"
                    + (f"reproduce: {reproduce}\n" if reproduce else ""))
        self._exit(1)


def _dump_stacks() -> None:
    faulthandler.dump_traceback(file=_STDERR_FD if _STDERR_FD is not None else sys.__stderr__,
                                all_threads=True)


def _write_stderr(text: str) -> None:
    if _STDERR_FD is None:
        sys.__stderr__.write(text)
        sys.__stderr__.flush()
        return
    os.write(_STDERR_FD, text.encode("utf-8", "replace"))
