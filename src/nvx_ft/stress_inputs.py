"""The inputs the free-threading suite's threads share, and how a call is chunked.

Deterministic from the seed: Markus Kuhn's edge cases, SIMD boundary sizes, valid text
mixing 1-4 byte sequences, the same text broken in one place, random bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from nvx_ft.cases import KUHN_CASES

_SIZES = (0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256,
          1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 262144)
_CORRUPTIONS = (b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\xe2\x82", b"\xf0\x9f\x98")


def _text(r, n: int) -> bytes:
    """About ``n`` bytes of well-formed UTF-8 mixing 1-4 byte sequences."""
    planes = ((0x20, 0x7E), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF))
    out, size = [], 0
    while size < n:
        lo, hi = planes[r.randrange(len(planes))] if r.random() < 0.5 else planes[0]
        c = chr(r.randint(lo, hi)).encode()
        out.append(c)
        size += len(c)
    return b"".join(out)


@dataclass(frozen=True)
class SharedInputs:
    utf8: tuple[bytes, ...]
    xor: tuple[bytes, ...]
    masks: tuple[bytes, ...]


def make_shared_inputs(seed: int, max_payload: int) -> SharedInputs:
    """Deterministic from the seed: edge cases, SIMD boundary sizes, valid and broken text."""
    r = random.Random(f"nvx-ft:{seed}:shared-inputs")
    sizes = [n for n in _SIZES if n <= max_payload]
    utf8 = [c.data for c in KUHN_CASES]
    for n in sizes:
        good = _text(r, n)
        utf8.append(good)
        if n:
            at = r.randrange(len(good))
            utf8.append(good[:at] + r.choice(_CORRUPTIONS) + good[at:])
        utf8.append(r.randbytes(n))
    xor = [r.randbytes(n) for n in sizes] + [r.randbytes(r.randrange(max_payload + 1))
                                             for _ in range(8)]
    masks = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff") + tuple(r.randbytes(4) for _ in range(6))
    return SharedInputs(tuple(utf8), tuple(xor), masks)


def chunk_ops(r, op: str, data: bytes, max_chunks: int = 6) -> list[tuple]:
    """``data`` as 1..max_chunks calls split at random points (mid code point, empty chunks)."""
    cuts = sorted(r.randrange(len(data) + 1) for _ in range(r.randrange(max_chunks)))
    bounds = [0, *cuts, len(data)]
    return [(op, data[a:b]) for a, b in zip(bounds, bounds[1:])]
