"""The differential suite can fail: run it end to end (pytester) against wrong targets.

Each bad target must make the suite fail with the implementation's name, Hypothesis's
minimal example and nvx-ft's reproduce command; the control target (our references
presented as a target) must pass the same files, so the failures are the bugs' doing.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITE = [str(ROOT / "tests" / "test_utf8_differential.py"),
         str(ROOT / "tests" / "test_xor_differential.py")]

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs pytest in a subprocess per test"),
]


def run_suite(pytester, target, *files):
    return pytester.runpytest_subprocess(
        *(files or SUITE), f"--nvx-target=nvx_ft.bad_targets:{target}",
        "-p", "no:cacheprovider", "-p", "no:randomly", "--hypothesis-seed=0",
        "--rootdir", str(ROOT), timeout=300,
    )


def test_control_target_passes(pytester):
    result = run_suite(pytester, "reference_target")
    result.assert_outcomes(failed=0, errors=0, passed=result.parseoutcomes()["passed"],
                           skipped=result.parseoutcomes().get("skipped", 0))
    assert result.ret == 0


@pytest.mark.parametrize(
    ("target", "impl", "kills", "survives"),
    [
        # every chunk restarting the mask phase: wrong from the 2nd chunk of a frame on
        ("xor_ignores_position", "bad/xor-ignores-running-position",
         "test_chunked_continues_mask_phase", "test_one_shot"),
        # error position reported one byte late: any invalid input shows it
        ("utf8_index_off_by_one", "bad/utf8-error-index-off-by-one",
         "test_one_shot", None),
        # pointer() not zeroed by reset(): only reuse across frames shows it
        ("xor_pointer_not_reset", "bad/xor-pointer-not-reset",
         "test_reset_and_reuse_across_frames", "test_chunked_continues_mask_phase"),
    ],
)
def test_bad_target_is_caught(pytester, target, impl, kills, survives):
    result = run_suite(pytester, target)
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert any(kills in line and impl in line for line in failed), failed
    if survives:  # the fault is specific: the checks that should not see it do not
        assert not any(f"::{survives}[{impl}]" in line for line in failed), failed
    assert "Failing test case" in out or "Falsifying example" in out  # Hypothesis's minimal input
    assert f"implementation {impl}" in out  # our message names the implementation
    assert "nvx-ft reproduce" in out and "--nvx-target=nvx_ft.bad_targets:" in out
