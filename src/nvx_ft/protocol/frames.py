"""RFC 6455 frames written from the RFC, independent of autobahn and websockets.

The raw-socket peer uses this to send exactly the bytes a test wants - including the
malformed ones no well-behaved library would produce - and to read what the server
answers. Masking is RFC 6455 section 5.3 in plain Python.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from dataclasses import dataclass

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def mask_bytes(mask: bytes, data: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def encode(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
           mask: bytes | None = b"\x37\xfa\x21\x3d", length: int | None = None,
           length_form: str | None = None) -> bytes:
    """One frame. ``mask=None`` sends it unmasked; ``length`` lies about the payload
    size; ``length_form`` ("16"/"64") forces a (possibly non-minimal) length encoding."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv & 7) << 4 | opcode & 0xF])
    m = 0x80 if mask is not None else 0
    form = length_form or ("7" if n < 126 else "16" if n < 65536 else "64")
    if form == "7":
        head += bytes([m | n])
    elif form == "16":
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    return head + mask + mask_bytes(mask, payload)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        if self.opcode == OP_CLOSE and len(self.payload) >= 2:
            return struct.unpack("!H", self.payload[:2])[0]
        return None


def decode_all(data: bytes) -> tuple[list[Frame], bytes]:
    """Server frames (unmasked) parsed from ``data``; the rest is an incomplete frame."""
    frames, i = [], 0
    while len(data) - i >= 2:
        b0, b1 = data[i], data[i + 1]
        n, j = b1 & 0x7F, i + 2
        if n == 126:
            if len(data) - j < 2:
                break
            n, j = struct.unpack("!H", data[j:j + 2])[0], j + 2
        elif n == 127:
            if len(data) - j < 8:
                break
            n, j = struct.unpack("!Q", data[j:j + 8])[0], j + 8
        mask = None
        if b1 & 0x80:
            if len(data) - j < 4:
                break
            mask, j = data[j:j + 4], j + 4
        if len(data) - j < n:
            break
        payload = data[j:j + n]
        frames.append(Frame(bool(b0 & 0x80), b0 & 0xF,
                            mask_bytes(mask, payload) if mask else payload))
        i = j + n
    return frames, data[i:]


def handshake(host: str, port: int, path: str, timeout: float,
              patience=None) -> socket.socket:
    """Open a TCP connection and do the client opening handshake (RFC 6455 section 4).

    ``patience`` (:class:`nvx_ft.protocol.patience.Patience`): wait for the response
    while the server makes progress, instead of ``timeout`` seconds of wall time."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        key = base64.b64encode(os.urandom(16))
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\n"
                     b"Host: " + f"{host}:{port}".encode() + b"\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: " + key + b"\r\n"
                     b"Sec-WebSocket-Version: 13\r\n\r\n")
        buf = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in buf:
            if patience is not None:
                chunk = patience.recv(sock, 4096, "handshake")
            elif time.monotonic() > deadline:
                raise TimeoutError("no handshake response")
            else:
                chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"closed during handshake: {buf!r}")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        if not head.startswith(b"HTTP/1.1 101") or accept not in head:
            raise ConnectionError(f"bad handshake response: {head!r}")
        if rest:
            raise ConnectionError(f"server sent frames before any request: {rest!r}")
        return sock
    except BaseException:
        sock.close()
        raise
