"""What every step shares: the target, the interpreter, the venv, the environment, the
budgets; and what every step produces: its :class:`Check`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from nvx_ft import suites
from nvx_ft.gate.wheel import GateWheel
from nvx_ft.interpreters import Interpreter
from nvx_ft.venvs import Venv

PROJECT = "autobahn"


@dataclass
class Check:
    """One step's result, as it appears in ``gate.json``."""
    name: str
    status: str = "not-run"
    duration_s: float = 0.0
    summary: str = ""
    counts: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    #: race checks only: how far above its need each got (``gate.reruns.margins``)
    margins: dict = field(default_factory=dict)
    #: race checks only: the reruns of inconclusive checks with a larger overlap budget
    reruns: list[dict] = field(default_factory=list)
    suite: suites.SuiteResult | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("suite")
        return d


class StepFailed(Exception):
    """A step cannot go on: its check fails with this message."""


@dataclass(frozen=True)
class Budgets:
    """Hard bounds in seconds (the CLI's ``--*-timeout`` options)."""
    suite: float = 900  # gil-guard, correctness, benchmark smoke
    # room to rerun some 30 of the 47 race checks at 9 s or more: beside busy loops 34
    # missed at once, and 600 s left no rerun larger than the first run's 4 s
    stress: float = 900
    protocol: float = 600  # reruns of up to five multi-thread runs at 20 s, then 60 s
    test: float = 300  # one test: a hang beyond it is a named failure, the suite goes on


@dataclass
class Target:
    """What is gated: ``kind`` wheel | sdist | pypi, and the wheel once there is one."""
    kind: str
    spec: str
    wheel: GateWheel | None = None
    origin: str | None = None
    installed: dict | None = None  # what the venv imports, probed after the install

    def as_dict(self) -> dict:
        d = {"kind": self.kind, "spec": self.spec,
             "wheel": str(self.wheel.path) if self.wheel else None,
             "wheel_sha256": self.wheel.sha256 if self.wheel else None, "origin": self.origin}
        if self.installed is not None:
            d["installed"] = self.installed
        return d


@dataclass
class GateContext:
    target: Target
    interp: Interpreter
    report_dir: Path  # absolute: the venv and every child use it from other directories
    checkout: Path  # the nvx-ft checkout whose tests/, stress/, protocol/, benchmarks/ run
    env: dict[str, str]  # every child process's environment
    budgets: Budgets
    index_url: str
    progress: Callable[[int, int, int, float], None] | None = None  # a suite's test counts
    venv: Venv | None = None  # made by the install step

    @property
    def logs(self) -> Path:
        return self.report_dir / "logs"


class Step(Protocol):
    """One check of the gate. ``run`` fills ``check`` from what ``ctx`` holds (and may add
    to it, as the install step adds the venv); a step that starts a child process bounds
    it by its own entry of ``ctx.budgets``. Raising :class:`StepFailed` fails the check
    with that message."""

    name: str

    def run(self, ctx: GateContext, check: Check) -> None: ...
