"""The gate's real run (``runner.run_gate``: every step's code, the suites in contained
pytest children, the reports) with this interpreter standing in for the gate's venv.

The wheel under test is a fake wheel (``fake_wheels.make_wheel``) that carries this
venv's own NVX files, and the stand-in install records what the install step's real probe
finds here: so the RECORD and the files the suites load agree, exactly as after a real
install, and a suite that loads any other ``_nvx_*`` file is caught as in a real gate.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from fake_wheels import make_wheel
from packaging import tags as ptags

from nvx_ft import interpreters
from nvx_ft.gate import runner
from nvx_ft.gate.context import Budgets, GateContext, Target
from nvx_ft.gate.display import Display
from nvx_ft.gate.steps import CHECKS
from nvx_ft.gate.steps import install as install_step
from nvx_ft.gate.wheel import GateWheel
from nvx_ft.release import release_files

MY_TAG = next(iter(ptags.sys_tags()))


def this_venvs_nvx(cwd: Path) -> dict:
    """The install step's own probe, run here: this venv's ``_nvx_*`` files and hashes."""
    out = subprocess.run([sys.executable, "-c", install_step._PROBE], capture_output=True,
                         text=True, cwd=cwd, timeout=120)
    probe = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {}
    if not probe.get("modules") or probe.get("errors"):
        pytest.fail(f"this interpreter has no autobahn NVX to stand in for the gate's venv "
                    f"(install nvx-ft[target]): {out.stderr[-500:]} {probe.get('errors')}")
    return probe


def wheel_of_this_venv(directory: Path, probe: dict) -> GateWheel:
    """A wheel whose RECORD holds exactly this venv's ``_nvx_*`` files."""
    files = {Path(m["file"]).name: Path(m["file"]).read_bytes() for m in probe["modules"].values()}
    name = next(iter(files))
    suffix = name[name.index("."):]
    return GateWheel.read(make_wheel(directory, str(MY_TAG), suffix=suffix, extra_files=files))


def gate_with_a_stand_in_install(tmp_path: Path, monkeypatch, checkout: Path,
                                 run: tuple[str, ...] = ("protocol",),
                                 budgets: Budgets = Budgets(suite=300, protocol=120, test=60)
                                 ) -> dict:
    """``runner.run_gate`` on ``checkout`` with only ``run`` (and install) not skipped;
    the environment is ``runner.gate_env`` of the current ``os.environ``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    probe = this_venvs_nvx(tmp_path)
    wheel = wheel_of_this_venv(tmp_path, probe)
    if not (checkout / "pyproject.toml").exists():  # the gate's inputs insist on one
        checkout.mkdir(parents=True, exist_ok=True)
        (checkout / "pyproject.toml").write_text("[project]\nname = 'stand-in-checkout'\n")

    def stand_in_install(self, ctx, check):
        ctx.venv = types.SimpleNamespace(
            python=sys.executable, installer="pip", path=tmp_path / "venv",
            python_run=lambda code, *args, **kw: subprocess.run(
                [sys.executable, "-c", code, *args], capture_output=True, text=True))
        ctx.target.installed = probe
        check.status = "passed"

    monkeypatch.setattr(install_step.Install, "run", stand_in_install)
    ctx = GateContext(Target("wheel", wheel.path.name, wheel, "wheel file"),
                      interpreters.current(), tmp_path / "report", checkout,
                      runner.gate_env(release_files.DEFAULT_INDEX), budgets,
                      release_files.DEFAULT_INDEX)
    skip = tuple(n for n in CHECKS if n not in ("install", *run))
    return runner.run_gate(ctx, skip=skip, display=Display(io.StringIO()))


def run_steps(tmp_path: Path, monkeypatch, checkout: Path, steps: tuple[str, ...]) -> dict:
    """gate.json's data after the gate ran only ``steps`` on ``checkout``."""
    return gate_with_a_stand_in_install(tmp_path, monkeypatch, checkout, run=steps)


def check_named(data: dict, name: str) -> dict:
    return next(c for c in data["checks"] if c["name"] == name)
