"""``nvx-ft bench`` / ``python -m nvx_ft.bench``: every build, one run, one report.

Each build in its venv (``.nox/bench-venvs/<label>``), one at a time, interleaved in rounds;
report: ``reports/bench/<UTC timestamp>/``; method: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvx_ft import errors, interpreters, venvs
from nvx_ft.bench import machine, report, schedule
from nvx_ft.bench.figures import BuildResult
from nvx_ft.childenv import MEASUREMENT, child_env
from nvx_ft.paths import ROOT


@dataclass(frozen=True)
class Variant:
    """A build compared: an interpreter and its environment (e.g. ``PYTHON_GIL=1``)."""

    name: str  # as it appears in the report
    label: str  # interpreter label for nvx_ft.interpreters.find
    env: dict[str, str] = field(default_factory=dict)
    #: an interpreter to use as it is (no venv): the smoke test's current interpreter
    python: str | None = None


VARIANTS = (Variant("3.14", "3.14"), Variant("3.14t", "3.14t"),
            Variant("3.14t PYTHON_GIL=1", "3.14t", {"PYTHON_GIL": "1"}))


@dataclass(frozen=True)
class Mode:
    name: str  # quick | full | smoke: also the scaling harness's and echo benchmark's mode
    max_time: float  # pytest-benchmark's per benchmark, split over the rounds
    min_rounds: int  # likewise
    pytest_args: tuple[str, ...]  # its other options
    single_thread_builds: tuple[str, ...] | None  # None: every build
    timeout: float  # seconds per child process


#: CPU time, not wall time: it leaves out the time another process held the core; samples
#: of >= 100 µs, so the CPU-time clock (a system call) stays < 1 % of one (README: Single-thread)
_TIMING = ("--benchmark-timer=time.process_time", "--benchmark-min-time=0.0001")
MODES = {
    "quick": Mode("quick", 0.02, 3, (*_TIMING, "--benchmark-warmup=off",
                                     "--nvx-intensity=default"), ("3.14", "3.14t"), 300),
    "full": Mode("full", 0.25, 7, (*_TIMING, "--benchmark-warmup=on", "--nvx-intensity=nightly"),
                 None, 3600),
    # every benchmark once, untimed: a structure check (selftests/test_benchmarks_smoke.py)
    "smoke": Mode("smoke", 0, 1, ("--benchmark-warmup=off", "--nvx-bench-sizes=16,1024"),
                  None, 300),
}


def provision(interp: interpreters.Interpreter, venv_root: Path, log) -> str:
    """A venv for ``interp`` (its python): nvx-ft, autobahn built here from its sdist (every
    build's NVX from one compiler), the ``bench`` extra but matplotlib (the parent plots)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    requirements = ["--no-binary", "autobahn", "-e", f"{ROOT}[target]",
                    *(r for r in extras["bench"] if not r.lower().startswith("matplotlib"))]
    pyproject = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    # the real binary: nox finds interpreters through a folder of links, a shell via PATH
    return venvs.provisioned(os.path.realpath(interp.executable), venv_root / interp.label,
                             requirements, stamp={"version": interp.version,
                                                  "pyproject": pyproject},
                             progress=log, log=venv_root / f"{interp.label}.log", cache=True)


def _run_child(cmd: list[str], env: dict, log_path: Path, timeout: float) -> str | None:
    """Run one measurement process; None on success, else the reason (with log tail)."""
    with open(log_path, "w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        try:
            rc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return f"timed out after {timeout:.0f} s (log: {log_path})"
    tail = "\n".join(log_path.read_text().splitlines()[-15:]) if rc else ""
    return f"exit code {rc} (log: {log_path}):\n{tail}" if rc else None


def _part(resolved: list, results: dict, run, wanted=lambda variant: True) -> tuple:
    """(jobs, ``run(jobs)``) for the ``wanted`` builds; errors and time to each build."""
    jobs = {v.name: schedule.Job(v.name, python, child_env(scrub=MEASUREMENT, set=v.env), slot)
            for v, python, slot, _ in resolved if wanted(v)}
    t0 = time.monotonic()
    got = run(list(jobs.values()))
    share = (time.monotonic() - t0) / max(1, len(jobs))
    for name, job in jobs.items():
        results["builds"][name].errors += job.errors
        results["builds"][name].seconds += share
    return jobs, got


def run_single(resolved: list, mode: Mode, results: dict, log) -> None:
    """The single-thread benchmarks of the builds this mode runs them on, into ``results``."""
    jobs, results["single_thread_rounds"] = _part(
        resolved, results, lambda jobs: schedule.run_single(jobs, mode, _run_child, log),
        lambda v: mode.single_thread_builds is None or v.python
        or v.name in mode.single_thread_builds)
    for variant, *_ in resolved:
        if variant.name in jobs:
            results["builds"][variant.name].single = schedule.single_result(jobs[variant.name])
        else:
            results["builds"][variant.name].single_not_run = (
                f"{mode.name} mode runs the single-thread benchmarks only for "
                f"{', '.join(mode.single_thread_builds)}")


def _run_nvx(resolved: list, mode: Mode, results: dict, log) -> None:
    """NVX scaling of every build, then the single-thread benchmarks (rounds each)."""
    jobs, _ = _part(resolved, results, lambda jobs: schedule.run_scaling(
        jobs, mode.name, _run_child, mode.timeout, results["pinning"]["pinned"], log))
    for name, job in jobs.items():
        results["builds"][name].scaling = schedule.scaling_result(job)
    run_single(resolved, mode, results, log)
    for build in results["builds"].values():
        if build.errors:
            build.status = "failed"


def _resolve(variant: Variant, out: Path, venv_root: Path | None, results: dict, log):
    """(variant, python, report folder, interpreter info), or None with why in ``results``."""
    slot = out / re.sub(r"[^A-Za-z0-9.]+", "-", variant.name)
    if variant.python:
        return variant, variant.python, slot, {"executable": variant.python, "source": "given"}
    try:
        interp = interpreters.find(variant.label)
        missing = None if interp else (f"python{variant.label} not found; "
                                       f"{interpreters.how_to_get(variant.label)}")
    except LookupError as exc:  # an env var names something that is not it
        missing = str(exc)
    if missing:
        results["builds"][variant.name] = BuildResult("missing", missing)
        log(f"[{variant.name}] MISSING - NOT RUN: {missing}")
        return None
    interp_info = {**interp.as_dict(), "executable": os.path.realpath(interp.executable)}
    try:
        python = provision(interp, venv_root, log) if venv_root else interp.executable
    except venvs.CommandFailed as exc:
        results["builds"][variant.name] = BuildResult(
            "failed", interpreter=interp_info, errors=[f"venv setup failed: {exc}"])
        log(f"[{variant.name}] FAILED: venv setup: {exc}")
        return None
    return variant, python, slot, interp_info


def run_all(variants, mode: Mode, out: Path, venv_root: Path | None, log=print, *,
            nvx: bool = True, echo: bool = True, probe: bool = True) -> dict:
    """Probe (not in smoke mode), NVX (scaling, single-thread), echo, probe: the results."""
    def probe_steadiness() -> dict | None:  # None: "not probed" (smoke: no time for it)
        if not probe or mode.name == "smoke":
            return None
        from nvx_ft.bench import steadiness

        log(f"machine steadiness: {steadiness.SECONDS:.0f} s probe on every CPU")
        return steadiness.probe()

    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict = {"kind": "nvx-ft-bench", "mode": mode.name,
                     "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
                     "machine": machine.machine_info(),
                     "load_average_start": machine.load_average(), "builds": {}}
    resolved = [r for r in (_resolve(v, out, venv_root, results, log) for v in variants) if r]
    results["steadiness"] = {"start": probe_steadiness()}
    # pinned or not, for the whole run: from how idle the machine is at its start
    results["pinning"] = machine.decision("auto")
    for variant, python, slot, interp_info in resolved:
        results["builds"][variant.name] = BuildResult(
            "ok", python=python, env=variant.env, interpreter=interp_info, dir=slot.name,
            single_not_run=None if nvx else "--echo-only")
    if nvx and resolved:
        _run_nvx(resolved, mode, results, log)
    for name, b in results["builds"].items():
        for e in b.errors:
            log(f"[{name}] ERROR {e}")
    if echo:  # the end-to-end echo benchmark on every build that has an interpreter
        from nvx_ft.bench import echo_run

        builds = [echo_run.EchoBuild(name, b.python, b.env)
                  for name, b in results["builds"].items() if b.python]
        log(f"[end-to-end] echo servers on {', '.join(b.name for b in builds) or 'no build'} "
            f"({mode.name})")
        results["echo"] = echo_run.run(builds, mode.name, out, log,
                                       pinning=results["pinning"]) if builds else None
    results["steadiness"]["end"] = probe_steadiness()
    if results.get("echo"):
        results["echo"]["steadiness"] = results["steadiness"]
    results["load_average_end"] = machine.load_average()
    results["seconds"] = time.time() - started
    (out / "results.json").write_text(json.dumps(results, indent=1, default=asdict))  # records
    return results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--full", action="store_true",
                        help="nightly mode: more sizes, threads, repeats, longer windows")
    parser.add_argument("--mode", choices=sorted(MODES), default=None,
                        help="quick (default), full (= --full) or smoke")
    parser.add_argument("--out", default=None,
                        help="report folder (default: reports/bench/<UTC timestamp>)")
    parser.add_argument("--builds", default=None,
                        help="comma-separated subset of: " + ", ".join(b.name for b in VARIANTS))
    parser.add_argument("--current", action="store_true",
                        help="measure only the running interpreter, as it is (no venvs)")
    parser.add_argument("--venv-root", default=str(ROOT / ".nox" / "bench-venvs"),
                        help="where the per-build venvs live")
    parser.add_argument("--no-venv", action="store_true",
                        help="run each interpreter as found (it must have nvx-ft and autobahn)")
    parser.add_argument("--no-steadiness", action="store_true",
                        help="leave out the machine-steadiness probes before and after "
                             "(the report then gives no noise floor)")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--no-echo", action="store_true",
                      help="leave out the end-to-end WebSocket echo benchmark")
    part.add_argument("--echo-only", action="store_true",
                      help="only the end-to-end WebSocket echo benchmark")


def run(args) -> int:
    mode = MODES[args.mode or ("full" if args.full else "quick")]
    if args.current:
        interp = interpreters.current()
        variants = [Variant(f"{interp.label} (current)", interp.label, python=sys.executable)]
    else:
        wanted = ([b.strip() for b in args.builds.split(",")] if args.builds
                  else [v.name for v in VARIANTS])
        unknown = set(wanted) - {b.name for b in VARIANTS}
        if unknown:
            raise errors.UsageError(f"unknown build(s) {sorted(unknown)}; choose from "
                                    + ", ".join(b.name for b in VARIANTS))
        variants = [v for v in VARIANTS if v.name in wanted]
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = Path(args.out) if args.out else ROOT / "reports" / "bench" / stamp
    venv_root = None if (args.no_venv or args.current) else Path(args.venv_root)
    results = run_all(variants, mode, out, venv_root, log=lambda m: print(m, flush=True),
                      nvx=not args.echo_only, echo=not args.no_echo,
                      probe=not args.no_steadiness)
    summary = report.write_report(results, out)
    print(summary)
    drawn = "".join(f", {out}/{png}" for png in ("scaling.png", "echo.png")
                    if (out / png).exists())
    print(f"\nreport: {out}/summary.md{drawn}, raw JSON {out}/results.json", flush=True)
    builds, echo = results["builds"].values(), results.get("echo") or {}
    if any(b.status == "failed" for b in builds) or echo.get("status") == "failed":
        return errors.EXIT_FAIL
    nvx_measured = any(b.status == "ok" and (b.scaling or {}).get("origin", {}).get("build")
                       == "free-threaded" for b in builds)  # NVX scaling on a 3.14t
    echo_measured = any(s["info"] and s["info"].get("free_threaded_build") and not s["error"]
                        for s in (echo.get("servers") or {}).values())  # a 3.14t echo server
    if not (nvx_measured or echo_measured):
        print("nvx-ft bench: BLOCKED - no free-threaded build was measured", file=sys.stderr)
        return errors.EXIT_BLOCKED
    return errors.EXIT_PASS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nvx_ft.bench",
                                     description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except errors.UsageError as exc:
        print(f"nvx-ft bench: error: {exc}", file=sys.stderr)
        return errors.EXIT_USAGE
