"""Deliberately wrong Python targets, injected with ``--nvx-target=nvx_ft.bad_targets:NAME``.

The self-tests run the differential suite against each and require it to FAIL, naming
the implementation and a minimal input; ``reference_target`` is the control that must
pass, so a failure is the bug's doing and not the injection's.
"""

from __future__ import annotations

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
