"""Venvs for the interpreters under test: created with ``uv`` when on PATH, else venv + pip.

    venv = Venv(python, path, log, env)           # a fresh venv (the gate's)
    venv.pip("install", wheel)
    python = provisioned(python, path, ["cffi>=2", "setuptools"])   # made once, reused

Installs bypass the wheel cache unless asked (``cache=True``): a cached wheel of another
build of the same version could stand in for the one under test - an uninstrumented
autobahn for a sanitizer interpreter, say.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

#: in a venv made by :func:`provisioned`: what it was made of (see there)
STAMP = ".nvx-ft-venv-stamp"


class CommandFailed(Exception):
    """A venv command failed or timed out: the message ends with its output's tail."""


def python_in(path: Path) -> str:
    """The interpreter of the venv at ``path``."""
    bindir = path / ("Scripts" if os.name == "nt" else "bin")
    return str(bindir / ("python.exe" if os.name == "nt" else "python"))


class Venv:
    """A fresh venv of ``base`` at ``path`` (whatever was there is removed); installs with
    uv when on PATH, else pip, without their caches unless ``cache``. Every command's
    output goes to ``log`` (when given); ``env`` is every command's environment (default:
    ours); ``timeout`` bounds each command."""

    def __init__(self, base: str, path: Path, log: Path | None = None,
                 env: dict[str, str] | None = None, *, cache: bool = False,
                 timeout: float = 1800):
        self.path, self.log, self.env = Path(path), log, env
        self.cache, self.timeout = cache, timeout
        self.uv = shutil.which("uv")
        self.installer = "uv" if self.uv else "pip"
        shutil.rmtree(self.path, ignore_errors=True)
        if log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
        if self.uv:
            self._run([self.uv, "venv", "--python", base, "--no-project", str(self.path)])
        else:
            self._run([base, "-m", "venv", str(self.path)])
        self.python = python_in(self.path)

    def _run(self, cmd: list[str]) -> str:
        self._log(f"\n$ {' '.join(cmd)}\n")  # before it runs: a hang shows what hangs
        try:
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=self.env, timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(f"timed out after {self.timeout:.0f}s: {' '.join(cmd)}") from exc
        self._log(out.stdout)
        if out.returncode:
            tail = "\n".join(out.stdout.strip().splitlines()[-12:])
            raise CommandFailed(f"`{' '.join(cmd[:4])} ...` exited {out.returncode}:\n{tail}")
        return out.stdout

    def _log(self, text: str) -> None:
        if self.log:
            with open(self.log, "a", encoding="utf-8") as log:
                log.write(text)

    def pip(self, *args: str) -> str:
        """``pip <command> <args>`` for this venv, e.g. ``pip("install", "-e", ".")``."""
        if self.uv:
            return self._run([self.uv, "pip", args[0], "--python", self.python,
                              *([] if self.cache else ["--no-cache"]), *args[1:]])
        return self._run([self.python, "-m", "pip", args[0],
                          *([] if self.cache else ["--no-cache-dir"]),
                          "--disable-pip-version-check", *args[1:]])

    def build_wheel(self, spec: str, outdir: Path) -> Path:
        """A wheel of ``spec`` (an sdist path, or ``NAME==VERSION`` from the index) for
        this venv's interpreter."""
        outdir.mkdir(parents=True, exist_ok=True)
        if self.uv and "==" not in spec:
            self._run([self.uv, "build", "--wheel", "--no-cache", "--python", self.python,
                       "-o", str(outdir), spec])
        else:
            if self.uv:  # uv's venvs come without pip
                self.pip("install", "pip>=24")
            self._run([self.python, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps",
                       "--disable-pip-version-check", "-w", str(outdir), spec])
        wheels = sorted(outdir.glob("*.whl"))
        if len(wheels) != 1:
            raise CommandFailed(f"expected one wheel in {outdir}, found {len(wheels)}")
        return wheels[0]

    def python_run(self, code: str, *args: str, cwd: Path | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "-c", code, *args], capture_output=True,
                              text=True, env=self.env, cwd=cwd, timeout=timeout)


def provisioned(base: str, path: Path, requirements: list[str], *,
                stamp: dict | None = None, progress: Callable[[str], None] | None = None,
                **options) -> str:
    """The interpreter of a venv of ``base`` at ``path`` with ``requirements`` installed
    (``pip install`` arguments). Made once and reused while its stamp - ``base``, the
    requirements and the caller's ``stamp`` (e.g. a hash of what an editable install
    reads) - is unchanged; made afresh otherwise, after telling ``progress``.
    ``options`` go to :class:`Venv`."""
    path = Path(path)
    text = json.dumps({"base": base, "requirements": requirements, **(stamp or {})},
                      sort_keys=True)
    python, stamp_file = python_in(path), path / STAMP
    if Path(python).exists() and stamp_file.is_file() and stamp_file.read_text() == text:
        return python
    if progress:
        progress(f"creating venv {path} for {base} (once; reused while unchanged)")
    venv = Venv(base, path, **options)
    venv.pip("install", *requirements)
    stamp_file.write_text(text)
    return venv.python
