"""One scheduler for every series (:func:`interleave`): builds interleaved in rounds, each in
an order rotated from the last, extra rounds for noisy series while the budget lasts, every
repeat kept; for NVX's scaling, the single-thread benchmarks (rounds merged by
:func:`merge_pytest`) and the echo windows. Method: benchmarks/README.md, Noise.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from nvx_ft.bench import scaling
from nvx_ft.bench.stats import CV_TARGET, cv
from nvx_ft.paths import ROOT

#: mode -> (rounds the scaling repeats are split into, extra rounds for noisy series)
SCALING_ROUNDS = {"quick": (3, 1), "full": (3, 2), "smoke": (1, 0)}
#: scaling reruns start only while they have added less than this share to the rounds' time
RERUN_SHARE = 0.4
#: mode name -> rounds the single-thread suites are split into
SINGLE_ROUNDS = {"quick": 3, "full": 3, "smoke": 1}
#: (target, environment added, test selection): NVX and nvx-ft's pure-Python reference;
#: then autobahn's pure-Python fallback, in its own process with NVX off
TARGETS = (("autobahn", {}, ()),
           ("fallback", {"AUTOBAHN_USE_NVX": "0"}, ("-k", "not reference")))


def split(repeats: int, rounds: int) -> list[int]:
    """``repeats`` over at most ``rounds`` rounds, as evenly as possible (larger first)."""
    rounds = max(1, min(rounds, repeats))
    return [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]


def rotated(items: list, r: int) -> list:
    """Round ``r``'s order: ``items`` from position ``r`` on, so each goes first in turn."""
    k = r % len(items) if items else 0
    return items[k:] + items[:k]


def interleave(rounds: int, round_items: Callable[[int], Iterable], measure: Callable,
               *, reruns: int = 0, noisy: Callable[[int], Iterable] = lambda e: (),
               over: Callable[[], bool] = lambda: False) -> None:
    """``measure`` every item of rounds 0..``rounds``-1 (``round_items(r)``), then of up to
    ``reruns`` extra rounds (``noisy(e)``, none: done); nothing more once ``over()``."""
    def measured(items: Iterable) -> bool:  # False: stopped by the budget
        for item in items:
            if over():
                return False
            measure(item)
        return True

    if all(measured(round_items(r)) for r in range(rounds)):
        for e in range(reruns):
            items = list(noisy(e))
            if not items or not measured(items):
                return


@dataclass
class Job:
    """One build's runs of one part (scaling: ``runs``; single-thread: ``by_target``)."""

    name: str
    python: str
    env: dict  # the children's environment, before a target adds to it
    slot: Path  # the build's report folder
    runs: list[dict] = field(default_factory=list)
    by_target: dict[str, list[dict]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: single-thread targets whose child failed: not run again (it would fail every round)
    failed: set[str] = field(default_factory=set)

    def child(self, run_child, part: str, tag: str, cmd: list[str], env: dict,
              timeout: float) -> dict | None:
        """Run a child writing ``<slot>/<part>-<tag>.json``: its JSON, or None (error noted)."""
        self.slot.mkdir(parents=True, exist_ok=True)
        out = self.slot / f"{part}-{tag}.json"
        err = run_child([self.python, *(a.replace("{out}", str(out)) for a in cmd)],
                        {**self.env, **env}, self.slot / f"{part}-{tag}.log", timeout)
        if err:
            self.errors.append(f"{part.replace('single-', 'single-thread ')} ({tag}): {err}")
            return None
        return json.loads(out.read_text())

    def save(self, name: str, data: dict) -> dict:
        """``data``, also written to ``<slot>/<name>.json``."""
        (self.slot / f"{name}.json").write_text(json.dumps(data, indent=1))
        return data


def noisy_series(runs: list[dict], target: float = CV_TARGET) -> list[str]:
    """``workload:frame`` of the series with a speedup CV above ``target`` so far."""
    return [f"{s['workload']}:{s['frame_size']}" for s in scaling.merge(runs)["series"]
            if any(p["cv_speedup"] > target for p in s["points"][1:])]


def run_scaling(jobs: list[Job], mode: str, run_child, timeout: float, pinned: bool,
                log=print) -> None:
    """Every job's scaling in rounds into ``job.runs``; ``run_child``: None or why it failed."""
    rounds, extra = SCALING_ROUNDS[mode]
    per_round = split(scaling.mode_config(mode).repeats, rounds)
    base = ["-m", "nvx_ft.bench.scaling", "--mode", mode, "--pin", "on" if pinned else "off"]
    t0, regular = time.monotonic(), []

    def measure(item) -> None:
        job, tag, args, what = item
        log(f"[{job.name}] scaling{what}" + (" (pinned)" if pinned else ""))
        got = job.child(run_child, "scaling", tag, [*base, *args, "--json", "{out}"], {},
                        timeout)
        if got:
            job.runs.append(got)

    def noisy(e: int):
        if not regular:  # the regular rounds' time: the reruns' budget is a share of it
            regular.append(time.monotonic() - t0)
        todo = [(job, noisy_series(job.runs)) for job in jobs if job.runs and not job.errors]
        return [(job, f"rerun{e + 1}", ["--repeats", str(per_round[0]), "--only", ",".join(s)],
                 f": {len(s)} noisy series again ({e + 1}/{extra})") for job, s in todo if s]

    def over() -> bool:
        late = regular and time.monotonic() - t0 > (1 + RERUN_SHARE) * regular[0]
        if late:
            log(f"scaling: no more reruns (they may add {RERUN_SHARE:.0%} to the rounds' time)")
        return bool(late)

    interleave(len(per_round), lambda r: [
        (job, f"round{r + 1}", ["--repeats", str(per_round[r])],
         f" ({mode}), round {r + 1}: {per_round[r]} repeats")
        for job in rotated(jobs, r) if not job.errors], measure,
        reruns=extra, noisy=noisy, over=over)


def scaling_result(job: Job) -> dict | None:
    """The merged scaling result of a job (also ``<slot>/scaling.json``)."""
    return job.save("scaling", scaling.merge(job.runs)) if job.runs else None


def round_options(mode, rounds: int) -> list[list[str]]:
    """Each round's pytest-benchmark options: the mode's max-time and min-rounds split."""
    return [[f"--benchmark-max-time={mode.max_time / rounds:g}",
             f"--benchmark-min-rounds={k}", *mode.pytest_args]
            for k in split(max(mode.min_rounds, rounds), rounds)]


def run_single(jobs: list[Job], mode, run_child, log=print) -> list[list[str]]:
    """Every job's single-thread suites in rounds into ``job.by_target``; each round's order."""
    if not jobs:
        return []
    per_round = round_options(mode, SINGLE_ROUNDS[mode.name])
    order: list[list[str]] = []

    def round_items(r: int):
        now = rotated(jobs, r)
        order.append([j.name for j in now])
        return [(j, t, r) for t in TARGETS for j in now]

    def measure(item) -> None:
        job, (target, env, select), r = item
        if target in job.failed:
            return
        log(f"[{job.name}] single-thread benchmarks: {target}, round {r + 1} of "
            f"{len(per_round)}")
        got = job.child(run_child, f"single-{target}", f"round{r + 1}", [
            "-m", "pytest", str(ROOT / "benchmarks"), "-q", "-p", "no:cacheprovider",
            f"--nvx-target={target}", *select, "--benchmark-sort=name",
            "--benchmark-columns=median,ops,rounds", *per_round[r], "--benchmark-json={out}"],
            env, mode.timeout)
        if got is None:
            job.failed.add(target)
        else:
            job.by_target.setdefault(target, []).append(got)

    interleave(len(per_round), round_items, measure)
    return order


def single_result(job: Job) -> dict[str, dict]:
    """target -> the merged JSON of the job's rounds (also ``<slot>/single-<target>.json``)."""
    return {t: job.save(f"single-{t}", merge_pytest(runs)) for t, runs in job.by_target.items()}


def merge_pytest(round_jsons: list[dict]) -> dict:
    """One pytest-benchmark JSON from the rounds: median of medians, min of mins, each round's
    (``round_medians``, ``round_mins``, their ``round_cv``); the rest pooled."""
    by_name: dict[str, list[dict]] = {}
    for one_round in round_jsons:
        for bench in one_round.get("benchmarks", []):
            by_name.setdefault(bench["fullname"], []).append(bench)
    benchmarks = [{**benches[0], "stats": _merged_stats([b["stats"] for b in benches])}
                  for benches in by_name.values()]
    return {**round_jsons[0], "benchmarks": benchmarks, "rounds_merged": len(round_jsons)}


def _merged_stats(per_round: list[dict]) -> dict:
    medians = [s["median"] for s in per_round]
    samples = sum(s["rounds"] for s in per_round)  # pytest-benchmark's "rounds"
    total = sum(s["total"] for s in per_round)
    out = {"min": min(s["min"] for s in per_round), "max": max(s["max"] for s in per_round),
           "mean": total / samples, "median": statistics.median(medians), "rounds": samples,
           "total": total, "ops": samples / total if total else 0.0}
    data = [x for s in per_round for x in s.get("data") or []]
    if len(data) == samples:  # every round kept its samples: pytest-benchmark's own spread
        from pytest_benchmark.stats import Stats  # (so that `compare` reads the merged file)

        pooled = Stats()
        pooled.data = list(data)
        out.update({k: getattr(pooled, k) for k in (
            "stddev", "q1", "q3", "iqr", "iqr_outliers", "stddev_outliers", "outliers",
            "ld15iqr", "hd15iqr")}, data=data)
    if all("iterations" in s for s in per_round):  # calls per sample, calibrated per round
        out["iterations"] = min(s["iterations"] for s in per_round)
    out.update(round_medians=medians, round_mins=[s["min"] for s in per_round],
               round_cv=cv(medians))
    return out
