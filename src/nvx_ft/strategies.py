"""Hypothesis strategies for NVX inputs: payloads, masks, alignments, chunkings, UTF-8.

Sizes are biased to where SIMD code changes path: 0-64 bytes, and 16/128/4096 +/- 1
(SSE2 block, autobahn's scalar/SIMD switch, a page). Large payloads are drawn as
(size, seed) so they stay cheap to generate and still shrink towards small sizes.
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

MAX_PAYLOAD = 64 * 1024
BOUNDARIES = tuple(sorted({b + d for b in (16, 128, 4096) for d in (-1, 0, 1)}))
_SMALL_BINARY = 256  # up to this size payload bytes are drawn byte by byte (shrinkable)

payload_sizes = st.one_of(
    st.integers(0, 64),
    st.sampled_from(BOUNDARIES),
    st.integers(0, MAX_PAYLOAD),
)


@st.composite
def payloads(draw, sizes=payload_sizes) -> bytes:
    n = draw(sizes)
    if n <= _SMALL_BINARY:
        return draw(st.binary(min_size=n, max_size=n))
    return random.Random(draw(st.integers(0, 2**32 - 1))).randbytes(n)


masks = st.one_of(
    st.sampled_from([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"]),
    st.binary(min_size=4, max_size=4),
)

#: offset from a 64-byte boundary at which the lib level places a buffer
alignments = st.integers(0, 15)


@st.composite
def chunked(draw, data: bytes, max_chunks: int = 8) -> list[bytes]:
    """``data`` split at random points (possibly mid-code-point, possibly empty chunks)."""
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=max_chunks - 1))
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


# ----------------------------------------------------------------------------- UTF-8

_any_scalar = st.characters(codec="utf-8")  # every code point but surrogates
_by_plane = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.characters(min_codepoint=0x80, max_codepoint=0x7FF),
    st.characters(min_codepoint=0x800, max_codepoint=0xFFFF, codec="utf-8"),
    st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF),
)

def _utf8_encode(text: str) -> bytes:  # named: Hypothesis parses lambdas to describe them
    return text.encode("utf-8")


#: well-formed UTF-8 of 1-4 byte sequences from all planes, mostly short
valid_utf8 = st.one_of(
    st.text(alphabet=st.one_of(_by_plane, _any_scalar), max_size=200),
    st.text(alphabet=_by_plane, min_size=200, max_size=3000),
).map(_utf8_encode)

#: byte sequences RFC 3629 forbids, each a minimal "bad thing" to splice in
ILL_FORMED_PIECES = (
    b"\xc0\x80", b"\xc1\xbf",                      # overlong 2-byte (C0, C1 never appear)
    b"\xe0\x80\x80", b"\xe0\x9f\xbf",              # overlong 3-byte
    b"\xf0\x80\x80\x80", b"\xf0\x8f\xbf\xbf",      # overlong 4-byte
    b"\xed\xa0\x80", b"\xed\xbf\xbf",              # UTF-16 surrogates D800, DFFF
    b"\xf4\x90\x80\x80", b"\xf7\xbf\xbf\xbf",      # above U+10FFFF
    b"\xf5", b"\xf8\x88\x80\x80\x80", b"\xfe", b"\xff",  # never-valid lead bytes
    b"\x80", b"\xbf", b"\x80\x80",                 # lone continuation bytes
    b"\xc2", b"\xe1\x80", b"\xf1\x80\x80",         # truncated (then followed by more text)
    b"\xc2\x41", b"\xe1\x80\x41",                  # continuation replaced by ASCII
)


@st.composite
def near_valid_utf8(draw) -> bytes:
    """Valid text with one defect: a corrupted byte, a truncation, or a forbidden piece."""
    text = draw(valid_utf8)
    how = draw(st.sampled_from(["splice", "corrupt", "truncate"]))
    if how == "splice" or not text:
        at = draw(st.integers(0, len(text)))
        tail = draw(valid_utf8)
        return text[:at] + draw(st.sampled_from(ILL_FORMED_PIECES)) + tail
    at = draw(st.integers(0, len(text) - 1))
    if how == "corrupt":
        return text[:at] + bytes([draw(st.integers(0, 255))]) + text[at + 1:]
    return text[:at]  # may end mid-code-point: valid so far, not on a code point


#: anything a WebSocket peer might send as a text frame
utf8_inputs = st.one_of(valid_utf8, near_valid_utf8(), st.binary(max_size=64), payloads())
