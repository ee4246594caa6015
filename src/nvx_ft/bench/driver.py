"""``nvx-ft bench`` / ``python -m nvx_ft.bench``: every build, one run, one report.

Builds compared (each in its own venv with nvx-ft and autobahn built from its PyPI sdist
by this machine's compiler - the same for every build, see benchmarks/README.md - made once
under ``.nox/bench-venvs/<label>`` and reused while the interpreter and pyproject.toml
stay the same):

* ``3.14``  - the GIL build, the baseline users have today;
* ``3.14t`` - the free-threaded build as users get it (``PYTHON_GIL`` unset: if NVX's
  import re-enabled the GIL, the report says so);
* ``3.14t PYTHON_GIL=1`` - the same free-threaded binary with the GIL forced on, which
  separates the cost of the build from the cost of running without a GIL.

Interpreters come from :mod:`nvx_ft.interpreters`; a missing one is reported as
missing in the summary. Builds are measured one at a time, interleaved in rounds
(:mod:`nvx_ft.bench.schedule`): NVX's scaling (:mod:`nvx_ft.bench.scaling`), the
single-thread benchmarks (``benchmarks/``, pytest-benchmark; autobahn's fallback in a
process with ``AUTOBAHN_USE_NVX=0``), then the end-to-end echo benchmark
(:mod:`nvx_ft.bench.echo_run`). Pinning is decided once, at the start. The report
(:mod:`nvx_ft.bench.report`) goes to ``reports/bench/<UTC timestamp>/``.
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
from dataclasses import dataclass, field
from pathlib import Path

from nvx_ft import interpreters, venvs
from nvx_ft.bench import machine, schedule
from nvx_ft.bench.records import BuildResult, as_json
from nvx_ft.childenv import MEASUREMENT, child_env
from nvx_ft.paths import ROOT


@dataclass(frozen=True)
class Variant:
    """One of the builds compared: an interpreter and the environment it runs with (one
    free-threaded binary is two variants, with and without ``PYTHON_GIL=1``)."""

    name: str  # as it appears in the report
    label: str  # interpreter label for nvx_ft.interpreters.find
    env: dict[str, str] = field(default_factory=dict)
    #: an interpreter to use as it is (no venv): the smoke test's current interpreter
    python: str | None = None


VARIANTS = (
    Variant("3.14", "3.14"),
    Variant("3.14t", "3.14t"),
    Variant("3.14t PYTHON_GIL=1", "3.14t", {"PYTHON_GIL": "1"}),
)


@dataclass(frozen=True)
class Mode:
    name: str  # quick | full | smoke: also the scaling harness's mode
    #: pytest-benchmark's max-time per benchmark (s): divided over the single-thread
    #: rounds (nvx_ft.bench.schedule)
    max_time: float
    #: pytest-benchmark's min-rounds (samples) per benchmark: split over those rounds
    min_rounds: int
    #: the other pytest-benchmark options for the single-thread benchmarks
    pytest_args: tuple[str, ...]
    #: builds whose single-thread benchmarks run (all, in full mode)
    single_thread_builds: tuple[str, ...] | None
    timeout: float  # seconds per child process


#: Single-thread benchmarks time the process's CPU time: on an idle machine that equals
#: the wall time of a one-thread CPU-bound call, and on a shared one it does not count the
#: time another process held the core (a wall-clock median still would, in every round).
_CPU_TIMER = "--benchmark-timer=time.process_time"
#: Time per sample. That CPU-time clock is a system call here (~0.6 µs: pytest-benchmark's
#: "precision"); calibrated to its default 10x that, one slow first call (cold, tens of µs)
#: stops the calibration at one call per sample, and a 16 B call's sample is then mostly
#: the clock: 0.9 µs per call (1 call per sample) vs 0.3 µs (20) for the same call, seen
#: here. At 100 µs per sample such a first call no longer stops it, the clock is < 1 %.
_SAMPLE_TIME = "--benchmark-min-time=0.0001"

MODES = {
    # quick: ~2.5 minutes for three builds on 2 cores
    "quick": Mode("quick", 0.02, 3, (_CPU_TIMER, _SAMPLE_TIME, "--benchmark-warmup=off",
                                     "--nvx-intensity=default"),
                  ("3.14", "3.14t"), 300),
    # full: ~40 minutes for three builds on 2 cores (nightly)
    "full": Mode("full", 0.25, 7, (_CPU_TIMER, _SAMPLE_TIME, "--benchmark-warmup=on",
                                   "--nvx-intensity=nightly"), None, 3600),
    # every benchmark once, untimed structure check (tests/test_benchmarks_smoke.py)
    "smoke": Mode("smoke", 0, 1, ("--benchmark-warmup=off", "--nvx-bench-sizes=16,1024"),
                  None, 300),
}


# --------------------------------------------------------------------------- venvs


def _bench_requirements() -> list[str]:
    """The ``bench`` extra minus plotting: children measure, the parent plots."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    return [r for r in extras["bench"] if not r.lower().startswith("matplotlib")]


def provision(interp: interpreters.Interpreter, venv_root: Path, log) -> str:
    """A venv for ``interp`` with nvx-ft (editable) and autobahn; its python."""
    # the real binary: nox finds interpreters through a folder of links, a shell via PATH
    real = os.path.realpath(interp.executable)
    # autobahn from its sdist in every venv: there is no cp314t wheel, so 3.14t builds NVX
    # here; 3.14 must too, or "ft vs GIL" would compare autobahn's CI compiler with ours
    requirements = ["--no-binary", "autobahn", "-e", f"{ROOT}[target]", *_bench_requirements()]
    pyproject = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return venvs.provisioned(real, venv_root / interp.label, requirements,
                             stamp={"version": interp.version, "pyproject": pyproject},
                             progress=log, log=venv_root / f"{interp.label}.log", cache=True)


# --------------------------------------------------------------------------- children


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
    if rc == 0:
        return None
    tail = log_path.read_text().splitlines()[-15:]
    return f"exit code {rc} (log: {log_path}):\n" + "\n".join(tail)


def _collect(results: dict, jobs: dict, t0: float) -> None:
    """Each job's errors, and an even share of the time since ``t0``, to its build."""
    share = (time.monotonic() - t0) / max(1, len(jobs))
    for name, job in jobs.items():
        results["builds"][name].errors += job.errors
        results["builds"][name].seconds += share


def _jobs(resolved: list, wanted=lambda variant: True) -> dict[str, schedule.Job]:
    return {v.name: schedule.Job(v.name, python, child_env(scrub=MEASUREMENT, set=v.env), slot)
            for v, python, slot, _ in resolved if wanted(v)}


def run_single(resolved: list, mode: Mode, results: dict, log) -> None:
    """The single-thread benchmarks of every build that runs them in this mode, builds
    interleaved in rounds, into ``results["builds"]``; a failed child is an error of its
    build. The order of each round goes to ``results["single_thread_rounds"]``."""
    jobs = _jobs(resolved, lambda v: mode.single_thread_builds is None or v.python
                 or v.name in mode.single_thread_builds)
    t0 = time.monotonic()
    results["single_thread_rounds"] = schedule.run_single(list(jobs.values()), mode,
                                                          _run_child, log)
    _collect(results, jobs, t0)
    for variant, *_ in resolved:
        if variant.name in jobs:
            results["builds"][variant.name].single = schedule.single_result(jobs[variant.name])
        else:
            results["builds"][variant.name].single_not_run = (
                f"{mode.name} mode runs the single-thread benchmarks only for "
                f"{', '.join(mode.single_thread_builds)}")


def _run_nvx(resolved: list, mode: Mode, results: dict, log) -> None:
    """NVX scaling of every build in interleaved rounds, then the single-thread
    benchmarks, interleaved in rounds as well."""
    jobs = _jobs(resolved)
    t0 = time.monotonic()
    schedule.run_scaling(list(jobs.values()), mode.name, _run_child, mode.timeout,
                         results["pinning"]["pinned"], log)
    _collect(results, jobs, t0)
    for name, job in jobs.items():
        results["builds"][name].scaling = schedule.scaling_result(job)
    run_single(resolved, mode, results, log)
    for build in results["builds"].values():
        if build.errors:
            build.status = "failed"


def _run_echo(results: dict, mode: Mode, out: Path, log) -> dict | None:
    """The end-to-end echo benchmark on every build that has an interpreter."""
    from nvx_ft.bench import echo_run

    builds = [echo_run.EchoBuild(name, b.python, b.env)
              for name, b in results["builds"].items() if b.python]
    if not builds:
        return None
    log(f"[end-to-end] echo servers on {', '.join(b.name for b in builds)} ({mode.name})")
    return echo_run.run(builds, mode.name, out, log, pinning=results["pinning"])


def _resolve(variant: Variant, out: Path, venv_root: Path | None, results: dict, log):
    """(variant, python, report folder, interpreter info), or None with the reason in
    ``results["builds"]`` (missing interpreter, failed venv)."""
    slot = out / re.sub(r"[^A-Za-z0-9.]+", "-", variant.name)
    if variant.python:
        return variant, variant.python, slot, {"executable": variant.python, "source": "given"}
    try:
        interp = interpreters.find(variant.label)
    except LookupError as exc:  # an env var names something that is not it
        results["builds"][variant.name] = BuildResult("missing", str(exc))
        log(f"[{variant.name}] MISSING: {exc}")
        return None
    if interp is None:
        how = interpreters.how_to_get(variant.label)
        results["builds"][variant.name] = BuildResult(
            "missing", f"python{variant.label} not found; {how}")
        log(f"[{variant.name}] MISSING - NOT RUN: python{variant.label} not found ({how})")
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


def _probe_steadiness(wanted: bool, log) -> dict | None:
    """The steadiness probe (:mod:`nvx_ft.bench.steadiness`); None where not ``wanted``
    (the report then says "not probed")."""
    if not wanted:
        return None
    from nvx_ft.bench import steadiness

    log(f"machine steadiness: {steadiness.SECONDS:.0f} s probe on every CPU")
    return steadiness.probe()


def run_all(variants, mode: Mode, out: Path, venv_root: Path | None, log=print, *,
            nvx: bool = True, echo: bool = True, probe: bool = True) -> dict:
    """``probe``: the steadiness probe (never in smoke mode: it checks structure and has
    no time for it); ``nvx``: NVX scaling of every build in interleaved rounds, then the
    single-thread benchmarks, interleaved in rounds too; ``echo``: the end-to-end echo
    benchmark over all builds at once; the probe again. The combined results (also
    written to ``out/results.json``)."""
    probe = probe and mode.name != "smoke"
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    results: dict = {"kind": "nvx-ft-bench", "mode": mode.name,
                     "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
                     "machine": machine.machine_info(),
                     "load_average_start": machine.load_average(), "builds": {}}
    resolved = [r for r in (_resolve(v, out, venv_root, results, log) for v in variants) if r]
    # the machine's own noise, before and after: what no figure here can be steadier than
    results["steadiness"] = {"start": _probe_steadiness(probe, log)}
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
    if echo:
        results["echo"] = _run_echo(results, mode, out, log)
    results["steadiness"]["end"] = _probe_steadiness(probe, log)
    if results.get("echo"):
        results["echo"]["steadiness"] = results["steadiness"]
    results["load_average_end"] = machine.load_average()
    results["seconds"] = time.time() - started
    (out / "results.json").write_text(json.dumps(results, indent=1, default=as_json))
    return results


# --------------------------------------------------------------------------- command line


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
    from nvx_ft import errors
    from nvx_ft.bench import report

    mode = MODES[args.mode or ("full" if args.full else "quick")]
    if args.current:
        interp = interpreters.current()
        variants = [Variant(f"{interp.label} (current)", interp.label, python=sys.executable)]
    else:
        variants = list(VARIANTS)
        if args.builds:
            wanted = [b.strip() for b in args.builds.split(",")]
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
    statuses = [b.status for b in results["builds"].values()]
    if "failed" in statuses or (results.get("echo") or {}).get("status") == "failed":
        return errors.EXIT_FAIL
    if not _free_threaded_measured(results):
        print("nvx-ft bench: BLOCKED - no free-threaded build was measured", file=sys.stderr)
        return errors.EXIT_BLOCKED
    return errors.EXIT_PASS


def _free_threaded_measured(results: dict) -> bool:
    nvx = any(b.status == "ok" and (b.scaling or {}).get("origin", {})
              .get("build") == "free-threaded" for b in results["builds"].values())
    servers = ((results.get("echo") or {}).get("servers") or {}).values()
    return nvx or any(s["info"] and s["info"].get("free_threaded_build") and not s["error"]
                      for s in servers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nvx_ft.bench",
                                     description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    from nvx_ft import errors

    try:
        return run(parser.parse_args(argv))
    except errors.UsageError as exc:
        print(f"nvx-ft bench: error: {exc}", file=sys.stderr)
        return errors.EXIT_USAGE
