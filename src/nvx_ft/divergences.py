"""KNOWN_DIVERGENCES: where a target's behaviour differs from our references, on record.

A divergence is a finding, not a tolerance. Each entry says what differs, gives a
minimal reproducer, and says whether it is accepted (and why) or a bug. It carries a
*model*: a reference variant that reproduces the target's behaviour exactly, and
differs from the reference only in the documented situation. Differential tests
compare against :func:`expected_model` - still an exact comparison, never a loosened
one - and ``tests/test_known_divergences.py`` pins every entry: the reproducer must
still show the difference, and the model must match what the target does. When
autobahn fixes one, that pin fails and tells you to delete the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from nvx_ft.reference import Utf8Reference, XorReference


class Utf8RejectionNotSticky(Utf8Reference):
    """NVX after an invalid byte: every later call reports "valid so far".

    Its C DFA stays in the reject state but only returns -1 from the call in which
    the state *became* reject; later calls skip the loop and return 1 (valid, not on
    a code point) with ``current_index = len(chunk)`` and ``total_index`` growing by
    ``len(chunk)``.
    """

    __slots__ = ()

    def validate(self, data: bytes) -> tuple[bool, bool, int, int]:
        if self._failed:
            self._total += len(data)
            return (True, False, len(data), self._total)
        return super().validate(data)


class Utf8EmptyChunkAfterRejection(Utf8Reference):
    """autobahn's pure-Python fallback: an empty chunk after an error is "valid so far"."""

    __slots__ = ()

    def validate(self, data: bytes) -> tuple[bool, bool, int, int]:
        if self._failed and len(data) == 0:
            return (True, False, 0, self._total)
        return super().validate(data)


def _negative_impl_ids(target) -> tuple[object, object]:
    """(what set_impl(-1) does, what the contract says) for both NVX modules."""
    import _nvx_utf8validator as u
    import _nvx_xormasker as x

    vld = u.ffi.gc(u.lib.nvx_utf8vld_new(), u.lib.nvx_utf8vld_free)
    msk = x.ffi.gc(x.lib.nvx_xormask_new(x.ffi.new("uint8_t[4]")), x.lib.nvx_xormask_free)
    before = (u.lib.nvx_utf8vld_get_impl(vld), x.lib.nvx_xormask_get_impl(msk))
    observed = (u.lib.nvx_utf8vld_set_impl(vld, -1), x.lib.nvx_xormask_set_impl(msk, -1))
    return observed, before  # an unknown id must leave the implementation as it was


@dataclass(frozen=True)
class Divergence:
    id: str
    kind: str  # "utf8" or "xor": replayed calls; "api": a probe of the C API
    #: target name ("autobahn-nvx", "autobahn-fallback") -> does it apply
    targets: tuple[str, ...]
    summary: str
    #: chunks fed to one fresh object; the last call's result is where they differ
    reproducer: tuple[bytes, ...]
    status: str  # "accepted" or "bug"
    why: str
    model: type | None
    #: kind "api" only: target -> (observed, what the contract says)
    probe: Callable | None = None
    applies_to_impl: Callable[[str], bool] = lambda name: True
    #: for the gate's Findings (entries that concern autobahn's NVX): what it means for
    #: autobahn's own use, the upstream fix, a command a user can paste to see it on the
    #: installed autobahn (``python`` = that venv's interpreter) and what that command
    #: prints when the divergence is there
    impact: str = ""
    fix: str = ""
    reproduce: str = ""
    reproduce_shows: str = ""


KNOWN_DIVERGENCES: tuple[Divergence, ...] = (
    Divergence(
        id="utf8-rejection-not-sticky",
        kind="utf8",
        targets=("autobahn-nvx",),
        summary=(
            "After validate() has returned invalid, the next validate() on the same object "
            "returns (True, False, len(chunk), total + len(chunk)): the error is forgotten "
            "by the result, although the validator can never accept again."
        ),
        reproducer=(b"\xc0", b"a"),
        status="bug",
        why=(
            "Not accepted as the contract (RFC 3629: nothing after an ill-formed byte makes "
            "the message well-formed); autobahn's pure-Python validator stays invalid."
        ),
        impact=(
            "Without effect in autobahn itself: WebSocketProtocol.onFrameData calls "
            "_invalid_payload -> _fail_connection on the first invalid result; with "
            "failByDrop=False it goes on feeding the rest of that message to the validator "
            "(now told 'valid'), but the connection is already failing, and the frame end's "
            "ends_on_codepoint=False fails it again. Any other caller of "
            "autobahn.nvx.Utf8Validator that keeps feeding chunks is told the stream is valid."
        ),
        fix="nvx_utf8vld_validate should return -1 while state == UTF8_REJECT.",
        reproduce=("python -c 'from autobahn.nvx import Utf8Validator; v = Utf8Validator(); "
                   "print(v.validate(b\"\\xc0\"), v.validate(b\"a\"))'"),
        reproduce_shows="(False, False, 0, 0) (True, False, 1, 1)",
        model=Utf8RejectionNotSticky,
    ),
    Divergence(
        id="utf8-fallback-empty-chunk-after-rejection",
        kind="utf8",
        targets=("autobahn-fallback",),
        summary=(
            "autobahn's pure-Python validator returns (True, False, 0, total) for an empty "
            "chunk after an error (any non-empty chunk correctly stays invalid)."
        ),
        reproducer=(b"\xc0", b""),
        status="accepted",
        why="Second-opinion implementation only; autobahn never validates empty chunks "
            "after failing a connection.",
        model=Utf8EmptyChunkAfterRejection,
    ),
    Divergence(
        id="set-impl-accepts-negative-ids",
        kind="api",
        targets=("autobahn-nvx",),
        summary=(
            "nvx_utf8vld_set_impl(v, -1) and nvx_xormask_set_impl(m, -1) store -1 and return "
            "it; ids above the supported range are refused (the impl stays as it was). "
            "validate/process then fall back to the table DFA / scalar path."
        ),
        reproducer=(),
        status="accepted",
        why=(
            "Results stay correct (the switch's default branch is the safe path); but "
            "get_impl() then reports an id that does not exist."
        ),
        impact="None: autobahn only ever passes 1 or 2.",
        fix="The C check should be `impl >= 1 && impl <= MAX`.",
        reproduce=("python -c 'import _nvx_utf8validator as u; v = u.lib.nvx_utf8vld_new(); "
                   "print(u.lib.nvx_utf8vld_set_impl(v, -1), u.lib.nvx_utf8vld_get_impl(v))'"),
        reproduce_shows="-1 -1",
        model=None,
        probe=_negative_impl_ids,
    ),
)


def applicable(target_name: str, kind: str, impl_name: str) -> list[Divergence]:
    return [d for d in KNOWN_DIVERGENCES
            if d.kind == kind and target_name in d.targets and d.applies_to_impl(impl_name)]


def expected_model(target_name: str, kind: str, impl_name: str) -> type:
    """The exact model to compare ``impl_name`` of ``target_name`` against.

    The reference itself, unless a known divergence applies (at most one per impl).
    """
    found = applicable(target_name, kind, impl_name)
    if len(found) > 1:
        raise RuntimeError(f"two divergences claim {target_name}/{impl_name}: "
                           f"{[d.id for d in found]}; merge their models")
    if found:
        return found[0].model
    return Utf8Reference if kind == "utf8" else XorReference
