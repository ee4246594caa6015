"""The gate's Findings (``nvx_ft.gate.findings``): the known upstream bugs of the build
under test are in gate.json, gate.md and the step summary, with the evidence the
correctness suite's pins gave - shown, no longer reproduced, or not shown by this run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from stand_in_gate import gate_with_a_stand_in_install

from nvx_ft.divergences import KNOWN_DIVERGENCES
from nvx_ft.gate import findings, recommend, report

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs the gate's pytest children"),
]

ROOT = Path(__file__).resolve().parents[1]
BUG = "utf8-rejection-not-sticky"


def _checkout(tmp_path: Path, pins: str | None = None) -> Path:
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'stand-in-checkout'\n")
    target = checkout / "tests" / "test_known_divergences.py"
    if pins is None:  # the real pins, against this venv's autobahn NVX
        shutil.copyfile(ROOT / "tests" / "test_known_divergences.py", target)
    else:
        target.write_text(pins)
    return checkout


def _schema_ok(data: dict) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(data, json.loads(report.SCHEMA_FILE.read_text()))


def test_a_known_bug_the_build_has_is_in_every_report(tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    data = gate_with_a_stand_in_install(tmp_path, monkeypatch, _checkout(tmp_path),
                                        run=("correctness",))
    assert data["schema"] == "nvx-ft.gate/2"
    _schema_ok(data)
    bug = next(f for f in data["findings"] if f["id"] == BUG)
    assert bug["shown"] is True and bug["status"] == "bug"
    assert f"test_divergence_still_reproduces[{BUG}] passed" in bug["evidence"]
    assert bug["reproduce"].startswith("python -c ") and bug["fix"] and bug["impact"]
    assert data["recommendation"]["open_bugs"] == [BUG]
    # only the divergences of autobahn's NVX, not of its pure-Python fallback
    assert {f["id"] for f in data["findings"]} == {
        d.id for d in KNOWN_DIVERGENCES if "autobahn-nvx" in d.targets}
    for md in ((tmp_path / "report" / "gate.md").read_text(), summary.read_text()):
        section = md[md.index("## Findings"):md.index("## Free-threading classifier")]
        assert f"### `{BUG}` (upstream bug): shown by this build" in section
        assert bug["reproduce"] in section and bug["reproduce_shows"] in section
        assert f"open upstream NVX bug(s) ({BUG}" in md[md.index("## Free-threading"):]
    line = findings.count_line(data["findings"])
    assert line.startswith(f"FINDINGS: 1 known upstream bug(s) ({BUG})") and "\n" not in line
    assert BUG in recommend.render_text(data["recommendation"])


def test_a_pin_that_fails_is_no_longer_reproduced_and_a_skipped_run_shows_nothing(
        tmp_path, monkeypatch):
    """Evidence, not the table: a build where the pin fails (a fixed NVX) is reported as
    such; without the correctness run nothing is shown, and the reason is named."""
    fixed = ("import pytest\n\n"
             f"@pytest.mark.parametrize('divergence', ['{BUG}'])\n"
             "def test_divergence_still_reproduces(divergence):\n"
             "    assert False, 'no longer reproduces: remove it from KNOWN_DIVERGENCES'\n")
    data = gate_with_a_stand_in_install(tmp_path / "fixed", monkeypatch,
                                        _checkout(tmp_path / "fixed", fixed),
                                        run=("correctness",))
    bug = next(f for f in data["findings"] if f["id"] == BUG)
    assert bug["shown"] is False and "failed" in bug["evidence"]
    assert data["recommendation"]["open_bugs"] == []
    assert "no longer reproduced (" in findings.count_line(data["findings"])

    data = gate_with_a_stand_in_install(tmp_path / "skipped", monkeypatch,
                                        _checkout(tmp_path / "skipped"), run=())
    _schema_ok(data)
    assert all(f["shown"] is None for f in data["findings"])
    bug = next(f for f in data["findings"] if f["id"] == BUG)
    assert bug["evidence"].startswith("not shown by this run") and "correctness not-run" in \
        bug["evidence"]
    assert "not shown by this run" in (tmp_path / "skipped" / "report" / "gate.md").read_text()
