"""``nvx_ft.hang_guard``: the process's one owner of faulthandler's timer. A test's bound
nests inside a suite's: when the test's deadline is popped the suite's is armed again
(before the guard, the test's fixture cancelled the timer and the suite went unbounded)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

from nvx_ft import hang_guard
from nvx_ft.hang_guard import HangGuard

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="a process-wide timer; runs subprocesses"),
]


class FakeTimer:
    """faulthandler's timer as the guard sees it: what is armed now (seconds) or None."""

    def __init__(self):
        self.now = 0.0
        self.armed: float | None = None
        self.calls: list = []

    def arm(self, seconds, exit, file):
        assert exit is True
        self.armed = self.now + seconds
        self.calls.append(("arm", round(seconds, 3)))

    def cancel(self):
        self.armed = None
        self.calls.append(("cancel",))


def _guard(timer: FakeTimer) -> HangGuard:
    return HangGuard(file=2, arm=timer.arm, cancel=timer.cancel, clock=lambda: timer.now)


def test_popping_the_inner_deadline_rearms_the_outer_one():
    timer = FakeTimer()
    guard = _guard(timer)
    suite = guard.push(600)                 # the suite's bound for one test
    assert timer.armed == 600
    timer.now = 10
    with guard.bound(60):                   # the test's own, inside it
        assert timer.armed == 70
    assert timer.armed == 600, "the suite's deadline was not armed again"
    guard.pop(suite)
    assert timer.armed is None and timer.calls[-1] == ("cancel",)


def test_the_nearest_deadline_holds_whatever_the_order():
    timer = FakeTimer()
    guard = _guard(timer)
    suite = guard.push(30)
    test = guard.push(100)                  # a looser inner bound: the suite's still holds
    assert timer.armed == 30
    guard.pop(suite)                        # popped out of order: the test's remains
    assert timer.armed == 100
    guard.reset(test, 5)
    assert timer.armed == 5 and guard.nearest() == 5
    guard.pop(test)
    assert timer.armed is None and guard.nearest() is None


NESTED = textwrap.dedent('''
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from _nvx_ft_hang_guard import GUARD   # no nvx_ft here (-I): the file alone
    GUARD.push(2)                           # the suite's bound
    with GUARD.bound(1000):                 # a test's, popped at once
        pass
    time.sleep(60)                          # a hang after the test's bound is gone
    print("NOT BOUNDED")
''')


def test_a_real_hang_after_the_inner_bound_is_popped_ends_at_the_outer_one(tmp_path):
    """Real faulthandler, in a child without nvx_ft (as a contained suite's plugin may
    be): the outer deadline dumps the stack and ends the process (exit 1)."""
    shutil.copyfile(hang_guard.__file__, tmp_path / "_nvx_ft_hang_guard.py")
    out = subprocess.run([sys.executable, "-I", "-c", NESTED, str(tmp_path)],
                         capture_output=True, text=True, timeout=50)
    assert "NOT BOUNDED" not in out.stdout
    assert out.returncode == 1, (out.returncode, out.stderr[-2000:])
    # the stack ends in the sleep (line 8), where the outer deadline found it
    assert "Timeout (0:00:0" in out.stderr and "line 8 in <module>" in out.stderr, out.stderr[-2000:]
