"""The echo benchmark's load generator process: raw sockets, frames built once, a closed
loop per connection with ``depth`` messages in flight, every echo checked byte for byte (a
wrong echo, a closed connection, a stalled server: an error, never a number).

One JSON command a line on stdin, one ``REPLY <json>`` each: ``connect`` (ports, conns,
kind, size, depth, timeout, pin_cpu), ``run`` (start, end, deadline: warm up, count the
round trips until end, drain, close), ``disconnect``, ``quit``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import select
import selectors
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from nvx_ft.bench import machine
from nvx_ft.bench.echo import REPLY
from nvx_ft.protocol import frames as F

VARIANTS = 4
#: latencies returned per run at most (evenly thinned): enough for a p99
MAX_LATENCIES = 4000
HOST = "127.0.0.1"


class EchoError(Exception):
    """The server answered wrongly, closed, or went silent."""


def payload(kind: str, size: int, variant: int) -> bytes:
    """Message ``variant``: multi-byte UTF-8 after an ASCII tag, or bytes rotated by it."""
    from nvx_ft.bench import workloads as wl

    if kind == "text":
        tag = f"{variant:x}|".encode()[:size]
        rest = size - len(tag)
        return tag + (wl.utf8_payload("multilingual", rest) if rest else b"")
    if kind == "binary":
        return wl.xor_payload(size + VARIANTS)[variant:variant + size]
    raise ValueError(f"unknown kind {kind!r}: text or binary")


@functools.cache
def frames_for(kind: str, size: int) -> tuple[tuple[bytes, bytes], ...]:
    """(masked client frame, expected server frame) per variant, built once."""
    op = F.OP_TEXT if kind == "text" else F.OP_BINARY
    out = []
    for v in range(VARIANTS):
        data = payload(kind, size, v)
        mask = bytes(((0x37 + 53 * v) & 0xFF, (0xFA - 29 * v) & 0xFF, 0x21 ^ v, 0x3D + v))
        out.append((F.encode(op, data, mask=mask), F.encode(op, data, mask=None)))
    return tuple(out)


@dataclass
class Conn:
    cid: int
    sock: socket.socket
    sent: int = 0  # messages sent; message k is variant k % VARIANTS
    done: int = 0  # echoes received complete
    sent_at: deque = field(default_factory=deque)  # send times of those in flight
    #: bytes of the current echo received so far, and those bytes (for the error)
    got: int = 0
    chunks: list = field(default_factory=list)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _mismatch(conn: Conn, expected: bytes, kind: str, size: int) -> EchoError:
    got = b"".join(conn.chunks)[:len(expected)]
    first = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), len(got))
    return EchoError(f"wrong echo on connection {conn.cid}, message {conn.done + 1} ({kind}, "
                     f"{size} B): expected server frame sha256 {_digest(expected)}, got "
                     f"{len(got)} bytes with sha256 {_digest(got)} (first difference at byte "
                     f"{first} of {len(expected)})")


def _poller(socks: list[socket.socket]) -> tuple:
    """(poll(timeout) -> ready fds, close): epoll (least work per call), else selectors."""
    if hasattr(select, "epoll"):
        epoll = select.epoll()
        for sock in socks:
            epoll.register(sock.fileno(), select.EPOLLIN)
        return (lambda timeout: [fd for fd, _ in epoll.poll(timeout)]), epoll.close
    sel = selectors.DefaultSelector()
    for sock in socks:
        sel.register(sock, selectors.EVENT_READ)
    return (lambda timeout: [key.fd for key, _ in sel.select(timeout)]), sel.close


class Load:
    """One workload's connections in this process and the closed loop over them."""

    def __init__(self, spec: dict) -> None:
        self.kind, self.size, ports = spec["kind"], spec["size"], spec["ports"]
        self.timeout, self.depth = float(spec.get("timeout", 10.0)), int(spec.get("depth", 1))
        self.frames = frames_for(self.kind, self.size)
        self.conns: list[Conn] = []
        try:
            for c in spec["conns"]:
                sock = F.handshake(HOST, ports[c % len(ports)], f"/bench/{c}", self.timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conns.append(Conn(c, sock))
        except BaseException:
            self.close(polite=False)
            raise

    def _send(self, conn: Conn, now: float, count: int = 1) -> None:
        conn.sock.sendall(b"".join(self.frames[(conn.sent + i) % VARIANTS][0]
                                   for i in range(count)))
        conn.sent += count
        conn.sent_at.extend([now] * count)

    def _received(self, conn: Conn) -> float | None:
        """Read what is there of ``conn``'s next echo (never past it); complete: its send time."""
        expected = self.frames[conn.done % VARIANTS][1]
        chunk = conn.sock.recv(len(expected) - conn.got)
        if not chunk:
            raise EchoError(f"server closed connection {conn.cid} after {conn.done} echoes")
        conn.chunks.append(chunk)
        if not expected.startswith(chunk, conn.got):
            raise _mismatch(conn, expected, self.kind, self.size)
        conn.got += len(chunk)
        if conn.got < len(expected):
            return None
        conn.got, conn.chunks, conn.done = 0, [], conn.done + 1
        return conn.sent_at.popleft()

    def run(self, start: float, end: float, deadline: float) -> dict:
        poll, close = _poller([conn.sock for conn in self.conns])
        by_fd = {conn.sock.fileno(): conn for conn in self.conns}
        lat: list[float] = []
        count, t0, t1, c0, c1 = 0, None, None, 0.0, 0.0
        progress = now = time.monotonic()
        for conn in self.conns:
            self._send(conn, now, self.depth)
        outstanding = len(self.conns) * self.depth
        try:
            while outstanding:
                now = time.monotonic()
                if t0 is None and now >= start:
                    # process_time: every thread's CPU time, ns resolution
                    t0, c0, count, lat = now, time.process_time(), 0, []
                if t0 is not None and t1 is None and now >= end:
                    t1, c1 = now, time.process_time()  # no new message from here: drain
                if now > deadline:
                    raise EchoError(f"run passed its deadline with {outstanding} echoes "
                                    "outstanding")
                if now - progress > self.timeout:
                    raise EchoError(f"server silent for {self.timeout:.0f} s with "
                                    f"{outstanding} echoes outstanding")
                wait = self.timeout if t1 is not None else \
                    min(self.timeout, max(0.0, (start if t0 is None else end) - now))
                events = poll(wait)
                if events:
                    progress = now = time.monotonic()
                for fd in events:
                    conn = by_fd[fd]
                    sent_at = self._received(conn)
                    if sent_at is None:
                        continue
                    outstanding -= 1
                    if t0 is not None and t1 is None:
                        count += 1
                        lat.append(now - sent_at)
                    if t1 is None:
                        self._send(conn, now)
                        outstanding += 1
        finally:
            close()
        if t0 is None or t1 is None or t1 <= t0:  # t1 == t0: no CPU for the whole window
            raise EchoError("the run ended before its measuring window, or got no CPU in it")
        step = max(1, len(lat) // MAX_LATENCIES)
        return {"messages": count, "interval": t1 - t0, "cpu": c1 - c0,
                "latencies_us": [round(x * 1e6, 1) for x in lat[::step]],
                "connections": len(self.conns)}

    def close(self, polite: bool = True) -> None:
        """Closing handshake on every connection (bounded), then close the sockets."""
        if polite:
            bye = F.encode(F.OP_CLOSE, F.close_payload(1000))
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.sock.sendall(bye)
            deadline = time.monotonic() + 2.0
            for conn in self.conns:
                conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                with contextlib.suppress(OSError):
                    while conn.sock.recv(1 << 16):
                        pass
        for conn in self.conns:
            conn.sock.close()
        self.conns = []


def serve(stdin=sys.stdin, stdout=sys.stdout) -> None:
    allowed = set(machine.allowed_cpus())
    load: Load | None = None
    for line in stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "quit":
                break
            if cmd["cmd"] == "connect":
                cpu = cmd.get("pin_cpu")
                machine.pin_current_thread(allowed if cpu is None else {cpu})
                load = Load(cmd)
                reply = {"ok": True, "connected": len(load.conns)}
            elif cmd["cmd"] == "disconnect":
                if load is not None:
                    load.close()
                    load = None
                reply = {"ok": True}
            elif cmd["cmd"] == "run" and load is None:
                reply = {"error": "run without a successful connect"}
            elif cmd["cmd"] == "run":  # a failed run's connections: closed below, abruptly
                reply = load.run(cmd["start"], cmd["end"], cmd["deadline"])
                load.close()
                load = None
            else:
                reply = {"error": f"unknown command {cmd['cmd']!r}"}
        except (EchoError, OSError, ConnectionError, TimeoutError) as exc:
            if load is not None:
                load.close(polite=False)
                load = None
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(REPLY, json.dumps(reply), file=stdout, flush=True)


if __name__ == "__main__":
    serve()
