"""XOR masking (RFC 6455 5.3), one thread: every NVX implementation, fallback, reference."""

from nvx_ft.bench import workloads as wl
from nvx_ft.reference import XorReference


def _check_masks(call, data):
    """What is timed really masks: the first call's output equals the reference's."""
    out = call()
    if out is not None:  # the lib level masks in place and returns nothing
        assert bytes(out) == XorReference(wl.MASK).process(data)


def test_xor(measure, xor_impl, size):
    data = wl.xor_payload(size)
    _check_masks(wl.xor_call(xor_impl, data), data)
    measure(xor_impl, wl.xor_call(xor_impl, data), size, "xor")


def test_xor_reference(measure, size):
    measure(wl.REFERENCE_XOR, wl.xor_call(wl.REFERENCE_XOR, wl.xor_payload(size)), size, "xor")
