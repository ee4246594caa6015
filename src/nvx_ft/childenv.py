"""The environment of a child process: ours, minus what must not leak in, plus what the
child needs.

    env = child_env(scrub=AS_USERS_GET_IT, set=settings.Child(gate=True).env())

The named scrub lists say *why* a variable is dropped; an entry ``NAME=VALUE`` drops
``NAME`` only when it has that value, an entry ``PREFIX*`` every variable that starts with
``PREFIX``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

#: The gate's children must see NVX as a user would: none of these may leak in from our
#: shell.
AS_USERS_GET_IT = ("PYTHONPATH", "PYTHONHOME", "PYTHON_GIL", "AUTOBAHN_USE_NVX",
                   "PIP_FIND_LINKS", "VIRTUAL_ENV")

#: What would let our shell, not the artefact, decide a gate verdict: the gate's pytest
#: children get their configuration from the gate's own command line and ``set`` only.
#: Kept on purpose: ``CI`` (Hypothesis' and overlap's defaults, both overridden by the
#: gate's explicit options), ``LD_LIBRARY_PATH`` (a shared-libpython interpreter may need
#: it to start; the gate checks the loaded ``_nvx_*`` files' hashes instead),
#: ``PYTHONFAULTHANDLER``, ``PYTHONHASHSEED``, ``PYTHONIOENCODING``/``PYTHONUTF8``, locale and
#: ``PIP_*``/``UV_*`` (how the venv is filled, not what is tested: the install step checks
#: the result against the wheel's RECORD).
GATE_VERDICT: dict[str, str] = {
    "PYTEST_*": "PYTEST_ADDOPTS (-k, --deselect, --nvx-target=fallback, "
                "--nvx-inconclusive=warn), PYTEST_PLUGINS (a plugin can rewrite outcomes), "
                "PYTEST_DISABLE_PLUGIN_AUTOLOAD (drops nvx-ft's and pytest-timeout's plugins)",
    "NVX_FT_*": "nvx-ft's own settings (intensity, test timeout, Hypothesis profile, "
                "inconclusive mode, a parent's NVX_FT_CHILD): the gate passes its own "
                "explicitly (its command line and a fresh NVX_FT_CHILD)",
    "HYPOTHESIS_*": "Hypothesis' example database and plugins: a database or a plugin "
                    "changes which examples run",
    "PYTHONWARNINGS": "'ignore' hides the RuntimeWarning of a module re-enabling the GIL, "
                      "'error' turns harmless warnings into failures",
    "PYTHONOPTIMIZE": "-O strips the assert statements of nvx-ft's library checks",
    "PYTHON_CPU_COUNT": "os.cpu_count() sizes the stress and protocol thread counts",
    "PYTHONSTARTUP": "code run at an interactive start (pytest's debugger prompt)",
    "PYTHONUSERBASE": "a user site-packages could shadow the venv's modules",
    "PYTHONNOUSERSITE": "as PYTHONUSERBASE",
    "PYTHONINSPECT": "a failing child would wait at a prompt instead of exiting",
    "PYTHONDEVMODE": "changes allocator and warnings: timing and overlap of race checks",
    "PYTHONMALLOC": "as PYTHONDEVMODE",
    "PYTHONTRACEMALLOC": "as PYTHONDEVMODE",
    "PYTHONPROFILEIMPORTTIME": "noise on stderr, timing",
    "COVERAGE_PROCESS_START": "coverage tracing in the children changes thread timing",
    "COV_CORE_*": "pytest-cov's subprocess tracing, as COVERAGE_PROCESS_START",
    "LD_PRELOAD": "a preloaded library can interpose NVX's C functions",
    "DYLD_INSERT_LIBRARIES": "as LD_PRELOAD, on macOS",
}

#: Would change what a benchmark child measures: set per build, never inherited.
MEASUREMENT = ("PYTHON_GIL", "AUTOBAHN_USE_NVX", "PYTHONDEVMODE",
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
        if name.endswith("*"):
            for var in [v for v in env if v.startswith(name[:-1])]:
                env.pop(var)
        elif not has_value or env.get(name) == value:
            env.pop(name, None)
    env.update(set or {})
    first = [str(p) for p in pythonpath_first]
    if first:
        rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(first + rest)
    return env
