"""Typed records the bench's modules hand each other (``results.json`` holds them as JSON
objects): a build's part of a run, an echo point and its figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass


@dataclass
class BuildResult:
    """One build's part of a run; ``status``: ok, failed or missing."""

    status: str
    reason: str | None = None  # why it is missing
    python: str | None = None  # the interpreter its children ran (its venv's)
    env: dict = field(default_factory=dict)  # e.g. PYTHON_GIL=1
    errors: list[str] = field(default_factory=list)
    interpreter: dict | None = None  # nvx_ft.interpreters' view of it
    dir: str | None = None  # its report folder
    seconds: float = 0.0
    scaling: dict | None = None  # merged scaling JSON (nvx_ft.bench.scaling.merge)
    single: dict | None = None  # target -> merged pytest-benchmark JSON
    single_not_run: str | None = None  # why its single-thread benchmarks did not run

    @classmethod
    def from_json(cls, data: dict) -> "BuildResult":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def build_records(results: dict) -> dict[str, BuildResult]:
    """The run's builds by name, as records (``results.json`` has them as objects)."""
    return {name: b if isinstance(b, BuildResult) else BuildResult.from_json(b)
            for name, b in results["builds"].items()}


def as_json(obj):
    """``json.dumps``'s ``default``: a record as a JSON object."""
    if is_dataclass(obj):
        return asdict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def point_key(build: str, nvx: bool, threads: int, kind: str, size: int) -> str:
    """An echo point's name (its key in the figures and the report)."""
    return f"{build} | NVX {'on' if nvx else 'off'} | {threads}t | {kind} {size}"


@dataclass
class PointFigures:
    """One echo point's figures over its repeats (medians unless said otherwise)."""

    msgs: dict  # messages/s: stats.summary (n, min, median, max, cv, ci)
    mb_per_s: float
    p50_us: float | None
    p99_us: float | None
    server_cpu_share: float | None  # of min(threads, cores) cores
    server_us_per_msg: float | None  # server CPU time per echo, all its threads
    load_cpu_share: float | None  # per generator process
    messages: float | None  # echoes per window
    others_cores: float | None  # cores other processes used meanwhile
    cv_us_per_msg: float  # high with the server on its cores and the machine quiet: hardware


@dataclass
class EchoPoint:
    """An echo point as measured (``results["echo"]["points"]``) and its figures."""

    build: str
    nvx: bool
    threads: int
    kind: str
    size: int
    connections: int
    load_processes: int
    oversubscribed: bool
    repeats: list[dict]  # one record per window (nvx_ft.bench.echo_run)
    errors: list[str]
    fig: PointFigures | None = None  # None: not measured
    speedup: dict | None = None  # vs 1 thread of the same build, paired by repeat
    vs_baseline: dict | None = None  # ratio of medians to 3.14 at the same point
    noisy: bool = False
    why: list[str] = field(default_factory=list)
