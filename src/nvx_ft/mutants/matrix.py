"""The kill matrix: every mutant built, its suites run against it, the results kept.

NVX is built from autobahn's source once unchanged (the control) and once per mutant,
for the interpreter that runs the suites (:mod:`nvx_ft.mutants.kill_suites`). A suite
that catches races by chance (stress) gets several rounds with different seeds. The
results go to ``reports/mutants/<interpreter>[-<mode>].{md,json}``
(:mod:`nvx_ft.mutants.report`) plus one log per (mutant, suite).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from nvx_ft import build as build_mod
from nvx_ft import interpreters, sanitizers, settings
from nvx_ft import mutants as corpus_mod
from nvx_ft.childenv import child_env
from nvx_ft.errors import UsageError
from nvx_ft.mutants import corpora, report
from nvx_ft.mutants.kill_suites import (COMMON_ARGS, SEED, SUITES, Suite, SuiteRun,
                                        require_suite_modules, run_contained)
from nvx_ft.paths import ROOT
from nvx_ft.sources import BuildError, installed_autobahn_version, nvx_source

#: the NVX module a mutant of this file breaks
KINDS = {"_xormasker.c": "xor", "_utf8validator.c": "utf8"}


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
    origin: str = "built-in"  # its corpus: "built-in" or a --corpus file

    @property
    def killed_by(self) -> list[str]:
        return [s for s, r in self.results.items() if r.killed]

    @property
    def time_to_kill(self) -> float | None:
        times = [r.seconds for r in self.results.values() if r.killed]
        return min(times) if times else None


@dataclass(frozen=True)
class _Setup:
    """What every (mutant, suite) run of one matrix shares."""

    mode: str
    python: str
    free_threaded: bool
    source: Path  # NVX's source folder
    cflags: list
    env: dict  # before the build goes on PYTHONPATH
    logs: Path
    all_suites: bool


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


def mutants_for(mode: str, names: list[str] | None,
                corpus: tuple[corpus_mod.Mutant, ...] | None = None) -> list[corpus_mod.Mutant]:
    """The control, then the named mutants (in any mode, e.g. a default one under ASan),
    else every mutant of the mode; from ``corpus`` (default: the built-in one)."""
    corpus = corpus_mod.corpus() if corpus is None else corpus
    if names:
        unknown = set(names) - {m.name for m in corpus} - {corpus_mod.CONTROL}
        if unknown:
            raise BuildError(f"unknown mutants {sorted(unknown)} (see --list)")
        return [corpus_mod.CONTROL_MUTANT] + [m for m in corpus if m.name in names]
    return [corpus_mod.CONTROL_MUTANT] + [m for m in corpus if mode in m.modes]


def autobahn_to_build(autobahn: str | None, source: str | None) -> str | None:
    """The autobahn version NVX is built from (None: from ``source``); one error where there
    is neither (before any venv, download or build)."""
    version = autobahn or (None if source else installed_autobahn_version())
    if not (source or version):
        raise UsageError("no autobahn to build NVX from: autobahn is not installed here; "
                         "give --autobahn VERSION or --source PATH (sdist or checkout)")
    return version


def run_matrix(mode: str = "default", mutant_names=None, suite_names=None,
               all_suites: bool = False, autobahn: str | None = None,
               source: str | None = None, python: str | None = None,
               out_dir: Path | None = None, log=print, suites: dict | None = None,
               corpus: tuple[corpus_mod.Mutant, ...] | None = None) -> dict:
    """The kill matrix; ``suites`` replaces :data:`SUITES` (self-tests use small ones);
    ``corpus`` the built-in mutants (:func:`nvx_ft.mutants.corpora.select`)."""
    started = time.monotonic()
    python = python or sys.executable
    require_suite_modules(python)  # before any download or build
    ident = build_mod.identity(python)
    label = _label(python, ident, mode)
    out_dir = out_dir or ROOT / "reports" / "mutants"
    version = autobahn_to_build(autobahn, source)
    setup = _Setup(
        mode, python, ident["free_threaded"],
        nvx_source(version=version if not source else None, path=source),
        list(sanitizers.ASAN_CFLAGS) if mode == "asan" else [],
        child_env(scrub=("PYTHONPATH", settings.HYPOTHESIS_PROFILE),
                  set={"PYTHONFAULTHANDLER": "1"}),
        out_dir / "logs" / label, all_suites)
    chosen = suites_for(mode, suite_names, suites)
    missing = [s for s in chosen if not _suite_exists(s)]
    present = [s for s in chosen if s not in missing]
    for s in missing:
        log(f"nvx-ft mutants: suite {s.name} NOT RUN: {s.pytest_args(None)} missing in {ROOT}")
    mutants = mutants_for(mode, mutant_names, corpus)
    corpora.check_snippets(mutants, setup.source)  # users' snippets, before any build
    results = [_run_mutant(m, present, setup, log) for m in mutants]
    rep = report.summary(results, present, mode, label, python, ident, version or source,
                         time.monotonic() - started, [s.name for s in missing])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{label}.json").write_text(json.dumps(rep, indent=2, default=str))
    (out_dir / f"{label}.md").write_text(report.markdown(rep))
    return rep


def _label(python: str, ident: dict, mode: str) -> str:
    """``3.14t``, ``3.14-asan``: names the reports. Refuses a mode this interpreter cannot
    run (blocked)."""
    free_threaded = ident["free_threaded"]
    if mode == "tsan" and not interpreters.is_tsan(ident):
        raise sanitizers.SanitizerUnavailable(f"{python} is not a TSan free-threaded CPython")
    if mode == "asan" and free_threaded:
        # PYTHONMALLOC=malloc does not exist there (mimalloc only): buffers cffi allocates
        # would sit inside mimalloc pages, where ASan sees no overflow at all
        raise sanitizers.SanitizerUnavailable(
            f"ASan mode needs a GIL build (python3.11-3.14): {python} is free-threaded and "
            "cannot route Python allocations to malloc, so overflows would go unseen")
    label = ident["version"].rsplit(".", 1)[0] + ("t" if free_threaded else "")
    return label if mode == "default" else f"{label}-{mode}"


def _suite_exists(suite: Suite) -> bool:
    return all((ROOT / t).exists() for ts in suite.paths.values() for t in ts)


def _run_mutant(m: corpus_mod.Mutant, suites: list[Suite], setup: _Setup,
                log) -> MutantResult:
    """Build ``m`` and run the suites meant for it; a build that fails or a build without
    the sanitizer's instrumentation is a note, not a result."""
    mr = MutantResult(m.name, m.category, m.summary, list(m.killers),
                      m.applies(setup.free_threaded), origin=m.origin)
    if not mr.applicable:
        mr.note = f"not applicable: requires a {m.requires} build"
        log(f"  {m.name}: n/a ({mr.note})")
        return mr
    try:
        b = build_mod.build(setup.source, setup.python, setup.cflags, edits=m.edits,
                            patch_name=None if m.name == corpus_mod.CONTROL else m.name)
    except BuildError as exc:
        mr.note = f"BUILD FAILED: {exc}"
        log(f"  {m.name}: {mr.note}")
        return mr
    mr.build = {"path": str(b.path), "key": b.key, "seconds": b.seconds, "cached": b.cached,
                "modules": b.modules}
    if setup.mode in ("tsan", "asan"):
        try:
            sanitizers.require_instrumented(b.modules, setup.mode)
        except sanitizers.SanitizerUnavailable as exc:
            mr.note = str(exc)
            log(f"  {m.name}: {exc}")
            return mr
    for suite in suites:
        if m.name == corpus_mod.CONTROL or setup.all_suites or suite.name in m.killers \
                or (suite.sanitizer is not None and suite.sanitizer == setup.mode):
            r = mr.results[suite.name] = _run_rounds(suite, m, b, setup)
            log(f"  {m.name} x {suite.name}: {r.status} in {r.seconds:.1f}s"
                + (f" ({r.test})" if r.test else ""))
    return mr


def _run_rounds(suite: Suite, m: corpus_mod.Mutant, b: build_mod.Build,
                setup: _Setup) -> SuiteRun:
    """``suite`` against build ``b``, round after round (new seeds) until it kills or
    its rounds are spent; the time to kill counts every round it took. Rounds whose race
    checks were all inconclusive prove nothing: the result is inconclusive only if no
    round was conclusive."""
    spent, conclusive = 0.0, False
    for rnd in range(suite.rounds):
        seed = SEED + rnd
        args = [*suite.pytest_args(mutant_kind(m)), *COMMON_ARGS, f"--nvx-seed={seed}",
                f"--hypothesis-seed={seed}", *suite.args]
        with tempfile.TemporaryDirectory() as hyp_dir:
            env = child_env(base=b.env(setup.env), set={"HYPOTHESIS_STORAGE_DIRECTORY": hyp_dir})
            r = run_contained(setup.python, args, env, suite.timeout, ROOT, suite.test_timeout,
                              setup.logs / f"{m.name}--{suite.name}.log", suite.sanitizer,
                              suite.name)
        spent += r.seconds
        r.seconds = round(spent, 2)
        r.rounds = rnd + 1
        if r.status not in ("passed", "inconclusive"):
            return r  # killed, or an error: decided
        conclusive = conclusive or r.status == "passed"
    if r.status == "inconclusive" and conclusive:
        # an earlier round was conclusive and survived; this one only proved nothing
        r.status, r.test, r.detail = "passed", None, ""
    return r
