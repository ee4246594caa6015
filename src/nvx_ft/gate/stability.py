"""``nvx-ft gate --repeat N``: the same artefact gated N times, verdicts side by side.

A verdict a release manager can lean on is the same on every run of a healthy machine.
This runs the whole gate N times on one artefact (an sdist or PyPI release is built into
a wheel by the first run; every later run gates that same wheel) and writes, next to the
runs' own report folders, ``stability.md`` and ``stability.json``: per run its verdict,
exit code, classifier, time to verdict and, per race-check step, its status, the
reruns it took and its worst margin (how far above its need the closest check got,
``gate.reruns.margins``); then whether every run agreed, and the worst check of all.

Exit code: the runs' common exit code when they all agree; 1 when they do not (a gate
whose answer changes from run to run is itself a failure to report).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from nvx_ft.errors import EXIT_FAIL

RACE_STEPS = ("stress", "protocol")


def row(number: int, data: dict) -> dict:
    """One run's line: what decides the release and how close its race checks came."""
    checks = {c["name"]: c for c in data["checks"]}
    steps = {}
    for name in RACE_STEPS:
        c = checks.get(name)
        if c is None:
            continue
        worst = (c.get("margins") or {}).get("worst") or [None]
        steps[name] = {"status": c["status"], "reruns": len(c.get("reruns") or []),
                       "worst": worst[0]}
    return {"run": number, "verdict": data["verdict"], "exit_code": data["exit_code"],
            "classifier": data["recommendation"]["label"],
            "duration_s": data["duration_s"], "steps": steps}


def summarise(rows: list[dict]) -> dict:
    verdicts = sorted({(r["verdict"], r["exit_code"], r["classifier"]) for r in rows})
    worst = [dict(w, run=r["run"], step=s) for r in rows for s, st in r["steps"].items()
             if (w := st["worst"]) is not None]
    worst.sort(key=lambda w: w["margin"])
    durations = sorted(r["duration_s"] for r in rows)
    return {"runs": len(rows), "agree": len(verdicts) == 1,
            "verdicts": [{"verdict": v, "exit_code": e, "classifier": c,
                          "runs": sum(1 for r in rows if (r["verdict"], r["exit_code"],
                                                          r["classifier"]) == (v, e, c))}
                         for v, e, c in verdicts],
            "median_duration_s": durations[len(durations) // 2] if durations else None,
            "worst_margin": worst[0] if worst else None, "rows": rows}


def render(summary: dict, target: str) -> str:
    lines = [f"# nvx-ft gate stability: {target}, {summary['runs']} runs", "",
             ("**Every run gave the same verdict.**" if summary["agree"] else
              "**The verdict CHANGED between runs: the gate's answer is not a decision "
              "here.**"), "",
             "| run | verdict | exit | classifier | time to verdict | "
             + " | ".join(f"{s}: status, reruns, worst margin" for s in RACE_STEPS) + " |",
             "|---|---|---|---|---|" + "---|" * len(RACE_STEPS)]
    for r in summary["rows"]:
        cells = []
        for s in RACE_STEPS:
            st = r["steps"].get(s)
            if st is None:
                cells.append("-")
                continue
            w = st["worst"]
            cells.append(f"{st['status']}, {st['reruns']}, " + (
                f"x{w['margin']:.2f} `{w['nodeid']}`" if w else "n/a"))
        lines.append(f"| {r['run']} | {r['verdict']} | {r['exit_code']} | {r['classifier']} "
                     f"| {r['duration_s']:.0f} s | " + " | ".join(cells) + " |")
    lines += ["", "Verdicts: " + "; ".join(
        f"{v['verdict']} (exit {v['exit_code']}, {v['classifier']}) x{v['runs']}"
        for v in summary["verdicts"]),
        f"Median time to verdict: {summary['median_duration_s']:.0f} s"]
    w = summary["worst_margin"]
    if w:
        lines.append(f"Worst margin of all runs: x{w['margin']:.2f} - {w['nodeid']} "
                     f"({w['figure']}, {w['step']}, run {w['run']}; 1.00 = just met its need)")
    return "\n".join(lines) + "\n"


def run_repeated(times: int, gate_once: Callable[[int], dict], reports: Path,
                 target: str) -> int:
    """``gate_once(n)`` for n = 1..times (each returns its gate.json data); the
    stability reports; the exit code (see the module doc)."""
    rows = []
    for n in range(1, times + 1):
        print(f"nvx-ft gate --repeat: run {n} of {times}", flush=True)
        rows.append(row(n, gate_once(n)))
    summary = summarise(rows)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "stability.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = render(summary, target)
    (reports / "stability.md").write_text(text)
    print(text)
    print(f"stability reports: {reports / 'stability.md'}, {reports / 'stability.json'}")
    return rows[0]["exit_code"] if summary["agree"] else EXIT_FAIL
