"""Every UTF-8 implementation of the target against the RFC 3629 reference.

The full 4-tuple of every call is compared, one-shot and chunked (split anywhere,
also mid-code-point), across reset() and reuse; lib-level implementations run at
every buffer alignment 0-15 so SIMD heads and tails are driven on purpose.
"""

from hypothesis import given, strategies as st

from nvx_ft.cases import KUHN_CASES
from nvx_ft.compare import check_against_model
from nvx_ft.strategies import alignments, chunked, utf8_inputs


@given(data=utf8_inputs, align=alignments)
def test_one_shot(nvx_target, utf8_impl, data, align):
    check_against_model(nvx_target.name, utf8_impl, [("validate", data)], align=align)


@given(st.data())
def test_chunked(nvx_target, utf8_impl, data):
    payload = data.draw(utf8_inputs, label="payload")
    chunks = data.draw(chunked(payload), label="chunks")
    align = data.draw(alignments, label="align")
    check_against_model(nvx_target.name, utf8_impl, [("validate", c) for c in chunks],
                        align=align)


@given(st.data())
def test_reset_and_reuse_across_messages(nvx_target, utf8_impl, data):
    """One object validates several messages with reset() between, as a connection does."""
    ops = []
    for message in data.draw(st.lists(utf8_inputs, min_size=1, max_size=4), label="messages"):
        ops += [("validate", c) for c in data.draw(chunked(message, max_chunks=3))]
        ops.append(("reset",))
    check_against_model(nvx_target.name, utf8_impl, ops, align=data.draw(alignments))


def test_kuhn_cases_one_byte_at_a_time(nvx_target, utf8_impl):
    for case in KUHN_CASES:
        ops = [("validate", case.data[i:i + 1]) for i in range(len(case.data))]
        check_against_model(nvx_target.name, utf8_impl, [("validate", case.data)],
                            context=f" (Kuhn {case.section} {case.name})")
        check_against_model(nvx_target.name, utf8_impl, ops,
                            context=f" (Kuhn {case.section} {case.name}, byte by byte)")
