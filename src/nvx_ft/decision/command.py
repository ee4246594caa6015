"""``nvx-ft decide``'s options and run: read, decide, write, exit."""

from __future__ import annotations

import sys
from pathlib import Path

from nvx_ft import paths
from nvx_ft.decision import evidence, report, rule
from nvx_ft.errors import EXIT_BLOCKED, EXIT_FAIL, EXIT_PASS, UsageError
from nvx_ft.gate import recommend
from nvx_ft.release.manifest import DEFAULT_MANIFEST, load_manifest

LEVEL_NAMES = {"none": 0, "unstable": 1, "beta": 2, "stable": 3, "resilient": 4}


def add_arguments(parser) -> None:
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR",
                        help="folders holding the evidence (searched recursively for "
                             "gate.json, sanitize.json, fileset.json), e.g. CI artifacts")
    parser.add_argument("--contract", metavar="URL_OR_FILE",
                        help="where the release documents the thread-safety contract: a "
                             "file is checked for contract.md's key sentences, a URL is "
                             "recorded as given (Stable needs it)")
    parser.add_argument("--require", choices=tuple(LEVEL_NAMES), default="unstable",
                        help="exit 2 when the decided level is lower (default: unstable, "
                             "i.e. some classifier)")
    parser.add_argument("--version", help="the release's version (default: from the evidence)")
    parser.add_argument("--project", help="the project (default: the fileset's, else the "
                                          "manifest's name)")
    parser.add_argument("--dist", type=Path, metavar="DIR",
                        help="the release's files: each gated wheel's sha256 must match")
    parser.add_argument("--manifest", default=DEFAULT_MANIFEST,
                        help="shipped manifest name or TOML path (the cells)")
    parser.add_argument("--line", metavar="NAME", help="release line of the manifest")
    parser.add_argument("--out", type=Path, default=Path("reports/decision"),
                        help="where decision.json, decision.md, contract.md go")


def run(args) -> int:
    manifest = load_manifest(args.manifest)
    ev = evidence.read(args.dirs, manifest, version=args.version, project=args.project,
                       dist=args.dist)
    if args.contract and not args.contract.startswith(("http://", "https://")) \
            and not Path(args.contract).is_file():
        raise UsageError(f"--contract {args.contract}: no such file (give the release's "
                         "document or a URL)")
    data = decision_data(ev, manifest, args)
    paths = report.write(data, args.out)
    print(report.render_text(data))
    print("reports: " + ", ".join(str(p) for p in paths))
    sys.stdout.flush()
    return data["exit_code"]


def decision_data(ev: evidence.Evidence, manifest, args) -> dict:
    dec = rule.decide(ev, manifest, line=args.line, contract_given=args.contract)
    required = LEVEL_NAMES[args.require]
    if dec["failures"]:
        verdict, code = "fail", EXIT_FAIL
    elif dec["level"] >= required:
        verdict, code = "pass", EXIT_PASS
    else:
        verdict, code = "not-passed", EXIT_BLOCKED
    notes = list(ev.notes)
    for c in dec["cells"]:
        if len(c["gates"]) > 1:
            notes.append(f"{c['id']}: {len(c['gates'])} gate runs; the lowest counts")
    return {"schema": report.SCHEMA, "project": ev.project, "version": ev.version,
            "verdict": verdict, "exit_code": code, "required": required,
            "required_label": recommend.LABELS.get(required, "none"),
            "manifest": manifest.source or manifest.name,
            "inputs": [str(d) for d in args.dirs], "contract": args.contract,
            "tsan": [str(p) for p, _ in ev.tsan],
            "fileset": str(ev.fileset_path) if ev.fileset_path else None,
            "nvx_ft": {"version": paths.nvx_ft_version()}, "notes": notes,
            "rule": rule.RULE, **dec}

