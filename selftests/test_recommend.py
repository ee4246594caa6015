"""The gate's Free Threading classifier recommendation (``nvx_ft.gate.recommend``): the
rule on synthetic gate results of each kind, and the ``classifier`` check on fixture
wheels that declare more, less or nothing."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import pytest
from fake_wheels import make_wheel

from nvx_ft import errors, interpreters
from nvx_ft.gate import recommend, report
from nvx_ft.gate.context import Check, Target
from nvx_ft.gate.steps import CHECKS
from nvx_ft.gate.wheel import GateWheel

pytestmark = [pytest.mark.harness]

FT = "Programming Language :: Python :: Free Threading :: "
FT314 = interpreters.Interpreter("3.14t", "/opt/py/bin/python3.14t", "3.14.7", True, "test")


def checks(**statuses) -> list[dict]:
    """Every gate check passed, but for ``statuses`` (``gil_guard="failed"``; a value
    ``None`` drops the check, as an older gate without it)."""
    out = []
    for name in CHECKS:
        status = statuses.get(name.replace("-", "_"), "passed")
        if status is not None:
            out.append({"name": name, "status": status, "summary": f"{name} {status}",
                        "failures": []})
    return out


def reasons(rec) -> str:
    return " | ".join(rec["reasons"])


# --------------------------------------------------------------------------- the rule


def test_everything_passed_on_314t_is_beta_stable_not_shown_resilient_never():
    rec = recommend.recommend(checks(), free_threaded=True)
    assert (rec["level"], rec["label"]) == (2, "2 - Beta")
    assert rec["classifier"] == FT + "2 - Beta"
    shown = {lv["label"]: lv["shown"] for lv in rec["levels"]}
    assert shown == {"1 - Unstable": True, "2 - Beta": True, "3 - Stable": False,
                     "4 - Resilient": False}
    assert "not 3 - Stable" in reasons(rec) and "not shown by this run" in reasons(rec)
    stable = rec["levels"][2]
    assert {i["check"]: i["status"] for i in stable["items"]} == {"tsan": "not-shown",
                                                                  "platforms": "not-shown"}
    resilient = rec["levels"][3]["items"][0]
    assert "loses updates" in resilient["summary"] and "stress/README.md" in resilient["summary"]
    assert rec["rule"] == recommend.RULE


@pytest.mark.parametrize("statuses, needle", [
    ({"gil_guard": "failed"}, "re-enabled the GIL"),
    ({"correctness": "failed"}, "the gate fails (correctness failed)"),
    ({"stress": "crashed"}, "the gate fails (stress crashed)"),
    ({"protocol": "timeout"}, "the gate fails (protocol timeout)"),
    ({"benchmark_smoke": "failed"}, "the gate fails (benchmark-smoke failed)"),
    ({"install": "failed", "static": "not-run", "gil_guard": "not-run",
      "correctness": "not-run", "stress": "not-run", "protocol": "not-run",
      "benchmark_smoke": "not-run"}, "the gate fails (install failed)"),
])
def test_a_failing_gate_or_a_gil_re_enabled_supports_no_classifier(statuses, needle):
    rec = recommend.recommend(checks(**statuses), free_threaded=True)
    assert (rec["level"], rec["label"], rec["classifier"]) == (0, "none", None)
    assert needle in reasons(rec) and "do not ship" in reasons(rec)
    assert not any(lv["shown"] for lv in rec["levels"])


def test_a_gil_interpreter_shows_nothing_about_free_threading():
    rec = recommend.recommend(checks(), free_threaded=False)
    assert rec["level"] == 0 and "not on a free-threaded CPython" in reasons(rec)


@pytest.mark.parametrize("statuses, level, needle", [
    ({"stress": "not-run"}, 1, "not 2 - Beta: stress: not run (stress not-run)"),
    ({"protocol": "not-run"}, 1, "protocol: not run"),
    ({"protocol": None}, 1, "protocol: absent from this run"),  # a gate without the step
    ({"correctness": "not-run"}, 0, "not 1 - Unstable: correctness: not run"),
    ({"static": "not-run"}, 0, "static: not run"),
])
def test_a_check_not_run_lowers_to_the_last_complete_level_and_says_why(statuses, level,
                                                                        needle):
    rec = recommend.recommend(checks(**statuses), free_threaded=True)
    assert rec["level"] == level and needle in reasons(rec), reasons(rec)


def test_an_inconclusive_stress_check_lowers_to_unstable_not_to_none():
    cs = checks(stress="failed")
    stress = next(c for c in cs if c["name"] == "stress")
    stress["failures"] = [{"nodeid": "stress/test_mixed_work.py::test_mixed[utf8]",
                           "message": "nvx_ft.overlap.Inconclusive: INCONCLUSIVE: mixed work "
                                      "did not reach the overlap it needs: ..."}]
    rec = recommend.recommend(cs, free_threaded=True)
    assert rec["level"] == 1 and "stress: inconclusive" in reasons(rec)
    assert "the gate fails" not in reasons(rec)
    # one real failure beside it is a failure
    stress["failures"].append({"nodeid": "stress/test_churn.py::test_churn",
                               "message": "AssertionError: pointer() 12 != 16"})
    assert recommend.recommend(cs, free_threaded=True)["level"] == 0


def test_benchmark_smoke_not_run_lowers_nothing_but_is_named():
    rec = recommend.recommend(checks(benchmark_smoke="not-run"), free_threaded=True)
    assert rec["level"] == 2 and "benchmark-smoke not run" in reasons(rec)


def test_stable_and_resilient_need_evidence_this_run_cannot_give():
    tsan = {"clean": True, "source": "nvx-ft sanitize tsan, nightly 2026-11-30"}
    plats = {"required": ["linux-x86_64", "linux-aarch64", "macos-arm64", "windows-amd64"],
             "passed": ["linux-x86_64", "linux-aarch64", "macos-arm64", "windows-amd64"],
             "source": "nightly-free-threaded"}
    rec = recommend.recommend(checks(), True, evidence={"tsan": tsan, "platforms": plats})
    assert rec["label"] == "3 - Stable" and "not 4 - Resilient" in reasons(rec)
    rec = recommend.recommend(checks(), True, evidence={
        "tsan": tsan, "platforms": plats,
        "sharing_safe": {"documented": True, "source": "a future NVX's contract"}})
    assert rec["label"] == "4 - Resilient"
    # a TSan report or a platform short keeps it at Beta, and says which
    rec = recommend.recommend(checks(), True, evidence={"tsan": {"clean": False},
                                                        "platforms": plats})
    assert rec["label"] == "2 - Beta" and "ThreadSanitizer NOT clean" in reasons(rec)
    short = {**plats, "passed": plats["passed"][:3]}
    rec = recommend.recommend(checks(), True, evidence={"tsan": tsan, "platforms": short})
    assert rec["label"] == "2 - Beta" and "not passing on windows-amd64" in reasons(rec)
    # outside evidence never lifts a run whose own checks fall short
    rec = recommend.recommend(checks(stress="not-run"), True,
                              evidence={"tsan": tsan, "platforms": plats})
    assert rec["label"] == "1 - Unstable"


@pytest.mark.parametrize("declared, level, status, verdict, needle", [
    ([FT + "3 - Stable"], 2, "failed", "over-claims",
     "declares '3 - Stable' but this run's evidence supports 2 - Beta"),
    ([FT + "1 - Unstable"], 0, "failed", "over-claims", "supports no classifier"),
    ([FT + "2 - Beta"], 2, "passed", "matches", "as the evidence supports"),
    ([FT + "1 - Unstable"], 2, "passed", "under-claims", "note:"),
    ([], 1, "passed", "none-declared", "note: the wheel declares no Free Threading"),
    ([FT + "5 - Immortal"], 2, "failed", "unknown", "unknown Free Threading classifier"),
])
def test_the_declared_classifier_against_the_evidence(declared, level, status, verdict,
                                                      needle):
    rec = {"level": level, "label": recommend.LABELS.get(level, "none"),
           "reasons": ["why"]}
    got = recommend.compare(rec, declared)
    assert (got["status"], got["verdict"]) == (status, verdict)
    assert needle in got["summary"], got["summary"]


def test_level_of_reads_the_classifier_or_its_label():
    assert recommend.level_of(FT + "3 - Stable") == 3
    assert recommend.level_of("2 - Beta") == 2
    assert recommend.level_of(FT + "2 - beta") is None


# --------------------------------------------------------------------------- in the reports


def _reports(tmp_path, classifiers, statuses=None):
    wheel = GateWheel.read(make_wheel(tmp_path, "cp314-cp314t-manylinux_2_28_x86_64",
                                      classifiers=classifiers))
    cs = [Check(c["name"], c["status"], 1.0, c["summary"])
          for c in checks(**(statuses or {}))]
    out = tmp_path / "report"
    out.mkdir()
    data = report.write_reports(cs, Target("wheel", wheel.path.name, wheel, "wheel file"),
                                FT314, "pip", dt.datetime.now(dt.timezone.utc), out)
    return data, out


def _validate(data):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(data, json.loads(report.SCHEMA_FILE.read_text()))


def test_a_wheel_that_over_claims_fails_the_classifier_check(tmp_path):
    """A fixture wheel declaring 'Free Threading :: 3 - Stable', on a gate run where every
    check passed: the evidence supports Beta, so the gate fails and says why."""
    data, out = _reports(tmp_path, (FT + "3 - Stable",))
    _validate(data)
    assert data["verdict"] == "fail" and data["exit_code"] == errors.EXIT_FAIL
    assert [c["name"] for c in data["checks"]] == [*CHECKS, "classifier"]
    check = data["checks"][-1]
    assert check["status"] == "failed"
    assert "declares '3 - Stable' but this run's evidence supports 2 - Beta" in check["summary"]
    assert "not shown by this run" in check["summary"]
    rec = data["recommendation"]
    assert rec["label"] == "2 - Beta" and rec["declared"]["verdict"] == "over-claims"
    assert rec["declared"]["declared"] == [FT + "3 - Stable"]
    md = (out / "gate.md").read_text()
    assert "# nvx-ft release gate: FAIL" in md
    tail = md[md.index("## Free-threading classifier: 2 - Beta"):]
    assert "| 3 - Stable | no |" in tail and "**FAILED**" in tail and tail.rstrip().endswith(
        recommend.RULE)
    junit = ET.parse(out / "gate.junit.xml").getroot().find("testsuite[@name='classifier']")
    assert junit is not None and junit.get("failures") == "1"


def test_a_wheel_that_claims_less_or_nothing_passes_with_a_note(tmp_path):
    data, _ = _reports(tmp_path, (FT + "1 - Unstable",))
    assert data["verdict"] == "pass"
    assert data["checks"][-1]["summary"].startswith("note: the wheel declares '1 - Unstable'")
    (tmp_path / "none").mkdir()
    data, _ = _reports(tmp_path / "none", ())
    _validate(data)
    assert data["verdict"] == "pass" and data["recommendation"]["declared"]["verdict"] == \
        "none-declared"


def test_the_step_summary_ends_with_the_recommendation(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    data, _ = _reports(tmp_path, (), {"gil_guard": "failed"})
    text = summary.read_text()
    assert data["recommendation"]["label"] == "none"
    last = text[text.rindex("## "):]
    assert last.startswith("## Free-threading classifier: none")
    assert "do not ship the free-threaded wheel" in last and "re-enabled the GIL" in last


def test_the_terminal_shows_the_recommendation_and_the_evidence():
    rec, check = recommend.for_gate(checks(), True, [FT + "3 - Stable"])
    text = recommend.render_text(rec)
    assert text.splitlines()[0] == "RECOMMENDATION: " + FT + "2 - Beta"
    assert "  3 - Stable    not shown" in text and "wheel: the wheel declares '3 - Stable'" in text
    assert check["status"] == "failed"
    rec, check = recommend.for_gate(checks(), True, None)
    assert check["status"] == "not-run" and rec["declared"]["verdict"] == "unknown"
