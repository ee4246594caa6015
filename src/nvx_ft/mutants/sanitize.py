"""``nvx-ft sanitize tsan|asan``: NVX under ThreadSanitizer or AddressSanitizer.

The kill matrix (:mod:`nvx_ft.mutants.matrix`) in a sanitizer mode (:mod:`nvx_ft.sanitizers`)
for the unmutated control, and with ``--patch`` one mutant: exit 0 when the control is
clean (and the mutant caught), 1 when not, 2 when the mode cannot run here.
"""

from __future__ import annotations

import sys
from pathlib import Path

from nvx_ft import errors, interpreters, sanitizers
from nvx_ft.mutants import matrix
from nvx_ft.paths import ROOT
from nvx_ft.sources import BuildError, add_source_arguments, installed_autobahn_version


def add_arguments(parser) -> None:
    parser.add_argument("mode", choices=("tsan", "asan"),
                        help="tsan: stress/ under a TSan free-threaded CPython; asan: tests/ "
                             "with NVX built -fsanitize=address under this interpreter")
    add_source_arguments(parser)
    parser.add_argument("--patch", metavar="MUTANT",
                        help="also run this mutant of the corpus: exit 1 unless the mode "
                             "catches it")
    parser.add_argument("--python", help="interpreter that runs the suite (asan: default "
                        "this one; tsan: default a venv of the TSan interpreter)")
    parser.add_argument("--out", type=Path, default=None, help="report folder")


def run(args) -> int:
    """Build NVX instrumented, run the mode's suite, fail on reports with NVX frames."""
    version = args.autobahn or (None if args.source else installed_autobahn_version())
    try:
        python = args.python
        if args.mode == "tsan" and not python:
            python = sanitizers.suite_python(interpreters.find_tsan(), ROOT, version)
        if args.mode == "asan":
            sanitizers.libasan()
        rep = matrix.run_matrix(args.mode, [args.patch] if args.patch else ["control"],
                                all_suites=True, autobahn=args.autobahn, source=args.source,
                                python=python, out_dir=args.out,
                                log=lambda s: print(s, flush=True))
    except BuildError as exc:
        print(f"nvx-ft sanitize: FAILED: {exc}", file=sys.stderr)
        return errors.EXIT_FAIL
    status = errors.EXIT_PASS
    for m in rep["mutants"]:
        if m["note"]:
            print(f"{m['name']}: NOT CHECKED: {m['note']}")
            status = max(status, errors.EXIT_FAIL)
        for suite, r in m["results"].items():
            if r["status"] == "passed":
                print(f"{m['name']}: {args.mode.upper()} clean ({suite}, {r['seconds']}s; "
                      f"modules instrumented)")
                continue
            print(f"{m['name']}: {r['status'].upper()} in {suite} ({r['test']}):\n{r['detail']}"
                  f"\n  log: {r['log']}")
            if m["name"] == "control":
                status = errors.EXIT_FAIL
        if m["name"] != "control" and m["results"] and not m["killed_by"]:
            print(f"{m['name']}: NOT CAUGHT by {args.mode}")
            status = errors.EXIT_FAIL  # --patch asks "does the mode see this fault?"
    return status
