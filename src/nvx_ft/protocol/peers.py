"""Starting, bounding and reaping the ``websockets`` peer process (``peer.py``).

The peer runs with ``python`` (default: this interpreter; any interpreter that has
``websockets`` and nvx-ft will do). Every run has a time bound: on expiry the process
is killed, reaped, and the failure carries what it printed.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from nvx_ft.protocol.peer import READY, RESULT
from nvx_ft.protocol.traffic import Volume


class PeerFailed(AssertionError):
    """The peer process crashed, hung or printed no result."""


def _env() -> dict:
    return dict(os.environ)  # a fault lives in the test process only: never in the judge


def _cmd(python: str | None, mode: str, *args: str) -> list[str]:
    return [python or sys.executable, "-m", "nvx_ft.protocol.peer", mode, *args]


def _parse(out: str, err: str, what: str) -> dict:
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT + " "):
            return json.loads(line.split(" ", 1)[1])
    raise PeerFailed(f"{what}: no result printed\nstdout: {out[-3000:]}\nstderr: {err[-3000:]}")


def client_args(urls: list[str], conns: int, seed: int, volume: Volume,
                timeout: float) -> list[str]:
    return ["--urls", ",".join(urls), "--conns", str(conns), "--seed", str(seed),
            "--messages", str(volume.messages), "--max-size", str(volume.max_size),
            "--random-max", str(volume.random_max), "--timeout", str(timeout)]


def run_client(urls: list[str], conns: int, seed: int, volume: Volume, *,
               timeout: float = 20.0, bound: float = 120.0, python: str | None = None,
               beats: str | None = None) -> dict:
    """Run the websockets client peer to completion (at most ``bound`` seconds).
    ``beats``: the servers' heartbeat file (``EchoServers.beats_path``): the peer waits
    on their progress, and a wait still undecided at half the bound is inconclusive."""
    args = client_args(urls, conns, seed, volume, timeout)
    if beats:
        args += ["--beats", beats, "--deadline", f"{bound / 2:g}"]
    cmd = _cmd(python, "client", *args)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=bound, env=_env())
    except subprocess.TimeoutExpired as exc:  # run() has killed and reaped it
        raise PeerFailed(f"websockets client peer did not finish within {bound} s: "
                         f"{' '.join(cmd)}\nstderr: {exc.stderr!r}") from None
    result = _parse(proc.stdout, proc.stderr, f"websockets client peer (exit {proc.returncode})")
    result["command"] = " ".join(cmd)
    return result


class PeerServer:
    """Context manager: a websockets echo server process; ``result`` after exit."""

    def __init__(self, *, python: str | None = None, timeout: float = 20.0,
                 bound: float = 120.0) -> None:
        self.cmd = _cmd(python, "server", "--timeout", str(timeout), "--lifetime", str(bound))
        self.bound = bound
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.result: dict | None = None

    def url(self, conn: int, prefix: str = "c") -> str:
        return f"ws://127.0.0.1:{self.port}/{prefix}/{conn}"

    def __enter__(self) -> "PeerServer":
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=_env())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                if line.startswith(READY + " "):
                    self.port = int(line.split()[1])
                    return self
                if not line:
                    break
        self._reap()
        raise PeerFailed(f"websockets server peer did not start: {' '.join(self.cmd)}\n"
                         f"stderr: {self.proc.stderr.read()[-3000:]}")

    def _reap(self) -> tuple[str, str]:
        try:
            return self.proc.communicate(timeout=self.bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.communicate()

    def __exit__(self, *exc) -> None:
        self.proc.stdin.close()  # the server's signal to stop and report
        self.proc.stdin = None
        out, err = self._reap()
        if exc[0] is None:
            self.result = _parse(out, err, f"websockets server peer (exit "
                                           f"{self.proc.returncode})")
