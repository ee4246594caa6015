"""The checkout's pytest suites, each run contained by :func:`nvx_ft.suites.run_suite` in
the venv: a crash or hang is a named failure with its stack, and the gate goes on.

The gate owns each suite's command line (:func:`pinned_args`) and environment
(``runner.gate_env``); every suite reports the ``_nvx_*`` files it loaded, and a file
that is not the wheel's fails the step (:func:`check_nvx_modules`)."""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Callable

from nvx_ft import junit, overlap, suites
from nvx_ft.gate import reruns
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
    #: --nvx-overlap-budget of the first run and of each rerun of the race checks that
    #: were inconclusive (``reruns.plan``); empty: the suite has no race checks
    overlap_budgets: tuple[float, ...] = ()

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
        deadline = time.monotonic() + timeout
        junit_path = ctx.logs / f"{self.name}.junit.xml"

        def run_once(name: str, budget: float | None, select=()) -> suites.SuiteResult:
            left = max(1.0, deadline - time.monotonic())
            args = [*pinned_args(ctx.checkout), *self.pytest_args] + (
                [f"--nvx-overlap-budget={budget:g}"] if budget else [])
            # cwd: the report folder, as the install probe's; ``python -m`` puts the cwd
            # first on sys.path, and the checkout may hold a local NVX build
            return suites.run_suite(ctx.venv.python, folder, env=ctx.env, timeout=left,
                                    test_timeout=min(ctx.budgets.test, left),
                                    extra_args=args, cwd=ctx.report_dir, name=name,
                                    output_dir=ctx.logs, progress=ctx.progress,
                                    # node ids are relative to the checkout (--rootdir)
                                    select=[str(ctx.checkout / n) for n in select])

        budgets = self.overlap_budgets
        result = run_once(self.name, budgets[0] if budgets else None)
        planner = reruns.Planner(budgets, deadline)
        while (rerun := planner.next(result)) is not None:
            check.details.append(rerun.describe())
            again = run_once(f"{self.name}-rerun{rerun.number}", rerun.budget, rerun.nodeids)
            result = suites.merge_rerun(result, again)
            check.reruns.append(rerun.outcome(again))
        suites.with_junit(result, junit_path)
        fill_check(check, result, min_tests(ctx.checkout, self.folder))
        add_overlap(check, _output_text(result))
        check_nvx_modules(ctx, check, result)
        check.margins = reruns.margins(result)
        if check.margins.get("worst"):
            worst = check.margins["worst"][0]
            check.summary += (f"; worst margin x{worst['margin']:.2f} ({worst['nodeid']}: "
                              f"{worst['figure']})")
        check.outputs.append(str(junit_path))


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
    if counts and len(counts) == 1 + len(check.reruns):  # name the run each count is of
        counts = [counts[0]] + [f"rerun {r['rerun']} ({r['overlap_budget_s']:g} s): {c}"
                                for r, c in zip(check.reruns, counts[1:])]
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


def fill_check(check: Check, result: suites.SuiteResult, min_ran: int = 1) -> None:
    check.suite = result
    check.status, check.counts = result.status, result.counts
    check.failures = [{"nodeid": n, "message": m} for n, m in result.failures]
    check.outputs += result.output
    ran = sum(result.counts.get(k, 0) for k in suites.RAN)
    if result.status in ("passed", "inconclusive") and ran < min_ran:
        # a suite that shrank (deselected, skipped) shows too little to count as evidence
        result.status = check.status = "not-run"
        result.reason = (f"only {ran} test(s) ran to a result, fewer than the {min_ran} "
                         f"this suite must run ({result.summary()})")
    check.summary = (result.summary() if result.status != "not-run"
                     else f"not run: {result.reason}")
    if result.status == "failed" and overlap.only_inconclusive([m for _, m in result.failures]):
        check.status = "inconclusive"  # failed only as inconclusive (an older runner)
    if check.status == "inconclusive":
        # no evidence either way: not a failure of the target, not a pass (exit 2)
        n = result.counts.get("inconclusive", 0) or len(result.failures)
        check.summary = (f"inconclusive: {n} race check(s) did not reach the overlap they "
                         f"need{_why_inconclusive(result)}; " + result.summary())
    if result.failures:
        nodeid, message = result.failures[0]
        check.summary += f"; first: {nodeid}: {junit.headline(message)}"
    elif check.status == "inconclusive":
        first = next(o for o in result.tests if o.outcome == "inconclusive")
        check.summary += f"; first: {first.nodeid}: {junit.headline(first.message)[:160]}"
    elif result.reason and result.status != "not-run":
        check.summary += f"; {result.reason}"


def _why_inconclusive(result: suites.SuiteResult) -> str:
    messages = [o.message for o in result.tests if o.outcome == "inconclusive"]
    if messages and all(overlap.UNREACHABLE in m for m in messages):
        return " (one CPU usable: threads cannot run in parallel on this machine)"
    return " even with reruns (a busy machine?)"


# The target's correctness, not nvx-ft's own self-tests (marked harness).
def min_tests(checkout: Path, folder: str) -> int:
    """The suite's own minimum of tests that must run to a result (not skipped), from the
    checkout's ``[tool.nvx-ft.min-tests]`` (the same pyproject.toml the suites run with);
    1 where it declares none. Fewer: the step is not run, never passed."""
    try:
        data = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
        return int(data["tool"]["nvx-ft"]["min-tests"][folder])
    except (OSError, KeyError, ValueError, TypeError):
        return 1


# Overlap budgets: the first run's is the default intensity's; a race check still
# inconclusive is rerun alone with 15 s (protocol: 20 s), then 60 s (the nightly's
# budget) while the step's bound allows (gate/reruns.py).
CORRECTNESS = SuiteStep("correctness", "tests", (*_PROFILE, "-m", "not harness"),
                        attrgetter("suite"))
STRESS = SuiteStep("stress", "stress", _PROFILE, attrgetter("stress"),
                   overlap_budgets=(4.0, 15.0, 60.0))
PROTOCOL = SuiteStep("protocol", "protocol", _PROFILE, attrgetter("protocol"),
                     requires=("websockets",), overlap_budgets=(8.0, 20.0, 60.0))
BENCHMARK_SMOKE = SuiteStep("benchmark-smoke", "benchmarks", ("--benchmark-disable",),
                            attrgetter("suite"), requires=("pytest-benchmark",))
