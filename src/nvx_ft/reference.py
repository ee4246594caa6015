"""Independent references, written from the specs, not from autobahn.

* :class:`Utf8Reference` follows RFC 3629 section 4 ("Syntax of UTF-8 Byte Sequences"):
  the ABNF there is transcribed as data in :data:`RFC3629_SEQUENCES` and walked byte by
  byte. No DFA table, no code-point arithmetic.
* :class:`XorReference` is RFC 6455 section 5.3: ``transformed[i] = original[i] XOR
  mask[i MOD 4]``, where ``i`` counts every octet of the payload, across calls.

Result contract (autobahn's): ``validate(chunk)`` returns ``(valid, ends_on_codepoint,
current_index, total_index)``:

* valid so far: ``(True, ends_on_codepoint, len(chunk), bytes consumed in total)``;
* the first byte that no well-formed UTF-8 string could continue with sits at offset
  ``k`` of this chunk: ``(False, False, k, total bytes before that byte)``;
* once invalid, the validator stays invalid until ``reset()``: every later call, with
  any chunk (also empty), returns ``(False, False, 0, the same total)``. Nothing after
  an error can make a message valid again.
"""

from __future__ import annotations

#: A byte range, inclusive on both ends.
Range = tuple[int, int]

UTF8_TAIL: Range = (0x80, 0xBF)

#: RFC 3629 section 4, one entry per alternative of UTF8-1 .. UTF8-4: the range of the
#: first octet, then the ranges of the octets that must follow it.
RFC3629_SEQUENCES: tuple[tuple[Range, ...], ...] = (
    ((0x00, 0x7F),),                                    # UTF8-1
    ((0xC2, 0xDF), UTF8_TAIL),                          # UTF8-2
    ((0xE0, 0xE0), (0xA0, 0xBF), UTF8_TAIL),            # UTF8-3: %xE0 %xA0-BF UTF8-tail
    ((0xE1, 0xEC), UTF8_TAIL, UTF8_TAIL),               #   %xE1-EC 2( UTF8-tail )
    ((0xED, 0xED), (0x80, 0x9F), UTF8_TAIL),            #   %xED %x80-9F UTF8-tail
    ((0xEE, 0xEF), UTF8_TAIL, UTF8_TAIL),               #   %xEE-EF 2( UTF8-tail )
    ((0xF0, 0xF0), (0x90, 0xBF), UTF8_TAIL, UTF8_TAIL),  # UTF8-4: %xF0 %x90-BF 2( UTF8-tail )
    ((0xF1, 0xF3), UTF8_TAIL, UTF8_TAIL, UTF8_TAIL),    #   %xF1-F3 3( UTF8-tail )
    ((0xF4, 0xF4), (0x80, 0x8F), UTF8_TAIL, UTF8_TAIL),  #   %xF4 %x80-8F 2( UTF8-tail )
)


def _continuations_after(lead: int) -> tuple[Range, ...] | None:
    """The ranges that must follow ``lead``, or None if no sequence starts with it."""
    for first, *rest in RFC3629_SEQUENCES:
        if first[0] <= lead <= first[1]:
            return tuple(rest)
    return None


_LEADS = tuple(_continuations_after(b) for b in range(256))


class Utf8Reference:
    """Incremental UTF-8 validator with autobahn's result contract, from RFC 3629."""

    __slots__ = ("_expect", "_total", "_failed")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._expect: tuple[Range, ...] = ()  # continuation ranges still owed
        self._total = 0
        self._failed = False

    def validate(self, data: bytes) -> tuple[bool, bool, int, int]:
        if self._failed:
            return (False, False, 0, self._total)
        expect = self._expect
        for i, byte in enumerate(bytes(data)):
            if expect:
                lo, hi = expect[0]
                ok = lo <= byte <= hi
                expect = expect[1:]
            else:
                follow = _LEADS[byte]
                ok = follow is not None
                expect = follow or ()
            if not ok:
                self._failed = True
                self._total += i
                return (False, False, i, self._total)
        self._expect = expect
        self._total += len(data)
        return (True, not expect, len(data), self._total)


def utf8_valid_prefix_length(data: bytes) -> int:
    """How many leading bytes of ``data`` are a prefix of some well-formed UTF-8 string."""
    valid, _, index, _ = Utf8Reference().validate(data)
    return len(data) if valid else index


class XorReference:
    """RFC 6455 section 5.3 masking, continuing the mask phase across calls."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        if len(mask) != 4:
            raise ValueError("a WebSocket masking key is 4 octets")
        self._mask = bytes(mask)
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        n = len(data)
        # the key stream mask[(ptr + i) MOD 4] for i in 0..n-1, XORed as one big integer
        phase = self._ptr % 4
        stream = ((self._mask[phase:] + self._mask[:phase]) * (n // 4 + 1))[:n]
        self._ptr += n
        return (int.from_bytes(bytes(data), "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0
