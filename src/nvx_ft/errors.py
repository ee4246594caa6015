"""Errors every nvx-ft command may raise, and the exit codes they map to.

The ground floor of nvx-ft: it imports nothing from nvx_ft, so every module may use it.
Exit codes across all subcommands: 0 pass, 1 a check failed, 2 blocked (something
needed is missing, e.g. no free-threaded interpreter), 3 usage / bad input.
"""

EXIT_PASS, EXIT_FAIL, EXIT_BLOCKED, EXIT_USAGE = 0, 1, 2, 3


class UsageError(Exception):
    """Bad input: reported as one line, exit 3."""


class Blocked(Exception):
    """Something needed is missing: reported as one line, exit 2."""
