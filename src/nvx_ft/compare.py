"""Replay a sequence of operations on an implementation and on its expected model.

An operation is ``("validate", chunk)`` / ``("process", chunk)`` or ``("reset",)``.
Every result is compared, and for XOR also ``pointer()`` after every call; the first
difference raises an AssertionError that names the implementation, the call and the
input, so Hypothesis's minimised example reads as a bug report.
"""

from __future__ import annotations

from typing import Any, Sequence

from nvx_ft.divergences import expected_model
from nvx_ft.target import Impl

Op = tuple


def _short(b: bytes, limit: int = 80) -> str:
    r = repr(bytes(b))
    return r if len(r) <= limit else f"{r[:limit]}... ({len(b)} bytes)"


def _observe(obj: Any, kind: str, op: Op) -> Any:
    if op[0] == "reset":
        obj.reset()
        return ("reset", obj.pointer()) if kind == "xor" else ("reset",)
    if kind == "utf8":
        return tuple(obj.validate(op[1]))
    return (bytes(obj.process(op[1])), obj.pointer())


def replay(obj: Any, kind: str, ops: Sequence[Op]) -> list[Any]:
    return [_observe(obj, kind, op) for op in ops]


def check_against_model(target_name: str, impl: Impl, ops: Sequence[Op], *,
                        mask: bytes | None = None, align: int = 0,
                        context: str = "") -> None:
    """Run ``ops`` on a fresh object of ``impl`` and on its model; fail on the first difference."""
    kind = "xor" if mask is not None else "utf8"
    model_cls = expected_model(target_name, kind, impl.name)
    args = (mask,) if mask is not None else ()
    obj, model = impl.new(*args, align=align), model_cls(*args)
    for n, op in enumerate(ops):
        got, want = _observe(obj, kind, op), _observe(model, kind, op)
        if got != want:
            raise AssertionError(describe_mismatch(impl, kind, ops, n, got, want, model_cls,
                                                   mask=mask, align=align, context=context))


def describe_mismatch(impl: Impl, kind: str, ops: Sequence[Op], n: int, got: Any, want: Any,
                      model_cls: type, *, mask: bytes | None, align: int, context: str) -> str:
    if kind == "xor":
        got = (_short(got[0]), got[1]) if isinstance(got[0], bytes) else got
        want = (_short(want[0]), want[1]) if isinstance(want[0], bytes) else want
    steps = "; ".join(f"{op[0]}({_short(op[1], 40)})" if len(op) > 1 else "reset()"
                      for op in ops)
    where = f" mask={mask!r}" if mask is not None else ""
    return (f"{kind} implementation {impl.name}{where} align={align}{context}: "
            f"call {n + 1} of {len(ops)} differs from {model_cls.__name__}\n"
            f"  got:      {got}\n  expected: {want}\n  calls: {steps}")
