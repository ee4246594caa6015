"""The checkout's pytest suites, each run contained by :func:`nvx_ft.suites.run_suite` in
the venv: a crash or hang is a named failure with its stack, and the gate goes on."""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Callable

from nvx_ft import junit, overlap, suites
from nvx_ft.gate.context import Budgets, Check, GateContext

# Reproducible runs: Hypothesis' ci profile, the suite's own test order.
_PROFILE = ("--hypothesis-profile=ci", "-p", "no:randomly")


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
        result = suites.run_suite(ctx.venv.python, folder, env=ctx.env, timeout=timeout,
                                  test_timeout=min(ctx.budgets.test, timeout),
                                  extra_args=list(self.pytest_args), junit=junit,
                                  cwd=ctx.checkout, name=self.name, output_dir=ctx.logs,
                                  progress=ctx.progress)
        fill_check(check, result)
        add_overlap(check, _output_text(result))
        check.outputs.append(str(junit))


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
