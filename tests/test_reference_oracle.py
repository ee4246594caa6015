"""Our references against CPython's strict UTF-8 codec and against RFC 6455's formula.

The references are the yardstick for NVX, so they are checked first, against
oracles that share no code with them.
"""

import codecs

import pytest
from hypothesis import given, strategies as st

from nvx_ft.cases import KUHN_CASES
from nvx_ft.reference import Utf8Reference, XorReference, utf8_valid_prefix_length
from nvx_ft.strategies import chunked, masks, payloads, utf8_inputs

CONTINUATIONS = range(0x80, 0xC0)


def decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def completable(prefix: bytes) -> bool:
    """Some continuation bytes make ``prefix`` well-formed (asked of the codec only)."""
    return decodes(prefix) or any(
        decodes(prefix + bytes([c]) * n) for n in (1, 2, 3) for c in CONTINUATIONS)


@given(utf8_inputs)
def test_utf8_reference_verdict_matches_codec(data):
    valid, ends, current, total = Utf8Reference().validate(data)
    assert (valid and ends) == decodes(data)
    if valid:
        assert (current, total) == (len(data), len(data))
        assert ends or completable(data)
    else:
        assert current == total < len(data)


@given(utf8_inputs)
def test_utf8_reference_error_index_is_longest_completable_prefix(data):
    k = utf8_valid_prefix_length(data)
    assert completable(data[:k])
    if k < len(data):
        assert not completable(data[: k + 1])


@given(st.data())
def test_utf8_reference_chunked_agrees_with_incremental_codec(data):
    payload = data.draw(utf8_inputs)
    chunks = data.draw(chunked(payload))
    ref, dec = Utf8Reference(), codecs.getincrementaldecoder("utf-8")()
    results = [ref.validate(c) for c in chunks]
    # CPython's decoder may accept a prefix such as ED A0 until more bytes arrive, so
    # only "the reference accepts every chunk" implies "the codec accepts every chunk".
    if all(r[0] for r in results):
        for c in chunks:
            dec.decode(c, final=False)
    final_ok = decodes(payload)
    assert (all(r[0] for r in results) and results[-1][1]) == final_ok
    assert results[-1][3] == (len(payload) if results[-1][0] else utf8_valid_prefix_length(payload))


@pytest.mark.parametrize("case", KUHN_CASES, ids=lambda c: f"{c.section}-{c.name}")
def test_utf8_reference_on_kuhn_cases(case):
    valid, ends, _, _ = Utf8Reference().validate(case.data)
    assert (valid and ends) == case.well_formed == decodes(case.data)


def is_invalid(data: bytes) -> bool:
    # a named function, not a lambda: Hypothesis describes a lambda with ast.parse, which
    # CPython 3.11 can break on ("AST constructor recursion depth mismatch") in threads
    return not Utf8Reference().validate(data)[0]


@given(st.data())
def test_utf8_reference_stays_invalid_until_reset(data):
    bad = data.draw(utf8_inputs.filter(is_invalid))
    more = data.draw(st.lists(utf8_inputs, max_size=3))
    ref = Utf8Reference()
    first = ref.validate(bad)
    for chunk in more:
        assert ref.validate(chunk) == (False, False, 0, first[3])
    ref.reset()
    assert ref.validate(b"ok") == (True, True, 2, 2)


def rfc6455_mask(mask: bytes, data: bytes, start: int = 0) -> bytes:
    # RFC 6455 5.3, literally: j = i MOD 4; transformed-octet-i = original-octet-i XOR masking-key-octet-j
    out = bytearray()
    for i, octet in enumerate(data, start):
        out.append(octet ^ mask[i % 4])
    return bytes(out)


@given(masks, st.data())
def test_xor_reference_matches_rfc6455_across_chunks(mask, data):
    payload = data.draw(payloads())
    chunks = data.draw(chunked(payload))
    ref = XorReference(mask)
    out = b"".join(ref.process(c) for c in chunks)
    assert out == rfc6455_mask(mask, payload)
    assert ref.pointer() == len(payload)
    assert XorReference(mask).process(out) == payload  # masking is an involution
    ref.reset()
    assert ref.pointer() == 0 and ref.process(payload[:5]) == rfc6455_mask(mask, payload[:5])
