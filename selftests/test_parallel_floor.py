"""``nox -s parallel``'s floor (``nvx_ft.parallel_floor``): a run under
pytest-run-parallel in which tests did not really run in threads fails, naming them."""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_run_parallel", reason="pytest-run-parallel comes with nvx-ft[stress]")

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="pytester runs a whole pytest session"),
]

TESTS = '''
import pytest

def test_one():
    assert sum(range(10)) == 45

def test_two():
    assert "ab" * 2 == "abab"
'''

#: an autouse fixture that uses monkeypatch: pytest-run-parallel quietly runs every test
#: of the folder in one thread
SERIAL_BY_FIXTURE = '''
import pytest

@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("SOMETHING", "1")
'''


def _run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "nvx_ft.parallel_floor", "-p", "no:randomly",
                                         "-p", "no:cacheprovider", *args)


def test_tests_that_ran_in_threads_pass_the_floor(pytester):
    pytester.makepyfile(test_plain=TESTS)
    result = _run(pytester, "--parallel-threads=4")
    result.stdout.fnmatch_lines(["*nvx-ft parallel floor*",
                                 "2 test(s) ran in 4 threads; 0 in one thread by their "
                                 "thread_unsafe mark; 0 in one thread without a written reason"])
    assert result.ret == 0


def test_a_fixture_that_makes_everything_serial_fails_the_floor(pytester):
    pytester.makeconftest(SERIAL_BY_FIXTURE)
    pytester.makepyfile(test_plain=TESTS)
    result = _run(pytester, "--parallel-threads=4")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # although both tests passed
    result.stdout.fnmatch_lines([
        "0 test(s) ran in 4 threads; 0 in one thread by their thread_unsafe mark; "
        "2 in one thread without a written reason",
        "*one thread, NO REASON: test_plain.py::test_one: uses thread-unsafe fixture*",
        "BELOW THE FLOOR*no test ran in threads; 2 test(s) ran in one thread without*",
    ])


def test_a_mark_with_its_reason_is_allowed_one_without_is_not(pytester):
    pytester.makepyfile(test_marked=TESTS + '''
@pytest.mark.thread_unsafe(reason="writes one shared file")
def test_marked():
    pass

@pytest.mark.thread_unsafe
def test_marked_without_reason():
    pass
''')
    result = _run(pytester, "--parallel-threads=2")
    result.stdout.fnmatch_lines([
        "2 test(s) ran in 2 threads; 1 in one thread by their thread_unsafe mark; "
        "1 in one thread without a written reason",
        "*one thread (marked): test_marked.py::test_marked: writes one shared file",
        "*one thread, NO REASON: test_marked.py::test_marked_without_reason*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_one_thread_configured_fails_the_floor(pytester):
    pytester.makepyfile(test_plain=TESTS)
    result = _run(pytester, "--parallel-threads=1")
    result.stdout.fnmatch_lines(["BELOW THE FLOOR*configured for 1 thread(s)*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED
