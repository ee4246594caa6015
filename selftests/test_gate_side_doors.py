"""Nothing but the wheel decides the gate's verdict (issue 22): our shell's environment,
stray pytest configuration and NVX builds lying on the suites' path do not reach it.

Each test runs the real gate (``stand_in_gate``: ``runner.run_gate``, the correctness
step's contained pytest child, the reports) and first shows that the trap it sets *would*
change a plain pytest run, so an unchanged gate verdict means the door is shut.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from stand_in_gate import gate_with_a_stand_in_install, this_venvs_nvx

from nvx_ft import settings, suites
from nvx_ft.gate.steps.suites import check_nvx_modules

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs the gate's pytest children, changes os.environ"),
]

#: a correctness suite that notices every trap below: the target, the inconclusive mode,
#: a real failure (a plugin rewriting outcomes would pass it), nvx-ft's knobs
SUITE = '''
import os

def test_the_target_is_autobahns_nvx(nvx_target):
    assert nvx_target.name == "autobahn-nvx"

def test_inconclusive_checks_are_judged_by_the_gate(pytestconfig):
    assert pytestconfig.getoption("--nvx-inconclusive") == "skip"

def test_no_knob_of_ours_reaches_the_suite():
    assert {k for k in os.environ if k.startswith("NVX_FT_")} == {"NVX_FT_CHILD"}

def test_a_real_failure():
    assert 1 + 1 == 3, "NVX gave a wrong answer"
'''

#: a plugin that turns every failure into a pass
EVIL_PLUGIN = '''
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        report.outcome = "passed"
'''

TRAPS = {
    "PYTEST_ADDOPTS": "--nvx-inconclusive=warn --nvx-target=fallback -k nothing",
    "PYTEST_PLUGINS": "evil_plugin",
    "NVX_FT_INTENSITY": "nightly", "NVX_FT_TEST_TIMEOUT": "0", "NVX_FT_INCONCLUSIVE": "skip",
    "NVX_FT_HYPOTHESIS_PROFILE": "dev", "NVX_FT_CHILD": '{"suite": {"test_timeout": 1}}',
    # names nvx-ft no longer reads (options only now): still scrubbed by the prefix
    "NVX_FT_SEED": "1", "NVX_FT_TARGET": "fallback", "NVX_FT_OVERLAP_BUDGET": "0",
    "HYPOTHESIS_STORAGE_DIRECTORY": "/nonexistent/hypothesis", "PYTHONWARNINGS": "error",
    "PYTHON_CPU_COUNT": "1",
}


def _checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'stand-in-checkout'\n")
    (checkout / "tests" / "test_nvx.py").write_text(SUITE)
    return checkout


def _correctness(data: dict) -> dict:
    return next(c for c in data["checks"] if c["name"] == "correctness")


def _set_traps(tmp_path: Path, checkout: Path, monkeypatch) -> None:
    evil = tmp_path / "evil"
    evil.mkdir(exist_ok=True)
    (evil / "evil_plugin.py").write_text(EVIL_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", str(evil))
    for name, value in TRAPS.items():
        monkeypatch.setenv(name, value)
    # a stray config next to the suites: pytest.ini wins over pyproject.toml
    (checkout / "pytest.ini").write_text("[pytest]\naddopts = -k nothing -p evil_plugin\n")


def test_the_environment_and_stray_config_do_not_change_the_verdict(tmp_path, monkeypatch):
    checkout = _checkout(tmp_path)
    clean = gate_with_a_stand_in_install(tmp_path / "clean", monkeypatch, checkout,
                                         run=("correctness",))
    before = _correctness(clean)
    assert before["status"] == "failed" and before["counts"]["passed"] == 3
    assert before["counts"]["failed"] == 1 and "NVX gave a wrong answer" in before["summary"]

    _set_traps(tmp_path, checkout, monkeypatch)
    # the traps are real: a plain run of the same suite from the checkout falls into them
    plain = suites.run_suite(sys.executable, checkout / "tests", env=dict(os.environ),
                             cwd=checkout, timeout=120)
    assert (plain.status, plain.counts.get("failed", 0)) != ("failed", 1), plain.summary()

    trapped = gate_with_a_stand_in_install(tmp_path / "trapped", monkeypatch, checkout,
                                           run=("correctness",))
    after = _correctness(trapped)
    assert (trapped["verdict"], trapped["exit_code"]) == (clean["verdict"], clean["exit_code"])
    assert [(c["name"], c["status"], c["counts"]) for c in trapped["checks"]] == \
        [(c["name"], c["status"], c["counts"]) for c in clean["checks"]]
    assert after["failures"][0]["nodeid"] == "tests/test_nvx.py::test_a_real_failure"


def _nvx_files_into(folder: Path, probe: dict, extra: bytes = b"") -> list[Path]:
    """Copies of this venv's NVX modules (``extra`` appended: another build's bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for mod in probe["modules"].values():
        copy = folder / Path(mod["file"]).name
        copy.write_bytes(Path(mod["file"]).read_bytes() + extra)
        copies.append(copy)
    return copies


def test_an_nvx_build_left_in_the_checkout_is_not_what_the_suites_test(tmp_path, monkeypatch):
    """As a local build leaves them: ``_nvx_*`` files in the checkout's root, which also
    has a conftest.py (pytest's ``prepend`` mode would put the root on sys.path)."""
    checkout = _checkout(tmp_path)
    (checkout / "tests" / "test_nvx.py").write_text(
        "def test_the_target_is_autobahns_nvx(nvx_target):\n"
        "    assert nvx_target.name == 'autobahn-nvx'\n")
    (checkout / "conftest.py").write_text("")
    probe = this_venvs_nvx(tmp_path)
    stray = _nvx_files_into(checkout, probe)
    # the trap is real: the old way (cwd = the checkout, prepend mode) loads them
    plain = suites.run_suite(sys.executable, checkout / "tests", cwd=checkout, timeout=120)
    assert {m["file"] for m in plain.nvx_modules} == {str(f) for f in stray}

    data = gate_with_a_stand_in_install(tmp_path / "gate", monkeypatch, checkout,
                                        run=("correctness",))
    check = _correctness(data)
    assert check["status"] == "passed", check["summary"]
    loaded = [d for d in check["details"] if d.startswith("loaded _nvx_")]
    assert len(loaded) == 2 and all(probe["site"] in d for d in loaded), loaded


@pytest.mark.parametrize("build", ["another build", "the same build"])
def test_a_shadowing_nvx_on_the_suites_path_fails_the_step_naming_both(
        tmp_path, monkeypatch, build):
    checkout = _checkout(tmp_path)
    (checkout / "tests" / "test_nvx.py").write_text(
        "def test_the_target_is_autobahns_nvx(nvx_target):\n"
        "    assert nvx_target.name == 'autobahn-nvx'\n")
    probe = this_venvs_nvx(tmp_path)
    shadow = tmp_path / "shadow"
    stray = _nvx_files_into(shadow, probe, extra=b"\0" if build == "another build" else b"")
    # first on sys.path before nvx-ft's plugin loads the target (as a .pth file could)
    (checkout / "tests" / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(shadow)!r})\n")
    data = gate_with_a_stand_in_install(tmp_path / "gate", monkeypatch, checkout,
                                        run=("correctness",))
    check = _correctness(data)
    assert check["status"] == "failed" and data["verdict"] == "fail"
    assert check["counts"]["passed"] == 1  # the tests passed: only the files are wrong
    for name, mod in probe["modules"].items():
        copy = next(str(f) for f in stray if f.name.startswith(name + "."))
        message = next(f["message"] for f in check["failures"] if copy in f["message"])
        assert mod["file"] in message  # both files ...
        assert mod["sha256"] in message  # ... and both hashes
        why = "differs from the wheel's" if build == "another build" else "outside the venv's"
        assert why in message, message
    assert "tested another NVX build" in check["summary"]


def test_no_nvx_module_loaded_is_named_not_failed():
    """A suite that loads no NVX (benchmark smoke with nothing to run) is not blamed, but
    the report says so."""
    from types import SimpleNamespace

    from nvx_ft.gate.context import Check

    check = Check("benchmark-smoke", "passed", summary="1 passed")
    ctx = SimpleNamespace(target=SimpleNamespace(wheel=None, installed=None))
    check_nvx_modules(ctx, check, suites.SuiteResult("b", "passed", {}, 0.0, []))
    assert check.status == "passed" and check.summary == "1 passed"
    assert check.details == ["loaded no _nvx_* module (the suite never imported NVX, or its "
                             "pytest session did not finish)"]


def test_the_scrub_list_drops_by_prefix_and_names_a_reason_for_each(monkeypatch):
    from nvx_ft import childenv
    from nvx_ft.gate import runner

    base = {"PYTEST_ADDOPTS": "-k x", "PYTEST_WHATEVER": "1", "NVX_FT_INTENSITY": "nightly",
            "NVX_FT_CHILD": "{}", "HYPOTHESIS_X": "1", "LD_PRELOAD": "/evil.so", "CI": "true",
            "PATH": "/bin", "PIP_INDEX_URL": "https://mirror.example/simple"}
    env = childenv.child_env(scrub=childenv.GATE_VERDICT, base=base)
    assert env == {"CI": "true", "PATH": "/bin", "PIP_INDEX_URL": "https://mirror.example/simple"}
    assert all(why.strip() for why in childenv.GATE_VERDICT.values())
    # the gate's own: set after the scrub, so an inherited NVX_FT_CHILD cannot win; its
    # settings reach the suites on their command line (pinned_args), not in variables
    for name, value in base.items():
        if name not in ("PATH", "PIP_INDEX_URL"):
            monkeypatch.setenv(name, value)
    gate = runner.gate_env("https://pypi.org/simple")
    assert not [k for k in gate if k.startswith(("PYTEST_", "HYPOTHESIS_"))]
    assert {k for k in gate if k.startswith("NVX_FT_")} == {"NVX_FT_CHILD"}
    assert settings.from_environment(gate).child == settings.Child(gate=True)
    assert settings.from_environment(gate).inconclusive_mode() == "fail"
