"""``nvx_ft.suites.run_suite``: a segfault or a hang is a named failure with a stack,
and the tests after it still run."""

from __future__ import annotations

import os
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from nvx_ft import suites
from nvx_ft.suites import run_suite

# The synthetic suites need none of the installed plugins; leaving them out keeps each
# child pytest start cheap.
ISOLATED = ["-p", "no:nvx_ft", "-p", "no:run-parallel", "-p", "no:randomly"]

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs pytest in subprocesses and times their hangs"),
]

CRASHY = '''
import ctypes, time

def test_before():
    pass

def test_fails():
    assert 1 == 2, "one is not two"

def test_segfaults():
    ctypes.string_at(0)  # reads address 0: SIGSEGV

def test_after_the_crash():
    pass

def test_hangs():
    while True:
        time.sleep(0.05)

def test_after_the_hang():
    pass
'''


@pytest.fixture
def suite(tmp_path):
    def make(source: str, name: str = "test_x.py"):
        d = tmp_path / "suite"
        d.mkdir(exist_ok=True)
        (d / name).write_text(textwrap.dedent(source))
        return d
    return make


def test_crash_and_hang_are_named_with_a_stack_and_the_rest_runs(suite, tmp_path):
    path = suite(CRASHY)
    junit = tmp_path / "junit.xml"
    res = run_suite(sys.executable, path, timeout=120, test_timeout=3, junit=junit,
                    cwd=tmp_path, extra_args=ISOLATED)
    outcomes = {t.nodeid.split("::")[-1]: t.outcome for t in res.tests}
    assert outcomes == {"test_before": "passed", "test_fails": "failed",
                        "test_segfaults": "crashed", "test_after_the_crash": "passed",
                        "test_hangs": "timeout", "test_after_the_hang": "passed"}
    assert res.status == "crashed" and res.attempts == 3
    failures = {n.split("::")[-1]: m for n, m in res.failures}
    assert "SIGSEGV" in failures["test_segfaults"]
    assert "Segmentation fault" in failures["test_segfaults"]
    assert "test_x.py\", line 11 in test_segfaults" in failures["test_segfaults"]
    assert "Timeout" in failures["test_hangs"] and "in test_hangs" in failures["test_hangs"]
    assert "one is not two" in failures["test_fails"]
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == 6
    errors = {c.get("name"): c.find("error").get("type") for c in cases
              if c.find("error") is not None}
    assert errors == {"test_segfaults": "crashed", "test_hangs": "timeout"}


def test_suite_timeout_is_a_hard_bound_and_names_the_running_test(suite, tmp_path):
    path = suite('''
        import time
        def test_hangs():
            while True:
                time.sleep(0.05)
        def test_never_reached():
            pass
    ''')
    res = run_suite(sys.executable, path, timeout=10, cwd=tmp_path, extra_args=ISOLATED)
    assert res.status == "timeout"
    assert [n.split("::")[-1] for n, _ in res.failures] == ["test_hangs"]
    assert res.counts["not_run"] == 1 and "not run" in res.reason


def test_plain_pass_and_fail(suite, tmp_path):
    ok = run_suite(sys.executable, suite("def test_ok():\n    pass\n"), timeout=60, cwd=tmp_path,
                   extra_args=ISOLATED)
    assert ok.status == "passed" and ok.counts["passed"] == 1 and ok.failures == []
    bad = run_suite(sys.executable, suite("def test_bad():\n    assert 0\n", "test_y.py"),
                    timeout=60, cwd=tmp_path, extra_args=ISOLATED)
    assert bad.status == "failed" and bad.counts["failed"] == 1


def test_collection_error_is_a_failure_not_a_pass(suite, tmp_path):
    res = run_suite(sys.executable, suite("import no_such_module_here\n"), timeout=60,
                    cwd=tmp_path, extra_args=ISOLATED)
    assert res.status == "failed"
    assert any("no_such_module_here" in m for _, m in res.failures)


def test_missing_or_empty_suite_is_not_run(tmp_path):
    missing = run_suite(sys.executable, tmp_path / "nope", timeout=60)
    assert missing.status == "not-run" and "does not exist" in missing.reason
    (tmp_path / "empty").mkdir()
    empty = run_suite(sys.executable, tmp_path / "empty", timeout=60, cwd=tmp_path,
                      extra_args=ISOLATED)
    assert empty.status == "not-run" and empty.reason == "no tests collected"


def test_a_hang_while_collecting_is_a_timeout_with_a_stack(suite, tmp_path):
    path = suite('''
        import time
        while True:  # e.g. an extension whose import deadlocks
            time.sleep(0.05)
        def test_never_collected():
            pass
    ''')
    res = run_suite(sys.executable, path, timeout=60, test_timeout=3, cwd=tmp_path,
                    extra_args=ISOLATED)
    assert res.status == "timeout" and res.duration < 60
    (nodeid, message), = res.failures
    assert nodeid == "<session>" and "Timeout" in message and "test_x.py" in message


def test_a_segfault_inside_nvx_is_named_with_its_stack_and_the_suite_goes_on(
        nvx_target, suite, tmp_path):
    """The real thing: NVX's C code dereferences a NULL masker. The runner must report
    that test as crashed (SIGSEGV, with the Python frame that entered NVX) and still run
    the NVX test after it."""
    path = suite('''
        import _nvx_xormasker

        def test_nvx_null_masker():
            ffi, lib = _nvx_xormasker.ffi, _nvx_xormasker.lib
            lib.nvx_xormask_process(ffi.NULL, ffi.NULL, 4096)  # NULL state: SIGSEGV in C

        def test_nvx_after_the_crash():
            ffi, lib = _nvx_xormasker.ffi, _nvx_xormasker.lib
            mask = ffi.new("uint8_t[4]", b"abcd")
            masker = lib.nvx_xormask_new(mask)
            data = ffi.new("uint8_t[]", b"\\x00" * 8)
            lib.nvx_xormask_process(masker, data, 8)
            assert ffi.buffer(data, 8)[:] == b"abcdabcd"
            lib.nvx_xormask_free(masker)
    ''')
    res = run_suite(sys.executable, path, timeout=120, test_timeout=60, cwd=tmp_path,
                    extra_args=ISOLATED)
    outcomes = {t.nodeid.split("::")[-1]: t.outcome for t in res.tests}
    assert outcomes == {"test_nvx_null_masker": "crashed", "test_nvx_after_the_crash": "passed"}
    (nodeid, message), = res.failures
    assert nodeid.endswith("::test_nvx_null_masker")
    assert "SIGSEGV" in message and "in test_nvx_null_masker" in message


def test_tests_deselected_by_marker_are_not_counted_as_not_run(suite, tmp_path):
    path = suite('''
        import pytest

        def test_kept():
            pass

        @pytest.mark.slow
        def test_deselected():
            pass
    ''')
    res = run_suite(sys.executable, path, timeout=120, cwd=tmp_path, extra_args=[
        *ISOLATED, "-m", "not slow", "-W", "ignore::pytest.PytestUnknownMarkWarning"])
    assert res.status == "passed", res.reason
    assert res.counts["passed"] == 1 and res.counts["not_run"] == 0


INCONCLUSIVE_SUITE = '''
import pytest

def test_conclusive():
    pass

def test_skipped_as_inconclusive():
    pytest.skip("INCONCLUSIVE: the check did not reach the overlap it needs")

def test_failed_as_inconclusive():
    pytest.fail("INCONCLUSIVE: the check did not reach the overlap it needs", pytrace=False)

def test_plainly_skipped():
    pytest.skip("not applicable here")
'''


def test_an_inconclusive_race_check_is_neither_passed_nor_failed(suite, tmp_path):
    """Skipped or failed with ``INCONCLUSIVE: ...``: the outcome ``inconclusive``, the
    suite ``inconclusive`` (not passed), JUnit ``skipped`` with type inconclusive."""
    junit = tmp_path / "junit.xml"
    res = run_suite(sys.executable, suite(INCONCLUSIVE_SUITE), timeout=120, junit=junit,
                    extra_args=ISOLATED)
    outcomes = {t.nodeid.split("::")[-1]: t.outcome for t in res.tests}
    assert outcomes == {"test_conclusive": "passed", "test_skipped_as_inconclusive":
                        "inconclusive", "test_failed_as_inconclusive": "inconclusive",
                        "test_plainly_skipped": "skipped"}
    assert res.status == "inconclusive" and res.counts["inconclusive"] == 2
    assert not res.failures
    cases = {c.get("name"): c for c in ET.parse(junit).iter("testcase")}
    skipped = cases["test_skipped_as_inconclusive"].find("skipped")
    assert skipped is not None and skipped.get("type") == "inconclusive"
    assert skipped.get("message").startswith("INCONCLUSIVE:")


def test_a_suite_that_skipped_everything_is_not_run(suite):
    res = run_suite(sys.executable, suite("import pytest\n\ndef test_a():\n    pytest.skip('x')\n"
                                          "\ndef test_b():\n    pytest.skip('y')\n"),
                    timeout=120, extra_args=ISOLATED)
    assert res.status == "not-run" and "every test was skipped (2)" in res.reason


def test_a_rerun_replaces_the_inconclusive_outcomes_it_ran_again(suite, tmp_path):
    """The gate reruns inconclusive checks alone (``select``); the merged result has
    the rerun's outcomes in their place and the first run's others."""
    path = suite(INCONCLUSIVE_SUITE.replace(
        'pytest.skip("INCONCLUSIVE', 'import os\n    if os.environ.get("AGAIN"): return\n'
        '    pytest.skip("INCONCLUSIVE'))
    first = run_suite(sys.executable, path, timeout=120, extra_args=ISOLATED, cwd=tmp_path)
    again = run_suite(sys.executable, path, timeout=120, extra_args=ISOLATED, cwd=tmp_path,
                      env={**__import__("os").environ, "AGAIN": "1"},
                      select=["suite/test_x.py::test_skipped_as_inconclusive"])
    assert [t.outcome for t in again.tests] == ["passed"]
    merged = suites.merge_rerun(first, again)
    outcomes = {t.nodeid.split("::")[-1]: t.outcome for t in merged.tests}
    assert outcomes["test_skipped_as_inconclusive"] == "passed"
    assert outcomes["test_failed_as_inconclusive"] == "inconclusive"
    assert merged.status == "inconclusive" and merged.counts["passed"] == 2
    assert len(merged.output) == len(first.output) + len(again.output)


NESTED_BOUNDS = '''
import time
import pytest
from nvx_ft.hang_guard import GUARD

@pytest.fixture
def hangs_in_teardown():
    yield
    time.sleep(120)  # after the inner bound below was popped

@pytest.fixture
def own_bound(hangs_in_teardown):
    with GUARD.bound(1000):  # a test's own bound, as stress/ and protocol/ hold one
        yield

def test_with_its_own_bound(own_bound):
    pass
'''


def test_a_tests_own_bound_nests_inside_the_runners(suite, tmp_path):
    """A fixture's bound popped mid-teardown leaves the runner's per-test bound armed:
    the hang after it is the test's timeout, not the whole suite's."""
    result = run_suite(sys.executable, suite(NESTED_BOUNDS), timeout=100, test_timeout=3,
                       extra_args=ISOLATED, max_restarts=0)
    (outcome,) = result.tests
    assert outcome.outcome == "timeout", result.as_dict()
    assert "the test timeout (3s)" in outcome.message, outcome.message


WITHOUT_NVX_FT = '''
import sys, time

def test_the_copy_is_the_guard():
    assert "_nvx_ft_hang_guard" in sys.modules and "nvx_ft.hang_guard" not in sys.modules

def test_hangs():
    time.sleep(120)
'''


def test_the_bound_holds_in_a_child_without_nvx_ft(suite, tmp_path):
    """The plugin's child may lack nvx_ft (any venv): it then takes the hang guard from
    the copy run_suite puts next to it, and a hang is still the test's timeout."""
    blocked = tmp_path / "no-nvx-ft" / "nvx_ft"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('nvx_ft is not installed here')\n")
    env = {**os.environ, "PYTHONPATH": str(blocked.parent)}
    result = run_suite(sys.executable, suite(WITHOUT_NVX_FT), env=env, timeout=100,
                       test_timeout=3, extra_args=ISOLATED, max_restarts=0)
    outcomes = {o.nodeid.rsplit("::", 1)[1]: o for o in result.tests}
    assert outcomes["test_the_copy_is_the_guard"].outcome == "passed", result.as_dict()
    assert outcomes["test_hangs"].outcome == "timeout", result.as_dict()
    assert "the test timeout (3s)" in outcomes["test_hangs"].message
