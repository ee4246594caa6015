"""All implementations of one target agree with each other on the same calls.

Implied by each matching the reference, but a disagreement here points straight at
the layer (autobahn's wrapper vs the raw CFFI lib, or one C path vs another).
"""

from hypothesis import given, strategies as st

from nvx_ft.compare import replay
from nvx_ft.strategies import chunked, masks, payloads, utf8_inputs


def _groups(results: dict) -> str:
    by_result = {}
    for name, res in results.items():
        by_result.setdefault(repr(res)[:300], []).append(name)
    return "\n".join(f"  {names}: {res}" for res, names in by_result.items())


@given(st.data())
def test_utf8_implementations_agree(nvx_target, data):
    payload = data.draw(utf8_inputs, label="payload")
    ops = [("validate", c) for c in data.draw(chunked(payload), label="chunks")]
    results = {i.name: replay(i.new(), "utf8", ops) for i in nvx_target.utf8}
    assert len({repr(r) for r in results.values()}) == 1, _groups(results)


@given(st.data())
def test_xor_implementations_agree(nvx_target, data):
    mask = data.draw(masks, label="mask")
    payload = data.draw(payloads(), label="payload")
    ops = [("process", c) for c in data.draw(chunked(payload), label="chunks")]
    results = {i.name: replay(i.new(mask), "xor", ops) for i in nvx_target.xor}
    assert len({repr(r) for r in results.values()}) == 1, _groups(results)
