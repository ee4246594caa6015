"""The echo benchmark's child processes as the driver sees them (a server, a load
generator): lines over stdin/stdout, every wait bounded, stderr to a log file."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path

from nvx_ft.bench.echo import CPU, READY
from nvx_ft.bench.echo_load import REPLY


class ChildFailed(Exception):
    """A child process died, hung past its bound, or answered nonsense."""


class Child:
    """A process answering one line per command (``<PREFIX> <json>``)."""

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

    def send(self, line: str) -> None:
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ChildFailed(f"{self.name}: cannot write to it ({exc}); {self._tail()}") \
                from None

    def reply(self, prefix: str, timeout: float) -> dict:
        """The JSON after ``prefix`` on the next line starting with it, within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ChildFailed(f"{self.name}: no {prefix} line within {timeout:.0f} s; "
                                  + self._tail()) from None
            if text is None:
                self._lines.put(None)  # stays ended for the next caller
                self.proc.poll()
                raise ChildFailed(f"{self.name}: exited (code {self.proc.returncode}) "
                                  f"before a {prefix} line; {self._tail()}")
            if text.startswith(prefix + " "):
                return json.loads(text[len(prefix) + 1:])
            self._log.write(f"(stdout) {text}\n")

    def _tail(self) -> str:
        self._log.flush()
        lines = self.log.read_text(errors="replace").splitlines()[-8:]
        return "log " + str(self.log) + (":\n  " + "\n  ".join(lines) if lines else "")

    def stop(self, goodbye: str, timeout: float = 10.0) -> int | None:
        """Ask it to quit, then kill it if it has not within ``timeout``; its exit code."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(goodbye.encode() + b"\n")
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
        self.info = self.reply(READY, timeout)
        self.pinned_cpus = self.info["pinned_cpus"]

    def measure(self, start: float, end: float) -> None:
        self.send(f"measure {start!r} {end!r}")

    def cpu(self, timeout: float) -> dict:
        return self.reply(CPU, timeout)

    def close(self) -> int | None:
        return self.stop("quit")


class LoadGenerator(Child):
    """A load-generator process (same interpreter for every build: the driver's)."""

    def __init__(self, name, python, env, log, cwd=None) -> None:
        super().__init__(name, [python, "-m", "nvx_ft.bench.echo_load"], env, log, cwd)

    def command(self, cmd: dict) -> None:
        self.send(json.dumps(cmd))

    def answer(self, timeout: float) -> dict:
        return self.reply(REPLY, timeout)

    def close(self) -> int | None:
        return self.stop(json.dumps({"cmd": "quit"}))
