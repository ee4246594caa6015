"""Find Python interpreters the way users get them: an env var, PATH, uv, pyenv.

A label is "3.14" (GIL build) or "3.14t" (free-threaded build). Every candidate is
*run* and asked what it is, because a name on PATH proves nothing (pyenv shims
answer "command not found", a python3.14 may be free-threaded, and so on).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

#: Every interpreter the project knows how to test, oldest first.
LABELS = ("3.11", "3.12", "3.13", "3.14", "3.14t", "3.15", "3.15t")

HOW_TO_GET_FREE_THREADED = (
    "get a free-threaded CPython with `uv python install {label}`, "
    "actions/setup-python with python-version '{label}', or name the binary in "
    "${env} (e.g. {env}=/opt/python/bin/python{label})"
)

_PROBE = (
    "import json, sys, sysconfig;"
    "print(json.dumps({'version': '%d.%d.%d' % sys.version_info[:3],"
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),"
    "'gil_enabled': getattr(sys, '_is_gil_enabled', lambda: True)(),"
    "'executable': sys.executable,"
    "'implementation': sys.implementation.name}))"
)


@dataclass(frozen=True)
class Interpreter:
    label: str
    executable: str
    version: str
    free_threaded: bool
    source: str  # where it was found: env, PATH, uv, pyenv

    def as_dict(self) -> dict:
        return asdict(self)


def env_var_for(label: str) -> str:
    """``3.14t`` -> ``NVX_FT_PYTHON_3_14T``: the variable that names the binary."""
    return "NVX_FT_PYTHON_" + label.replace(".", "_").upper()


def how_to_get(label: str) -> str:
    return HOW_TO_GET_FREE_THREADED.format(label=label, env=env_var_for(label))


def parse_label(label: str) -> tuple[str, bool]:
    m = re.fullmatch(r"(\d+\.\d+)(t?)", label)
    if not m:
        raise ValueError(f"not an interpreter label: {label!r} (expected e.g. 3.14 or 3.14t)")
    return m.group(1), bool(m.group(2))


def probe(executable: str, timeout: float = 20.0) -> dict | None:
    """Run ``executable`` and return what it says it is, or None if it does not run."""
    try:
        out = subprocess.run(
            [executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _matches(info: dict | None, label: str) -> bool:
    if not info or info.get("implementation") != "cpython":
        return False
    minor, ft = parse_label(label)
    return info["version"].rsplit(".", 1)[0] == minor and info["free_threaded"] == ft


def _candidates(label: str):
    minor, ft = parse_label(label)
    env = os.environ.get(env_var_for(label))
    if env:
        yield env, "env"
    names = [f"python{label}"] + ([] if ft else [f"python{minor}"])
    for name in names:  # every match on PATH: a venv's python3.14 may be the 3.14t one
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            path = shutil.which(name, path=folder) if folder else None
            if path:
                yield path, "PATH"
    uv = shutil.which("uv")
    if uv:
        try:
            out = subprocess.run(
                [uv, "python", "find", "--no-project", label],
                capture_output=True, text=True, timeout=30,
                env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
            )
            if out.returncode == 0 and out.stdout.strip():
                yield out.stdout.strip(), "uv"
        except (OSError, subprocess.TimeoutExpired):
            pass
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for bindir in sorted(pyenv_root.glob(f"versions/{minor}*/bin"), reverse=True):
        for name in names:
            if (bindir / name).exists():
                yield str(bindir / name), "pyenv"


def find(label: str) -> Interpreter | None:
    """The first working interpreter for ``label``, or None.

    An env var that names a binary which is not that interpreter is an error, not a
    silent fallback: the user asked for it explicitly.
    """
    for path, source in _candidates(label):
        info = probe(path)
        if _matches(info, label):
            return Interpreter(label, info["executable"], info["version"],
                               info["free_threaded"], source)
        if source == "env":
            raise LookupError(
                f"${env_var_for(label)}={path} is not a working CPython {label} "
                f"(it reported {info!r})"
            )
    return None


def find_all(labels=LABELS) -> dict[str, Interpreter | None]:
    return {label: find(label) for label in labels}


def current() -> Interpreter:
    import sysconfig

    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    minor = "%d.%d" % sys.version_info[:2]
    return Interpreter(minor + ("t" if ft else ""), sys.executable,
                       "%d.%d.%d" % sys.version_info[:3], ft, "current")


if __name__ == "__main__":  # pragma: no cover - manual check
    for lab, interp in find_all().items():
        print(f"{lab:6} {interp.executable + ' (' + interp.source + ')' if interp else 'NOT FOUND'}")
