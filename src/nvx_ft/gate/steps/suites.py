"""The checkout's pytest suites, each run contained by :func:`nvx_ft.suites.run_suite` in
the venv: a crash or hang is a named failure with its stack, and the gate goes on.

The gate owns each suite's command line (:func:`pinned_args`) and environment
(``runner.gate_env``); every suite reports the ``_nvx_*`` files it loaded, and a file
that is not the wheel's fails the step (:func:`check_nvx_modules`)."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Callable

from nvx_ft import junit, overlap, suites
from nvx_ft.gate.context import Budgets, Check, GateContext
from nvx_ft.gate.wheel import module_problem

# Reproducible runs: Hypothesis' ci profile, the suite's own test order.
_PROFILE = ("--hypothesis-profile=ci", "-p", "no:randomly")

#: NVX as users get it: autobahn's wheel, never its fallback or a ``module:function``.
TARGET = "autobahn"
#: What a race check that did not reach its overlap does under the gate: a pytest skip
#: whose reason starts ``INCONCLUSIVE:`` (``nvx_ft.overlap``), which the gate judges; never
#: ``warn`` (a pass with a warning), whatever the shell says.
INCONCLUSIVE_MODE = "skip"


def pinned_args(checkout: Path) -> list[str]:
    """The part of every suite's command line that no environment or stray file changes:
    the checkout's own configuration (``-c pyproject.toml``: a ``pytest.ini``, ``tox.ini``
    or ``setup.cfg`` lying in the checkout would otherwise win), its root (node ids as in
    the checkout) kept off ``sys.path`` (``importlib`` import mode: a ``_nvx_*`` build left
    in the checkout must not shadow the wheel's), the target and the inconclusive mode."""
    return ["-c", str(checkout / "pyproject.toml"), "--rootdir", str(checkout),
            "--import-mode=importlib", f"--nvx-target={TARGET}",
            f"--nvx-inconclusive={INCONCLUSIVE_MODE}"]


@dataclass(frozen=True)
class SuiteStep:
    name: str
    folder: str  # in the checkout
    pytest_args: tuple[str, ...]
    budget: Callable[[Budgets], float]  # the whole suite's hard bound
    requires: tuple[str, ...] = ()  # distributions the venv must hold, else not run

    def run(self, ctx: GateContext, check: Check) -> None:
        folder = ctx.checkout / self.folder
        if not folder.is_dir():
            check.summary = f"not run: the checkout has no {self.folder}/ ({folder})"
            return
        missing = [d for d in self.requires if not _installed(ctx, d)]
        if missing:
            check.summary = f"not run: {', '.join(missing)} is not installed in the venv"
            return
        timeout = self.budget(ctx.budgets)
        junit = ctx.logs / f"{self.name}.junit.xml"
        # cwd: the report folder, as the install probe's; ``python -m`` puts the cwd first
        # on sys.path, and the checkout may hold a local NVX build
        result = suites.run_suite(ctx.venv.python, folder, env=ctx.env, timeout=timeout,
                                  test_timeout=min(ctx.budgets.test, timeout),
                                  extra_args=[*pinned_args(ctx.checkout), *self.pytest_args],
                                  junit=junit, cwd=ctx.report_dir, name=self.name,
                                  output_dir=ctx.logs, progress=ctx.progress)
        fill_check(check, result)
        add_overlap(check, _output_text(result))
        check_nvx_modules(ctx, check, result)
        check.outputs.append(str(junit))


def check_nvx_modules(ctx: GateContext, check: Check, result: suites.SuiteResult) -> None:
    """The ``_nvx_*`` files the suite loaded must be the wheel's, as the install step
    found them: otherwise the suite tested another build, and the step fails naming the
    file loaded and the wheel's, with both hashes."""
    wheel, installed = ctx.target.wheel, (ctx.target.installed or {})
    record, site = (wheel.record if wheel else {}), installed.get("site")
    problems = []
    for mod in result.nvx_modules:
        problem = module_problem(mod["name"], mod["file"], mod["sha256"], record, site)
        if problem:
            own = installed.get("modules", {}).get(mod["name"], {})
            problems.append(f"{check.name} tested another NVX build: it loaded "
                            f"{mod['file']} (sha256 {mod['sha256']}), the wheel's is "
                            f"{own.get('file', '?')} (sha256 RECORD "
                            f"{record.get(Path(mod['file']).name) or own.get('sha256', '?')}): "
                            f"{problem}")
    check.details += [f"loaded {m['name']}: {m['file']} sha256 {m['sha256']}"
                      for m in result.nvx_modules]
    if not result.nvx_modules and result.status != "not-run":
        check.details.append("loaded no _nvx_* module (the suite never imported NVX, or "
                             "its pytest session did not finish)")
    if problems:
        check.status = "failed"
        check.summary = f"{problems[0]}; " + check.summary
        check.failures[:0] = [{"nodeid": f"<{check.name}: _nvx_* loaded>", "message": p}
                              for p in problems]


#: the closing count of stress/'s and protocol/'s terminal summaries (passed / killed /
#: INCONCLUSIVE per race check or multi-thread run)
_OUTCOME_COUNTS = ("race checks: ", "protocol runs: ")


def add_overlap(check: Check, output: str) -> None:
    """The overlap each race check reached, from the suite's terminal summary: the
    closing count goes into the summary, every test's overlap line into the details."""
    lines = output.splitlines()
    counts = [ln.strip() for ln in lines if ln.startswith(_OUTCOME_COUNTS)]
    if counts:
        check.summary += "; " + "; ".join(counts)
    for before, line in zip(lines, lines[1:]):
        if line.lstrip().startswith("overlap: "):
            check.details.append(f"{before.strip()[:300]}\n    {line.strip()}")


def _output_text(result: suites.SuiteResult) -> str:
    return "\n".join(Path(p).read_text(errors="replace") for p in result.output
                     if Path(p).is_file())


def _installed(ctx: GateContext, distribution: str) -> bool:
    probe = ctx.venv.python_run("import importlib.metadata as m, sys; m.distribution(sys.argv[1])",
                                distribution)
    return probe.returncode == 0


def fill_check(check: Check, result: suites.SuiteResult) -> None:
    check.suite = result
    check.status, check.counts = result.status, result.counts
    check.failures = [{"nodeid": n, "message": m} for n, m in result.failures]
    check.outputs += result.output
    check.summary = (result.summary() if result.status != "not-run"
                     else f"not run: {result.reason}")
    if result.status == "failed" and overlap.only_inconclusive([m for _, m in result.failures]):
        # no evidence either way: not a failure of the target, not a pass (exit 2)
        check.status = "inconclusive"
        check.summary = (f"inconclusive: {len(result.failures)} race check(s) did not reach "
                         f"the overlap they need (one CPU or a busy machine?); "
                         + result.summary())
    if result.failures:
        nodeid, message = result.failures[0]
        check.summary += f"; first: {nodeid}: {junit.headline(message)}"
    elif result.reason and result.status != "not-run":
        check.summary += f"; {result.reason}"


# The target's correctness, not nvx-ft's own self-tests (marked harness).
CORRECTNESS = SuiteStep("correctness", "tests", (*_PROFILE, "-m", "not harness"),
                        attrgetter("suite"))
STRESS = SuiteStep("stress", "stress", _PROFILE, attrgetter("stress"))
PROTOCOL = SuiteStep("protocol", "protocol", _PROFILE, attrgetter("protocol"),
                     requires=("websockets",))
BENCHMARK_SMOKE = SuiteStep("benchmark-smoke", "benchmarks", ("--benchmark-disable",),
                            attrgetter("suite"), requires=("pytest-benchmark",))
