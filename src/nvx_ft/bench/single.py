"""The single-thread benchmarks (``benchmarks/``, pytest-benchmark) of every build in
interleaved rounds.

pytest-benchmark times a whole suite in one process, each benchmark for at most its
max-time (quick: 0.02 s). Run one build after the other, and each build's figure for a
call is taken at whatever speed the CPU had at that moment: this VM's CPUs flip between a
fast and a slow regime (about 1.7x apart, for 0.2-1 s), and the medians of the same call
differed up to 3x between two builds at 16 B. So, as the scaling harness does
(:mod:`nvx_ft.bench.rounds`), the suites run in rounds: each round runs every build once,
in an order rotated from round to round (per target the builds back to back: NVX as
autobahn ships it, then autobahn's pure-Python fallback), each with the mode's max-time
divided by the number of rounds, so that the total time stays the same. Per build and
target the rounds are merged into one pytest-benchmark JSON (:func:`merge`): the median of
the rounds' medians, the min of their mins, every round's median and their CV.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from nvx_ft.bench.rounds import rotated, split
from nvx_ft.bench.stats import cv
from nvx_ft.paths import ROOT

#: mode name -> rounds the single-thread suites are split into
ROUNDS = {"quick": 3, "full": 3, "smoke": 1}

#: (target, environment added, test selection): NVX and nvx-ft's pure-Python reference;
#: then autobahn's pure-Python fallback, in its own process with NVX off
TARGETS = (("autobahn", {}, ()),
           ("fallback", {"AUTOBAHN_USE_NVX": "0"}, ("-k", "not reference")))


@dataclass
class Build:
    """One build's single-thread runs."""

    name: str
    python: str
    env: dict  # the children's environment, before a target adds to it
    slot: Path  # the build's report folder
    #: target -> the JSON of each round that succeeded, in round order
    runs: dict[str, list[dict]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: targets whose child failed: not run again (a broken build would fail every round)
    failed: set[str] = field(default_factory=set)


def round_options(mode, rounds: int) -> list[list[str]]:
    """pytest-benchmark options of each round: the mode's max-time divided by the rounds
    and its min-rounds split over them (at least one each), so that the rounds together
    take about as long as one run with the mode's options."""
    return [[f"--benchmark-max-time={mode.max_time / rounds:g}",
             f"--benchmark-min-rounds={k}", *mode.pytest_args]
            for k in split(max(mode.min_rounds, rounds), rounds)]


def _one(build: Build, target: str, extra_env: dict, select: tuple, tag: str,
         options: list[str], run_child, timeout: float) -> None:
    build.slot.mkdir(parents=True, exist_ok=True)
    out = build.slot / f"single-{target}-{tag}.json"  # pytest-benchmark's own format
    err = run_child([build.python, "-m", "pytest", str(ROOT / "benchmarks"), "-q",
                     "-p", "no:cacheprovider", f"--nvx-target={target}", *select,
                     f"--benchmark-json={out}", "--benchmark-sort=name",
                     "--benchmark-columns=median,ops,rounds", *options],
                    {**build.env, **extra_env}, build.slot / f"single-{target}-{tag}.log",
                    timeout)
    if err:
        build.errors.append(f"single-thread {target} ({tag}): {err}")
        build.failed.add(target)
    else:
        build.runs.setdefault(target, []).append(json.loads(out.read_text()))


def run(builds: list[Build], mode, run_child, log=print) -> list[list[str]]:
    """Run every build's single-thread suites in ``ROUNDS[mode.name]`` rounds; the round
    JSONs land in ``build.runs`` (merge them with :func:`result`), failures in
    ``build.errors``. ``mode``: a :class:`nvx_ft.bench.driver.Mode`; ``run_child(cmd,
    env, log_path, timeout)`` runs one process and returns None or why it failed. Returns
    the order the builds ran in, one list per round (none without builds)."""
    if not builds:
        return []
    per_round = round_options(mode, ROUNDS[mode.name])
    order = []
    for r, options in enumerate(per_round):
        builds_now = rotated(builds, r)
        order.append([b.name for b in builds_now])
        for target, extra_env, select in TARGETS:
            for build in builds_now:
                if target in build.failed:
                    continue
                log(f"[{build.name}] single-thread benchmarks: {target}, "
                    f"round {r + 1} of {len(per_round)}")
                _one(build, target, extra_env, select, f"round{r + 1}", options, run_child,
                     mode.timeout)
    return order


def result(build: Build) -> dict[str, dict]:
    """target -> the merged JSON of the build's rounds (also written to
    ``<slot>/single-<target>.json``)."""
    merged = {}
    for target, runs in build.runs.items():
        merged[target] = merge(runs)
        (build.slot / f"single-{target}.json").write_text(json.dumps(merged[target], indent=1))
    return merged


def merge(round_jsons: list[dict]) -> dict:
    """One pytest-benchmark JSON from the round JSONs of one build and target. Per
    benchmark (by full name): ``median`` = the median of the rounds' medians (a round
    taken in the CPU's slow regime cannot move it), ``min`` = the min of their mins,
    ``round_medians`` / ``round_mins`` = each round's, ``round_cv`` = the CV of the round
    medians; the other statistics pooled over every round's samples."""
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
    if len(data) == samples:  # every round kept its samples: pytest-benchmark's spread
        out.update(_spread(data), data=data)
    if all("iterations" in s for s in per_round):  # calls per sample, calibrated per round
        out["iterations"] = min(s["iterations"] for s in per_round)
    out.update(round_medians=medians, round_mins=[s["min"] for s in per_round],
               round_cv=cv(medians))
    return out


def _spread(data: list[float]) -> dict:
    """pytest-benchmark's spread statistics of pooled samples (quartiles: the inclusive
    method of :func:`statistics.quantiles`), so that ``pytest-benchmark compare`` can
    read a merged file like a round's."""
    ordered = sorted(data)
    mean = statistics.fmean(data)
    stddev = statistics.stdev(data) if len(data) > 1 else 0.0
    q1, _, q3 = (statistics.quantiles(data, n=4, method="inclusive") if len(data) > 1
                 else (data[0],) * 3)
    iqr = q3 - q1
    low_fence, high_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    # never empty: the quartiles lie between samples
    inside = [x for x in ordered if low_fence <= x <= high_fence]
    iqr_outliers = len(data) - len(inside)
    stddev_outliers = sum(not mean - stddev <= x <= mean + stddev for x in data)
    return {"stddev": stddev, "q1": q1, "q3": q3, "iqr": iqr, "iqr_outliers": iqr_outliers,
            "stddev_outliers": stddev_outliers, "outliers": f"{stddev_outliers};{iqr_outliers}",
            "ld15iqr": inside[0], "hd15iqr": inside[-1]}
