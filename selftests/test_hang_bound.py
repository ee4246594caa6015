"""Every pytest run with nvx-ft's plugin bounds each test (``nvx_ft.hang_bound``): plain
``pytest`` on an NVX build that loops for ever ends with the test named and its stack; a
hang in Python fails just that test; the suites' own markers hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nvx_ft import hang_bound, mutants, paths, settings
from nvx_ft.hang_guard import HangGuard

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs pytest subprocesses bounded in time"),
]

ENDLESS = "xor-scalar-narrow-counter"  # corpus.toml: "hang / endless loop"


def _scrubbed_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", hang_bound.ENV, settings.CHILD,
                        "PYTEST_TIMEOUT", "PYTEST_ADDOPTS")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def endless_build() -> Path:
    """``nvx-ft build --patch <the endless-loop mutant>``, as a user would (cached)."""
    mutant = next(m for m in mutants.corpus() if m.name == ENDLESS)
    assert mutant.category == "hang / endless loop"
    out = subprocess.run([sys.executable, "-m", "nvx_ft.cli", "build", "--patch", ENDLESS,
                          "--json"], capture_output=True, text=True, timeout=600,
                         env=_scrubbed_env())
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    return Path(json.loads(out.stdout)["path"])


def test_plain_pytest_on_an_endless_loop_build_fails_named_with_its_stack(endless_build):
    """The README's entry point, not the gate: ``pytest tests`` with NVX stuck in C."""
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_xor_differential.py", "-k", "test_one_shot",
         "-p", "no:cacheprovider", "--nvx-test-timeout=3"],
        cwd=paths.ROOT, capture_output=True, text=True, timeout=180,
        env=_scrubbed_env(PYTHONPATH=str(endless_build)))
    elapsed = time.monotonic() - started
    text = out.stdout + out.stderr
    assert out.returncode == 1, text[-3000:]
    assert str(endless_build) in text  # the header names the build under test
    assert "nvx-ft: TIMEOUT tests/test_xor_differential.py::test_one_shot[" in text, text[-3000:]
    assert "FAILED tests/test_xor_differential.py::test_one_shot[" in text
    assert 'test_xor_differential.py", line' in text and "in test_one_shot" in text  # stack
    assert "reproduce: " in text and "--nvx-seed=" in text
    assert elapsed < 120, elapsed  # 3 s bound + 2 s grace, plus start-up and collection


def test_a_python_hang_fails_only_that_test_and_the_run_goes_on(pytester):
    pytester.makepyfile(test_hang="""
        import threading

        def test_stuck():
            threading.Event().wait()

        def test_after():
            assert True
    """)
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--nvx-test-timeout=2", "-p", "no:cacheprovider")
    assert time.monotonic() - started < 60
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*nvx-ft test bound: 2s per test*",
                                 "*Timeout (>2.0s) from pytest-timeout*",
                                 "FAILED test_hang.py::test_stuck*"])


def test_a_tests_own_timeout_marker_holds(pytester):
    """stress/ and protocol/ set their own bounds; the default does not replace them."""
    pytester.makepyfile(test_marked="""
        import time
        import pytest

        @pytest.mark.timeout(30)
        def test_longer_than_the_default_but_marked():
            time.sleep(3)

        @pytest.mark.timeout(1)
        def test_stricter_marker():
            time.sleep(10)
    """)
    result = pytester.runpytest_subprocess("--nvx-test-timeout=2", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*Timeout (>1.0s)*", "FAILED *test_stricter_marker*"])


@pytest.mark.parametrize("env, header", [
    ({hang_bound.ENV: "7"}, "nvx-ft test bound: 7s per test"),
    ({hang_bound.ENV: "0"}, "nvx-ft test bound: off"),
    ({settings.CHILD: settings.Child(suite={"test_timeout": 60}).encode()},
     "nvx-ft test bound: off"),  # nvx_ft.suites bounds it
    ({}, f"nvx-ft test bound: {hang_bound.DEFAULT:.0f}s per test"),
])
def test_the_bound_comes_from_the_option_the_env_or_the_default(pytester, monkeypatch, env,
                                                                header):
    for name in (hang_bound.ENV, settings.CHILD, "PYTEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{header}*"])


def test_nightly_intensity_gets_the_nightly_default(pytester, monkeypatch):
    monkeypatch.delenv(hang_bound.ENV, raising=False)
    monkeypatch.delenv(settings.CHILD, raising=False)
    pytester.makepyfile(test_ok="def test_ok():\n    pass\n")
    result = pytester.runpytest("--nvx-intensity=nightly", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*nvx-ft test bound: {hang_bound.NIGHTLY:.0f}s per test*"])


def test_watchdog_names_the_test_and_ends_the_process_only_when_still_armed():
    written, exits, timer = [], [], []
    backstop = HangGuard(arm=lambda s, exit, file: timer.append(s),
                         cancel=lambda: timer.append(None))
    dog = hang_bound.Watchdog(write=written.append, exit=exits.append,
                              dump=lambda: written.append("<every thread's stack>\n"),
                              guard=backstop)
    try:
        dog.arm("t.py::test_quick", 0.05)
        # behind the thread, faulthandler's timer a grace later (a GIL held in C)
        assert timer and timer[-1] > 0.05 + hang_bound.grace(0.05)
        dog.disarm()
        assert timer[-1] is None and backstop.nearest() is None
        time.sleep(2.5)  # well past bound + grace (2 s minimum)
        assert not written and not exits
        dog.arm("t.py::test_stuck", 0.05, "python -m pytest t.py::test_stuck")
        deadline = time.monotonic() + 10
        while not exits and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exits == [1]
        text = "".join(written)
        assert "TIMEOUT t.py::test_stuck" in text and "FAILED t.py::test_stuck - hung" in text
        assert "<every thread's stack>" in text
        assert "reproduce: python -m pytest t.py::test_stuck" in text
    finally:
        dog.stop()
