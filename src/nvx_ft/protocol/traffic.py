"""Seeded traffic plans: what each connection sends, message by message.

Stdlib only: the ``websockets`` peer process imports this too, so both ends derive the
very same plan from (seed, connection id) and nothing else. Sizes cover the RFC 6455
length encodings (125/126, 65535/65536), NVX's 128-byte SSE2 switch (127/128/129) and
15-byte SIMD tails (128+15, 16 KiB+15); text fragments are cut *inside* multi-byte code
points on purpose, which is what an incremental validator must carry across frames.
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import dataclass

#: Sizes every run covers (spread over the connections: connection c starts at the c-th).
BOUNDARY_SIZES = (0, 1, 15, 16, 17, 125, 126, 127, 128, 129, 143, 255, 256, 1023, 4111,
                  16399, 65535, 65536, 65537, 131072, 262144)

_PLANES = ((0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF))


@dataclass(frozen=True)
class Volume:
    """How much traffic one connection carries."""

    messages: int
    #: largest boundary size used; random sizes stay at or below ``random_max``
    max_size: int
    random_max: int
    #: fraction of messages sent in several frames, and of messages preceded by a ping
    fragmented: float = 0.4
    pings: float = 0.2


@dataclass(frozen=True)
class Message:
    index: int
    binary: bool
    payload: bytes
    #: cut points inside ``payload`` (sorted); empty: one frame
    cuts: tuple[int, ...] = ()
    ping_before: bool = False

    @property
    def fragments(self) -> list[bytes]:
        bounds = [0, *self.cuts, len(self.payload)]
        return [self.payload[a:b] for a, b in zip(bounds, bounds[1:])]

    def describe(self) -> str:
        kind = "binary" if self.binary else "text"
        frag = f", {len(self.cuts) + 1} fragments cut at {list(self.cuts)}" if self.cuts else ""
        return f"message {self.index} ({kind}, {len(self.payload)} bytes{frag})"


def digest(binary: bool, payload: bytes) -> str:
    """What a transcript records per message: kind, length and content hash."""
    h = hashlib.sha256(payload).hexdigest()[:16]
    return f"{'b' if binary else 't'}:{len(payload)}:{h}"


def _random_text(r: random.Random, n: int) -> bytes:
    """Exactly ``n`` bytes of well-formed UTF-8, about half of it multi-byte code points
    (one draw per code point: slow, so made once for :func:`_text_corpus`)."""
    out = bytearray()
    while len(out) < n:
        room = n - len(out)
        if r.random() < 0.5:
            lo, hi = _PLANES[r.randrange(len(_PLANES))]
            c = chr(r.randint(lo, hi)).encode()
            if len(c) <= room:
                out += c
                continue
        out += bytes([r.randint(0x20, 0x7E)])
    return bytes(out)


#: the random text messages are cut from (a message may span it several times)
TEXT_CORPUS_BYTES = 1 << 18


@functools.lru_cache(maxsize=1)
def _text_corpus() -> bytes:
    return _random_text(random.Random("nvx-ft:protocol:text-corpus"), TEXT_CORPUS_BYTES)


def text_bytes(r: random.Random, n: int) -> bytes:
    """Exactly ``n`` bytes of well-formed UTF-8, about half of it multi-byte code points:
    pieces of one random text, each from a random code point on. (Drawing every code
    point made the traffic generators, not the servers under test, the bottleneck.)"""
    corpus = _text_corpus()
    out = bytearray()
    while len(out) < n:
        room = n - len(out)
        if room < 4:  # too short for a piece that surely holds a whole code point
            out += bytes(r.randint(0x20, 0x7E) for _ in range(room))
            break
        start = r.randrange(len(corpus) - 4)
        while corpus[start] & 0xC0 == 0x80:  # to the next code point
            start += 1
        # a piece cut inside its last code point loses that code point
        out += corpus[start:start + room].decode("utf-8", "ignore").encode()
    return bytes(out)


def _cuts(r: random.Random, payload: bytes, binary: bool) -> tuple[int, ...]:
    if len(payload) < 2:
        return ()
    # text: prefer cuts before a continuation byte, i.e. inside a code point
    picks = set()
    for _ in range(r.randint(1, 4)):
        at = r.randrange(1, len(payload))
        if not binary and r.random() < 0.8:
            inside = _next_continuation(payload, at)
            at = inside if inside is not None else at
        picks.add(at)
    return tuple(sorted(picks))


def _next_continuation(payload: bytes, at: int) -> int | None:
    """A continuation byte next to ``at`` (a cut there splits a code point), or None
    (only ASCII around)."""
    for k in (range(at, min(len(payload), at + 4)), range(at - 1, max(0, at - 4), -1)):
        for i in k:
            if payload[i] & 0xC0 == 0x80:
                return i
    return None


def plan(seed: int, conn: int, volume: Volume) -> list[Message]:
    """Connection ``conn``'s messages, reproducible from (seed, conn, volume)."""
    r = random.Random(f"nvx-ft:protocol:{seed}:{conn}")
    sizes = [n for n in BOUNDARY_SIZES if n <= volume.max_size]
    msgs = []
    for i in range(volume.messages):
        if i % 2 == 0 and sizes:
            n = sizes[(conn + i // 2) % len(sizes)]
        else:
            n = r.randint(0, volume.random_max)
        binary = r.random() < 0.4
        payload = r.randbytes(n) if binary else text_bytes(r, n)
        cuts = _cuts(r, payload, binary) if r.random() < volume.fragmented else ()
        msgs.append(Message(i, binary, payload, cuts, r.random() < volume.pings))
    return msgs


def expected_transcript(seed: int, conn: int, volume: Volume) -> list[str]:
    return [digest(m.binary, m.payload) for m in plan(seed, conn, volume)]


# --------------------------------------------------------------------------- invalid UTF-8

@dataclass(frozen=True)
class InvalidCase:
    """A text message (or close reason) the receiving autobahn end must reject."""

    name: str
    fragments: tuple[bytes, ...]
    #: close code RFC 6455 asks for: 1007 for invalid payload data
    expect: int = 1007
    #: True: the bytes go into a close frame's reason instead of a text message
    close_reason: bool = False


_GOOD = "h\u00e9llo \u20ac \U0001F600 ".encode()

INVALID_CASES = (
    InvalidCase("overlong-slash", (_GOOD + b"\xc0\xaf",)),
    InvalidCase("overlong-3byte", (_GOOD + b"\xe0\x80\xaf" + _GOOD,)),
    InvalidCase("surrogate-d800", (_GOOD + b"\xed\xa0\x80" + _GOOD,)),
    InvalidCase("above-10ffff", (_GOOD + b"\xf4\x90\x80\x80",)),
    InvalidCase("lone-continuation", (b"\x80" + _GOOD,)),
    InvalidCase("truncated-at-end", (_GOOD + b"\xf0\x9f\x98",)),
    InvalidCase("truncated-at-end-fragmented", (_GOOD, b"\xe2\x82")),
    # valid lead byte in one fragment, invalid continuation in the next
    InvalidCase("invalid-split-across-fragments", (_GOOD + b"\xe2", b"\x28\xa1" + _GOOD)),
    InvalidCase("surrogate-split-across-fragments", (_GOOD + b"\xed", b"\xa0", b"\x80")),
    # invalid bytes past NVX's 128-byte SSE2 switch, with a 15-byte tail
    InvalidCase("invalid-in-simd-body", (b"a" * 200 + b"\xff" + b"b" * 15,)),
    InvalidCase("close-reason-invalid", (b"bye \xff",), close_reason=True),
    InvalidCase("close-reason-ends-inside-code-point", (b"bye \xe2\x82",), close_reason=True),
)
