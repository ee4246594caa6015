"""``nvx-ft gate --repeat N`` (issue 19): the verdicts of N runs on one artefact side by
side with each run's worst margin; runs that disagree are exit 1, never hidden."""

from __future__ import annotations

import json
import sys

import pytest
from fake_wheels import make_wheel
from stand_in_gate import MY_TAG

from nvx_ft import cli, errors
from nvx_ft.gate import stability

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="builds venvs in subprocesses, changes the working directory"),
]


def gate_data(verdict: str, code: int, label: str, margin: float | None) -> dict:
    margins = {"checks": 40, "worst": [{"nodeid": "stress/test_churn.py::test_x[lib]",
                                        "margin": margin, "figure": f"{margin / 10:.3f}s of "
                                        "0.1s parallel", "outcome": "passed"}]} if margin else {}
    return {"verdict": verdict, "exit_code": code, "duration_s": 200.0,
            "recommendation": {"label": label},
            "checks": [{"name": "stress", "status": "passed" if code == 0 else "inconclusive",
                        "margins": margins, "reruns": [] if code == 0 else [{"rerun": 1}]},
                       {"name": "protocol", "status": "passed", "margins": {}, "reruns": []}]}


def test_runs_that_agree_keep_their_exit_code_and_name_the_worst_margin(tmp_path, capsys):
    runs = [gate_data("pass", 0, "2 - Beta", m) for m in (1.4, 1.07, 2.0)]
    rc = stability.run_repeated(3, lambda n: runs[n - 1], tmp_path, "autobahn wheel x.whl")
    assert rc == 0
    summary = json.loads((tmp_path / "stability.json").read_text())
    assert summary["agree"] and summary["worst_margin"]["margin"] == 1.07
    assert summary["worst_margin"]["run"] == 2
    md = (tmp_path / "stability.md").read_text()
    assert "Every run gave the same verdict" in md and "x1.07" in md
    assert md.count("| pass | 0 | 2 - Beta |") == 3


def test_runs_that_disagree_are_exit_1_and_say_so(tmp_path, capsys):
    runs = [gate_data("pass", 0, "2 - Beta", 1.03),
            gate_data("not-passed", 2, "1 - Unstable", 0.47)]
    rc = stability.run_repeated(2, lambda n: runs[n - 1], tmp_path, "autobahn sdist x")
    assert rc == errors.EXIT_FAIL
    md = (tmp_path / "stability.md").read_text()
    assert "CHANGED between runs" in md
    assert "pass (exit 0, 2 - Beta) x1" in md and "not-passed (exit 2, 1 - Unstable) x1" in md
    assert "inconclusive, 1, x0.47" in md


def test_repeat_through_the_cli_gates_the_same_wheel_each_time(tmp_path, capsys, monkeypatch):
    """End to end: two real gate runs on a wheel whose modules do not load - the same
    verdict twice, two report folders, one stability report."""
    wheel = make_wheel(tmp_path, str(MY_TAG), requires=())
    monkeypatch.chdir(tmp_path)
    rc = cli.main(["gate", "--wheel", wheel.name, "--python", sys.executable, "--repeat", "2",
                   "--reports", "reports"])
    assert rc == errors.EXIT_FAIL
    (folder,) = (tmp_path / "reports").iterdir()
    assert folder.name.endswith("-stability")
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["run1", "run2"]
    summary = json.loads((folder / "stability.json").read_text())
    assert summary["agree"] and [r["verdict"] for r in summary["rows"]] == ["fail", "fail"]
    assert all((folder / f"run{n}" / "gate.json").is_file() for n in (1, 2))
