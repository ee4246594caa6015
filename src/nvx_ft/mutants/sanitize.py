"""``nvx-ft sanitize tsan|asan``: NVX under ThreadSanitizer or AddressSanitizer.

The kill matrix (:mod:`nvx_ft.mutants.matrix`) in a sanitizer mode (:mod:`nvx_ft.sanitizers`)
for the unmutated control, and with ``--patch`` one mutant: exit 0 when the control is
clean (and the mutant caught), 1 when not, 2 when the mode cannot run here.

``--report-json PATH`` writes the run as evidence for ``nvx-ft decide`` (schema
``nvx-ft.sanitize/1``, README "The release decision"): ``schema``, ``mode``, ``verdict``
(clean | not-clean | not-checked), ``exit_code``, ``autobahn`` {``version``, ``source``},
``interpreter``, ``instrumented``, ``suites`` [{``name``, ``status``, ``seconds``,
``detail``}], ``problems``, ``nvx_ft`` {``version``}, ``finished``; also when the mode is
blocked (verdict not-checked, exit 2).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from nvx_ft import errors, interpreters, paths, sanitizers
from nvx_ft.mutants import matrix
from nvx_ft.paths import ROOT
from nvx_ft.sources import BuildError, add_source_arguments


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
    parser.add_argument("--report-json", type=Path, metavar="PATH",
                        help="also write the result as evidence for `nvx-ft decide` "
                             "(schema nvx-ft.sanitize/1)")


def run(args) -> int:
    """Build NVX instrumented, run the mode's suite, fail on reports with NVX frames."""
    version = matrix.autobahn_to_build(args.autobahn, args.source)
    try:
        status, rep = _run(args, version)
    except errors.Blocked as exc:
        _write_evidence(args, version, None, errors.EXIT_BLOCKED, str(exc))
        raise
    _write_evidence(args, version, rep, status)
    return status


def _run(args, version: str | None) -> tuple[int, dict | None]:
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
        return errors.EXIT_FAIL, {"mutants": [], "problems": [f"build failed: {exc}"]}
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
    return status, rep


SCHEMA = "nvx-ft.sanitize/1"


def _write_evidence(args, version: str | None, rep: dict | None, status: int,
                    blocked: str = "") -> None:
    if not args.report_json:
        return
    control = next((m for m in (rep or {}).get("mutants", []) if m["name"] == "control"), None)
    suites = [{"name": s, "status": r["status"], "seconds": r.get("seconds"),
               "detail": (r.get("detail") or "")[:2000]}
              for s, r in ((control or {}).get("results") or {}).items()]
    problems = list((rep or {}).get("problems", [])) + ([blocked] if blocked else [])
    if control and control.get("note"):
        problems.append(f"control not checked: {control['note']}")
    if blocked or not suites or (control or {}).get("note"):
        verdict = "not-checked"
    elif all(s["status"] == "passed" for s in suites):
        verdict = "clean"
    else:
        verdict = "not-clean"
    data = {"schema": SCHEMA, "mode": args.mode, "verdict": verdict, "exit_code": status,
            "autobahn": {"version": version or _sdist_version(args.source),
                         "source": args.source or (f"PyPI {version}" if version else None)},
            "interpreter": (rep or {}).get("interpreter"),
            "instrumented": verdict != "not-checked",  # the mode refuses uninstrumented builds
            "suites": suites, "problems": problems,
            "nvx_ft": {"version": paths.nvx_ft_version()},
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    args.report_json.parent.mkdir(parents=True, exist_ok=True)
    args.report_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _sdist_version(source: str | None) -> str | None:
    try:
        return str(parse_sdist_filename(Path(source).name)[1]) if source else None
    except InvalidSdistFilename:
        return None

