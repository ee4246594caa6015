"""UTF-8 validation (RFC 3629), one thread, whole message per call (reset + validate)."""

import pytest

from nvx_ft.bench import workloads as wl


@pytest.mark.parametrize("kind", wl.UTF8_KINDS)
def test_utf8(measure, utf8_impl, kind, size):
    result = measure(utf8_impl, wl.utf8_call(utf8_impl, wl.utf8_payload(kind, size)), size,
                     f"utf8-{kind}")
    # what is timed is the intended case, not an early exit on a wrong payload
    assert wl.utf8_verdict(result) == (not kind.startswith("invalid")), (utf8_impl.name, kind)


@pytest.mark.parametrize("kind", wl.UTF8_KINDS)
def test_utf8_reference(measure, kind, size):
    impl = wl.REFERENCE_UTF8
    result = measure(impl, wl.utf8_call(impl, wl.utf8_payload(kind, size)), size,
                     f"utf8-{kind}")
    assert wl.utf8_verdict(result) == (not kind.startswith("invalid"))
