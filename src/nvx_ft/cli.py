"""``nvx-ft`` command line: one subcommand per module, loaded only when it runs.

Each module named in :data:`COMMANDS` provides ``add_arguments(parser)`` and
``run(args) -> int``. Exit codes (``nvx_ft.errors``): 0 pass, 1 a check failed,
2 blocked (something needed is missing, e.g. no free-threaded interpreter),
3 usage / bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from nvx_ft.errors import EXIT_BLOCKED, EXIT_PASS, EXIT_USAGE, Blocked, UsageError

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("nvx_ft.info", "show the NVX target in this environment and the interpreters found"),
    "bench": ("nvx_ft.bench.driver", "NVX throughput and parallel scaling on 3.14, 3.14t, 3.14t+GIL"),
    "fileset": ("nvx_ft.release.fileset", "check a release's wheels against the ABI manifest (exact tags)"),
    "inspect": ("nvx_ft.release.inspect", "static checks of a wheel: tags, suffixes, NVX, cffi pin"),
    "gate": ("nvx_ft.gate", "release gate: install a wheel/sdist/PyPI release, run every check"),
    "decide": ("nvx_ft.decision", "one release's Free Threading classifier from every platform's evidence"),
    "gil-guard": ("nvx_ft.gil_guard", "import NVX modules in fresh processes: does the GIL stay disabled?"),
    "build": ("nvx_ft.build_command", "build NVX's two CFFI modules from an autobahn sdist/checkout (flags, patch)"),
    "mutants": ("nvx_ft.mutants.run", "build every NVX mutant, run the suites, write the kill matrix"),
    "sanitize": ("nvx_ft.mutants.sanitize", "NVX under ThreadSanitizer (TSan 3.14t) or AddressSanitizer"),
}


def _chosen(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="nvx-ft", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _chosen(argv)
    module = None
    for name, (modname, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == chosen:  # the other commands' modules are never imported
            module = importlib.import_module(modname)
            module.add_arguments(p)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad usage; ours is 3
        return EXIT_USAGE if exc.code else EXIT_PASS
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return module.run(args)
    except UsageError as exc:
        print(f"nvx-ft {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Blocked as exc:
        print(f"nvx-ft {args.command}: blocked: {exc}", file=sys.stderr)
        return EXIT_BLOCKED


if __name__ == "__main__":
    sys.exit(main())
