"""The gate's second chance for race checks, and how far above its need each got.

A race check that did not reach the overlap it needs is *inconclusive*: no evidence
either way. On a healthy machine that only means it ran out of time (its first run has
the default intensity's few seconds); so the gate reruns just those checks, alone, with
a larger overlap budget - 15 s, then 60 s, the nightly's - as long as the step's hard
bound leaves room for them. A check whose need no run on this machine can meet (it asks
for parallel time and one CPU is usable) is not rerun: more time cannot help, and the
verdict says so at once. A check that failed (a race caught) is never rerun.

:func:`margins` reads the need and the overlap every race run reported (the suite's
``TestOutcome.races``) and gives each check's margin: reached / needed for the figure
closest to its need (1.0 = just met). The worst ones go into gate.json, so a verdict's
stability can be judged from one run and compared over many (``gate --repeat``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nvx_ft import overlap, suites

#: a rerun's overlap budget is at least this much larger than the last one, else the
#: rerun could not show more than the run before it
MIN_GROWTH = 1.5
#: share of the time left that the reruns' overlap budgets may take; the rest is each
#: test's own work (set-up, first round, checks) and pytest's start
BUDGET_SHARE = 0.6
#: how many checks the summary and gate.json list, worst first
WORST = 5


@dataclass
class Rerun:
    number: int
    budget: float
    nodeids: list[str]

    def describe(self) -> str:
        return (f"rerun {self.number}: {len(self.nodeids)} inconclusive race check(s) with "
                f"--nvx-overlap-budget={self.budget:g}: " + ", ".join(self.nodeids))

    def outcome(self, result: suites.SuiteResult) -> dict:
        return {"rerun": self.number, "overlap_budget_s": self.budget,
                "tests": {o.nodeid: o.outcome for o in result.tests},
                "duration_s": round(result.duration, 1)}


def _pending(result: suites.SuiteResult) -> list[suites.TestOutcome]:
    """Inconclusive checks that more time could turn conclusive."""
    return [o for o in result.tests if o.outcome == "inconclusive"
            and overlap.UNREACHABLE not in o.message]


class Planner:
    """Which rerun comes next: ``next(result)`` after each run (the first, then each
    rerun merged into it) gives the next :class:`Rerun`, or None when nothing is pending,
    the suite failed (the verdict is decided), the budgets are used up, or the time
    left cannot give a budget clearly larger than the last one's."""

    def __init__(self, budgets: tuple[float, ...], deadline: float) -> None:
        self.budgets = budgets
        self.deadline = deadline
        self.last = budgets[0] if budgets else 0.0
        self.number = 0

    def next(self, result: suites.SuiteResult) -> Rerun | None:
        if self.number + 1 >= len(self.budgets):
            return None
        if result.status in ("failed", "crashed", "timeout"):
            return None
        pending = _pending(result)
        if not pending:
            return None
        left = self.deadline - time.monotonic()
        # each check's own work: its last run's time beyond that run's overlap budget
        work = sum(max(0.0, o.duration - self.last) for o in pending)
        fits = (BUDGET_SHARE * left - work) / len(pending)
        budget = round(min(self.budgets[self.number + 1], fits), 1)
        if budget < MIN_GROWTH * self.last:
            return None
        self.number += 1
        self.last = budget
        return Rerun(self.number, budget, [o.nodeid for o in pending])


def margins(result: suites.SuiteResult) -> dict:
    """Each race check's margin over its need (the smallest over its runs), worst first:
    ``{"checks": n, "worst": [{"nodeid", "margin", "figure", "outcome"}, ...]}``.

    A run goes on in rounds until its need is met, so what it reached is always just
    above the need: that ratio alone says nothing about luck. The margin is the ratio
    projected onto the run's whole overlap budget - reached / needed x budget / time
    taken: a need met in a tenth of the budget has x10 to spare, one met in its last
    round x1.0, one missed below 1 (:func:`run_margin`)."""
    rows = []
    for o in result.tests:
        best = None
        for run in o.races:
            found = run_margin(run)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        if best is not None:
            rows.append({"nodeid": o.nodeid, "margin": round(best[0], 3), "figure": best[1],
                         "outcome": o.outcome})
    rows.sort(key=lambda r: r["margin"])
    return {"checks": len(rows), "worst": rows[:WORST]} if rows else {}


def run_margin(run: dict) -> tuple[float, str] | None:
    """(margin, what it is made of) for one recorded race run, None without a need."""
    if not run.get("need") or not run.get("overlap"):
        return None
    need = overlap.Need(run["need"].get("interleaved_calls", 0),
                        run["need"].get("parallel_seconds", 0.0))
    ratio, figure = need.margin(overlap.OverlapReport.from_dict(run["overlap"]))
    if ratio == float("inf"):
        return None
    wall, budget = run.get("wall"), run.get("budget")
    if wall and budget and ratio >= 1.0:  # met: how much of the budget it took
        return (ratio * max(1.0, budget / wall),
                f"{figure} in {wall:.1f}s of its {budget:g}s budget")
    return ratio, figure
