"""The environment of a child process: ours, minus what must not leak in, plus what the
child needs.

    env = child_env(scrub=AS_USERS_GET_IT, set={"NVX_FT_GATE": "1"})

The named scrub lists say *why* a variable is dropped; an entry ``NAME=VALUE`` drops
``NAME`` only when it has that value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

#: The gate's children must see NVX as a user would: none of these may leak in from our
#: shell.
AS_USERS_GET_IT = ("PYTHONPATH", "PYTHONHOME", "PYTHON_GIL", "AUTOBAHN_USE_NVX",
                   "PIP_FIND_LINKS", "VIRTUAL_ENV", "NVX_FT_TARGET")

#: Would change what a benchmark child measures: set per build, never inherited.
MEASUREMENT = ("PYTHON_GIL", "AUTOBAHN_USE_NVX", "NVX_FT_TARGET", "PYTHONDEVMODE",
               "PYTHONMALLOC", "PYTHONTRACEMALLOC")

#: ``PYTHON_GIL=0`` forces the GIL off and would hide the very flip the import GIL guard
#: looks for; ``PYTHON_GIL=1`` passes (the guard must then report the GIL enabled).
GIL_FORCED_OFF = ("PYTHON_GIL=0",)

#: A compile of NVX uses the interpreter's own flags plus ours only: a ``CFLAGS`` left in
#: the environment would replace the interpreter's (newer setuptools) and change the build.
COMPILER = ("CFLAGS", "CPPFLAGS", "LDFLAGS", "CC", "LDSHARED")

#: Runs a ThreadSanitizer interpreter for a job that is not under test (a venv, a compile).
TSAN_QUIET = {"TSAN_OPTIONS": "report_bugs=0 exitcode=0"}


def child_env(*, scrub: Iterable[str] = (), set: Mapping[str, str] | None = None,
              pythonpath_first: Iterable[str | os.PathLike] = (),
              base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: our environment) without the ``scrub`` variables, with ``set``,
    and with ``pythonpath_first`` ahead of whatever ``PYTHONPATH`` is left."""
    env = dict(os.environ if base is None else base)
    for entry in scrub:
        name, has_value, value = entry.partition("=")
        if not has_value or env.get(name) == value:
            env.pop(name, None)
    env.update(set or {})
    first = [str(p) for p in pythonpath_first]
    if first:
        rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(first + rest)
    return env
