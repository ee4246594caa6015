"""``nvx-ft build``: NVX's two CFFI modules compiled from autobahn's source
(:mod:`nvx_ft.sources`) by any interpreter, with extra flags and a patch - a mutant of the
corpus (:mod:`nvx_ft.mutants`) or a TOML file of edits (:mod:`nvx_ft.patches`) - by
:func:`nvx_ft.build.build`. Prints where the build is and how to put it under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nvx_ft import errors, interpreters, mutants
from nvx_ft.build import build
from nvx_ft.patches import Edit, read_edits
from nvx_ft.sources import (BuildError, add_source_arguments, installed_autobahn_version,
                            nvx_source)


def load_edits(spec: str) -> tuple[str, tuple[Edit, ...]]:
    """``--patch``: a mutant name from the corpus, or a TOML file with [[edit]] tables."""
    if Path(spec).is_file():
        return Path(spec).stem, read_edits(Path(spec))
    try:
        return spec, mutants.get(spec).edits
    except KeyError:
        raise BuildError(f"--patch {spec!r}: not a file and not a mutant "
                         f"({', '.join(m.name for m in mutants.corpus())})") from None


def add_arguments(parser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--python", default=None,
                        help="interpreter to build for: a path or a label like 3.14t "
                             "(default: this one)")
    parser.add_argument("--cflags", default="", help="extra compiler flags, written with '=' "
                        "since they start with '-': --cflags='-fsanitize=address -g'")
    parser.add_argument("--ldflags", default="", help="extra linker flags (--ldflags='...')")
    parser.add_argument("--patch", default=None,
                        help="a mutant name (nvx-ft mutants --list) or a TOML file of [[edit]] "
                             "file/old/new tables")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--json", action="store_true", help="print the build record as JSON")


def run(args) -> int:
    python = interpreters.resolve(args.python).executable
    version = args.autobahn
    if not args.source and not version:
        version = installed_autobahn_version()
        if not version:
            raise errors.UsageError("autobahn is not installed here: pass --autobahn VERSION "
                                    "or --source PATH")
    try:
        src = nvx_source(version=version if not args.source else None, path=args.source)
        name, edits = load_edits(args.patch) if args.patch else (None, ())
        b = build(src, python, args.cflags.split(), args.ldflags.split(), edits, name,
                  force=args.force)
    except BuildError as exc:
        print(f"nvx-ft build: FAILED: {exc}", file=sys.stderr)
        return errors.EXIT_FAIL
    if args.json:
        print(json.dumps(b.as_dict(), indent=2))
    else:
        print(f"nvx-ft build: {'cached' if b.cached else 'built'} {b.path}")
        for mod, path in b.modules.items():
            print(f"  {mod}: {path}")
        print(f"  source: {b.source}\n  python: {b.python}\n  cflags: {' '.join(b.cflags)}"
              f"\n  patch: {b.patch or '-'}")
        print(f"use it: PYTHONPATH={b.path} {b.python} -m pytest ...")
    return errors.EXIT_PASS
