"""Fresh venvs for a target: created with ``uv`` when on PATH, else venv + pip; every
install bypasses the wheel cache, so a cached wheel of another build cannot stand in."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


class CommandFailed(Exception):
    """A venv command failed or timed out: the message ends with its output's tail."""


class Venv:
    """A fresh venv of ``base``; installs with uv when on PATH, else pip, never cached.
    Every command's output goes to ``log``; ``env`` is every command's environment."""

    def __init__(self, base: str, path: Path, log: Path, env: dict[str, str]):
        self.path, self.log, self.env = path, log, env
        self.uv = shutil.which("uv")
        self.installer = "uv" if self.uv else "pip"
        if self.uv:
            self._run([self.uv, "venv", "--python", base, "--no-project", str(path)])
        else:
            self._run([base, "-m", "venv", str(path)])
        bindir = path / ("Scripts" if os.name == "nt" else "bin")
        self.python = str(bindir / ("python.exe" if os.name == "nt" else "python"))

    def _run(self, cmd: list[str], timeout: float = 1800) -> str:
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            try:
                out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=self.env, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise CommandFailed(f"timed out after {timeout:.0f}s: {' '.join(cmd)}") from exc
            log.write(out.stdout)
        if out.returncode:
            tail = "\n".join(out.stdout.strip().splitlines()[-12:])
            raise CommandFailed(f"`{' '.join(cmd[:4])} ...` exited {out.returncode}:\n{tail}")
        return out.stdout

    def pip(self, *args: str) -> str:
        if self.uv:
            return self._run([self.uv, "pip", args[0], "--python", self.python, "--no-cache",
                              *args[1:]])
        return self._run([self.python, "-m", "pip", args[0], "--no-cache-dir",
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
