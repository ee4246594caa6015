"""``nvx-ft gate``'s run: the inputs checked, then every step in order, then the reports."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from nvx_ft import childenv, settings
from nvx_ft.gate import findings, inputs, recommend, report, stability
from nvx_ft.gate.context import PROJECT, Check, GateContext, Step, StepFailed
from nvx_ft.gate.display import Display
from nvx_ft.gate.steps import STEPS
from nvx_ft.release import release_files
from nvx_ft.venvs import CommandFailed

SKIPPED = "not run: skipped with --skip (the verdict cannot be a pass)"
NOT_INSTALLED = "not run: the target could not be installed"


def run(args) -> int:
    target, interp, checkout = inputs.read_inputs(args)
    if getattr(args, "repeat", 1) > 1:  # the same artefact N times: is the verdict a decision here?
        reports = _new_report_dir(Path(args.reports), suffix="-stability")
        return stability.run_repeated(
            args.repeat, lambda n: gate_once(args, target, interp, checkout, reports / f"run{n}"),
            reports, f"{PROJECT} {target.kind} {target.spec}")
    return gate_once(args, target, interp, checkout, _new_report_dir(Path(args.reports)))[
        "exit_code"]


def gate_once(args, target, interp, checkout, report_dir: Path) -> dict:
    """One whole gate run into ``report_dir``; its gate.json data."""
    report_dir.mkdir(parents=True, exist_ok=True)
    real = os.path.realpath(interp.executable)
    where = interp.executable + (f" -> {real}" if real != interp.executable else "")
    print(f"nvx-ft gate: {PROJECT} {target.kind} {target.spec} on {where} (CPython "
          f"{interp.version}, {'free-threaded' if interp.free_threaded else 'GIL'}, "
          f"{interp.source}); reports in {report_dir}", file=sys.stderr, flush=True)
    ctx = GateContext(target, interp, report_dir.resolve(), checkout,
                      gate_env(args.index_url), inputs.budgets(args), args.index_url)
    data = run_gate(ctx, skip=tuple(args.skip), keep_venv=args.keep_venv)
    if args.report_path_file:  # this run's report, not whichever gate.json is newest
        Path(args.report_path_file).write_text(f"{ctx.report_dir / 'gate.json'}\n",
                                               encoding="utf-8")
    print(report.render_table(data))
    print(report.verdict_line(data))
    print(findings.count_line(data["findings"]))
    print(recommend.render_text(data["recommendation"]))
    print(f"reports: {report_dir / 'gate.json'}, {report_dir / 'gate.md'}, "
          f"{report_dir / 'gate.junit.xml'}")
    return data


def _new_report_dir(reports: Path, suffix: str = "") -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + suffix
    report_dir, n = reports / stamp, 1
    while report_dir.exists():
        n += 1
        report_dir = reports / f"{stamp}-{n}"
    report_dir.mkdir(parents=True)
    return report_dir


def gate_env(index_url: str) -> dict[str, str]:
    """Every child's environment: NVX as users get it, nothing of our shell that could
    decide the verdict (``childenv.GATE_VERDICT``), no installer cache, the suites told
    they run in the gate (``$NVX_FT_CHILD``, the one channel; their options - target,
    Hypothesis profile, inconclusive mode - are on their command line)."""
    env = childenv.child_env(scrub=(*childenv.AS_USERS_GET_IT, *childenv.GATE_VERDICT),
                             set={**settings.Child(gate=True).env(),
                                  "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1",
                                  "PIP_NO_INPUT": "1"})
    if index_url != release_files.DEFAULT_INDEX:  # a user's own PIP_INDEX_URL wins
        env.setdefault("PIP_INDEX_URL", index_url)
    return env


def run_gate(ctx: GateContext, *, skip: tuple[str, ...] = (), keep_venv: bool = False,
             display: Display | None = None) -> dict:
    """Every step in order, each filling its check; then the reports. Only a failed
    install stops the run early: nothing else can run without the target."""
    display = display or Display()
    ctx.progress = display.progress
    started = dt.datetime.now(dt.timezone.utc)
    ctx.logs.mkdir(parents=True, exist_ok=True)
    checks = [Check(step.name) for step in STEPS]
    for i, (step, check) in enumerate(zip(STEPS, checks), 1):
        display.start(i, len(STEPS), step.name)
        if i > 1 and checks[0].status != "passed":
            check.summary = NOT_INSTALLED
        elif step.name in skip:
            check.summary = SKIPPED
        else:
            _run_step(step, ctx, check)
        display.finish(check)
    data = report.write_reports(checks, ctx.target, ctx.interp,
                                ctx.venv.installer if ctx.venv else None, started,
                                ctx.report_dir)
    if ctx.venv and not keep_venv:
        shutil.rmtree(ctx.venv.path, ignore_errors=True)
    return data


def _run_step(step: Step, ctx: GateContext, check: Check) -> None:
    t0 = time.monotonic()
    try:
        step.run(ctx, check)
    except (StepFailed, CommandFailed) as exc:
        check.status, check.summary = "failed", str(exc).splitlines()[0]
        check.details.append(str(exc))
    except Exception as exc:  # a bug in a step must not lose the report
        check.status = "failed"
        check.summary = f"internal error: {type(exc).__name__}: {exc}"
        check.details.append(traceback.format_exc())
    check.duration_s = round(time.monotonic() - t0, 1)
