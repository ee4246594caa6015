"""``nvx-ft`` command line: one subcommand per module, loaded lazily.

Each module named in :data:`COMMANDS` provides ``add_arguments(parser)`` and
``run(args) -> int``. Exit codes across all subcommands: 0 pass, 1 a check failed,
2 blocked (something needed is missing, e.g. no free-threaded interpreter),
3 usage / bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

EXIT_PASS, EXIT_FAIL, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2, 3

#: subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("nvx_ft.info", "show the NVX target in this environment and the interpreters found"),
    "bench": ("nvx_ft.bench.driver", "NVX throughput and parallel scaling on 3.14, 3.14t, 3.14t+GIL"),
    "fileset": ("nvx_ft.fileset", "check a release's wheels against the ABI manifest (exact tags)"),
    "inspect": ("nvx_ft.wheel_inspect", "static checks of a wheel: tags, suffixes, NVX, cffi pin"),
    "gate": ("nvx_ft.gate", "release gate: install a wheel/sdist/PyPI release, run every check"),
    "gil-guard": ("nvx_ft.gil", "import NVX modules in fresh processes: does the GIL stay disabled?"),
    "build": ("nvx_ft.build", "build NVX's two CFFI modules from an autobahn sdist/checkout (flags, patch)"),
    "mutants": ("nvx_ft.mutants.run", "build every NVX mutant, run the suites, write the kill matrix"),
    "sanitize": ("nvx_ft.sanitizers", "NVX under ThreadSanitizer (TSan 3.14t) or AddressSanitizer"),
}


class UsageError(Exception):
    """Bad input: reported as one line, exit 3."""


class Blocked(Exception):
    """Something needed is missing: reported as one line, exit 2."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nvx-ft", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, (modname, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        modules[name] = importlib.import_module(modname)
        modules[name].add_arguments(p)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad usage; ours is 3
        return EXIT_USAGE if exc.code else EXIT_PASS
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return modules[args.command].run(args)
    except UsageError as exc:
        print(f"nvx-ft {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Blocked as exc:
        print(f"nvx-ft {args.command}: blocked: {exc}", file=sys.stderr)
        return EXIT_BLOCKED


if __name__ == "__main__":
    # `python -m nvx_ft.cli`: run the copy subcommands import, so their UsageError and
    # Blocked are the classes caught above
    from nvx_ft.cli import main as _main

    sys.exit(_main())
