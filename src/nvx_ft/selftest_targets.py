"""Deliberately thread-unsafe targets for the self-tests of the free-threading suite.

``--nvx-target=nvx_ft.selftest_targets:shared_state`` feeds the suites a UTF-8
validator and an XOR masker that are exactly right in one thread and wrong as soon as
two threads use *different* objects at the same time: like a C extension with a
``static`` scratch variable, each call parks its object's state in a module-level
slot and works from there. The single-threaded differential suite (one object after
the other, even interleaved objects in one thread) cannot see it; ``stress/`` must.
The control with the same algorithms and all state per object is
``nvx_ft.bad_targets:reference_target``.
"""

from __future__ import annotations

from nvx_ft.reference import Utf8Reference
from nvx_ft.target import Impl, Target

#: The hidden shared state: "the object currently being worked on" and its position.
_SCRATCH: dict = {"validator": None, "position": 0}


class SharedScratchUtf8Validator:
    """Incremental UTF-8 validation that routes every byte through ``_SCRATCH``."""

    def __init__(self) -> None:
        self._state = Utf8Reference()

    def reset(self) -> None:
        self._state.reset()

    def validate(self, data: bytes) -> tuple[bool, bool, int, int]:
        data = bytes(data)
        _SCRATCH["validator"] = self._state  # another thread may swap it under our feet
        result = _SCRATCH["validator"].validate(b"")
        for k in range(len(data)):
            result = _SCRATCH["validator"].validate(data[k:k + 1])
            if not result[0]:
                return (False, False, k, result[3])
        # one byte at a time, then report for the whole chunk as the contract says
        return (result[0], result[1], len(data), result[3]) if data else result


class SharedPositionXorMasker:
    """RFC 6455 masking whose running position lives in a module-level variable."""

    def __init__(self, mask: bytes) -> None:
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        _SCRATCH["position"] = self._ptr
        out = bytearray(data)
        for i in range(len(out)):
            out[i] ^= self._mask[_SCRATCH["position"] % 4]
            _SCRATCH["position"] += 1
        self._ptr = _SCRATCH["position"]
        return bytes(out)


def shared_state() -> Target:
    """The shared-state target (name ``selftest-shared-state``)."""
    return Target(
        "selftest-shared-state",
        utf8=[Impl("selftest/shared-scratch-utf8", lambda align=0: SharedScratchUtf8Validator())],
        xor=[Impl("selftest/shared-position-xor",
                  lambda mask, align=0: SharedPositionXorMasker(mask))],
        origin={"target": "self-test: Python implementations with module-level shared state"},
    )

