"""Target discovery: what NVX build is under test, which implementations it really has,
and that NVX being absent is a failure with a reason, never a skip."""

import os
import textwrap
from pathlib import Path

import pytest

from nvx_ft import target as target_mod

ROOT = Path(__file__).parent.parent
USES_TARGET = textwrap.dedent("""
    def test_uses_utf8(utf8_impl):
        assert utf8_impl.new().validate(b"a")[0]

    def test_uses_target(nvx_target):
        assert nvx_target.xor
""")


@pytest.fixture
def nvx(nvx_target):
    if nvx_target.name != "autobahn-nvx":
        pytest.skip(f"checks autobahn's NVX discovery; the target is {nvx_target.name}")
    return nvx_target


def test_origin_names_the_artefact_under_test(nvx):
    o = nvx.origin
    assert o["autobahn"] and o["cffi"] and o["build"] in ("GIL", "free-threaded")
    for name in ("_nvx_utf8validator", "_nvx_xormasker"):
        assert Path(o["modules"][name]).is_file(), o["modules"]
    assert isinstance(o["gil_enabled_now"], bool)
    assert o["wheel_tags"] and all(t.count("-") == 2 for t in o["wheel_tags"])


def test_every_enumerated_impl_is_really_selected(nvx):
    """An id counts only if set_impl(k) sticks; lib objects are created with exactly it."""
    assert 1 in nvx.origin["utf8_impl_ids"] and 1 in nvx.origin["xor_impl_ids"]
    assert nvx.origin["utf8_default_impl"] in nvx.origin["utf8_impl_ids"]
    import _nvx_utf8validator
    import _nvx_xormasker

    for impl in nvx.utf8:
        obj = impl.new()
        vld = obj._vld
        assert _nvx_utf8validator.lib.nvx_utf8vld_get_impl(vld) == impl.impl_id, impl
    for impl in nvx.xor:
        obj = impl.new(b"abcd")
        handle = obj._msk if impl.level == "lib" else obj._masker
        got = _nvx_xormasker.lib.nvx_xormask_get_impl(handle)
        if impl.impl_id in nvx.origin["xor_impl_ids"]:
            assert got == impl.impl_id, impl
    assert {i.level for i in nvx.utf8} == {i.level for i in nvx.xor} == {"wrapper", "lib"}


def test_lib_buffer_guard_catches_an_out_of_bounds_write():
    """The canaries around lib-level buffers really detect a write past the payload."""
    import cffi

    ffi = cffi.FFI()
    buf = target_mod._GuardedBuffer(ffi, b"payload", offset=3)
    buf.check("clean")  # untouched: passes
    buf.ptr[len(b"payload")] = 0  # one byte past the end, as a SIMD tail bug would
    with pytest.raises(AssertionError, match=r"out-of-bounds write at byte \+7"):
        buf.check("nvx_xormask_process")


pytestmark = pytest.mark.thread_unsafe(reason="pytester runs and environment changes")


def run_inner(pytester, *args, env=None):
    pytester.makepyfile(test_inner=USES_TARGET)
    old = dict(os.environ)
    try:
        os.environ.update(env or {})
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)
    finally:
        os.environ.clear()
        os.environ.update(old)


def test_header_shows_target_profile_and_seed(pytester):
    result = run_inner(pytester, "--nvx-seed=1234")
    result.stdout.fnmatch_lines([
        "nvx-ft target: *",
        "*interpreter: Python *",
        "nvx-ft hypothesis profile: *, intensity: default, seed: 1234",
    ])


def test_nvx_disabled_by_env_is_a_failure_not_a_skip(pytester):
    result = run_inner(pytester, env={"AUTOBAHN_USE_NVX": "0"})
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*target unavailable: AUTOBAHN_USE_NVX=0*"])


def test_nvx_modules_missing_is_a_failure_not_a_skip(pytester):
    # autobahn without its CFFI modules, as after a failed optional C build
    shadow = pytester.mkdir("no_nvx")
    for mod in ("_nvx_utf8validator", "_nvx_xormasker"):
        (shadow / f"{mod}.py").write_text("raise ImportError('built without NVX')\n")
    result = run_inner(pytester, env={"PYTHONPATH": str(shadow)})
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*target unavailable: NVX is missing*built without NVX*"])


def test_fallback_only_when_asked_for(pytester):
    result = run_inner(pytester, "--nvx-target=fallback")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["nvx-ft target: autobahn-fallback*"])
