"""The echo benchmark, driven: a server process per build x NVX x threads, started up front,
load generators measuring one window per point, repeats interleaved, noisy series rerun.
Both children take a JSON command a line on stdin and answer with a ``REPLY <json>`` line;
every wait is bounded, their stderr goes to a log file (method: benchmarks/README.md,
End-to-end)."""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from nvx_ft.bench import machine
from nvx_ft.bench.echo import REPLY
from nvx_ft.bench.figures import point_key
from nvx_ft.bench.schedule import interleave, rotated
from nvx_ft.bench.stats import CV_TARGET, cv, quantile
from nvx_ft.childenv import MEASUREMENT, child_env
from nvx_ft.paths import ROOT

KINDS = ("text", "binary")
SIZES = (64, 1024, 64 * 1024)


@dataclass(frozen=True)
class EchoConfig:
    kinds: tuple[str, ...]
    sizes: tuple[int, ...]
    threads: tuple[int, ...]
    nvx: tuple[bool, ...]  # NVX on (as users get it) / off (AUTOBAHN_USE_NVX=0)
    repeats: int
    warmup: float  # seconds of untimed load before each window
    window: float  # seconds counted
    conns_per_thread: int
    depth: int  # messages in flight per connection
    extra_rounds: int  # rounds of more repeats for series that missed the CV target
    budget: float  # seconds for the whole part; then it stops measuring
    io_timeout: float  # a server silent this long is an error
    pin: str = "auto"  # "on", "off" or "auto" (machine.decide), where the run did not decide


def mode_config(mode: str, cores: int | None = None) -> EchoConfig:
    """quick: the thread counts 1, 2, 4 that fit the cores; full keeps 4 (oversubscribed)."""
    fit = tuple(n for n in (1, 2, 4) if n <= (cores or len(machine.allowed_cpus())))
    if mode == "quick":
        return EchoConfig(KINDS, SIZES, fit if len(fit) > 1 else (1, 2), (True, False), 3, 0.1,
                          0.25, 4, 2, 1, 150.0, 10.0)
    if mode == "full":
        return EchoConfig(KINDS, SIZES, (1, 2, 4), (True, False), 5, 0.2, 0.6,
                          4, 2, 2, 1200.0, 20.0)
    if mode == "smoke":  # structure only
        return EchoConfig(KINDS, (64, 1024), (1, 2), (True, False), 2, 0.02, 0.05, 2, 2,
                          0, 120.0, 10.0)
    raise ValueError(f"unknown mode {mode!r}: quick, full or smoke")


def load_processes(threads: int, cores: int) -> int:
    """Generators per point: one per two server threads, at most half the cores, >= 1."""
    return max(1, min(cores // 2, -(-threads // 2)))


@dataclass(frozen=True)
class EchoBuild:
    name: str
    python: str
    env: dict


class ChildFailed(Exception):
    """A child process died, hung past its bound, or answered nonsense; a generator's ends
    the run, a server's its point."""


class Child:
    """A child process; a load generator as it is (the driver's interpreter for every build)."""

    def __init__(self, name: str, cmd: list[str], env: dict, log: Path, cwd=None) -> None:
        self.name, self.cmd, self.log = name, cmd, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "w")
        print("$", *cmd, file=self._log, flush=True)
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
            with contextlib.suppress(OSError):
                self.proc.stdin.write(b'{"cmd": "quit"}\n')
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


class Server(Child):
    """An echo server process, its threads pinned to ``pin_cpus`` from the start."""

    #: how ``python`` starts the server; the self-tests start a faulty one instead
    START = ("-m", "nvx_ft.bench.echo")

    def __init__(self, name, python, threads, pin_cpus, env, log, lifetime, cwd=None) -> None:
        cmd = [python, *self.START, "--threads", str(threads),
               "--pin-cpus", ",".join(map(str, pin_cpus)), "--lifetime", str(int(lifetime))]
        super().__init__(name, cmd, env, log, cwd)
        self.info: dict | None = None
        self.error: str | None = None
        self.pinned_cpus: list[int] = list(pin_cpus)

    def ready(self, timeout: float) -> None:
        self.info = self.answer(timeout)
        self.pinned_cpus = self.info["pinned_cpus"]


class Runner:
    """The servers, generators and measured points of one run."""

    def __init__(self, builds, cfg: EchoConfig, out: Path, log, load_python: str) -> None:
        self.builds, self.cfg, self.out, self.log = builds, cfg, out, log
        self.load_python = load_python
        self.cpus = machine.allowed_cpus()
        self.pin, self.decision = False, {}  # decided once, before the servers start
        self.repeat = 0  # the repeat being measured (extra repeats continue the count)
        self.servers: dict[tuple, Server] = {}
        self.gens: list[Child] = []  # load generators
        self.points: dict[str, dict] = {}
        self.errors: list[str] = []
        self.started, self.stopped = time.monotonic(), None

    def start(self, pinning: dict | None = None) -> None:
        """Every server (pinned by the run's ``pinning``, else ``cfg.pin``), the generators."""
        self.decision = pinning or machine.decision(self.cfg.pin)
        self.pin = self.decision["pinned"]
        lifetime = self.cfg.budget + 120
        for b in self.builds:
            for nvx in self.cfg.nvx:
                for n in self.cfg.threads:
                    env = child_env(scrub=MEASUREMENT, set={**b.env, **(
                        {} if nvx else {"AUTOBAHN_USE_NVX": "0"})})
                    name = f"{b.name} NVX {'on' if nvx else 'off'} {n}t"
                    slug = "".join(ch if ch.isalnum() or ch in ".-" else "-" for ch in name)
                    self.servers[(b.name, nvx, n)] = Server(
                        name, b.python, n, machine.pins(n, self.cpus) if self.pin else [], env,
                        self.out / "echo" / f"server-{slug}.log", lifetime, cwd=ROOT)
        for (_, nvx, _), srv in self.servers.items():
            try:
                srv.ready(60)
                if srv.info["uses_nvx"] != nvx:
                    srv.error = (f"autobahn uses NVX = {srv.info['uses_nvx']}, expected {nvx} "
                                 "(NVX not built into this autobahn?)")
            except ChildFailed as exc:
                srv.error = f"did not start: {exc}"
            if srv.error:
                self.errors.append(f"server {srv.name}: {srv.error}")
        most = max(load_processes(n, len(self.cpus)) for n in self.cfg.threads)
        cmd, env = [self.load_python, "-m", "nvx_ft.bench.echo_load"], child_env(scrub=MEASUREMENT)
        self.gens = [Child(f"load generator {i}", cmd, env, self.out / "echo" / f"load-{i}.log",
                           cwd=ROOT) for i in range(most)]

    def window(self, build, nvx, n, kind, size) -> None:
        point = self.points.setdefault(point_key(build, nvx, n, kind, size), {
            "build": build, "nvx": nvx, "threads": n, "kind": kind, "size": size,
            "connections": self.cfg.conns_per_thread * n,
            "load_processes": load_processes(n, len(self.cpus)),
            "oversubscribed": n > len(self.cpus), "repeats": [], "errors": []})
        srv = self.servers[(build, nvx, n)]
        if srv.error:
            point["errors"].append(f"not measured: server {srv.error}")
            return
        try:
            point["repeats"].append(self._measure(point, srv))
        except _PointFailed as exc:
            point["errors"].append(str(exc))
            srv.error = f"failed a window: {exc}"  # a wrong server yields no more numbers
            self.errors.append(f"{point_key(build, nvx, n, kind, size)}: {exc}")

    def _measure(self, point: dict, srv: Server) -> dict:
        cfg, n = self.cfg, point["threads"]
        gens = self.gens[:point["load_processes"]]
        conns = list(range(point["connections"]))
        # the generators on the cores after the server's, where there are enough
        load_cpus = machine.pins(len(gens), self.cpus, first=n) if self.pin else []
        for i, g in enumerate(gens):
            g.command({"cmd": "connect", "ports": srv.info["ports"], "conns": conns[i::len(gens)],
                       "kind": point["kind"], "size": point["size"], "depth": cfg.depth,
                       "timeout": cfg.io_timeout, "pin_cpu": load_cpus[i] if load_cpus else None})
        # a generator that does not answer (ChildFailed) leaves nothing measurable: the run ends
        replies = [g.answer(cfg.io_timeout * len(conns) + 10) for g in gens]
        bad = [r["error"] for r in replies if "error" in r]
        if bad:
            for g, r in zip(gens, replies):  # release the connections that did open
                if "error" not in r:
                    g.command({"cmd": "disconnect"})
                    g.answer(cfg.io_timeout + 10)
            raise _PointFailed("connect: " + "; ".join(bad))
        now = time.monotonic()
        start = now + 0.01 + cfg.warmup
        end = start + cfg.window
        deadline = end + cfg.io_timeout
        srv.command({"cmd": "measure", "start": start, "end": end})  # its CPU time then
        for g in gens:
            g.command({"cmd": "run", "start": start, "end": end, "deadline": deadline})
        results = [g.answer(deadline - now + 15) for g in gens]
        try:
            server_cpu = srv.answer(deadline - now + 15)
        except ChildFailed as exc:
            raise _PointFailed(f"server: {exc}") from None
        bad = [r["error"] for r in results if "error" in r]
        if bad:
            raise _PointFailed("; ".join(bad))
        return {**_repeat_figures(results, server_cpu), "repeat": self.repeat,
                "pinned": self.pin, "server_pinned": bool(srv.pinned_cpus),
                "load_pinned": bool(load_cpus)}

    def out_of_time(self) -> bool:
        if time.monotonic() - self.started > self.cfg.budget:
            self.stopped = self.stopped or (f"stopped at its time bound ({self.cfg.budget:.0f} "
                                            "s); later windows not measured")
        return self.stopped is not None

    def run(self) -> None:
        blocks = [(nvx, k, s) for nvx in self.cfg.nvx for k in self.cfg.kinds
                  for s in self.cfg.sizes]
        combos = [(b.name, n) for b in self.builds for n in self.cfg.threads]
        pinned = " (pinned)" if self.pin else ""

        def repeat(r: int) -> list[tuple]:
            self.repeat += 1
            self.log(f"[end-to-end] repeat {r + 1}/{self.cfg.repeats}{pinned}")
            return [(build, nvx, n, kind, size) for i, (nvx, kind, size) in enumerate(blocks)
                    for build, n in rotated(combos, r + i)]

        def extra(e: int) -> list[tuple]:
            noisy = self.noisy_series()
            if noisy and not self.out_of_time():
                self.repeat += 1
                self.log(f"[end-to-end] extra repeat {e + 1} for {len(noisy)} noisy series{pinned}")
            return [(build, nvx, n, kind, size) for build, nvx, kind, size in noisy
                    for n in rotated(list(self.cfg.threads), e)]

        interleave(self.cfg.repeats, repeat, lambda item: self.window(*item),
                   reruns=self.cfg.extra_rounds, noisy=extra, over=self.out_of_time)

    def noisy_series(self) -> list[tuple]:
        """(build, NVX, kind, size) of the series with a point above the CV target."""
        return list(dict.fromkeys(
            (p["build"], p["nvx"], p["kind"], p["size"]) for p in self.points.values()
            if not p["errors"] and len(p["repeats"]) >= 2
            and cv([r["msgs_per_s"] for r in p["repeats"]]) > CV_TARGET))


class _PointFailed(Exception):
    """This point has no number: a wrong echo, a closed connection, a dead server."""


def _repeat_figures(results: list[dict], server_cpu: dict) -> dict:
    """One window's figures from the generators' and the server's replies."""
    lat = sorted(x for r in results for x in r["latencies_us"])
    load_cpu, wall = sum(r["cpu"] for r in results), server_cpu["wall"]
    busy = server_cpu.get("machine_busy")
    return {"messages": sum(r["messages"] for r in results),
            "msgs_per_s": sum(r["messages"] / r["interval"] for r in results),
            "p50_us": quantile(lat, 0.5) if lat else None,
            "p99_us": quantile(lat, 0.99) if lat else None,
            "load_cpu": load_cpu, "load_wall": sum(r["interval"] for r in results),
            "server_cpu": server_cpu["cpu"], "server_wall": wall,
            # CPU-seconds per second that neither the server nor the generators used
            "others_cores": (None if busy is None or not wall
                             else max(0.0, (busy - (server_cpu["cpu"] + load_cpu)) / wall))}


def run(builds: list[EchoBuild], mode: str, out: Path, log=print,
        load_python: str | None = None, cfg: EchoConfig | None = None,
        pinning: dict | None = None) -> dict:
    """Measure every point; the JSON-ready results (``results["echo"]`` of the bench)."""
    cfg = cfg or mode_config(mode)
    runner = Runner(builds, cfg, out, log, load_python or sys.executable)
    t0, la0 = time.time(), machine.load_average()
    try:
        runner.start(pinning)
        runner.run()
    except ChildFailed as exc:
        runner.errors.append(f"aborted: {exc}")
    finally:
        for child in [*runner.gens, *runner.servers.values()]:
            child.close()
    failed = any(p["errors"] for p in runner.points.values()) or runner.errors
    return {"kind": "nvx-ft-echo", "mode": mode, "config": asdict(cfg),
            "cores": len(runner.cpus), "cpus": runner.cpus,
            "pinning": runner.decision, "load_python": runner.load_python,
            "cv_target": CV_TARGET,
            "load_average_start": la0, "load_average_end": machine.load_average(),
            "seconds": time.time() - t0, "stopped": runner.stopped,
            "servers": {srv.name: {"info": srv.info, "error": srv.error}
                        for srv in runner.servers.values()},
            "points": list(runner.points.values()), "errors": runner.errors,
            "status": "failed" if failed else "ok"}
