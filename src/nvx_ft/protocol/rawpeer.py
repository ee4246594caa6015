"""A raw-socket WebSocket client that misbehaves on purpose (frames from ``frames``).

Each :class:`BadCase` is what the peer writes after the opening handshake and what the
server may answer: a close frame with one of the allowed codes, or (where RFC 6455
leaves nothing to say, e.g. a peer that vanished mid-frame) a clean drop, or an exact
echo for well-formed traffic delivered slowly.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from nvx_ft.overlap import Inconclusive
from nvx_ft.protocol import frames as F
from nvx_ft.protocol.patience import Patience, Silent
from nvx_ft.protocol.traffic import INVALID_CASES, InvalidCase

_TEXT = "caf\u00e9 \u20ac\U0001F600".encode()


@dataclass(frozen=True)
class BadCase:
    name: str
    #: byte chunks written in order (``pause`` seconds apart)
    chunks: tuple[bytes, ...]
    #: acceptable close codes sent by the server; empty: none expected
    close: frozenset = frozenset()
    #: a connection drop without a close frame is acceptable too
    drop_ok: bool = False
    #: frames the server must echo before anything else (as (opcode, payload))
    echo: tuple = ()
    pause: float = 0.0
    #: half-close our sending side after the chunks (the peer "disconnects")
    hang_up: bool = False


@dataclass
class Outcome:
    case: str
    close_code: int | None = None
    dropped: bool = False
    frames: list = field(default_factory=list)
    error: str | None = None
    #: the machine was too slow to decide a wait (``INCONCLUSIVE: ...``): no evidence
    inconclusive: str | None = None

    def problems(self, case: BadCase) -> list[str]:
        if self.inconclusive:
            return []  # no evidence either way; the test reports it as inconclusive
        out = []
        data = [(f.opcode, f.payload) for f in self.frames if f.opcode in (F.OP_TEXT, F.OP_BINARY)]
        if case.echo and data[:len(case.echo)] != list(case.echo):
            out.append(f"echo wrong: expected {[(o, len(p)) for o, p in case.echo]}, "
                       f"got {[(o, len(p)) for o, p in data]}")
        if self.error:
            out.append(f"peer error: {self.error}")
        elif self.close_code is not None:
            if self.close_code not in case.close:
                out.append(f"closed with {self.close_code}, expected one of {sorted(case.close)}")
        elif not (self.dropped and case.drop_ok):
            out.append(f"no close frame (dropped={self.dropped}), expected one of "
                       f"{sorted(case.close)}")
        return out


def _invalid_case(c: InvalidCase) -> BadCase:
    if c.close_reason:
        return BadCase(c.name, (F.encode(F.OP_CLOSE, F.close_payload(1000, c.fragments[0])),),
                       frozenset({c.expect}))
    fr = list(c.fragments)
    chunks = [F.encode(F.OP_TEXT if i == 0 else F.OP_CONT, p, fin=i == len(fr) - 1)
              for i, p in enumerate(fr)]
    return BadCase("utf8-" + c.name, tuple(chunks), frozenset({c.expect}))


def _cases() -> tuple[BadCase, ...]:
    p1002 = frozenset({1002})
    ok_close = F.encode(F.OP_CLOSE, F.close_payload(1000))
    slow = F.encode(F.OP_TEXT, _TEXT * 3) + ok_close
    return (
        BadCase("rsv1-without-extension", (F.encode(F.OP_TEXT, b"x", rsv=4),), p1002),
        BadCase("rsv3", (F.encode(F.OP_BINARY, b"x", rsv=1),), p1002),
        BadCase("unknown-opcode-3", (F.encode(0x3, b"x"),), p1002),
        BadCase("unknown-control-opcode-b", (F.encode(0xB, b"x"),), p1002),
        BadCase("unmasked-client-frame", (F.encode(F.OP_TEXT, b"hello", mask=None),), p1002),
        BadCase("ping-over-125-bytes", (F.encode(F.OP_PING, b"p" * 126),), p1002),
        BadCase("fragmented-ping", (F.encode(F.OP_PING, b"p", fin=False),), p1002),
        BadCase("continuation-without-start", (F.encode(F.OP_CONT, b"x"),), p1002),
        BadCase("new-message-inside-fragmented", (F.encode(F.OP_TEXT, b"a", fin=False),
                                                  F.encode(F.OP_TEXT, b"b")), p1002),
        BadCase("length-non-minimal-16", (F.encode(F.OP_BINARY, b"x" * 10, length_form="16"),),
                p1002),
        BadCase("length-64bit-msb-set", (F.encode(F.OP_BINARY, b"", length=1 << 63),), p1002,
                drop_ok=True),
        BadCase("close-1-byte-payload", (F.encode(F.OP_CLOSE, b"\x03"),), p1002),
        # the header promises more than ever comes, then the peer goes away
        BadCase("frame-cut-mid-payload", (F.encode(F.OP_BINARY, b"y" * 1000)[:300],),
                drop_ok=True, hang_up=True),
        BadCase("disconnect-mid-header", (F.encode(F.OP_BINARY, b"z" * 300)[:3],),
                drop_ok=True, hang_up=True),
        # well-formed, one byte per write: must echo exactly, then close normally
        BadCase("slow-byte-by-byte-valid", tuple(bytes([b]) for b in slow),
                frozenset({1000}), echo=((F.OP_TEXT, _TEXT * 3),), pause=0.001),
        *(_invalid_case(c) for c in INVALID_CASES),
    )


BAD_CASES = _cases()


def run(case: BadCase, host: str, port: int, timeout: float = 10.0,
        patience: Patience | None = None) -> Outcome:
    """Play ``case`` against the server. Each wait for the server is bounded by
    ``patience`` (by the server loop's progress; :mod:`nvx_ft.protocol.patience`), else
    by ``timeout`` seconds of silence. A wait the machine was too slow to decide leaves
    the outcome ``inconclusive`` (not a problem, not a pass)."""
    out = Outcome(case.name)
    wait = patience or Patience.wall_clock(timeout)
    try:
        sock = F.handshake(host, port, f"/raw/{case.name}", max(timeout, wait.quiet), wait)
    except Inconclusive as exc:
        out.inconclusive = str(exc)
        return out
    except Silent as exc:  # its message names the handshake
        out.error = str(exc)
        return out
    except (OSError, ConnectionError, TimeoutError) as exc:
        out.error = f"handshake: {exc}"
        return out
    with sock:
        try:
            for chunk in case.chunks:
                sock.sendall(chunk)
                if case.pause:
                    time.sleep(case.pause)
            if case.hang_up:
                sock.shutdown(socket.SHUT_WR)
            buf = b""
            while True:
                try:
                    chunk = wait.recv(sock, 65536, "waiting for a close, a drop or the echo")
                except (ConnectionResetError, BrokenPipeError):
                    chunk = b""
                if not chunk:
                    out.dropped = True
                    break
                buf += chunk
                got, buf = F.decode_all(buf)
                out.frames += got
                close = next((f for f in got if f.opcode == F.OP_CLOSE), None)
                if close is not None:
                    out.close_code = close.close_code
                    try:  # answer the closing handshake like a polite client
                        sock.sendall(F.encode(F.OP_CLOSE, close.payload[:2]))
                    except OSError:
                        pass
                    break
        except Inconclusive as exc:
            out.inconclusive = str(exc)
        except Silent as exc:
            out.error = f"{exc} (no close, no drop)"
        except OSError as exc:
            if case.drop_ok:
                out.dropped = True
            else:
                out.error = f"{type(exc).__name__}: {exc}"
    return out
