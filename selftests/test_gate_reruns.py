"""The gate's suite steps on race checks (issue 19): an inconclusive check is rerun
alone with a larger overlap budget before it is called inconclusive; one whose need no
run on this machine can meet is not rerun; a check that passed only by luck of timing is
visible through its margin; a suite that shrank is not run, never passed."""

from __future__ import annotations

import textwrap

import pytest
from stand_in_gate import check_named, run_steps

from nvx_ft.gate import reruns
from nvx_ft.overlap import UNREACHABLE

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs the gate's suite steps in subprocesses"),
]

# A stand-in stress suite: its race checks read the overlap budget the gate gives them
# (--nvx-overlap-budget, nvx-ft's pytest option) and report a need, as stress/ does.
STRESS = '''
import pytest

NEED = {"interleaved_calls": 100, "parallel_seconds": 0.1, "why": ""}


def race_run(request, interleaved, parallel):
    machine = {"cpus": 2, "cpu_count": 2, "load": 0.0, "gil_enabled": False,
               "free_threaded_build": True}
    overlap = {"unit": "calls", "threads": 4, "calls": 1000, "wall_seconds": 1.0,
               "overlap_seconds": 0.5, "overlap_pairs": 10, "interleaved_calls": interleaved,
               "max_inside": 4, "cpu_seconds": 1.0, "parallel_seconds": parallel,
               "machine": machine, "rounds": 1}
    request.node.user_properties.append(("nvx_hammer", {"overlap": overlap, "need": NEED,
                                                        "verdict": "conclusive",
                                                        "wall": 4.0, "budget": 4.0}))


@pytest.mark.parametrize("n", range({conclusive}))
def test_conclusive(request, n):
    race_run(request, 400, 0.5 + n)


def test_needs_more_time(request):
    budget = request.config.getoption("--nvx-overlap-budget")
    if budget < 10:
        pytest.skip("INCONCLUSIVE: needs more time: 0.04s of 0.1s parallel")
    race_run(request, 300, 0.103)  # met, just: the worst margin


def test_{never}(request):
    pytest.skip("INCONCLUSIVE: x: 0.000s of 0.1s of threads running in parallel "
                "(1 CPU usable: {unreachable})")
'''


def stress_checkout(tmp_path, *, conclusive=30, never="never_on_one_cpu"):
    checkout = tmp_path / "checkout"
    (checkout / "stress").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text(
        "[project]\nname = 'stand-in-checkout'\n\n[tool.nvx-ft.min-tests]\nstress = 30\n")
    source = STRESS.replace("{conclusive}", str(conclusive)).replace("{never}", never)
    source = source.replace("{unreachable}", UNREACHABLE)
    (checkout / "stress" / "test_races.py").write_text(textwrap.dedent(source))
    return checkout


def test_an_inconclusive_check_is_rerun_alone_with_more_time_and_an_unreachable_one_is_not(
        tmp_path, monkeypatch):
    data = run_steps(tmp_path, monkeypatch, stress_checkout(tmp_path), ("stress",))
    stress = check_named(data, "stress")
    assert len(stress["reruns"]) == 1  # 15 s was enough; 60 s never asked for
    rerun = stress["reruns"][0]
    assert rerun["overlap_budget_s"] == 15.0
    assert rerun["tests"] == {"stress/test_races.py::test_needs_more_time": "passed"}
    # the unreachable check stays inconclusive, and the check with it: exit 2, not a pass
    assert stress["status"] == "inconclusive" and stress["counts"]["inconclusive"] == 1
    assert "one CPU usable" in stress["summary"] or "even with reruns" in stress["summary"]
    assert data["verdict"] == "not-passed" and data["exit_code"] == 2
    # its margin: the worst race check named, 0.103 s of 0.1 s
    worst = stress["margins"]["worst"][0]
    assert worst["nodeid"].endswith("test_needs_more_time") and worst["margin"] == 1.03
    assert "worst margin x1.03" in stress["summary"]
    assert stress["margins"]["checks"] == 31


def test_reruns_that_reach_every_need_make_the_step_pass(tmp_path, monkeypatch):
    checkout = stress_checkout(tmp_path, never="conclusive_too")
    (checkout / "stress" / "test_races.py").write_text(
        (checkout / "stress" / "test_races.py").read_text().replace(
            "def test_conclusive_too(request):\n    pytest.skip(",
            "def test_conclusive_too(request):\n    return\n    pytest.skip("))
    data = run_steps(tmp_path, monkeypatch, checkout, ("stress",))
    stress = check_named(data, "stress")
    assert stress["status"] == "passed", stress["summary"]
    assert stress["counts"]["passed"] == 32 and not stress["counts"].get("inconclusive")


def test_a_suite_that_shrank_below_its_minimum_is_not_run(tmp_path, monkeypatch):
    data = run_steps(tmp_path, monkeypatch, stress_checkout(tmp_path, conclusive=3),
                     ("stress",))
    stress = check_named(data, "stress")
    assert stress["status"] == "not-run", stress["summary"]
    assert "fewer than the 30 this suite must run" in stress["summary"]
    assert data["verdict"] == "not-passed" and data["exit_code"] == 2


def test_reruns_fit_the_time_left_or_are_not_made():
    """The planner gives a larger budget only when the step's bound leaves room."""
    import time

    from nvx_ft.suites import SuiteResult, TestOutcome

    pending = SuiteResult("stress", "inconclusive", {}, 1.0, [], tests=[
        TestOutcome(f"t{i}", "inconclusive", 5.0, "INCONCLUSIVE: x") for i in range(10)])
    roomy = reruns.Planner((4.0, 15.0, 60.0), time.monotonic() + 600)
    assert roomy.next(pending).budget == 15.0
    tight = reruns.Planner((4.0, 15.0, 60.0), time.monotonic() + 60)
    assert tight.next(pending) is None  # 10 checks x >= 6 s would not fit in 60 * 0.6 s
    failed = SuiteResult("stress", "failed", {}, 1.0, [("t0", "race")], tests=pending.tests)
    assert reruns.Planner((4.0, 15.0), time.monotonic() + 600).next(failed) is None


def test_the_margin_is_projected_onto_the_budget_not_the_ratio_at_the_stop():
    """Rounds stop once the need is met, so the ratio at the stop is always about 1: a
    need met in a tenth of the budget has ten times the margin of one met at its end."""
    def run(parallel, wall, budget=4.0):
        machine = {"cpus": 2, "cpu_count": 2, "load": 0.0, "gil_enabled": False,
                   "free_threaded_build": True}
        return {"need": {"interleaved_calls": 100, "parallel_seconds": 0.1},
                "wall": wall, "budget": budget,
                "overlap": {"unit": "calls", "threads": 4, "calls": 10, "wall_seconds": wall,
                            "overlap_seconds": 0.1, "overlap_pairs": 1,
                            "interleaved_calls": 1000, "max_inside": 4, "cpu_seconds": 1.0,
                            "parallel_seconds": parallel, "machine": machine, "rounds": 1}}
    quick, _ = reruns.run_margin(run(0.102, 0.4))
    late, figure = reruns.run_margin(run(0.102, 3.9))
    missed, _ = reruns.run_margin(run(0.05, 4.0))
    assert quick == pytest.approx(10.2) and late == pytest.approx(1.046, abs=0.001)
    assert "in 3.9s of its 4s budget" in figure
    assert missed == pytest.approx(0.5)
