"""Build every mutant, run the suites against it, write the kill matrix.

``python -m nvx_ft.mutants.run [--mode default|tsan|asan]`` (what ``nox -s mutants``
runs): NVX is built from autobahn's sdist (the installed version by default) once
unchanged (the control) and once per mutant, for the interpreter that runs the suites
(for ``tsan``: a venv of the ThreadSanitizer interpreter). Each (mutant, suite) runs in
its own pytest subprocess with the build first on ``PYTHONPATH``, ``-x`` and a small
Hypothesis profile, bounded in time: a crash (signal) or a hang (per-test timeout, then
SIGABRT of the whole process) is a named failure with the faulthandler stack and the
matrix goes on. Results: ``reports/mutants/<interpreter>-<mode>.{md,json}``.

The run fails (exit 1) when the control fails any suite, when a mutant survives every
suite run against it, or when a build fails; it reports expected killers that missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvx_ft import build as build_mod
from nvx_ft import mutants as corpus_mod
from nvx_ft import sanitizers

ROOT = Path(__file__).resolve().parents[3]  # the checkout: tests/ and stress/ live here
KINDS = {"_xormasker.c": "xor", "_utf8validator.c": "utf8"}
SEED = 20251124  # one fixed seed: a matrix is reproducible run to run

# Pytest options every suite run gets: verbose (the running test id is printed before
# it runs, so a crash or hang names it), stop at the first failure (time to kill), no
# cache state between mutants; per run: fixed seeds, the faulthandler dumping a stuck
# test's stack, pytest-timeout's thread method ending a test stuck in C.
COMMON_ARGS = ("-v", "-x", "-p", "no:cacheprovider", "-o", "console_output_style=classic")


@dataclass(frozen=True)
class Suite:
    """One suite as run against a mutant: pytest paths, narrowed to the mutated module.

    ``paths`` maps an NVX module kind ("utf8", "xor") to the pytest paths that exercise
    it ("all" = every kind); ``keyword`` is a ``-k`` expression with ``{kind}`` filled in
    for a mutant of one module, and ``base_keyword`` is used for the control / unknown.
    """

    name: str
    paths: dict
    args: tuple = ()
    keyword: str | None = None
    base_keyword: str | None = None
    test_timeout: float = 10.0  # one test; a hang in C is stopped by faulthandler
    timeout: float = 180.0  # whole process; then SIGABRT (faulthandler dump), SIGKILL
    modes: tuple = ("default",)
    sanitizer: str | None = None
    #: a suite whose kill is a matter of chance (thread interleavings) is run up to this
    #: many times with different seeds until it kills; the control runs every round
    rounds: int = 1

    def pytest_args(self, kind: str | None) -> list[str]:
        if kind and kind in self.paths:
            paths = list(self.paths[kind])
        else:
            paths = sorted({t for ts in self.paths.values() for t in ts})
        if kind and self.keyword:
            return [*paths, "-k", self.keyword.format(kind=kind)]
        if self.base_keyword:
            return [*paths, "-k", self.base_keyword]
        return paths


_DIFF = {"utf8": ("tests/test_utf8_differential.py", "tests/test_known_divergences.py",
                  "tests/test_wrapper_vs_lib.py"),
         "xor": ("tests/test_xor_differential.py", "tests/test_wrapper_vs_lib.py")}
_STRESS = {"all": ("stress",)}
# stress/ minus the GIL guard (its own suite) and the harness self-tests (they test
# nvx-ft with injected bad targets, not the build under test)
_NOT_STRESS = "not gil and not selftest and not test_hammer"

SUITES: dict[str, Suite] = {
    # tests/: Hypothesis differential against the references, dev profile (25 examples)
    "differential": Suite("differential", _DIFF, ("--hypothesis-profile=dev",)),
    # stress/: the thread hammer (default intensity), without the GIL guard
    "stress": Suite("stress", _STRESS, keyword="{kind} and " + _NOT_STRESS,
                    base_keyword=_NOT_STRESS, rounds=3),
    # the GIL guard: the GIL must stay disabled after importing and using NVX
    "gil": Suite("gil", {"all": ("stress/test_gil_guard.py::test_nvx_imports_keep_the_gil_disabled",
                                 "stress/test_gil_after_stress.py")}),
    # stress/ under ThreadSanitizer: killed by a race report with NVX frames
    # (without the unsupported shared-object-without-lock experiment: it races by design)
    "tsan": Suite("tsan", _STRESS, keyword="{kind} and " + _NOT_STRESS + " and not without_lock",
                  base_keyword=_NOT_STRESS + " and not without_lock", test_timeout=300, timeout=900, modes=("tsan",),
                  sanitizer="tsan"),
    # the differential suite under AddressSanitizer: killed by a report with NVX frames
    "asan": Suite("asan", _DIFF, ("--hypothesis-profile=dev",), test_timeout=60,
                  timeout=300, modes=("asan",), sanitizer="asan"),
}


# ----------------------------------------------------------------------------- containment


@dataclass
class SuiteResult:
    suite: str
    status: str  # passed | failed | crashed | hung | sanitizer | error | not-run
    seconds: float
    returncode: int | None = None
    test: str | None = None  # the failing / crashing / hanging test id
    detail: str = ""  # minimal example, faulthandler stack, sanitizer frames
    command: str = ""
    log: str | None = None
    rounds: int = 1

    @property
    def killed(self) -> bool:
        return self.status in ("failed", "crashed", "hung", "sanitizer")


# "path::test[id] " as pytest -v prints it when the test starts ("... PASSED" when done);
# not "path::test[id]: ..." lines of a terminal summary
_RUNNING = re.compile(r"^(\S+::\S*[^:\s])(?: (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b)?(?!:)",
                      re.M)


def _last_started(out: str) -> str | None:
    started = [m.group(1) for m in _RUNNING.finditer(out) if not m.group(2)]
    return started[-1] if started else None


def _excerpt(out: str, start_pat: str, lines: int = 25) -> str:
    m = re.search(start_pat, out, re.M)
    if not m:
        return ""
    return "\n".join(out[m.start():].splitlines()[:lines])


_STACK_HEADERS = r"Fatal Python error: .*|Timeout \(\d+:\d+:\d+\)!|\++ Timeout \++"


def _stack_detail(out: str, frames: int = 16) -> str:
    """The dump's headline plus the thread stack that runs the test (innermost first)."""
    m = re.search(_STACK_HEADERS, out)
    if not m:
        return ""
    blocks = re.split(r"\n\s*\n|\n~+ Stack of ", out[m.end():])[:16]
    test_frame = re.compile(r'File "[^"]*test_\w+\.py"')
    chosen = next((b for b in blocks if test_frame.search(b)), blocks[0] if blocks else "")
    lines = chosen.strip("\n").splitlines()
    # faulthandler prints the innermost frame first; pytest-timeout prints a traceback
    lines = lines[:frames] if "most recent call first" in chosen else lines[-frames:]
    return m.group(0).strip() + "\n" + "\n".join(lines)


def classify(out: str, rc: int | None, timed_out: bool, sanitizer: str | None) -> tuple:
    """(status, test, detail) of one finished pytest process."""
    if sanitizer:
        reports = (sanitizers.parse_tsan if sanitizer == "tsan" else sanitizers.parse_asan)(out)
        nvx = [r for r in reports if r.touches_nvx]
        if nvx:
            return "sanitizer", _last_started(out), sanitizers.summarize(nvx)
    if timed_out:
        return "hung", _last_started(out), "no result within the suite's time bound\n" \
            + _stack_detail(out)
    if rc is not None and rc < 0:
        sig = signal.Signals(-rc).name if -rc in signal.Signals._value2member_map_ else rc
        return "crashed", _last_started(out), f"signal {sig}\n" + _stack_detail(out)
    if "+++++ Timeout +++++" in out or re.search(r"^E\s+Failed: Timeout", out, re.M):
        return "hung", _last_started(out), _stack_detail(out)
    if rc == 0:
        return "passed", None, ""
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, re.M)
    if rc == 1 and failed:
        example = _excerpt(out, r"^(Falsifying example|E\s+AssertionError|E\s+)", 12)
        return "failed", failed[0], example
    if sanitizer and rc not in (0, 1):
        # a sanitizer report without NVX frames, or the runtime aborting: not a kill
        return "error", _last_started(out), _excerpt(out, r"(WARNING: ThreadSanitizer|ERROR: AddressSanitizer)", 30)
    return "error", None, "\n".join(out.splitlines()[-25:])


def run_contained(cmd: list[str], env: dict, timeout: float, cwd: Path,
                  log_path: Path | None = None, sanitizer: str | None = None,
                  suite: str = "") -> SuiteResult:
    """One pytest process: output captured, bounded in time, crash/hang classified.

    With a sanitizer, its reports are written to files (``log_path=``), appended to the
    output and parsed: a report with NVX frames is a kill.
    """
    started = time.monotonic()
    timed_out = False
    with tempfile.TemporaryFile() as buf, tempfile.TemporaryDirectory() as san_dir:
        if sanitizer:
            env = sanitizers.env_for(sanitizer, env, san_dir)
        proc = subprocess.Popen(cmd, stdout=buf, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack
            try:
                rc = proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                rc = proc.wait()
        seconds = time.monotonic() - started
        buf.seek(0)
        out = buf.read().decode(errors="replace")
        if sanitizer:
            out += "\n" + sanitizers.collect_logs(san_dir)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(out)
    status, test, detail = classify(out, rc, timed_out, sanitizer)
    return SuiteResult(suite, status, round(seconds, 2), rc, test, detail,
                       " ".join(cmd), str(log_path) if log_path else None)


# ----------------------------------------------------------------------------- matrix


@dataclass
class MutantResult:
    name: str
    category: str
    summary: str
    killers: list
    applicable: bool
    note: str = ""
    build: dict = field(default_factory=dict)
    results: dict = field(default_factory=dict)  # suite -> SuiteResult

    @property
    def killed_by(self) -> list[str]:
        return [s for s, r in self.results.items() if r.killed]

    @property
    def time_to_kill(self) -> float | None:
        times = [r.seconds for r in self.results.values() if r.killed]
        return min(times) if times else None


def mutant_kind(m: corpus_mod.Mutant) -> str | None:
    kinds = {KINDS.get(e.file) for e in m.edits}
    return kinds.pop() if len(kinds) == 1 else None


def suites_for(mode: str, names: list[str] | None, known: dict | None = None) -> list[Suite]:
    known = SUITES if known is None else known
    chosen = [s for s in known.values() if mode in s.modes]
    if names:
        unknown = set(names) - set(known)
        if unknown:
            raise build_mod.BuildError(f"unknown suites {sorted(unknown)}; known: {', '.join(known)}")
        chosen = [s for s in chosen if s.name in names]
    return chosen


def _suite_exists(suite: Suite) -> bool:
    return all((ROOT / t.split("::")[0]).exists() for ts in suite.paths.values() for t in ts)


def run_matrix(mode: str = "default", mutant_names=None, suite_names=None,
               all_suites: bool = False, autobahn: str | None = None,
               source: str | None = None, python: str | None = None,
               out_dir: Path | None = None, log=print, suites: dict | None = None) -> dict:
    """The kill matrix; ``suites`` replaces :data:`SUITES` (self-tests use small ones)."""
    started = time.monotonic()
    python = python or sys.executable
    ident = build_mod.interpreter_identity(python)
    free_threaded = ident["free_threaded"]
    label = "%s%s" % (".".join(ident["version"].split()[0].split(".")[:2]),
                      "t" if free_threaded else "")
    if mode == "tsan" and not sanitizers.is_tsan_python(python):
        raise sanitizers.SanitizerUnavailable(f"{python} is not a TSan free-threaded CPython")
    label += "" if mode == "default" else f"-{mode}"
    out_dir = out_dir or ROOT / "reports" / "mutants"
    logs = out_dir / "logs" / label
    version = autobahn or (None if source else build_mod.installed_autobahn_version())
    src = build_mod.nvx_source(version=version if not source else None, path=source)
    cflags = list(sanitizers.ASAN_CFLAGS) if mode == "asan" else []
    env_base = os.environ.copy()
    env_base.pop("PYTHONPATH", None)
    env_base["PYTHONFAULTHANDLER"] = "1"
    env_base.pop("NVX_FT_HYPOTHESIS_PROFILE", None)
    chosen = suites_for(mode, suite_names, suites)
    missing = [s for s in chosen if not _suite_exists(s)]
    suites = [s for s in chosen if s not in missing]
    for s in missing:
        log(f"nvx-ft mutants: suite {s.name} NOT RUN: {s.pytest_args(None)} missing in {ROOT}")

    if mutant_names:  # named ones run in any mode (e.g. a default mutant under ASan)
        unknown = set(mutant_names) - {m.name for m in corpus_mod.corpus()} - {corpus_mod.CONTROL}
        if unknown:
            raise build_mod.BuildError(f"unknown mutants {sorted(unknown)} (see --list)")
        mutants = [corpus_mod.CONTROL_MUTANT] + [m for m in corpus_mod.corpus()
                                                 if m.name in mutant_names]
    else:
        mutants = [corpus_mod.CONTROL_MUTANT] + [m for m in corpus_mod.corpus()
                                                 if mode in m.modes]
    results: list[MutantResult] = []
    for m in mutants:
        mr = MutantResult(m.name, m.category, m.summary, list(m.killers),
                          m.applies(free_threaded))
        results.append(mr)
        if not mr.applicable:
            mr.note = f"not applicable: requires a {m.requires} build"
            log(f"  {m.name}: n/a ({mr.note})")
            continue
        try:
            b = build_mod.build(src, python, cflags, edits=m.edits,
                                patch_name=None if m.name == "control" else m.name)
        except build_mod.BuildError as exc:
            mr.note = f"BUILD FAILED: {exc}"
            log(f"  {m.name}: {mr.note}")
            continue
        mr.build = {"path": str(b.path), "key": b.key, "seconds": b.seconds, "cached": b.cached,
                    "modules": b.modules}
        if mode in ("tsan", "asan"):
            try:
                sanitizers.require_instrumented(b.modules, mode)
            except sanitizers.SanitizerUnavailable as exc:
                mr.note = str(exc)
                log(f"  {m.name}: {exc}")
                continue
        kind = mutant_kind(m)
        for suite in suites:
            relevant = m.name == corpus_mod.CONTROL or all_suites or suite.name in m.killers \
                or (suite.sanitizer is not None and suite.sanitizer == mode)
            if not relevant:
                continue
            spent = 0.0
            for rnd in range(suite.rounds):
                seed = SEED + rnd
                cmd = [python, "-m", "pytest", *suite.pytest_args(kind), *COMMON_ARGS,
                       f"--nvx-seed={seed}", f"--hypothesis-seed={seed}", *suite.args,
                       f"--timeout={suite.test_timeout}", "--timeout-method=thread",
                       "-o", f"faulthandler_timeout={suite.test_timeout * 0.8:g}"]
                with tempfile.TemporaryDirectory() as hyp_dir:
                    env = b.env(env_base)
                    env["HYPOTHESIS_STORAGE_DIRECTORY"] = hyp_dir
                    r = run_contained(cmd, env, suite.timeout, ROOT,
                                      logs / f"{m.name}--{suite.name}.log", suite.sanitizer,
                                      suite.name)
                spent += r.seconds
                r.seconds = round(spent, 2)  # time to kill counts every round it took
                r.rounds = rnd + 1
                if r.status != "passed":
                    break
            mr.results[suite.name] = r
            log(f"  {m.name} x {suite.name}: {r.status} in {r.seconds:.1f}s"
                + (f" ({r.test})" if r.test else ""))
    report = _report(results, suites, mode, label, python, ident, version or source,
                     time.monotonic() - started, [s.name for s in missing])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{label}.json").write_text(json.dumps(report, indent=2, default=str))
    (out_dir / f"{label}.md").write_text(markdown(report))
    return report


def _report(results, suites, mode, label, python, ident, source, wall, missing=()) -> dict:
    control = next(r for r in results if r.name == corpus_mod.CONTROL)
    control_ok = bool(control.results) and all(r.status == "passed"
                                               for r in control.results.values())
    applicable = [r for r in results if r.name != corpus_mod.CONTROL and r.applicable]
    survivors = [r.name for r in applicable if not r.killed_by]
    missed = {r.name: [s for s in r.killers if s in r.results and not r.results[s].killed]
              for r in applicable}
    missed = {k: v for k, v in missed.items() if v}
    ttk = [r.time_to_kill for r in applicable if r.time_to_kill is not None]
    problems = []
    if not control_ok:
        problems.append("control did not pass every suite")
    if survivors:
        problems.append(f"survivors: {', '.join(survivors)}")
    broken = [r.name for r in results if r.note and r.applicable]
    if broken:
        problems.append(f"not run: {', '.join(broken)}")
    if missing:
        problems.append(f"suites missing: {', '.join(missing)}")
    return {
        "label": label, "mode": mode, "python": python, "interpreter": ident["version"],
        "free_threaded": ident["free_threaded"], "autobahn": source,
        "suites": [s.name for s in suites], "seed": SEED,
        "ok": not problems, "problems": problems, "missed_expectations": missed,
        "median_time_to_kill": round(statistics.median(ttk), 2) if ttk else None,
        "max_time_to_kill": round(max(ttk), 2) if ttk else None,
        "total_seconds": round(wall, 1),
        "mutants": [{**{k: v for k, v in asdict(r).items() if k != "results"},
                     "killed_by": r.killed_by, "time_to_kill": r.time_to_kill,
                     "results": {s: asdict(x) for s, x in r.results.items()}}
                    for r in results],
    }


def _cell(res: dict | None) -> str:
    if res is None:
        return "-"
    word = {"passed": "survived", "failed": "KILLED", "crashed": "KILLED (crash)",
            "hung": "KILLED (hang)", "sanitizer": "KILLED (report)",
            "error": "ERROR"}.get(res["status"], res["status"])
    return f"{word} {res['seconds']:.1f}s"


def markdown(rep: dict) -> str:
    suites = rep["suites"]
    lines = [f"# NVX kill matrix: {rep['label']}",
             "",
             f"Python {rep['interpreter'].split()[0]} ({'free-threaded' if rep['free_threaded'] else 'GIL'}"
             f" build), mode `{rep['mode']}`, autobahn {rep['autobahn']}, seed {rep['seed']}.",
             f"Result: **{'OK' if rep['ok'] else 'FAILED: ' + '; '.join(rep['problems'])}**",
             f"Median time to kill {rep['median_time_to_kill']} s (target <= 10 s), slowest "
             f"{rep['max_time_to_kill']} s; whole matrix {rep['total_seconds']} s "
             f"(target <= 600 s).",
             "",
             "| mutant | category | " + " | ".join(suites) + " | verdict |",
             "|---|---|" + "---|" * len(suites) + "---|"]
    for m in rep["mutants"]:
        if not m["applicable"] or (m["note"] and not m["results"]):
            cells = ["n/a"] * len(suites)
            verdict = m["note"]
        else:
            cells = [_cell(m["results"].get(s)) for s in suites]
            if m["name"] == "control":
                ok = all(r["status"] == "passed" for r in m["results"].values())
                verdict = "clean" if ok else "CONTROL FAILED"
            else:
                verdict = f"killed in {m['time_to_kill']:.1f}s" if m["killed_by"] else "SURVIVED"
        lines.append(f"| `{m['name']}` | {m['category']} | " + " | ".join(cells)
                     + f" | {verdict} |")
    if rep["missed_expectations"]:
        lines += ["", "Expected killers that missed: " + "; ".join(
            f"`{k}`: {', '.join(v)}" for k, v in rep["missed_expectations"].items())]
    lines += ["", "## How each mutant was killed", ""]
    for m in rep["mutants"]:
        for s, r in m["results"].items():
            if r["status"] not in ("passed",) or m["name"] == "control":
                if r["status"] == "passed":
                    continue
                lines.append(f"### `{m['name']}` x {s}: {r['status']} in {r['seconds']}s")
                lines.append(f"test: `{r['test']}`  ")
                lines.append(f"log: `{r['log']}`")
                if r["detail"]:
                    lines += ["```", r["detail"].strip()[:3000], "```"]
                lines.append("")
    return "\n".join(lines) + "\n"


def print_matrix(rep: dict, out=sys.stdout) -> None:
    suites = rep["suites"]
    w = max(len(m["name"]) for m in rep["mutants"]) + 2
    print(f"\nNVX kill matrix ({rep['label']}):", file=out)
    print("".ljust(w) + "".join(s.ljust(22) for s in suites), file=out)
    for m in rep["mutants"]:
        cells = (["n/a"] * len(suites) if not m["results"]
                 else [_cell(m["results"].get(s)) for s in suites])
        print(m["name"].ljust(w) + "".join(c.ljust(22) for c in cells), file=out)
    print(f"median time to kill: {rep['median_time_to_kill']} s (target <= 10 s); "
          f"slowest {rep['max_time_to_kill']} s; total {rep['total_seconds']} s "
          f"(target <= 600 s)", file=out)
    print("OK" if rep["ok"] else "FAILED: " + "; ".join(rep["problems"]), file=out)


def add_arguments(p) -> None:
    p.add_argument("--mode", choices=corpus_mod.MODES, default="default",
                   help="default suites, or tsan (stress/ under a TSan 3.14t) / asan")
    p.add_argument("--mutant", action="append", help="only this mutant (repeatable)")
    p.add_argument("--suite", action="append", help="only this suite (repeatable)")
    p.add_argument("--all-suites", action="store_true",
                   help="run every suite of the mode against every mutant, not only the "
                        "expected killers")
    p.add_argument("--autobahn", help="autobahn version whose sdist to mutate "
                   "(default: the installed one)")
    p.add_argument("--source", help="local autobahn sdist or source folder instead")
    p.add_argument("--python", help="interpreter that runs the suites (default: this one; "
                   "tsan mode: a venv of $NVX_FT_PYTHON_TSAN with nvx-ft installed)")
    p.add_argument("--out", type=Path, default=None, help="report folder (reports/mutants)")
    p.add_argument("--list", action="store_true", help="list the corpus and exit")


def run(args) -> int:
    if args.list:
        for m in corpus_mod.corpus():
            print(f"{m.name:36} {m.category:40} killers={','.join(m.killers)} "
                  f"modes={','.join(m.modes)}")
        return 0
    python = args.python
    try:
        if args.mode == "tsan" and not python:
            python = sanitizers.suite_python(
                sanitizers.find_tsan_python(), ROOT,
                args.autobahn or build_mod.installed_autobahn_version())
        rep = run_matrix(args.mode, args.mutant, args.suite, args.all_suites, args.autobahn,
                         args.source, python, args.out, log=lambda s: print(s, flush=True))
    except sanitizers.SanitizerUnavailable as exc:
        print(f"nvx-ft mutants: blocked: {exc}", file=sys.stderr)
        return 2
    except build_mod.BuildError as exc:
        print(f"nvx-ft mutants: FAILED: {exc}", file=sys.stderr)
        return 1
    print_matrix(rep)
    return 0 if rep["ok"] else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nvx_ft.mutants.run",
                                description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
