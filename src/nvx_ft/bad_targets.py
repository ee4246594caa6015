"""Deliberately wrong Python targets, injected with ``--nvx-target=nvx_ft.bad_targets:NAME``.

The self-tests run a suite against each and require it to FAIL, naming the
implementation and a minimal input; ``reference_target`` is the control that must
pass, so a failure is the bug's doing and not the injection's.

* single-threaded bugs (``xor_ignores_position``, ``utf8_index_off_by_one``,
  ``xor_pointer_not_reset``): the differential suite in tests/ must catch them;
* ``shared_state``: exactly right in one thread and wrong as soon as two threads use
  *different* objects at the same time - like a C extension with a ``static`` scratch
  variable, each call parks its object's state in a module-level slot and works from
  there. The differential suite (one object after the other, even interleaved objects in
  one thread) cannot see it; stress/ must.
"""

from __future__ import annotations

import time

from nvx_ft.reference import Utf8Reference, XorReference
from nvx_ft.target import Impl, Target


class XorIgnoresRunningPosition(XorReference):
    """Starts every call at mask phase 0, as if each chunk were a new frame."""

    __slots__ = ()

    def process(self, data):
        ptr = self._ptr
        self._ptr = 0
        out = super().process(data)
        self._ptr = ptr + len(data)
        return out


class Utf8ErrorIndexOffByOne(Utf8Reference):
    """Reports the byte *after* the offending one as the error position."""

    __slots__ = ()

    def validate(self, data):
        valid, ends, current, total = super().validate(data)
        if not valid:
            return (valid, ends, current + 1, total + 1)
        return (valid, ends, current, total)


class XorPointerNotReset(XorReference):
    """reset() restarts the mask phase but forgets to zero pointer()."""

    __slots__ = ("_reported",)

    def __init__(self, mask):
        super().__init__(mask)
        self._reported = 0

    def process(self, data):
        self._reported += len(data)
        return super().process(data)

    def pointer(self):
        return self._reported


def _utf8(name, cls):
    return Impl(name, lambda align=0: cls())


def _xor(name, cls):
    return Impl(name, lambda mask, align=0: cls(mask))


def reference_target() -> Target:
    """Control: our own references presented as a target. Everything must pass."""
    return Target("reference", [_utf8("ref/utf8", Utf8Reference)], [_xor("ref/xor", XorReference)])


def xor_ignores_position() -> Target:
    return Target("bad-xor-position", [_utf8("ref/utf8", Utf8Reference)],
                  [_xor("bad/xor-ignores-running-position", XorIgnoresRunningPosition)])


def utf8_index_off_by_one() -> Target:
    return Target("bad-utf8-index", [_utf8("bad/utf8-error-index-off-by-one",
                                           Utf8ErrorIndexOffByOne)],
                  [_xor("ref/xor", XorReference)])


def xor_pointer_not_reset() -> Target:
    return Target("bad-xor-pointer", [_utf8("ref/utf8", Utf8Reference)],
                  [_xor("bad/xor-pointer-not-reset", XorPointerNotReset)])


#: The hidden shared state: "the object currently being worked on" and its position.
_SCRATCH: dict = {"validator": None, "position": 0}


def _release_the_gil() -> None:
    """What a CFFI call does on entry: let other threads run while the C code works.

    Without it, on a GIL build this stand-in could only be interrupted where the
    interpreter's time slice happens to end (every 5 ms), while the C code it stands for
    runs with the GIL released from its first line - and threads that interleave between
    calls but never inside one would pass it (issue 19: the pinned protocol self-test
    passed it in 3 of 10 runs on Python 3.11)."""
    time.sleep(0)


class SharedScratchUtf8Validator:
    """Incremental UTF-8 validation that routes every byte through ``_SCRATCH``."""

    def __init__(self) -> None:
        self._state = Utf8Reference()

    def reset(self) -> None:
        self._state.reset()

    def validate(self, data: bytes) -> tuple[bool, bool, int, int]:
        data = bytes(data)
        _SCRATCH["validator"] = self._state  # another thread may swap it under our feet
        _release_the_gil()
        result = _SCRATCH["validator"].validate(b"")
        for k in range(len(data)):
            result = _SCRATCH["validator"].validate(data[k:k + 1])
            if not result[0]:
                return (False, False, k, result[3])
        # one byte at a time, then report for the whole chunk as the contract says
        return (result[0], result[1], len(data), result[3]) if data else result


class SharedPositionXorMasker:
    """RFC 6455 masking whose running mask phase lives in a module-level variable (like
    a C ``static`` bounce position); pointer() stays the object's own, so a race garbles
    the payload, never the frame lengths autobahn derives from pointer() (a pointer past
    the frame's end would spin autobahn's frame loop until the run's bound)."""

    def __init__(self, mask: bytes) -> None:
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        _SCRATCH["position"] = self._ptr
        _release_the_gil()
        out = bytearray(data)
        for i in range(len(out)):
            out[i] ^= self._mask[_SCRATCH["position"] % 4]
            _SCRATCH["position"] += 1
        self._ptr += len(out)
        return bytes(out)


def shared_state() -> Target:
    """Hidden module-level state: only concurrent use shows it."""
    return Target(
        "selftest-shared-state",
        utf8=[_utf8("selftest/shared-scratch-utf8", SharedScratchUtf8Validator)],
        xor=[_xor("selftest/shared-position-xor", SharedPositionXorMasker)],
        origin={"target": "self-test: Python implementations with module-level shared state"},
    )

