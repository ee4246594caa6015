"""Every XOR masker of the target against RFC 6455 section 5.3.

Output bytes and pointer() are compared after every call; chunks continue the mask
phase; lib-level maskers run at every alignment 0-15 inside a canary-guarded buffer.
"""

import pytest
from hypothesis import given, strategies as st

from nvx_ft.compare import check_against_model
from nvx_ft.reference import XorReference
from nvx_ft.strategies import BOUNDARIES, alignments, chunked, masks, payloads


@given(mask=masks, data=payloads(), align=alignments)
def test_one_shot(nvx_target, xor_impl, mask, data, align):
    check_against_model(nvx_target.name, xor_impl, [("process", data)], mask=mask, align=align)


@given(st.data())
def test_chunked_continues_mask_phase(nvx_target, xor_impl, data):
    mask = data.draw(masks, label="mask")
    chunks = data.draw(chunked(data.draw(payloads(), label="payload")), label="chunks")
    check_against_model(nvx_target.name, xor_impl, [("process", c) for c in chunks],
                        mask=mask, align=data.draw(alignments, label="align"))


@given(st.data())
def test_reset_and_reuse_across_frames(nvx_target, xor_impl, data):
    mask = data.draw(masks, label="mask")
    ops = []
    for frame in data.draw(st.lists(payloads(), min_size=1, max_size=4), label="frames"):
        ops += [("process", c) for c in data.draw(chunked(frame, max_chunks=3))]
        ops.append(("reset",))
    check_against_model(nvx_target.name, xor_impl, ops, mask=mask,
                        align=data.draw(alignments, label="align"))


@pytest.mark.parametrize("length", sorted({0, 1, 127, 128, 129, *BOUNDARIES}))
@given(mask=masks)
def test_create_xor_masker_at_its_size_switch(nvx_target, length, mask):
    """create_xor_masker(mask, length) picks scalar below 128 bytes and SIMD from 128."""
    create = nvx_target.create_xor_masker
    if create is None:
        pytest.skip(f"target {nvx_target.name} has no create_xor_masker")
    masker = create(mask, length)
    expected_class = "XorMaskerSimple" if length < 128 else "XorMaskerShifted1"
    assert type(masker).__name__ == expected_class, (length, type(masker))
    impl_id = getattr(getattr(masker, "lib", None), "nvx_xormask_get_impl", None)
    if impl_id is not None and 2 in nvx_target.origin.get("xor_impl_ids", ()):
        assert impl_id(masker._masker) == (1 if length < 128 else 2)
    payload = bytes(range(256)) * (length // 256 + 1)
    ref = XorReference(mask)
    for chunk in (payload[:length], payload[:3], payload[:length]):
        assert masker.process(chunk) == ref.process(chunk)
        assert masker.pointer() == ref.pointer()
    assert type(create(mask)).__name__ == "XorMaskerSimple"  # no length hint: scalar
