"""The protocol suite's after-run invariants can fail: a leaked socket, a leaked thread,
an unexpected WARNING record are each reported by name (``nvx_ft.protocol.invariants``).
"""

import logging
import socket
import threading

import pytest

from nvx_ft.protocol import invariants

pytestmark = [pytest.mark.harness]


def test_leaked_socket_and_thread_are_named():
    base = invariants.Baseline()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="nvx-ft-leaky-thread")
    t.start()
    s = socket.socket()
    try:
        leaks = base.leaks(settle=0.2)
        assert any("nvx-ft-leaky-thread" in x for x in leaks), leaks
        if invariants.socket_fds():  # Linux: /proc/self/fd lists sockets
            assert any(x.startswith(f"socket left open: fd {s.fileno()}->") for x in leaks), leaks
    finally:
        s.close()
        stop.set()
        t.join()
    assert base.leaks(settle=2) == []


def test_unexpected_warning_is_reported_and_expected_one_is_not():
    with invariants.WarningCapture() as capture:
        capture.expect(r"^failing WebSocket connection \(code=1007\)")
        logging.getLogger("autobahn.test").warning("failing WebSocket connection (code=1007): x")
        logging.getLogger("asyncio").error("Task was destroyed but it is pending!")
    assert capture.unexpected() == [
        "ERROR asyncio [MainThread]: Task was destroyed but it is pending!"]


def test_stuck_loop_thread_is_a_failure_with_its_stack():
    from nvx_ft.protocol.loops import LoopStuck, LoopThread

    release = threading.Event()

    async def setup(loop, index):
        return None

    lt = LoopThread(0, "nvx-ft-stuck-loop", setup)
    lt.start(5)
    lt.loop.call_soon_threadsafe(release.wait, 30)  # blocks the loop, as a hung callback would
    try:
        with pytest.raises(LoopStuck) as info:
            lt.stop(None, 0.5)
        assert "nvx-ft-stuck-loop" in str(info.value)
        assert "release.wait" in str(info.value) or "wait" in str(info.value)
    finally:
        release.set()
        lt.thread.join(5)
    assert not lt.thread.is_alive()
