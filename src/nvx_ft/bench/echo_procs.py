"""The echo benchmark's child processes as the driver sees them (a server, a load
generator): a JSON command a line on stdin, a ``REPLY <json>`` line back, every wait bounded,
stderr to a log file."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

from nvx_ft.bench.echo import REPLY


class ChildFailed(Exception):
    """A child process died, hung past its bound, or answered nonsense."""


class Child:
    """A child process; a load generator as it is (the driver's interpreter for every build)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path, cwd=None) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "w")
        self._log.write("$ " + " ".join(cmd) + "\n")
        self._log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, cwd=cwd, bufsize=0)
        # a thread reads stdout line by line: waits with a timeout work on every OS
        # (select() takes no pipes on Windows)
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, name=f"{name} stdout", daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self._lines.put(raw.decode(errors="replace").rstrip("\r\n"))
        self._lines.put(None)  # end of output

    def command(self, cmd: dict) -> None:
        try:
            self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ChildFailed(f"{self.name}: cannot write to it ({exc}); {self._tail()}") \
                from None

    def answer(self, timeout: float) -> dict:
        """The JSON of the next ``REPLY`` line, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ChildFailed(f"{self.name}: no {REPLY} line within {timeout:.0f} s; "
                                  + self._tail()) from None
            if text is None:
                self._lines.put(None)  # stays ended for the next caller
                self.proc.poll()
                raise ChildFailed(f"{self.name}: exited (code {self.proc.returncode}) "
                                  f"before a {REPLY} line; {self._tail()}")
            if text.startswith(REPLY + " "):
                return json.loads(text[len(REPLY) + 1:])
            self._log.write(f"(stdout) {text}\n")

    def _tail(self) -> str:
        self._log.flush()
        lines = self.log.read_text(errors="replace").splitlines()[-8:]
        return "log " + str(self.log) + (":\n  " + "\n  ".join(lines) if lines else "")

    def close(self, timeout: float = 10.0) -> int | None:
        """Ask it to quit, then kill it if it has not within ``timeout``; its exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Server(Child):
    """An echo server process, its threads pinned to ``pin_cpus`` from the start."""

    def __init__(self, name, python, threads, pin_cpus, env, log, lifetime, fault=None,
                 cwd=None) -> None:
        cmd = [python, "-m", "nvx_ft.bench.echo", "--threads", str(threads),
               "--pin-cpus", ",".join(map(str, pin_cpus)), "--lifetime", str(int(lifetime))]
        super().__init__(name, cmd + (["--fault", fault] if fault else []), env, log, cwd)
        self.info: dict | None = None
        self.error: str | None = None
        self.pinned_cpus: list[int] = list(pin_cpus)

    def ready(self, timeout: float) -> None:
        self.info = self.answer(timeout)
        self.pinned_cpus = self.info["pinned_cpus"]

    def measure(self, start: float, end: float) -> None:
        self.command({"cmd": "measure", "start": start, "end": end})

    def cpu(self, timeout: float) -> dict:
        return self.answer(timeout)
