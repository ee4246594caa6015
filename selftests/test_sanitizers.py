"""Sanitizer modes: report parsing, the instrumentation check, blocked without a TSan
interpreter, and ASan / TSan catching their sanitizer-only mutants end to end.
"""

import os
import re
import sys
import sysconfig

import pytest

from nvx_ft import build, cli, errors, interpreters, paths, sanitizers, sources
from nvx_ft.mutants import kill_suites, matrix

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="compiles NVX and runs sanitized subprocesses"),
]

# The shape of ThreadSanitizer's and AddressSanitizer's reports (abridged from real runs
# of the xor-racy-byte-counter / xor-sse2-tail-overread mutants).
TSAN_NVX = """\
==================
WARNING: ThreadSanitizer: data race (pid=13886)
  Write of size 8 at 0x7f91fe70d1f0 by thread T1:
    #0 nvx_xormask_process /b/out/_nvx_xormasker.c:768:33 (_nvx_xormasker.so+0x4194) (BuildId: 55d1)
    #1 _cffi_f_nvx_xormask_process /b/out/_nvx_xormasker.c:1008:5 (_nvx_xormasker.so+0x4194)
    #2 cfunction_call Objects/methodobject.c:575:18 (python3.14t+0x2b3431)

  Previous write of size 8 at 0x7f91fe70d1f0 by thread T4:
    #0 nvx_xormask_process /b/out/_nvx_xormasker.c:768:33 (_nvx_xormasker.so+0x4194)
    #1 _cffi_f_nvx_xormask_process /b/out/_nvx_xormasker.c:1008:5 (_nvx_xormasker.so+0x4194)

SUMMARY: ThreadSanitizer: data race /b/out/_nvx_xormasker.c:768:33 in nvx_xormask_process
==================
"""
TSAN_CPYTHON = """\
==================
WARNING: ThreadSanitizer: data race (pid=1)
  Read of size 8 at 0x7b0400000010 by thread T2:
    #0 _Py_dict_lookup Objects/dictobject.c:1200:5 (python3.14t+0x1)

  Previous write of size 8 at 0x7b0400000010 by main thread:
    #0 insertdict Objects/dictobject.c:1800:5 (python3.14t+0x2)

SUMMARY: ThreadSanitizer: data race Objects/dictobject.c:1200:5 in _Py_dict_lookup
==================
"""
ASAN_NVX = """\
=================================================================
==1==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x60800067aff0 at pc 0x1 bp 0x2 sp 0x3
READ of size 16 at 0x60800067aff0 thread T0
    #0 0x7f8d in _mm_loadu_si128 /usr/lib/gcc/x86_64-linux-gnu/12/include/emmintrin.h:703
    #1 0x7f8d in _nvx_xormask_process_sse2 /b/out/_nvx_xormasker.c:753
    #2 0x7f8d in _cffi_f_nvx_xormask_process /b/out/_nvx_xormasker.c:1006

0x60800067affd is located 0 bytes to the right of 93-byte region [0x60800067afa0,0x60800067affd)
allocated by thread T0 here:
    #0 0x7f8e in __interceptor_calloc asan_malloc_linux.cpp:77

SUMMARY: AddressSanitizer: heap-buffer-overflow emmintrin.h:703 in _mm_loadu_si128
"""


def test_tsan_reports_are_parsed_and_only_nvx_stacks_count():
    reports = sanitizers.parse_tsan(TSAN_NVX + TSAN_CPYTHON)
    assert [r.kind for r in reports] == ["data race", "data race"]
    nvx, cpython = reports
    assert nvx.touches_nvx and not cpython.touches_nvx
    top = nvx.top_frames()
    assert top[0] == "Write of size 8 at 0x7f91fe70d1f0 by thread T1"
    assert top[1].strip() == "nvx_xormask_process _nvx_xormasker.c:768:33"
    assert "Previous write of size 8 at 0x7f91fe70d1f0 by thread T4" in top
    assert "BuildId" not in "\n".join(top) and "+0x" not in "\n".join(top)
    # the same race seen twice is summarized once
    assert sanitizers.summarize([nvx, nvx]).count("data race touching NVX") == 1


def test_asan_reports_are_parsed_with_the_faulting_access():
    (r,) = sanitizers.parse_asan(ASAN_NVX)
    assert r.kind == "heap-buffer-overflow" and r.touches_nvx
    assert r.top_frames()[0] == "READ of size 16 at 0x60800067aff0 thread T0"
    assert any("_nvx_xormask_process_sse2" in f for f in r.top_frames())


def test_suppressions_can_never_hide_nvx():
    for line in sanitizers.SUPPRESSIONS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, pattern = line.partition(":")
        assert kind in ("race", "race_top", "thread", "mutex", "signal", "deadlock",
                        "called_from_lib", "src"), line
        regex = re.escape(pattern).replace(r"\*", ".*")
        for frame in ("nvx_xormask_process", "_nvx_utf8vld_validate_table",
                      "_nvx_xormasker.c", "_nvx_utf8validator.c"):
            assert not re.search(regex, frame), f"{line!r} would hide {frame}"


@pytest.fixture(scope="module")
def plain_build():
    return build.build(sources.nvx_source(version=sources.installed_autobahn_version()))


def test_uninstrumented_modules_are_refused(plain_build):
    """The trap: NVX built without TSan shows no race at all; the mode must not say clean."""
    with pytest.raises(sanitizers.SanitizerUnavailable, match="refusing to report"):
        sanitizers.require_instrumented(plain_build.modules, "tsan")
    with pytest.raises(sanitizers.SanitizerUnavailable, match="refusing to report"):
        sanitizers.require_instrumented(plain_build.modules, "asan")


def test_a_non_tsan_interpreter_is_blocked(monkeypatch, capsys):
    monkeypatch.setenv(interpreters.TSAN_ENV, sys.executable)
    assert not interpreters.is_tsan(interpreters.probe(sys.executable))
    with pytest.raises(errors.Blocked, match="not a free-threaded CPython"):
        interpreters.find_tsan()
    assert cli.main(["sanitize", "tsan"]) == errors.EXIT_BLOCKED
    assert "with-thread-sanitizer" in capsys.readouterr().err


def _mini(sanitizer):
    """One Hypothesis test (asan) / one hammer scenario (tsan) on the XOR masker."""
    if sanitizer == "asan":
        return {"asan": kill_suites.Suite(
            "asan", {"xor": ("tests/test_xor_differential.py",)}, ("--hypothesis-profile=dev",),
            keyword="test_one_shot", base_keyword="test_one_shot", test_timeout=60,
            timeout=300, modes=("asan",), sanitizer="asan")}
    return {"tsan": kill_suites.Suite(
        "tsan", {"xor": ("stress/test_per_thread_objects.py",)}, keyword="xor",
        base_keyword="xor", test_timeout=300, timeout=900, modes=("tsan",), sanitizer="tsan")}


@pytest.mark.nightly  # builds NVX twice with ASan (about 20 s); report parsing runs every time
def test_asan_mode_reports_the_tail_overread_and_nothing_for_the_control(tmp_path):
    try:
        sanitizers.libasan()
    except sanitizers.SanitizerUnavailable as exc:
        pytest.skip(f"ASan mode NOT RUN: {exc}")
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        with pytest.raises(sanitizers.SanitizerUnavailable, match="needs a GIL build"):
            matrix.run_matrix("asan", ["xor-sse2-tail-overread"], out_dir=tmp_path,
                            log=lambda s: None, suites=_mini("asan"))
        pytest.skip("ASan mode NOT RUN on a free-threaded build (refused, as checked here): "
                    "run this test with python3.11-3.14")
    rep = matrix.run_matrix("asan", ["xor-sse2-tail-overread"], out_dir=tmp_path,
                          log=lambda s: None, suites=_mini("asan"))
    by = {m["name"]: m["results"]["asan"] for m in rep["mutants"]}
    assert by["control"]["status"] == "passed", by["control"]
    assert by["xor-sse2-tail-overread"]["status"] == "sanitizer", by["xor-sse2-tail-overread"]
    assert "_nvx_xormask_process_sse2" in by["xor-sse2-tail-overread"]["detail"]
    assert rep["ok"], rep["problems"]


@pytest.mark.nightly
def test_tsan_mode_reports_the_racy_counter_and_nothing_for_the_control(tmp_path):
    """Needs a TSan free-threaded CPython ($NVX_FT_PYTHON_TSAN); nightly (minutes)."""
    try:
        python = sanitizers.suite_python(interpreters.find_tsan(), paths.ROOT,
                                         sources.installed_autobahn_version())
    except errors.Blocked as exc:
        pytest.skip(f"TSan mode NOT RUN: {exc}")
    rep = matrix.run_matrix("tsan", ["xor-racy-byte-counter"], python=python,
                          out_dir=tmp_path, log=lambda s: None, suites=_mini("tsan"))
    by = {m["name"]: m["results"]["tsan"] for m in rep["mutants"]}
    assert by["control"]["status"] == "passed", by["control"]
    killed = by["xor-racy-byte-counter"]
    assert killed["status"] == "sanitizer" and "nvx_xormask_process" in killed["detail"]
    assert rep["ok"], rep["problems"]
    assert os.path.exists(killed["log"])
