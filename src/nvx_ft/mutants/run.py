"""Build every mutant, run the suites against it, write the kill matrix.

``python -m nvx_ft.mutants.run [--mode default|tsan|asan]`` (what ``nox -s mutants``
runs): NVX is built from autobahn's sdist (the installed version by default) once
unchanged (the control) and once per mutant, for the interpreter that runs the suites
(for ``tsan``: a venv of the ThreadSanitizer interpreter). Each (mutant, suite) runs in
its own pytest subprocess with the build first on ``PYTHONPATH``, ``-x`` and a small
Hypothesis profile, contained by ``nvx_ft.suites.run_suite``: a crash (signal) or a hang
(per-test faulthandler watchdog, then a bound on the whole process) is a named failure
with its faulthandler stack and the matrix goes on. A suite that catches races by chance
(stress) gets several rounds with different seeds. Results:
``reports/mutants/<interpreter>[-<mode>].{md,json}`` plus one log per (mutant, suite).

The run fails (exit 1) when the control fails any suite, when a mutant survives every
suite run against it, or when a build fails; it reports expected killers that missed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvx_ft import build as build_mod
from nvx_ft import errors, interpreters
from nvx_ft.childenv import child_env
from nvx_ft import mutants as corpus_mod
from nvx_ft import sanitizers
from nvx_ft.paths import ROOT
from nvx_ft.sources import (BuildError, add_source_arguments, installed_autobahn_version,
                             nvx_source)

KINDS = {"_xormasker.c": "xor", "_utf8validator.c": "utf8"}
SEED = 20251124  # one fixed seed: a matrix is reproducible run to run

# Pytest options every suite run gets: stop at the first failure (time to kill); per run
# also fixed seeds. Containment (per-test watchdog, crash/hang naming) is run_suite's.
COMMON_ARGS = ("-x",)


@dataclass(frozen=True)
class Suite:
    """One suite as run against a mutant: pytest paths (files or folders, no ``::``),
    narrowed to the mutated module.

    ``paths`` maps an NVX module kind ("utf8", "xor") to the pytest paths that exercise
    it ("all" = every kind); ``keyword`` is a ``-k`` expression with ``{kind}`` filled in
    for a mutant of one module, and ``base_keyword`` is used for the control / unknown.
    """

    name: str
    paths: dict
    args: tuple = ()
    keyword: str | None = None
    base_keyword: str | None = None
    test_timeout: float = 10.0  # one test; a hang in C is stopped by faulthandler's watchdog
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
    # tests/: Hypothesis differential against the references, dev profile (its example
    # count: nvx_ft.pytest_plugin.PROFILES)
    "differential": Suite("differential", _DIFF, ("--hypothesis-profile=dev",)),
    # stress/: the thread hammer (default intensity), without the GIL guard
    "stress": Suite("stress", _STRESS, keyword="{kind} and " + _NOT_STRESS,
                    base_keyword=_NOT_STRESS, rounds=6),
    # the GIL guard: the GIL must stay disabled after importing and using NVX
    "gil": Suite("gil", {"all": ("stress/test_gil_guard.py", "stress/test_gil_after_stress.py")},
                 base_keyword="nvx_imports_keep_the_gil_disabled or gil_still_disabled"),
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
class SuiteRun:
    """One suite run against one build (the control or a mutant), judged: killed or not.
    (:class:`nvx_ft.suites.SuiteResult` is the pytest run it is judged from.)"""

    suite: str
    status: str  # passed | failed | crashed | hung | sanitizer | error | not-run
    seconds: float
    test: str | None = None  # the failing / crashing / hanging test id
    detail: str = ""  # minimal example, faulthandler stack, sanitizer frames
    command: str = ""
    log: str | None = None
    rounds: int = 1

    @property
    def killed(self) -> bool:
        return self.status in ("failed", "crashed", "hung", "sanitizer")


def _excerpt(text: str, start_pat: str, lines: int = 14) -> str:
    m = re.search(start_pat, text, re.M)
    return "\n".join(text[m.start():].splitlines()[:lines]) if m else ""


def _is_test_failure(nodeid: str) -> bool:
    """A failure of a test (kills), not of pytest itself or of collecting (an error)."""
    return "::" in nodeid


def classify(res, out: str, sanitizer: str | None) -> tuple[str, str | None, str]:
    """(status, test, detail) from a :func:`nvx_ft.suites.run_suite` result and the output.

    Only a test's failure, a crash, a hang, or a sanitizer report with NVX frames kills a
    mutant; pytest's own errors (usage, collection) are "error", never a kill.
    """
    first = next(((n, m) for n, m in res.failures if _is_test_failure(n)), (None, ""))
    if sanitizer:
        parse = sanitizers.parse_tsan if sanitizer == "tsan" else sanitizers.parse_asan
        nvx = [r for r in parse(out) if r.touches_nvx]
        if nvx:
            return "sanitizer", first[0], sanitizers.summarize(nvx)
    if res.status == "passed":
        return "passed", None, ""
    if res.status in ("crashed", "timeout") and first[0]:
        return ("hung" if res.status == "timeout" else "crashed"), first[0], first[1]
    if res.status == "failed" and first[0]:
        example = _excerpt(first[1], r"^(Falsifying example|E\s)") or first[1][-1500:]
        return "failed", first[0], example
    reason = res.reason or "; ".join(m[:300] for _, m in res.failures[:2])
    if sanitizer:  # a report without NVX frames, or the sanitizer runtime failing
        reason += "\n" + _excerpt(out, r"WARNING: ThreadSanitizer|ERROR: AddressSanitizer", 30)
    return "error", first[0], reason


def run_contained(python: str, args: list[str], env: dict, timeout: float, cwd: Path,
                  test_timeout: float | None = None, log_path: Path | None = None,
                  sanitizer: str | None = None, suite: str = "") -> SuiteRun:
    """``python -m pytest *args`` contained by :func:`nvx_ft.suites.run_suite` (the gate's
    runner: a crash or hang is a named failure with its faulthandler stack), without
    restarts (the first failure is the kill). With a sanitizer, its reports go to files
    (``log_path=``) that are parsed: a report with NVX frames is a kill.
    """
    from nvx_ft import suites as suites_mod

    with tempfile.TemporaryDirectory() as san_dir, tempfile.TemporaryDirectory() as out_dir:
        if sanitizer:
            env = sanitizers.env_for(sanitizer, env, san_dir)
        first = Path(args[0]) if Path(args[0]).is_absolute() else Path(cwd) / args[0]
        res = suites_mod.run_suite(python, first, env=env, timeout=timeout,
                                   test_timeout=test_timeout, extra_args=args[1:], cwd=cwd,
                                   name=suite or "suite", output_dir=out_dir, max_restarts=0)
        out = "\n".join(Path(p).read_text(errors="replace") for p in res.output
                        if Path(p).exists())
        if sanitizer:
            out += "\n" + sanitizers.collect_logs(san_dir)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(out)
    status, test, detail = classify(res, out, sanitizer)
    return SuiteRun(suite, status, round(res.duration, 2), test, detail,
                       " ".join(res.command), str(log_path) if log_path else None)


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
    results: dict = field(default_factory=dict)  # suite -> SuiteRun

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
            raise BuildError(f"unknown suites {sorted(unknown)}; known: {', '.join(known)}")
        chosen = [s for s in chosen if s.name in names]
    return chosen


def _suite_exists(suite: Suite) -> bool:
    return all((ROOT / t).exists() for ts in suite.paths.values() for t in ts)


def run_matrix(mode: str = "default", mutant_names=None, suite_names=None,
               all_suites: bool = False, autobahn: str | None = None,
               source: str | None = None, python: str | None = None,
               out_dir: Path | None = None, log=print, suites: dict | None = None) -> dict:
    """The kill matrix; ``suites`` replaces :data:`SUITES` (self-tests use small ones)."""
    started = time.monotonic()
    python = python or sys.executable
    ident = build_mod.identity(python)
    free_threaded = ident["free_threaded"]
    label = "%s%s" % (ident["version"].rsplit(".", 1)[0], "t" if free_threaded else "")
    if mode == "tsan" and not interpreters.is_tsan(ident):
        raise sanitizers.SanitizerUnavailable(f"{python} is not a TSan free-threaded CPython")
    if mode == "asan" and free_threaded:
        # PYTHONMALLOC=malloc does not exist there (mimalloc only): buffers cffi allocates
        # would sit inside mimalloc pages, where ASan sees no overflow at all
        raise sanitizers.SanitizerUnavailable(
            f"ASan mode needs a GIL build (python3.11-3.14): {python} is free-threaded and "
            "cannot route Python allocations to malloc, so overflows would go unseen")
    label += "" if mode == "default" else f"-{mode}"
    out_dir = out_dir or ROOT / "reports" / "mutants"
    logs = out_dir / "logs" / label
    version = autobahn or (None if source else installed_autobahn_version())
    src = nvx_source(version=version if not source else None, path=source)
    cflags = list(sanitizers.ASAN_CFLAGS) if mode == "asan" else []
    env_base = child_env(scrub=("PYTHONPATH", "NVX_FT_HYPOTHESIS_PROFILE"),
                         set={"PYTHONFAULTHANDLER": "1"})
    chosen = suites_for(mode, suite_names, suites)
    missing = [s for s in chosen if not _suite_exists(s)]
    suites = [s for s in chosen if s not in missing]
    for s in missing:
        log(f"nvx-ft mutants: suite {s.name} NOT RUN: {s.pytest_args(None)} missing in {ROOT}")

    if mutant_names:  # named ones run in any mode (e.g. a default mutant under ASan)
        unknown = set(mutant_names) - {m.name for m in corpus_mod.corpus()} - {corpus_mod.CONTROL}
        if unknown:
            raise BuildError(f"unknown mutants {sorted(unknown)} (see --list)")
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
        except BuildError as exc:
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
                args = [*suite.pytest_args(kind), *COMMON_ARGS, f"--nvx-seed={seed}",
                        f"--hypothesis-seed={seed}", *suite.args]
                with tempfile.TemporaryDirectory() as hyp_dir:
                    env = child_env(base=b.env(env_base),
                                    set={"HYPOTHESIS_STORAGE_DIRECTORY": hyp_dir})
                    r = run_contained(python, args, env, suite.timeout, ROOT, suite.test_timeout,
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
        "label": label, "mode": mode, "python": python, "interpreter": ident["sys_version"],
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
    rounds = f" ({res['rounds']} rounds)" if res.get("rounds", 1) > 1 else ""
    return f"{word} {res['seconds']:.1f}s{rounds}"


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
    print("".ljust(w) + "".join(s.ljust(32) for s in suites), file=out)
    for m in rep["mutants"]:
        cells = (["n/a"] * len(suites) if not m["results"]
                 else [_cell(m["results"].get(s)) for s in suites])
        print(m["name"].ljust(w) + "".join(c.ljust(32) for c in cells), file=out)
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
    add_source_arguments(p)
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
                interpreters.find_tsan(), ROOT,
                args.autobahn or installed_autobahn_version())
        rep = run_matrix(args.mode, args.mutant, args.suite, args.all_suites, args.autobahn,
                         args.source, python, args.out, log=lambda s: print(s, flush=True))
    except errors.Blocked as exc:
        print(f"nvx-ft mutants: blocked: {exc}", file=sys.stderr)
        return errors.EXIT_BLOCKED
    except BuildError as exc:
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
