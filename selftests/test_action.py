"""The composite GitHub action (``action.yml``), validated offline: check-jsonschema's
bundled github-action schema, and its shell steps run here with a stand-in ``nvx-ft``
(inputs become gate arguments; the gate's exit code fails the step)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nvx_ft import settings

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs check-jsonschema and bash in subprocesses"),
]

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"

try:
    import check_jsonschema  # noqa: F401
    from ruamel.yaml import YAML
except ImportError:
    if settings.under_gate():  # the release gate's venv holds only test deps
        pytest.skip("action linting is a dev check (nvx-ft[dev]); not part of the gate",
                    allow_module_level=True)
    raise

BASH = shutil.which("bash")


def load() -> dict:
    return YAML(typ="safe").load(ACTION.read_text(encoding="utf-8"))


def step(action: dict, name: str) -> dict:
    return next(s for s in action["runs"]["steps"] if s.get("name") == name)


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-actions", str(path)],
                          capture_output=True, text=True, timeout=120)


def test_action_matches_the_github_action_schema():
    out = validate(ACTION)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_schema_check_rejects_a_broken_action(tmp_path):
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("using: composite", "using: compose", 1))
    assert validate(broken).returncode == 1


def test_inputs_steps_and_what_the_action_promises():
    action = load()
    assert action["runs"]["using"] == "composite"
    assert {"wheel", "sdist", "pypi-version", "python", "suite-timeout", "stress-timeout",
            "protocol-timeout", "test-timeout"} <= set(action["inputs"])
    assert action["inputs"]["python"]["default"] == "3.14t"
    uses = [s.get("uses", "") for s in action["runs"]["steps"]]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    install = step(action, "Install nvx-ft (this action's checkout) in its own venv")
    assert install["env"]["NVX_FT_SRC"] == "${{ github.action_path }}"
    assert '-e "$NVX_FT_SRC"' in install["run"]
    upload = next(s for s in action["runs"]["steps"]
                  if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.reports }}"
    # every run step names its shell (composite actions require it) and reads inputs
    # through env, never spliced into the script (no injection from a file name)
    for s in action["runs"]["steps"]:
        if "run" in s:
            assert s["shell"] == "bash", s["name"]
            assert "${{" not in s["run"], s["name"]


def _run_step(name: str, env: dict, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict]:
    if not BASH or os.name == "nt":
        pytest.skip("runs the steps with a POSIX bash and a shebang stand-in")
    script = step(load(), name)["run"]
    output, summary = tmp_path / "output", tmp_path / "summary"
    base = {"PATH": os.environ["PATH"], "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(tmp_path)}
    out = subprocess.run([BASH, "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                         env={**base, **env}, cwd=tmp_path, capture_output=True, text=True,
                         timeout=60)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) \
        if output.exists() else {}
    return out, {**outputs, "summary": summary.read_text() if summary.exists() else ""}


def _stand_in_nvx_ft(tmp_path: Path, code: int, write_report: bool) -> Path:
    """A stand-in ``nvx-ft``: records its arguments, and (``write_report``) writes a
    report folder and names its gate.json in the ``--report-path-file`` it is given, as
    the gate does."""
    bin_dir = tmp_path / "venv-bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvx-ft"
    fake.write_text("#!/bin/sh\n"
                    f'printf "%s\\n" "$@" > "{tmp_path}/args"\n'
                    'prev=""; for a in "$@"; do\n'
                    '  [ "$prev" = "--report-path-file" ] && path_file="$a"; prev="$a"\n'
                    'done\n'
                    + ('mkdir -p "$IN_REPORTS/20261201T000000Z" && echo {} > '
                       '"$IN_REPORTS/20261201T000000Z/gate.json"\n'
                       'echo "$IN_REPORTS/20261201T000000Z/gate.json" > "$path_file"\n'
                       if write_report else "")
                    + f"exit {code}\n")
    fake.chmod(0o755)
    return bin_dir


def _gate_env(bin_dir: Path, **inputs: str) -> dict:
    env = {"NVX_FT_BIN": str(bin_dir), "NVX_FT_SRC": "/action", "GATE_PYTHON": "/py/3.14t",
           "IN_REPORTS": "reports/nvx-ft-gate"}
    env.update({k: "" for k in ("IN_WHEEL", "IN_SDIST", "IN_PYPI", "IN_SUITE_TIMEOUT",
                                "IN_STRESS_TIMEOUT", "IN_PROTOCOL_TIMEOUT", "IN_TEST_TIMEOUT",
                                "IN_ARGS")})
    env.update(inputs)
    return env


def test_gate_step_turns_inputs_into_arguments_and_keeps_the_exit_code(tmp_path):
    bin_dir = _stand_in_nvx_ft(tmp_path, 1, write_report=True)
    wheel = "dist/autobahn-26.11.1-cp314-cp314t-manylinux_2_28_x86_64 (1).whl"
    out, outputs = _run_step("nvx-ft gate", _gate_env(
        bin_dir, IN_WHEEL=wheel, IN_STRESS_TIMEOUT="900", IN_TEST_TIMEOUT="120",
        IN_ARGS="--skip benchmark-smoke"), tmp_path)
    assert out.returncode == 0, out.stderr  # the verdict step fails the job, after upload
    args = (tmp_path / "args").read_text().splitlines()
    assert args == ["gate", "--python", "/py/3.14t", "--checkout", "/action", "--reports",
                    "reports/nvx-ft-gate", "--wheel", wheel, "--stress-timeout", "900",
                    "--test-timeout", "120", "--skip", "benchmark-smoke",
                    "--report-path-file", f"{tmp_path}/nvx-ft-gate-report-path"]
    assert outputs["exit-code"] == "1"
    assert outputs["report"] == "reports/nvx-ft-gate/20261201T000000Z/gate.json"
    assert outputs["summary"] == ""  # the gate itself appends gate.md


def test_the_report_output_is_the_one_this_run_wrote_not_the_newest(tmp_path):
    """An earlier run's report folder with a newer time stamp and mtime (a clock step, a
    cache restore) is left in the reports folder: the output still names this run's."""
    stale = tmp_path / "reports" / "nvx-ft-gate" / "20991231T000000Z"
    stale.mkdir(parents=True)
    (stale / "gate.json").write_text("{}")
    os.utime(stale / "gate.json", (4102444800, 4102444800))  # 2100-01-01
    bin_dir = _stand_in_nvx_ft(tmp_path, 0, write_report=True)
    out, outputs = _run_step("nvx-ft gate", _gate_env(bin_dir, IN_PYPI="26.11.1"), tmp_path)
    assert out.returncode == 0, out.stderr
    assert outputs["report"] == "reports/nvx-ft-gate/20261201T000000Z/gate.json"


def test_a_gate_stopped_before_running_still_says_so_in_the_summary(tmp_path):
    bin_dir = _stand_in_nvx_ft(tmp_path, 2, write_report=False)
    out, outputs = _run_step("nvx-ft gate", _gate_env(bin_dir, IN_PYPI="26.11.1"), tmp_path)
    assert out.returncode == 0, out.stderr
    assert outputs["exit-code"] == "2" and outputs["report"] == ""
    assert "exit 2 before any check ran" in outputs["summary"]


@pytest.mark.parametrize("code, rc", [("0", 0), ("1", 1), ("2", 2), ("3", 3), ("", 1)])
def test_the_verdict_step_fails_the_job_with_the_gates_code(tmp_path, code, rc):
    out, _ = _run_step("The gate's verdict", {"CODE": code}, tmp_path)
    assert out.returncode == rc, out.stdout + out.stderr


def test_readme_shows_the_lines_a_release_workflow_needs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(\s*- uses: \S+/nvx-ft@[^\n]+\n(?:.*\n)*?)```", readme)
    assert block, "README: a ```yaml block with `- uses: <owner>/nvx-ft@<ref>`"
    snippet = YAML(typ="safe").load(block.group(1))
    assert isinstance(snippet, list) and len(block.group(1).strip().splitlines()) <= 8
    assert set(snippet[0]["with"]) <= set(load()["inputs"])
