"""``nvx-ft gate``: every bad input is one line and exit 3, a missing free-threaded
interpreter is exit 2 with the how-to, a venv that does not import the artefact fails the
install check, the three reports are written, and the protocol step reports the
checkout's protocol/ suite (or "not-run" where there is none)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_wheels import make_wheel
from packaging import tags as ptags
from stand_in_gate import gate_with_a_stand_in_install

from nvx_ft import cli, errors, interpreters, paths, settings
from nvx_ft.gate import inputs, report
from nvx_ft.gate.context import Budgets, Check, Target
from nvx_ft.gate.display import Display
from nvx_ft.gate.steps import CHECKS
from nvx_ft.gate.steps.gil_guard import gil_guard_outcome
from nvx_ft.gate.wheel import GateWheel, verify_installed

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="builds venvs in subprocesses, changes the working directory"),
]

THIS = interpreters.current()
MY_TAG = next(iter(ptags.sys_tags()))  # e.g. cp311-cp311-manylinux_2_36_x86_64


def _jsonschema():
    """jsonschema comes with nvx-ft[dev]; the gate's own venv holds only test deps."""
    if settings.under_gate():
        return pytest.importorskip("jsonschema", reason="a dev check, not part of the gate")
    import jsonschema
    return jsonschema


def assert_matches_schema(data: dict) -> None:
    try:
        import jsonschema
    except ImportError:
        if settings.under_gate():
            return  # the rest of the calling test still counts inside the gate
        raise
    jsonschema.validate(data, json.loads(report.SCHEMA_FILE.read_text()))


def run_gate_cli(capsys, *args):
    rc = cli.main(["gate", *args])
    captured = capsys.readouterr()
    return rc, captured.err.strip()


def assert_one_line(err: str, *needles: str) -> None:
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


# --------------------------------------------------------------------------- exit 2


def test_no_free_threaded_interpreter_is_blocked_with_the_how_to(capsys, monkeypatch):
    monkeypatch.setattr(interpreters, "find", lambda label: None)
    rc, err = run_gate_cli(capsys, "--pypi", "26.10.2")
    assert rc == errors.EXIT_BLOCKED
    assert_one_line(err, "no free-threaded CPython 3.14t found", "uv python install 3.14t",
                    "setup-python", "NVX_FT_PYTHON_3_14T")


# --------------------------------------------------------------------------- exit 3


def _other_platform() -> str:
    mine = {t.platform for t in ptags.sys_tags()}
    return next(p for p in ("win_arm64", "macosx_15_0_arm64", "manylinux_2_28_s390x")
                if p not in mine)


BAD_WHEELS = {
    "missing path": (lambda d: d / "autobahn-26.10.2-cp314-cp314t-win_amd64.whl",
                     ["no such file"]),
    "not a wheel": (lambda d: (d / "autobahn.zip").write_bytes(b"PK") and d / "autobahn.zip",
                    ["not a wheel file name"]),
    "corrupt zip": (lambda d: (d / f"autobahn-26.10.2-{MY_TAG}.whl").write_bytes(b"\0" * 64)
                    and d / f"autobahn-26.10.2-{MY_TAG}.whl", ["corrupt wheel"]),
    "another platform": (lambda d: make_wheel(
        d, f"{MY_TAG.interpreter}-{MY_TAG.abi}-{_other_platform()}"),
        ["a wheel for another platform", _other_platform()]),
    "another interpreter": (lambda d: make_wheel(d, f"cp39-cp39-{MY_TAG.platform}"),
                            ["a wheel for another interpreter", "cp39-cp39"]),
    "pure-Python wheel": (lambda d: make_wheel(d, "py3-none-any"),
                          ["pure-Python wheel", "NVX missing"]),
    "platform wheel without NVX": (lambda d: make_wheel(d, str(MY_TAG), nvx=()),
                                   ["without NVX"]),
    "another project": (lambda d: make_wheel(d, str(MY_TAG), project="wsproto"),
                        ["not of autobahn"]),
}


@pytest.mark.parametrize("case", list(BAD_WHEELS))
def test_bad_wheel_is_one_line_exit_3(tmp_path, capsys, case):
    make, needles = BAD_WHEELS[case]
    rc, err = run_gate_cli(capsys, "--wheel", str(make(tmp_path)), "--python", sys.executable,
                           "--reports", str(tmp_path / "reports"))
    assert rc == errors.EXIT_USAGE
    assert_one_line(err, *needles)
    assert not (tmp_path / "reports").exists()  # nothing ran


def _accepted_by_314t() -> list[str]:
    return [str(t) for t in ptags.cpython_tags((3, 14), abis=["cp314t"],
                                               platforms=["manylinux_2_28_x86_64", "linux_x86_64"])]


def test_gil_cp314_wheel_given_to_a_free_threaded_gate_is_bad_input(tmp_path):
    ft = interpreters.Interpreter("3.14t", "/opt/py/bin/python3.14t", "3.14.7", True, "test")
    wheel = make_wheel(tmp_path, "cp314-cp314-manylinux_2_28_x86_64")
    with pytest.raises(errors.UsageError, match=r"a GIL \(cp314\) wheel given to a free-threaded "
                                             r"gate .*cp314t"):
        inputs.validate_wheel(GateWheel.read(wheel), ft, accepted=_accepted_by_314t())
    good = make_wheel(tmp_path, "cp314-cp314t-manylinux_2_28_x86_64")
    assert inputs.validate_wheel(GateWheel.read(good), ft,
                                 accepted=_accepted_by_314t()).info.free_threaded


def test_gil_cp314_wheel_on_the_real_314t(tmp_path, capsys):
    ft = interpreters.find("3.14t")
    if ft is None:
        pytest.skip("NOT RUN: no python3.14t here - " + interpreters.how_to_get("3.14t"))
    wheel = make_wheel(tmp_path, "cp314-cp314-manylinux_2_28_x86_64")
    rc, err = run_gate_cli(capsys, "--wheel", str(wheel), "--python", ft.executable)
    assert rc == errors.EXIT_USAGE
    assert_one_line(err, "a GIL (cp314) wheel given to a free-threaded gate")


def _sdist(tmp_path, name="autobahn-26.10.2.tar.gz", pkg_info=True):
    path = tmp_path / name
    src = tmp_path / "src" / name.removesuffix(".tar.gz")
    src.mkdir(parents=True)
    if pkg_info:
        (src / "PKG-INFO").write_text("Metadata-Version: 2.4\nName: autobahn\n")
    (src / "pyproject.toml").write_text("")
    with tarfile.open(path, "w:gz") as tf:
        tf.add(src, arcname=src.name)
    return path


@pytest.mark.parametrize("make, needle", [
    (lambda d: d / "autobahn-26.10.2.tar.gz", "no such file"),
    (lambda d: (d / "autobahn-26.10.2.tar.gz").write_bytes(b"garbage") and
     d / "autobahn-26.10.2.tar.gz", "corrupt sdist"),
    (lambda d: _sdist(d, pkg_info=False), "no top-level PKG-INFO"),
    (lambda d: (d / "autobahn.txt").write_text("x") and d / "autobahn.txt",
     "not an sdist file name"),
])
def test_bad_sdist_is_one_line_exit_3(tmp_path, capsys, make, needle):
    rc, err = run_gate_cli(capsys, "--sdist", str(make(tmp_path)), "--python", sys.executable)
    assert rc == errors.EXIT_USAGE
    assert_one_line(err, needle)


def test_bad_version_and_bad_python_are_exit_3(tmp_path, capsys):
    rc, err = run_gate_cli(capsys, "--pypi", "not.a.version!")
    assert rc == errors.EXIT_USAGE and "not a version" in err
    rc, err = run_gate_cli(capsys, "--pypi", "26.10.2", "--python", str(tmp_path / "nope"))
    assert rc == errors.EXIT_USAGE
    assert_one_line(err, "not a working CPython")


def test_a_checkout_without_the_suites_is_exit_3(tmp_path, capsys):
    rc, err = run_gate_cli(capsys, "--pypi", "26.10.2", "--checkout", str(tmp_path))
    assert rc == errors.EXIT_USAGE
    assert_one_line(err, "not an nvx-ft checkout")


def test_a_good_sdist_passes_validation(tmp_path):
    inputs.validate_sdist(str(_sdist(tmp_path)))  # no exception


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize("statuses, verdict, code", [
    (["passed"] * 7, "pass", 0),
    (["passed"] * 6 + ["not-run"], "not-passed", 2),  # a missing part is never a pass
    (["passed"] * 5 + ["not-run", "passed"], "not-passed", 2),  # no protocol/: not a pass
    (["passed", "failed"] + ["passed"] * 5, "fail", 1),
    (["passed"] * 3 + ["crashed", "not-run", "passed", "passed"], "fail", 1),
    (["passed"] * 4 + ["timeout", "passed", "passed"], "fail", 1),
    (["passed"] * 5 + ["timeout", "passed"], "fail", 1),
    # threads that never raced prove nothing: not a pass, not a failure of the target
    (["passed"] * 4 + ["inconclusive", "passed", "passed"], "not-passed", 2),
])
def test_verdict(statuses, verdict, code):
    assert len(statuses) == len(CHECKS)
    checks = [Check(n, s) for n, s in zip(CHECKS, statuses)]
    assert report.verdict_of(checks) == (verdict, code)


_INCONCLUSIVE = ("nvx_ft.overlap.Inconclusive: INCONCLUSIVE: mixed work did not reach the "
                 "overlap it needs: interleaved calls 3 < 100. Achieved: ...")


def test_a_stress_run_whose_only_failures_are_inconclusive_is_inconclusive():
    from nvx_ft import suites
    from nvx_ft.gate.steps.suites import fill_check

    def filled(*messages):
        check = Check("stress")
        fill_check(check, suites.SuiteResult(
            "stress", "failed", {"passed": 5, "failed": len(messages)}, 1.0,
            [(f"stress/test_mixed_work.py::test_{i}", m) for i, m in enumerate(messages)]))
        return check

    check = filled(_INCONCLUSIVE, _INCONCLUSIVE)
    assert check.status == "inconclusive" and check.summary.startswith("inconclusive: 2 race")
    assert report.verdict_of([check]) == ("not-passed", 2)
    # one real failure beside them fails the check
    assert filled(_INCONCLUSIVE, "AssertionError: pointer() 12 != 16").status == "failed"


def test_the_stress_check_shows_the_overlap_each_race_check_reached():
    from nvx_ft.gate.steps.suites import add_overlap

    check = Check("stress", "passed", summary="47 passed")
    add_overlap(check, "stress/test_mixed_work.py::test_x[lib]: 4 threads x 160 iterations; "
                       "test 0.4s: passed\n    overlap: 812 interleaved of 2560 calls, "
                       "parallel 0.210s\nrace checks: 47 passed\n")
    assert check.summary == "47 passed; race checks: 47 passed"
    assert check.details == ["stress/test_mixed_work.py::test_x[lib]: 4 threads x 160 "
                             "iterations; test 0.4s: passed\n    overlap: 812 interleaved "
                             "of 2560 calls, parallel 0.210s"]


def test_verify_installed_catches_a_module_that_is_not_the_artefact():
    record = {"_nvx_xormasker.cpython-314t-x86_64-linux-gnu.so": "aa" * 32,
              "_nvx_utf8validator.cpython-314t-x86_64-linux-gnu.so": "bb" * 32}
    tags = ["cp314-cp314t-linux_x86_64"]
    probe = {"site": "/v/lib/python3.14t/site-packages", "wheel_tags": tags, "modules": {
        "_nvx_xormasker": {"file": "/v/lib/python3.14t/site-packages/"
                                   "_nvx_xormasker.cpython-314t-x86_64-linux-gnu.so",
                           "sha256": "aa" * 32},
        "_nvx_utf8validator": {"file": "/v/lib/python3.14t/site-packages/"
                                       "_nvx_utf8validator.cpython-314t-x86_64-linux-gnu.so",
                               "sha256": "bb" * 32}}}
    assert verify_installed(probe, record, tags) == []
    # a different build of the same module (e.g. a cached wheel) ...
    probe["modules"]["_nvx_xormasker"]["sha256"] = "cc" * 32
    # ... one imported from somewhere else on sys.path ...
    probe["modules"]["_nvx_utf8validator"]["file"] = "/work/_nvx_utf8validator.cpython-314t-x86_64-linux-gnu.so"
    # ... and another wheel's metadata
    probe["wheel_tags"] = ["cp314-cp314-linux_x86_64"]
    problems = verify_installed(probe, record, tags)
    assert len(problems) == 3
    assert "differs from the wheel's" in problems[0] or "differs from the wheel's" in problems[1]
    assert any("outside the venv's site-packages" in p for p in problems)
    assert any("another build got installed" in p for p in problems)


def test_a_wheel_whose_modules_do_not_load_fails_install_and_nothing_else_runs(
        tmp_path, capsys, monkeypatch):
    """End to end through a real venv: the fake NVX modules cannot be imported, so the
    install check fails, the other checks are not run, and the three reports exist."""
    wheel = make_wheel(tmp_path, str(MY_TAG), requires=())
    monkeypatch.chdir(tmp_path)  # the default --reports is relative to the working directory
    reports = tmp_path / "reports" / "gate"
    rc = cli.main(["gate", "--wheel", wheel.name, "--python", sys.executable,
                   "--report-path-file", "report-path"])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_FAIL
    (run_dir,) = reports.iterdir()
    assert Path("report-path").read_text().strip() == str((run_dir / "gate.json").resolve())
    data = json.loads((run_dir / "gate.json").read_text())
    assert data["schema"] == report.SCHEMA and data["verdict"] == "fail"
    assert_matches_schema(data)
    statuses = {c["name"]: c["status"] for c in data["checks"]}
    # the classifier check: a failed gate supports no classifier, the wheel declares none
    assert statuses == {"install": "failed", **{n: "not-run" for n in CHECKS[1:]},
                        "classifier": "passed"}
    assert data["recommendation"]["label"] == "none"
    install = data["checks"][0]
    assert "does not import the artefact" in install["summary"] + " ".join(install["details"])
    assert "import _nvx_utf8validator" in " ".join(install["details"])
    assert "internal error" not in install["summary"]
    assert "| install " in out and "VERDICT: FAIL" in out
    assert "# nvx-ft release gate: FAIL" in (run_dir / "gate.md").read_text()
    suites = ET.parse(run_dir / "gate.junit.xml").getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == [*CHECKS, "classifier"]
    assert not (run_dir / "venv").exists()  # removed unless --keep-venv



def _gate_with_a_stand_in_install(tmp_path, monkeypatch, checkout: Path) -> dict:
    """The gate's run with this interpreter standing in for the installed venv and every
    check but the protocol suite skipped: what the gate makes of ``checkout/protocol``."""
    return gate_with_a_stand_in_install(tmp_path, monkeypatch, checkout, run=("protocol",))


def _protocol_in_every_report(data: dict, report_dir: Path) -> tuple[dict, ET.Element]:
    assert_matches_schema(data)
    assert [c["name"] for c in data["checks"]] == [*CHECKS, "classifier"]
    assert CHECKS.index("protocol") == CHECKS.index("stress") + 1
    protocol = next(c for c in data["checks"] if c["name"] == "protocol")
    row = next(line for line in (report_dir / "gate.md").read_text().splitlines()
               if line.startswith("| 6 ") and "| protocol" in line)
    assert protocol["status"].upper() in row
    suite = ET.parse(report_dir / "gate.junit.xml").getroot().find("testsuite[@name='protocol']")
    assert suite is not None
    return protocol, suite


def test_the_protocol_step_runs_the_checkouts_protocol_suite(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    (checkout / "protocol").mkdir(parents=True)
    (checkout / "protocol" / "test_echo.py").write_text(
        "def test_echo():\n    assert True\n\n"
        "def test_close_code():\n    assert 1007 == 1002, 'wrong close code'\n")
    monkeypatch.setattr("nvx_ft.gate.steps.suites._installed", lambda ctx, dist: True)
    data = _gate_with_a_stand_in_install(tmp_path, monkeypatch, checkout)
    protocol, suite = _protocol_in_every_report(data, tmp_path / "report")
    assert protocol["status"] == "failed" and data["verdict"] == "fail"
    assert protocol["counts"]["passed"] == 1 and protocol["counts"]["failed"] == 1
    assert protocol["failures"][0]["nodeid"] == "protocol/test_echo.py::test_close_code"
    assert "wrong close code" in protocol["summary"]
    assert suite.get("tests") == "2" and suite.get("failures") == "1"


def test_a_checkout_without_protocol_is_not_run_never_passed(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    data = _gate_with_a_stand_in_install(tmp_path, monkeypatch, checkout)
    protocol, suite = _protocol_in_every_report(data, tmp_path / "report")
    assert protocol["status"] == "not-run"
    assert protocol["summary"].startswith("not run: the checkout has no protocol/")
    assert data["verdict"] == "not-passed" and data["exit_code"] == errors.EXIT_BLOCKED
    assert suite.find("testcase/skipped").get("message").startswith("NOT RUN")


def test_each_suite_has_its_own_budget():
    import argparse

    parser = argparse.ArgumentParser()
    inputs.add_arguments(parser)
    assert inputs.budgets(parser.parse_args([])) == Budgets(suite=900, stress=900,
                                                           protocol=600, test=300)
    args = parser.parse_args(["--protocol-timeout", "45", "--skip", "protocol"])
    assert inputs.budgets(args).protocol == 45 and args.skip == ["protocol"]


def test_reports_append_to_the_github_step_summary(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    checks = [Check(n, "passed", 1.0, "fine") for n in CHECKS]
    checks[-1] = Check("benchmark-smoke", "not-run", 0.0, "not run: no benchmarks")
    wheel = GateWheel.read(make_wheel(tmp_path, str(MY_TAG)))
    data = report.write_reports(checks, Target("wheel", wheel.path.name, wheel, "wheel file"),
                                THIS, None, dt.datetime.now(dt.timezone.utc), tmp_path)
    assert data["target"]["wheel_sha256"] == wheel.sha256
    assert data["verdict"] == "not-passed" and data["exit_code"] == errors.EXIT_BLOCKED
    assert_matches_schema(json.loads((tmp_path / "gate.json").read_text()))
    text = summary.read_text()
    assert text.startswith("earlier step\n") and "# nvx-ft release gate: NOT-PASSED" in text
    row = next(line for line in text.splitlines() if "| benchmark-smoke" in line)
    assert "NOT-RUN" in row and "no benchmarks" in row
    skipped = ET.parse(tmp_path / "gate.junit.xml").getroot().find(
        "testsuite[@name='benchmark-smoke']/testcase/skipped")
    assert skipped is not None and skipped.get("message").startswith("NOT RUN")


def test_the_schema_rejects_an_unknown_check_status(tmp_path):
    jsonschema = _jsonschema()
    checks = [Check(n, "passed", 1.0, "fine") for n in CHECKS]
    data = report.write_reports(checks, Target("pypi", "26.10.2"), THIS, None,
                                dt.datetime.now(dt.timezone.utc), tmp_path)
    assert_matches_schema(data)
    data["checks"][2]["status"] = "skipped"  # not a status: "not-run" is the only honest one
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json.loads(report.SCHEMA_FILE.read_text()))


@pytest.mark.parametrize("tty", [True, False])
def test_progress_display_names_the_step_counts_and_the_result(tty):
    import io

    class Stream(io.StringIO):
        def isatty(self):
            return tty

    stream = Stream()
    display = Display(stream)
    display.start(4, 7, "correctness")
    display.progress(7, 10, 1, 31.0)  # non-tty: printed (first update after 30 s)
    display.finish(Check("correctness", "failed", 12.5, "9 passed, 1 failed"))
    text = stream.getvalue()
    assert "[4/7] correctness" in text and "7/10 tests, 1 failing" in (
        text if not tty else display._tests)
    assert text.rstrip().endswith("FAILED     12.5s  9 passed, 1 failed")
    assert ("\r\x1b[2K" in text) is tty


def test_nox_gate_session_keeps_the_gate_exit_code():
    """``nox -s gate`` is the README's main job: nox alone would turn 2 and 3 into 1."""
    pytest.importorskip("nox", reason="nox is not installed in this environment")
    root = paths.ROOT
    out = subprocess.run([sys.executable, "-m", "nox", "-f", str(root / "noxfile.py"),
                          "-s", "gate", "--", "--pypi", "not.a.version!"],
                         capture_output=True, text=True, cwd=root, timeout=300)
    assert out.returncode == errors.EXIT_USAGE, out.stderr[-2000:]
    assert "nvx-ft gate: error: --pypi not.a.version!: not a version" in out.stderr


@pytest.mark.parametrize("returncode, stdout, status, needle", [
    (0, json.dumps([{"module": "_nvx_xormasker", "status": "ok"}]), "passed", "keeps the GIL"),
    (1, json.dumps([{"module": "autobahn.nvx", "status": "gil-enabled",
                     "culprit": "_nvx_utf8validator", "culprit_file": "/v/_nvx_utf8.so",
                     "warning": "The global interpreter lock (GIL) has been enabled"}]),
     "failed", "the GIL was enabled by _nvx_utf8validator"),
    (2, "", "not-run", "not run: nvx-ft gil-guard: blocked: a GIL build"),
    (-11, "", "crashed", "SIGSEGV"),
])
def test_gil_guard_outcome_names_the_culprit(returncode, stdout, status, needle):
    check = Check("gil-guard")
    stderr = "nvx-ft gil-guard: blocked: a GIL build" if returncode == 2 else ""
    gil_guard_outcome(check, returncode, stdout, stderr)
    assert check.status == status and needle in check.summary
    if status == "failed":
        assert check.failures[0]["nodeid"] == "gil-guard::autobahn.nvx"
        assert "/v/_nvx_utf8.so" in check.failures[0]["message"]


def test_the_gate_probes_its_interpreter_once(tmp_path, monkeypatch):
    """``read_inputs`` resolves ``--python`` with one probe, and the wheel's tag check
    uses the tags that probe returned; a second probe (as ``accepted_tags`` once made)
    fails this."""
    import argparse

    calls = []
    real_probe = interpreters.probe

    def counting_probe(executable, timeout=20.0):
        calls.append(executable)
        return real_probe(executable, timeout)

    monkeypatch.setattr(interpreters, "probe", counting_probe)
    parser = argparse.ArgumentParser()
    inputs.add_arguments(parser)
    wheel = make_wheel(tmp_path, str(MY_TAG))
    args = parser.parse_args(["--wheel", str(wheel), "--python", sys.executable])
    target, interp, _ = inputs.read_inputs(args)
    assert target.kind == "wheel" and interp.wheel_tags
    assert str(MY_TAG) in interp.wheel_tags
    assert len(calls) == 1, f"the gate probed its interpreter {len(calls)} times: {calls}"
