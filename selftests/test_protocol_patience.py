"""A peer's wait on a server is decided by the server's progress (issue 19).

``nvx_ft.protocol.patience`` must still *fail* a server that really says nothing - one
whose event loop runs and never answers, one whose loop is blocked - and must call a
wait the machine was too slow to decide inconclusive, never failed. Here against real
sockets and real event-loop threads (``LoopThread``, whose heartbeat the waits read):

* a loop that accepts connections and never answers: ``rawpeer.run`` reports the
  server silent after ``quiet`` seconds of its heartbeats;
* a loop blocked inside a callback (a stand-in for a deadlock): no beat and no CPU,
  reported as blocked, not slow;
* a loop busy in one long callback (no beat, but CPU): waited for, not called blocked;
* stopping a blocked loop (``LoopThread.call``) is ``LoopStuck`` with the stacks;
* a heartbeat that advances, but far too slowly (a starved machine): the wait ends at
  its deadline as ``INCONCLUSIVE:`` (``nvx_ft.overlap.Inconclusive``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from nvx_ft.overlap import INCONCLUSIVE, Inconclusive
from nvx_ft.protocol import rawpeer
from nvx_ft.protocol.loops import LoopStuck, LoopThread
from nvx_ft.protocol.patience import TICK, Patience, Silent

pytestmark = pytest.mark.thread_unsafe(reason="starts event-loop threads and sockets")

QUIET = 0.5  # seconds of heartbeats without an answer that make a server silent
CASE = next(c for c in rawpeer.BAD_CASES if c.name == "rsv3")


class MuteServer:
    """A TCP server on one event-loop thread that accepts and never says a word."""

    def __enter__(self) -> "MuteServer":
        self.transports, self.closing = [], False
        server = self

        class Mute(asyncio.Protocol):
            def connection_made(self, transport):
                server.transports.append(transport)  # closed on the way out
                if server.closing:
                    transport.abort()

        async def setup(loop, index):
            return await loop.create_server(Mute, "127.0.0.1", 0)

        self.lt = LoopThread(0, "nvx-ft-mute-server", setup)
        self.lt.start(10)
        self.port = self.lt.value.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def shut():
            self.closing = True
            self.lt.value.close()
            for transport in self.transports:
                transport.abort()
            await asyncio.sleep(0.05)  # the aborted transports' callbacks run
            await self.lt.value.wait_closed()

        self.lt.stop(shut, 10)


def test_a_server_whose_loop_runs_but_never_answers_is_silent():
    with MuteServer() as server:
        start = time.monotonic()
        wait = Patience(QUIET, time.monotonic() + 30, server.lt.heartbeat)
        out = rawpeer.run(CASE, "127.0.0.1", server.port, patience=wait)
        took = time.monotonic() - start
    assert out.inconclusive is None, out
    assert out.error and "handshake" in out.error and "server silent" in out.error, out
    assert out.problems(CASE), "a silent server must be a problem of the case"
    assert took < 20, f"silence took {took:.1f}s to be noticed (quiet {QUIET}s)"
    print(f"silent server detected in {took:.2f}s: {out.error}")


def test_a_server_whose_loop_is_blocked_is_reported_blocked():
    with MuteServer() as server:
        release = threading.Event()
        server.lt.loop.call_soon_threadsafe(release.wait, 30)  # the loop stops here
        try:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            with sock:
                wait = Patience(QUIET, time.monotonic() + 30, server.lt.heartbeat,
                                server.lt.cpu_seconds)
                with pytest.raises(Silent, match="made no progress and used no CPU .* "
                                                 "blocked, not slow"):
                    wait.recv(sock, 10, "blocked loop")
        finally:
            release.set()


def test_a_loop_busy_in_one_long_callback_is_waited_for():
    """No beat for longer than ``quiet`` while the loop computes (a long iteration on a
    slow machine): not blocked - the answer that follows is received."""
    def spin_then_answer(sock):
        end = time.monotonic() + 3 * QUIET
        while time.monotonic() < end:
            pass
        sock.sendall(b"late")

    with MuteServer() as server:
        listener = socket.create_server(("127.0.0.1", 0))
        with listener, socket.create_connection(listener.getsockname(), timeout=5) as sock:
            peer, _ = listener.accept()
            with peer:
                server.lt.loop.call_soon_threadsafe(spin_then_answer, peer)
                wait = Patience(QUIET, time.monotonic() + 30, server.lt.heartbeat,
                                server.lt.cpu_seconds)
                assert wait.recv(sock, 10, "busy loop") == b"late"


def test_a_starved_server_is_inconclusive_never_silent():
    """A heartbeat one beat every 0.1 s (a tenth of its rate) is too slow to call the
    server silent within the deadline: the wait is inconclusive."""
    start = time.monotonic()

    def starved() -> int:
        return int((time.monotonic() - start) / (10 * TICK))

    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname(), timeout=5) as sock:
        wait = Patience(QUIET, time.monotonic() + 2 * QUIET * 2, starved)
        with pytest.raises(Inconclusive) as info:
            wait.recv(sock, 10, "starved loop")
    assert str(info.value).startswith(INCONCLUSIVE), info.value
    assert "too slow to tell" in str(info.value)


def test_wall_clock_patience_without_a_heartbeat_is_a_plain_bound():
    listener = socket.create_server(("127.0.0.1", 0))
    with listener, socket.create_connection(listener.getsockname(), timeout=5) as sock:
        with pytest.raises(Silent, match="server silent for 0.3 s"):
            Patience.wall_clock(0.3).recv(sock, 10, "plain")
        assert sock.gettimeout() == 5, "the socket's own timeout is restored"


def test_stopping_a_blocked_loop_is_loop_stuck_with_stacks():
    """``LoopThread.call`` (how the servers stop) waits on the loop's progress too: a
    loop blocked in a callback is still named stuck, with every thread's stack."""
    with MuteServer() as server:
        release = threading.Event()
        server.lt.loop.call_soon_threadsafe(release.wait, 30)
        try:
            async def nothing():
                return None

            with pytest.raises(LoopStuck, match="(?s)blocked, not slow.*nvx-ft-mute-server"):
                server.lt.call(nothing, QUIET)
        finally:
            release.set()
