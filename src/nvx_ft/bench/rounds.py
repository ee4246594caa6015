"""NVX parallel scaling of every build in interleaved rounds, with reruns of noisy series.

The scaling harness (:mod:`nvx_ft.bench.scaling`) runs inside one interpreter, so one
build's repeats used to run back to back, minutes away from the next build's: load
from elsewhere that came and went hit one build and not the other. Here the repeats are
split into rounds; each round runs every build once (a short child process with
``--repeats k``), in an order rotated from round to round. Then every series (workload,
frame) of a build with a speedup whose CV missed the target is run again with more
repeats (``--only``), while the extra rounds last and they have not added more than
``RERUN_SHARE`` to the time of the regular rounds. Per build the runs are merged
(:func:`nvx_ft.bench.scaling.merge`): every repeat is kept, none is dropped for being
slow. Whether threads are pinned to cores is decided before every round, from how idle
the machine is then (:func:`nvx_ft.bench.pinning.decide`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from nvx_ft.bench import cpustat, pinning, scaling
from nvx_ft.bench.findings import CV_TARGET

#: mode -> (rounds the repeats are split into, extra rounds for noisy series at most)
ROUNDS = {"quick": (3, 1), "full": (3, 2), "smoke": (1, 0)}
#: reruns start only while they have added less than this share to the rounds' time
RERUN_SHARE = 0.4


@dataclass
class Job:
    """One build's scaling runs."""

    name: str
    python: str
    env: dict
    slot: Path  # the build's report folder
    runs: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def split(repeats: int, rounds: int) -> list[int]:
    """``repeats`` over at most ``rounds`` rounds, as evenly as possible (larger first)."""
    rounds = max(1, min(rounds, repeats))
    return [repeats // rounds + (i < repeats % rounds) for i in range(rounds)]


def rotated(items: list, r: int) -> list:
    """Round ``r``'s order (0-based): ``items`` started at position ``r`` (mod their
    count), so that every build goes first in turn and none always runs last."""
    if not items:
        return []
    k = r % len(items)
    return items[k:] + items[:k]


def noisy_series(runs: list[dict], target: float = CV_TARGET) -> list[str]:
    """``workload:frame`` of the series with a speedup CV above ``target`` so far."""
    merged = scaling.merge(runs)
    return [f"{s['workload']}:{s['frame_size']}" for s in merged["series"]
            if any(p["cv_speedup"] > target for p in s["points"][1:])]


def _one(job: Job, tag: str, args: list[str], run_child, timeout: float) -> None:
    job.slot.mkdir(parents=True, exist_ok=True)
    out = job.slot / f"scaling-{tag}.json"
    err = run_child([job.python, "-m", "nvx_ft.bench.scaling", *args, "--json", str(out)],
                    job.env, job.slot / f"scaling-{tag}.log", timeout)
    if err:
        job.errors.append(f"scaling ({tag}): {err}")
    else:
        job.runs.append(json.loads(out.read_text()))


def run(jobs: list[Job], mode: str, run_child, timeout: float, pin: str = "auto",
        log=print) -> list[dict]:
    """Measure every job's scaling in rounds; results land in ``job.runs`` (merge them
    with :func:`result`). ``run_child(cmd, env, log_path, timeout)`` runs one process
    and returns None or the reason it failed. ``pin`` ("on", "off", "auto") is decided
    again before every round (:func:`nvx_ft.bench.pinning.decide`: the machine's load
    changes); returns the decisions, one per round."""
    rounds, extra = ROUNDS[mode]
    decisions: list[dict] = []

    def base() -> list[str]:
        pinned, why = pinning.decide(pin, cpustat.idle_share(0.5) if pin == "auto" else None)
        decisions.append({"pinned": pinned, "note": why})
        return ["--mode", mode, "--pin", "on" if pinned else "off"]

    t0 = time.monotonic()
    for r, k in enumerate(split(scaling.mode_config(mode).repeats, rounds)):
        args = base()
        for job in rotated(jobs, r):
            if not job.errors:
                log(f"[{job.name}] scaling ({mode}), round {r + 1}: {k} repeats"
                    + (" (pinned)" if decisions[-1]["pinned"] else ""))
                _one(job, f"round{r + 1}", [*args, "--repeats", str(k)], run_child, timeout)
    regular = time.monotonic() - t0

    def over() -> bool:
        if time.monotonic() - t0 > (1 + RERUN_SHARE) * regular:
            log(f"scaling: no more reruns (they may add {RERUN_SHARE:.0%} to the rounds' time)")
            return True
        return False

    for e in range(extra):
        todo = [(job, noisy_series(job.runs)) for job in jobs if job.runs and not job.errors]
        todo = [(job, noisy) for job, noisy in todo if noisy]
        if not todo or over():
            break
        args = base()
        for job, noisy in todo:
            if over():
                break
            log(f"[{job.name}] scaling: {len(noisy)} noisy series again ({e + 1}/{extra})")
            _one(job, f"rerun{e + 1}", [*args, "--repeats", str(split(
                scaling.mode_config(mode).repeats, rounds)[0]), "--only", ",".join(noisy)],
                run_child, timeout)
    return decisions


def result(job: Job) -> dict | None:
    """The merged scaling result of a job (also written to ``<slot>/scaling.json``)."""
    if not job.runs:
        return None
    merged = scaling.merge(job.runs)
    (job.slot / "scaling.json").write_text(json.dumps(merged, indent=1))
    return merged
