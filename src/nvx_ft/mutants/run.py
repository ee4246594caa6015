"""Build every mutant, run the suites against it, write the kill matrix.

``nvx-ft mutants`` / ``python -m nvx_ft.mutants.run`` (what ``nox -s mutants`` runs):
NVX is built from autobahn's sdist (the installed version by default) once unchanged (the
control) and once per mutant, for the interpreter that runs the suites (for ``tsan``: a
venv of the ThreadSanitizer interpreter); :mod:`nvx_ft.mutants.matrix` runs them,
:mod:`nvx_ft.mutants.kill_suites` says what each suite is and how a run is contained.
Results: ``reports/mutants/<interpreter>[-<mode>].{md,json}`` plus one log per
(mutant, suite).

The run fails (exit 1) when the control fails any suite, when a mutant survives every
suite run against it, or when a build fails; it reports expected killers that missed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nvx_ft import errors, interpreters, sanitizers
from nvx_ft import mutants as corpus_mod
from nvx_ft.mutants import corpora, matrix, report
from nvx_ft.paths import ROOT
from nvx_ft.sources import BuildError, add_source_arguments


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
    p.add_argument("--corpus", action="append", default=[], metavar="FILE",
                   help="also run the mutants of this TOML file (the built-in corpus's "
                        "format, README: 'Your own mutants'); repeatable")
    p.add_argument("--no-builtin", action="store_true",
                   help="run only the --corpus files' mutants (and the control)")


def run(args) -> int:
    corpus = corpora.select(args.corpus, builtin=not args.no_builtin)
    if args.list:
        for m in corpus:
            print(f"{m.name:36} {m.category:40} killers={','.join(m.killers)} "
                  f"modes={','.join(m.modes)}"
                  + ("" if m.origin == "built-in" else f" from={m.origin}"))
        return 0
    python = args.python
    try:
        if args.mode == "tsan" and not python:
            version = matrix.autobahn_to_build(args.autobahn, args.source)  # before a venv
            python = sanitizers.suite_python(interpreters.find_tsan(), ROOT, version)
        rep = matrix.run_matrix(args.mode, args.mutant, args.suite, args.all_suites,
                                args.autobahn, args.source, python, args.out,
                                log=lambda s: print(s, flush=True), corpus=corpus)
    except errors.Blocked as exc:
        print(f"nvx-ft mutants: blocked: {exc}", file=sys.stderr)
        return errors.EXIT_BLOCKED
    except BuildError as exc:
        print(f"nvx-ft mutants: FAILED: {exc}", file=sys.stderr)
        return 1
    report.print_matrix(rep)
    return 0 if rep["ok"] else 1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nvx_ft.mutants.run",
                                description=__doc__.split("\n\n")[0])
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except errors.UsageError as exc:  # nvx-ft's cli does the same for `nvx-ft mutants`
        print(f"nvx-ft mutants: error: {exc}", file=sys.stderr)
        return errors.EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
