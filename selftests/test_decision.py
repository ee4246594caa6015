"""``nvx-ft decide``: one release's Free Threading classifier from synthetic evidence
folders - every platform's gate.json written by the gate's own report writer, the
fileset check's JSON, the ThreadSanitizer evidence written by ``nvx-ft sanitize``'s
writer - and each way the evidence can fall short: a cell without a gate run, a failed
gate, an inconclusive check, TSan not clean, a contract that is not documented, evidence
of another release (refused, exit 3)."""

from __future__ import annotations

import datetime as dt
import json
import os
import types
from pathlib import Path

import pytest
import fake_wheels
from fake_wheels import make_wheel

from nvx_ft import cli, errors, interpreters, settings
from nvx_ft.decision import evidence as evidence_mod
from nvx_ft.decision import report as decision_report
from nvx_ft.gate import contract, report
from nvx_ft.gate.context import Check, Target
from nvx_ft.gate.steps import CHECKS
from nvx_ft.gate.wheel import GateWheel
from nvx_ft.mutants import sanitize
from nvx_ft.release import fileset
from nvx_ft.release.manifest import load_manifest

pytestmark = [pytest.mark.harness,
              pytest.mark.thread_unsafe(reason="writes evidence folders, runs the CLI")]

FT = "Programming Language :: Python :: Free Threading :: "
FT314 = interpreters.Interpreter("3.14t", "/opt/py/bin/python3.14t", "3.14.7", True, "test")
PLATFORM_TAGS = {"macos-arm64": "macosx_11_0_arm64", "linux-x86_64": "manylinux_2_28_x86_64",
                 "linux-aarch64": "manylinux_2_28_aarch64",
                 "musllinux-x86_64": "musllinux_1_2_x86_64",
                 "musllinux-aarch64": "musllinux_1_2_aarch64",
                 "windows-amd64": "win_amd64", "windows-arm64": "win_arm64"}
PYPY_PLATFORMS = ("macos-arm64", "linux-x86_64", "linux-aarch64", "windows-amd64")


def wheel_name(python: str, abi: str, platform: str, version: str = fake_wheels.VERSION) -> str:
    return f"autobahn-{version}-{python}-{abi}-{PLATFORM_TAGS[platform]}.whl"


def release_names(version: str = fake_wheels.VERSION) -> list[str]:
    """Every file of a release that ships cp314t everywhere (the manifest's 26.10+ line)."""
    names = [f"autobahn-{version}.tar.gz"]
    for plat in PLATFORM_TAGS:
        names += [wheel_name(f"cp3{m}", f"cp3{m}", plat, version) for m in (11, 12, 13, 14)]
        names.append(wheel_name("cp314", "cp314t", plat, version))
        if plat in PYPY_PLATFORMS:
            names.append(wheel_name("pp311", "pypy311_pp73", plat, version))
    return names


def gate_run(root: Path, platform: str, classifiers: tuple[str, ...] = (), **statuses) -> Path:
    """gate.json (and gate.md, contract.md) of one platform's cp314t wheel, written by the
    gate's own report writer; every check passed but for ``statuses``."""
    (root / "dist").mkdir(parents=True, exist_ok=True)
    wheel = make_wheel(root / "dist", f"cp314-cp314t-{PLATFORM_TAGS[platform]}",
                       classifiers=classifiers)
    checks = [Check(n, statuses.get(n.replace("-", "_"), "passed"), 1.0, f"{n} summary")
              for n in CHECKS]
    out = root / f"release-gate-{platform}" / "gate" / "20261202T020000Z"
    out.mkdir(parents=True)
    report.write_reports(checks, Target("wheel", wheel.name, GateWheel.read(wheel),
                                        "wheel file"), FT314, None,
                         dt.datetime.now(dt.timezone.utc), out)
    return out / "gate.json"


def fileset_json(root: Path, names: list[str] | None = None, **kwargs) -> Path:
    kwargs.setdefault("claims_free_threading", True)
    rep = fileset.check(names or release_names(), load_manifest(), "dist", **kwargs)
    path = root / "release-gate-fileset" / "fileset.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rep.as_dict()), encoding="utf-8")
    return path


def tsan_json(root: Path, status: str = "passed", version: str = fake_wheels.VERSION,
              detail: str = "") -> Path:
    """sanitize.json as ``nvx-ft sanitize tsan --report-json`` writes it."""
    path = root / "release-gate-tsan" / "sanitize.json"
    args = types.SimpleNamespace(report_json=path, mode="tsan", source=None)
    rep = {"interpreter": "3.14.7 free-threading TSan", "problems": [], "mutants": [
        {"name": "control", "note": "", "killed_by": [], "results": {
            "stress": {"status": status, "seconds": 321.0, "detail": detail}}}]}
    sanitize._write_evidence(args, version, rep, 0 if status == "passed" else 1)
    return path


def contract_file(tmp_path: Path, sentences=contract.KEY_SENTENCES) -> Path:
    path = tmp_path / "docs" / "free-threading.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text("# Free-threading\n\n" + "\n\n".join(f"*{s}*" for s in sentences))
    return path


def full_release(root: Path, *, skip: tuple[str, ...] = (), **gates) -> Path:
    """Evidence of a release whose every check passed, but for the platforms in ``skip``
    (no gate.json) and ``gates`` (platform -> statuses of its gate)."""
    for plat in PLATFORM_TAGS:
        if plat not in skip:
            gate_run(root, plat, **gates.get(plat.replace("-", "_"), {}))
    fileset_json(root)
    tsan_json(root)
    return root


def decide(capsys, *args) -> tuple[int, dict, str]:
    """The CLI, end to end; returns the exit code, decision.json and the terminal text."""
    out = Path(args[0]).parent / "decision"
    rc = cli.main(["decide", *map(str, args), "--out", str(out)])
    captured = capsys.readouterr()
    data = json.loads((out / "decision.json").read_text()) if (out / "decision.json").exists() else {}
    return rc, data, captured.out + captured.err


def level(data: dict, lv: int) -> dict:
    return next(x for x in data["levels"] if x["level"] == lv)


def missing_text(data: dict, lv: int) -> str:
    return " | ".join(f"{i['check']} {i['status']} {i['summary']} {i['where']}"
                      for i in level(data, lv)["missing"])


# --------------------------------------------------------------------------- the rule


def test_every_platform_passing_tsan_clean_and_a_contract_is_stable(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts")
    rc, data, out = decide(capsys, ev, "--contract", contract_file(tmp_path), "--require",
                           "stable")
    assert rc == errors.EXIT_PASS, out
    assert (data["level"], data["classifier"]) == (3, FT + "3 - Stable")
    assert data["verdict"] == "pass" and not data["failures"]
    assert [c["status"] for c in data["cells"]] == ["passed"] * 7
    assert {c["id"] for c in data["cells"]} == {f"cp314t/{p}" for p in PLATFORM_TAGS}
    assert not level(data, 4)["shown"] and "loses updates" in missing_text(data, 4)
    assert "DECISION: autobahn 26.10.2: " + FT + "3 - Stable" in out
    md = (tmp_path / "decision" / "decision.md").read_text()
    assert "| `cp314t/windows-arm64` | present | ok |" in md and "3 - Stable | yes" in md


def test_without_a_contract_the_same_evidence_is_beta_and_says_what_is_missing(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts")
    rc, data, out = decide(capsys, ev, "--require", "stable")
    assert rc == errors.EXIT_BLOCKED and data["verdict"] == "not-passed"
    assert data["level"] == 2 and data["classifier"] == FT + "2 - Beta"
    assert [i["check"] for i in level(data, 3)["missing"]] == ["contract"]
    assert "--contract URL_OR_FILE" in missing_text(data, 3)
    # the default --require (some classifier) passes: nothing failed
    rc, data, _ = decide(capsys, ev)
    assert rc == errors.EXIT_PASS and data["level"] == 2


def test_a_missing_win_arm64_gate_caps_the_release_at_beta_and_names_the_cell(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts", skip=("windows-arm64",))
    rc, data, out = decide(capsys, ev, "--contract", contract_file(tmp_path), "--require",
                           "stable")
    assert rc == errors.EXIT_BLOCKED
    assert data["level"] == 2 and data["label"] == "2 - Beta"
    cell = next(c for c in data["cells"] if c["id"] == "cp314t/windows-arm64")
    assert cell["status"] == "no runtime evidence" and cell["level"] is None
    missing = level(data, 3)["missing"]
    assert [i["check"] for i in missing] == ["gate cp314t/windows-arm64"]
    assert "no runtime evidence" in missing[0]["summary"]
    assert "cp314t/windows-arm64" in out and "no runtime evidence" in out
    md = (tmp_path / "decision" / "decision.md").read_text()
    assert "**no runtime evidence**" in md


def test_a_failed_macos_gate_means_no_classifier(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts", macos_arm64={"stress": "failed"})
    rc, data, out = decide(capsys, ev, "--contract", contract_file(tmp_path))
    assert rc == errors.EXIT_FAIL and data["verdict"] == "fail"
    assert (data["level"], data["classifier"]) == (0, None)
    assert data["failures"] == ["cp314t/macos-arm64"]
    assert "a gate failed on cp314t/macos-arm64" in " ".join(data["reasons"])
    assert "do not ship" in out
    assert not any(lv["shown"] for lv in data["levels"])


def test_an_inconclusive_check_lowers_the_release_to_the_last_complete_level(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts", linux_aarch64={"protocol": "not-run"})
    rc, data, _ = decide(capsys, ev, "--contract", contract_file(tmp_path))
    assert rc == errors.EXIT_PASS and data["level"] == 1
    cell = next(c for c in data["cells"] if c["id"] == "cp314t/linux-aarch64")
    assert cell["status"] == "lowered" and "protocol" in cell["summary"]
    assert "gate cp314t/linux-aarch64" in missing_text(data, 2)


def test_tsan_not_clean_fails_and_stops_below_stable(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts")
    tsan_json(ev, status="failed", detail="data race touching NVX: nvx_xormask_process")
    rc, data, _ = decide(capsys, ev, "--contract", contract_file(tmp_path))
    assert rc == errors.EXIT_FAIL and data["level"] == 2
    assert "tsan failed" in data["failures"]
    assert "nvx_xormask_process" in missing_text(data, 3)


def test_no_tsan_or_fileset_evidence_is_named_missing(tmp_path, capsys):
    root = tmp_path / "artifacts"
    for plat in PLATFORM_TAGS:
        gate_run(root, plat)
    rc, data, _ = decide(capsys, root, "--contract", contract_file(tmp_path), "--require",
                         "stable")
    assert rc == errors.EXIT_BLOCKED and data["level"] == 2
    assert [i["check"] for i in level(data, 3)["missing"]] == ["tsan", "fileset"]
    assert all(c["fileset"] is None for c in data["cells"])


def test_a_contract_file_without_the_key_sentences_is_not_documented(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts")
    partial = contract_file(tmp_path, contract.KEY_SENTENCES[:2])
    rc, data, _ = decide(capsys, ev, "--contract", partial, "--require", "stable")
    assert rc == errors.EXIT_BLOCKED and data["level"] == 2
    assert "does not state" in missing_text(data, 3)
    assert contract.KEY_SENTENCES[2] in missing_text(data, 3)
    rc, data, _ = decide(capsys, ev, "--contract", "https://autobahn.readthedocs.io/ft.html")
    assert data["level"] == 3 and "recorded as given" in " ".join(
        i["summary"] for i in level(data, 3)["items"])
    rc, _, out = decide(capsys, ev, "--contract", tmp_path / "nowhere.md")
    assert rc == errors.EXIT_USAGE and "no such file" in out


def test_wheels_declaring_stable_pass_only_when_the_release_shows_stable(tmp_path, capsys):
    """Each gate run fails its classifier check for a wheel declaring Stable (one run
    shows at most Beta); the decision compares the declaration release-wide instead."""
    ev = tmp_path / "artifacts"
    stable = (FT + "3 - Stable",)
    for plat in PLATFORM_TAGS:
        gate_run(ev, plat, classifiers=stable)
    gate = json.loads(next(ev.rglob("gate.json")).read_text())
    assert gate["verdict"] == "fail"  # the classifier check: over-claims for one run
    fileset_json(ev, claims_free_threading=None,
                 classifiers={stable[0]: [n for n in release_names() if "cp314t" in n]})
    tsan_json(ev)
    rc, data, _ = decide(capsys, ev, "--contract", contract_file(tmp_path))
    assert rc == errors.EXIT_PASS and data["level"] == 3
    assert data["declared"]["verdict"] == "matches"
    rc, data, out = decide(capsys, ev)  # no contract: Beta, and the wheels over-claim
    assert rc == errors.EXIT_FAIL and data["level"] == 2
    assert data["declared"]["verdict"] == "over-claims" and "over-claims" in " ".join(
        data["failures"])


# --------------------------------------------------------------------------- refused


def test_evidence_of_another_version_is_refused(tmp_path, capsys, monkeypatch):
    ev = full_release(tmp_path / "artifacts", skip=("windows-arm64",))
    monkeypatch.setattr(fake_wheels, "VERSION", "26.11.1")
    gate_run(ev / "later", "windows-arm64")
    rc, data, out = decide(capsys, ev)
    assert rc == errors.EXIT_USAGE and not data
    assert "evidence of autobahn 26.11.1, not of autobahn 26.10.2" in out
    assert "later" in out  # names the file


def test_tsan_evidence_of_another_version_is_refused(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts")
    tsan_json(ev, version="26.11.1")
    rc, _, out = decide(capsys, ev)
    assert rc == errors.EXIT_USAGE and "ThreadSanitizer evidence of autobahn 26.11.1" in out


def test_a_gated_wheel_that_is_not_the_releases_is_refused(tmp_path, capsys):
    ev = full_release(tmp_path / "artifacts")
    names = [n for n in release_names() if "cp314t-win_arm64" not in n]
    fileset_json(ev, names)  # the release's file list has no such wheel
    rc, _, out = decide(capsys, ev)
    assert rc == errors.EXIT_USAGE and "evidence of another wheel" in out
    # by content: --dist holds the release, whose file differs from the one gated
    ev2 = full_release(tmp_path / "second")
    dist = tmp_path / "release-dist"
    dist.mkdir()
    for whl in (ev2 / "dist").glob("*.whl"):
        (dist / whl.name).write_bytes(whl.read_bytes())
    (dist / wheel_name("cp314", "cp314t", "linux-x86_64")).write_bytes(b"rebuilt")
    rc, _, out = decide(capsys, ev2, "--dist", dist)
    assert rc == errors.EXIT_USAGE and "sha256" in out and "another wheel" in out


@pytest.mark.parametrize("schema, ok", [("nvx-ft.gate/2", True), ("nvx-ft.gate/9", False)])
def test_gate_json_of_schema_1_and_2_is_read_any_other_refused(tmp_path, capsys, schema, ok):
    ev = full_release(tmp_path / "artifacts")
    path = next(ev.rglob("gate.json"))
    data = json.loads(path.read_text())
    data.update(schema=schema, findings=[{"id": "example", "severity": "note"}])
    path.write_text(json.dumps(data))
    rc, _, out = decide(capsys, ev)
    if ok:
        assert rc == errors.EXIT_PASS, out
    else:
        assert rc == errors.EXIT_USAGE and "'nvx-ft.gate/9'" in out and str(path) in out


# --------------------------------------------------------------------------- outputs


def test_decision_json_matches_its_schema_and_goes_to_the_step_summary(tmp_path, capsys,
                                                                       monkeypatch):
    jsonschema = pytest.importorskip("jsonschema") if settings.under_gate() else \
        __import__("jsonschema")
    ev = full_release(tmp_path / "artifacts", skip=("musllinux-aarch64",))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    rc, data, _ = decide(capsys, ev)
    schema = json.loads(decision_report.SCHEMA_FILE.read_text())
    jsonschema.validate(data, schema)
    bad = dict(data, level=7)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert summary.read_text().startswith("# nvx-ft release decision: autobahn 26.10.2")


def test_the_contract_states_only_what_the_evidence_shows(tmp_path, capsys):
    gate = gate_run(tmp_path, "linux-x86_64")
    md = (gate.parent / "contract.md").read_text()
    assert contract.missing_sentences(md) == []
    assert "GIL disabled" in md
    failed = gate_run(tmp_path / "b", "linux-x86_64", stress="failed")
    md = (failed.parent / "contract.md").read_text()
    assert contract.missing_sentences(md) == list(contract.KEY_SENTENCES[:2])
    assert "stress failed on" in md
    # the decision's contract.md, over every cell, is a document that passes --contract
    ev = full_release(tmp_path / "artifacts")
    decide(capsys, ev)
    rc, data, _ = decide(capsys, ev, "--contract", tmp_path / "decision" / "contract.md")
    assert rc == errors.EXIT_PASS and data["level"] == 3


def test_sanitize_writes_not_checked_evidence_when_blocked(tmp_path, capsys, monkeypatch):
    def no_tsan():
        raise errors.Blocked("no ThreadSanitizer CPython found (NVX_FT_PYTHON_TSAN)")
    monkeypatch.setattr(interpreters, "find_tsan", no_tsan)
    out = tmp_path / "sanitize.json"
    rc = cli.main(["sanitize", "tsan", "--autobahn", fake_wheels.VERSION,
                   "--report-json", str(out)])
    assert rc == errors.EXIT_BLOCKED
    data = json.loads(out.read_text())
    assert (data["schema"], data["verdict"], data["exit_code"]) == (
        "nvx-ft.sanitize/1", "not-checked", errors.EXIT_BLOCKED)
    assert data["autobahn"]["version"] == fake_wheels.VERSION
    assert "NVX_FT_PYTHON_TSAN" in data["problems"][0]
    assert evidence_mod.load_json(out, evidence_mod.SANITIZE_SCHEMAS)["mode"] == "tsan"


def test_end_to_end_as_a_ci_step_runs_it(tmp_path):
    """``python -m nvx_ft decide`` in its own process, as release-gate.yml's decide job:
    the exit code, the terminal's verdict, the step summary, the three reports."""
    import subprocess
    import sys
    ev = full_release(tmp_path / "evidence", skip=("windows-arm64",))
    dist = ev / "dist"
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    out = tmp_path / "reports"
    cmd = [sys.executable, "-m", "nvx_ft", "decide", str(ev), "--dist", str(dist),
           "--contract", str(contract_file(tmp_path)), "--out", str(out)]
    proc = subprocess.run(cmd + ["--require", "stable"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == errors.EXIT_BLOCKED, proc.stdout + proc.stderr
    assert "VERDICT: NOT-PASSED -> exit 2" in proc.stdout
    assert "cp314t/windows-arm64" in proc.stdout and "no runtime evidence" in proc.stdout
    assert {p.name for p in out.iterdir()} == {"decision.json", "decision.md", "contract.md"}
    assert "2 - Beta" in summary.read_text()
    proc = subprocess.run(cmd + ["--require", "beta"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == errors.EXIT_PASS, proc.stdout + proc.stderr
