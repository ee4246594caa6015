"""The gate's own run (``nvx_ft.gate.runner.run_gate``) on a checkout made by a test,
with this interpreter standing in for the venv the install step would make: what the
real suite steps make of the suites they find."""

from __future__ import annotations

import io
import subprocess
import sys
import types
from pathlib import Path

from fake_wheels import make_wheel
from packaging import tags as ptags

from nvx_ft import interpreters
from nvx_ft.gate import runner
from nvx_ft.gate.context import Budgets, GateContext, Target
from nvx_ft.gate.display import Display
from nvx_ft.gate.steps import CHECKS
from nvx_ft.gate.steps.install import Install
from nvx_ft.gate.wheel import GateWheel
from nvx_ft.release import release_files

MY_TAG = next(iter(ptags.sys_tags()))


def run_steps(tmp_path: Path, monkeypatch, checkout: Path, steps: tuple[str, ...],
              budgets: Budgets = Budgets(stress=300, protocol=120, test=60)) -> dict:
    """gate.json's data after the gate ran only ``steps`` (and its stand-in install) on
    ``checkout``; every other check is skipped."""
    def stand_in_install(self, ctx, check):
        ctx.venv = types.SimpleNamespace(
            python=sys.executable, installer="pip", path=tmp_path / "venv",
            python_run=lambda code, *args, **kw: subprocess.run(
                [sys.executable, "-c", code, *args], capture_output=True, text=True))
        check.status = "passed"

    monkeypatch.setattr(Install, "run", stand_in_install)
    monkeypatch.setattr("nvx_ft.gate.steps.suites._installed", lambda ctx, dist: True)
    wheel = GateWheel.read(make_wheel(tmp_path, str(MY_TAG)))
    ctx = GateContext(Target("wheel", wheel.path.name, wheel, "wheel file"),
                      interpreters.current(), tmp_path / "report", checkout,
                      runner.gate_env(release_files.DEFAULT_INDEX), budgets,
                      release_files.DEFAULT_INDEX)
    skip = tuple(n for n in CHECKS if n != "install" and n not in steps)
    return runner.run_gate(ctx, skip=skip, display=Display(io.StringIO()))


def check_named(data: dict, name: str) -> dict:
    return next(c for c in data["checks"] if c["name"] == name)
