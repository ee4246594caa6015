"""What the results (``results.json``) say: the typed records the bench's modules hand each
other (``results.json`` holds them as JSON objects), NVX scaling's findings, the
single-thread cost of free-threading, the echo points' figures and ratios, and why a point
is noisy."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, fields

from nvx_ft.bench import stats, steadiness
from nvx_ft.bench.scaling import WORKLOADS
from nvx_ft.bench.workloads import human_size

POOR_EFFICIENCY = 0.7  # speedup / min(N, cores) below this is poor
CV_TARGET = stats.CV_TARGET  # a speedup whose CV over repeats is above this is noisy
#: a single thread with less CPU than this (of its wall time): the machine was busy
BUSY_CPU_SHARE = 0.9
#: no more threads than cores, yet without a core more than this share of the window: busy
BUSY_WAITING_SHARE = 0.1
#: work efficiency below this: the threads slow each other down while they run
CONTENDED_WORK = 0.8


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


def build_records(results: dict) -> dict[str, BuildResult]:
    """The run's builds by name, as records (``results.json`` has them as objects)."""
    names = {f.name for f in fields(BuildResult)}
    return {name: b if isinstance(b, BuildResult) else BuildResult(
        **{k: v for k, v in b.items() if k in names}) for name, b in results["builds"].items()}


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


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f} %"


def scaling_rows(results: dict):
    """(build, series dict) for every measured series, in build order."""
    for name, b in build_records(results).items():
        for s in (b.scaling or {}).get("series", []):
            yield name, s


def scaling_panels(results: dict) -> dict[tuple[str, int], dict[str, dict]]:
    """(workload, frame size) -> {build: series}, by workload, frame size and build."""
    panels: dict = {}
    for name, s in scaling_rows(results):
        panels.setdefault((s["workload"], s["frame_size"]), {})[name] = s
    order = list(WORKLOADS)
    return dict(sorted(panels.items(), key=lambda kv: (
        order.index(kv[0][0]) if kv[0][0] in order else len(order), kv[0][1])))


def scaling_threads(results: dict) -> list[int]:
    return sorted({p["threads"] for _, s in scaling_rows(results) for p in s["points"]})


def is_anti_scaling(point: dict) -> bool:
    """Speedup below 1.0 as printed (x0.996 reads x1.00 and is no anti-scaling)."""
    return round(point["median_speedup"], 2) < 1.0


#: threads asleep (GIL, lock) more than this share of the window: hand-offs are irregular
SLEEPY = 0.3


def noise_cause(point: dict, cores: int, machine_floor: float | None = None) -> str:
    """Why a point is noisy, by what was measured (``machine_floor``: the probe's CV)."""
    causes = []
    waiting, blocked = point.get("median_waiting_share"), point.get("median_blocked_share")
    if point["threads"] <= cores and (waiting or 0) > BUSY_WAITING_SHARE:
        causes.append(f"other processes held the cores ({pct(waiting)} of the time)")
    if point["threads"] > cores:
        causes.append(f"oversubscribed: {point['threads']} threads take turns on {cores} cores")
    if (blocked or 0) > SLEEPY:
        causes.append(f"threads slept {pct(blocked)} of the time on the GIL or a lock; "
                      "hand-offs are irregular")
    if not causes and machine_floor is not None and machine_floor > CV_TARGET:
        causes.append(f"this machine's CPUs alone vary {pct(machine_floor)} per window "
                      "(steadiness probe): the hardware under it")
    return "; ".join(causes) or "no cause measured: short bursts of other load?"


def machine_floor(results: dict, build: str | None = None) -> float | None:
    """The probe's CV at ``build``'s scaling window (None: ``results`` is the echo part)."""
    part = results if build is None else build_records(results)[build].scaling or {}
    window = (part.get("config") or {}).get("window")
    probed = (results.get("steadiness") or {}).get("start")
    return steadiness.floor(probed, window) if window else None


def findings(results: dict) -> dict[str, list[str]]:
    """Anti-scaling, poor efficiency, noise, contention, a busy machine: by name."""
    found: dict[str, list[str]] = {k: [] for k in (
        "anti_scaling", "poor_efficiency", "noisy", "busy", "contended", "beyond_cores")}
    records = build_records(results)
    for name, s in scaling_rows(results):
        where = f"{s['workload']} {human_size(s['frame_size'])} on {name}"

        def note(key: str, points: list[dict], say) -> None:
            if points:
                found[key].append(f"{where}: " + ", ".join(say(p) for p in points))

        cores = records[name].scaling.get("cores", 1)
        one = s["points"][0]
        busy = ([f"the single thread ran {pct(one['median_cpu_share'])} of its wall time"]
                if one.get("median_cpu_share", 1.0) < BUSY_CPU_SHARE else [])
        note("busy", busy + [
            f"{p['threads']} thread{'s' if p['threads'] > 1 else ''} waited for a core "
            f"{pct(p['median_waiting_share'])} of the time" for p in s["points"]
            if p["threads"] <= cores
            and (p.get("median_waiting_share") or 0) > BUSY_WAITING_SHARE], str)
        multi = [p for p in s["points"] if p["threads"] > 1]
        bad = [p for p in multi if is_anti_scaling(p)]
        note("anti_scaling", bad, lambda p: f"x{p['median_speedup']:.2f} at {p['threads']} "
             f"threads (cv {pct(p['cv_speedup'])})")
        note("poor_efficiency", [p for p in multi if p["efficiency"] < POOR_EFFICIENCY
                                 and p not in bad],
             lambda p: f"efficiency {p['efficiency']:.2f} at {p['threads']} threads "
             f"(x{p['median_speedup']:.2f} of ideal x{min(p['threads'], cores)})")
        note("beyond_cores", [p for p in multi
                              if p["median_speedup"] > 1.1 * min(p["threads"], cores)],
             lambda p: f"x{p['median_speedup']:.2f} at {p['threads']} threads")
        note("contended", [p for p in multi if p.get("work_efficiency", 1.0) < CONTENDED_WORK],
             lambda p: f"work efficiency {p['work_efficiency']:.2f} at {p['threads']} threads")
        note("noisy", [p for p in multi if p["cv_speedup"] > CV_TARGET],
             lambda p: f"cv {pct(p['cv_speedup'])} at {p['threads']} threads "
             f"({noise_cause(p, cores, machine_floor(results, name))})")
    return found


def single_thread_entries(results: dict) -> dict:
    """(build, group, impl, size) -> a single-thread cell: seconds, calls/s, bytes/s, ..."""
    out = {}
    for name, b in build_records(results).items():
        for target_json in (b.single or {}).values():
            for bench in target_json.get("benchmarks", []):
                info, stats = bench.get("extra_info", {}), bench["stats"]
                if not info.get("bytes") or not stats.get("median"):
                    continue
                median = stats["median"]
                out[(name, info["workload"], info["impl"], info["bytes"])] = {
                    "seconds": median, "calls_per_s": 1 / median,
                    "bytes_per_s": info["bytes"] / median, "rounds": stats.get("rounds"),
                    "level": info.get("level"), "round_medians": stats.get("round_medians"),
                    "round_cv": stats.get("round_cv")}
    return out


def _impl_class(impl: str, level: str | None) -> str:
    pure = {"fallback": "autobahn fallback", "reference": "nvx-ft reference"}.get(
        impl.split("/")[0])
    return f"{pure} (pure Python)" if pure else f"NVX {level or '?'}"


def ft_cost(results: dict, ft: str, gil: str) -> list[tuple[str, int, float, float, float]]:
    """(class, n, median, min, max) of throughput(ft) / throughput(gil), one thread."""
    entries = single_thread_entries(results)
    ratios = defaultdict(list)
    for (build, group, impl, size), e in entries.items():
        base = entries.get((gil, group, impl, size))
        if build == ft and base:
            ratios[f"{group.split('-')[0]}: {_impl_class(impl, e['level'])}"].append(
                e["bytes_per_s"] / base["bytes_per_s"])
    # the scaling harness's 1-thread points are single-thread numbers as well; per
    # CPU-second, so that a build that got less of a busy machine is not called slower
    scal = {(b, s["workload"], s["frame_size"]): statistics.median(s["points"][0]["work_rate"])
            if s["points"][0].get("work_rate") else s["points"][0]["median_throughput"]
            for b, s in scaling_rows(results)}
    for (build, workload, frame), thr in scal.items():
        if build == ft and (gil, workload, frame) in scal:
            ratios[f"scaling harness, 1 thread, per CPU-second: {workload}"].append(
                thr / scal[(gil, workload, frame)])
    # the median: one benchmark disturbed by the rest of the machine cannot move it
    return [(cls, len(rs), statistics.median(rs), min(rs), max(rs))
            for cls, rs in sorted(ratios.items())]


BASELINE = "3.14"  # the echo points' "vs 3.14"
SATURATED = 0.9  # a load generator busier (CPU / wall) than this may have limited the run
STARVED = 0.8  # a server with less CPU than this (per usable thread) waited for cores
QUIET_OTHERS = 0.2  # other processes using fewer cores than this: the machine was quiet
FEW_MESSAGES = 200  # fewer echoes in a window: counting alone moves the rate by a few %


def point_figures(p: EchoPoint, cores: int, seed: int = 0) -> PointFigures | None:
    """One point's figures from its repeats; None when it has none."""
    if not p.repeats:
        return None

    def median(figure) -> float | None:
        return stats.median_known(map(figure, p.repeats))

    rates = [r["msgs_per_s"] for r in p.repeats]
    per_msg = [r["server_cpu"] / (r["msgs_per_s"] * r["server_wall"]) for r in p.repeats
               if r["msgs_per_s"]]
    return PointFigures(
        stats.summary(rates, seed), statistics.median(rates) * p.size / 1e6,
        median(lambda r: r["p50_us"]), median(lambda r: r["p99_us"]),
        median(lambda r: r["server_cpu"] / r["server_wall"] / min(p.threads, cores)),
        stats.median_known(1e6 * x for x in per_msg),
        median(lambda r: r["load_cpu"] / r["load_wall"]), median(lambda r: r["messages"]),
        median(lambda r: r.get("others_cores")),
        stats.cv(per_msg))


def figures(echo: dict) -> dict[str, EchoPoint]:
    """point key -> the point with its figures, speedup, ratio to 3.14, noise and why."""
    cores = echo["cores"]
    target = echo.get("cv_target", 0.05)
    pts = {point_key(p["build"], p["nvx"], p["threads"], p["kind"], p["size"]): EchoPoint(**p)
           for p in echo["points"]}
    for i, p in enumerate(pts.values()):
        p.fig = point_figures(p, cores, seed=i)
    for p in pts.values():
        one = pts.get(point_key(p.build, p.nvx, 1, p.kind, p.size))
        rates = [r["msgs_per_s"] for r in p.repeats]
        p.speedup = (stats.ratio_summary(rates, [r["msgs_per_s"] for r in one.repeats])
                     if one and rates and p.threads > 1 else None)
        base = pts.get(point_key(BASELINE, p.nvx, p.threads, p.kind, p.size))
        p.vs_baseline = (stats.ratio_of_medians(rates, [r["msgs_per_s"] for r in base.repeats])
                         if base and base is not p and rates and base.repeats else None)
        p.noisy = bool(p.fig and p.fig.msgs["n"] > 1 and p.fig.msgs["cv"] > target)
        p.why = reasons(p, echo) if p.fig else []
    return pts


def reasons(p: EchoPoint, echo: dict) -> list[str]:
    """Why a point's figures may be off (or noisy): said per point, by measurement."""
    f, cores, out = p.fig, echo["cores"], []
    if p.oversubscribed:
        out.append(f"oversubscribed ({p.threads} threads on {cores} cores)")
    if f.load_cpu_share is not None and f.load_cpu_share >= SATURATED:
        out.append(f"load generator saturated ({pct(f.load_cpu_share, 0)} CPU): "
                   "measured the generator, not the server")
    elif f.server_cpu_share is not None and f.server_cpu_share < STARVED:
        got = (f"server got {pct(f.server_cpu_share, 0)} of its "
               f"{min(p.threads, cores)} core(s), the generator was not saturated: ")
        if f.others_cores is not None and f.others_cores < QUIET_OTHERS:
            out.append(got + "too few messages in flight (latency-bound), not other load")
        else:
            others = (f" (other processes used {f.others_cores:.2f} cores)"
                      if f.others_cores is not None else "")
            out.append(got + f"it waited for cores{others}")
    if p.threads + p.load_processes > cores and not p.oversubscribed:
        out.append(f"server threads and load generator share {cores} cores")
    if f.messages is not None and f.messages < FEW_MESSAGES:
        out.append(f"few echoes per window ({f.messages:.0f}): counting noise")
    if not out and f.cv_us_per_msg > echo.get("cv_target", 0.05) \
            and (f.others_cores or 0) < QUIET_OTHERS:
        floor = machine_floor(echo)
        probe = (f"; this machine's CPUs alone vary {floor:.0%} per window (steadiness "
                 "probe)" if floor is not None else "")
        out.append(f"the server had its cores and the machine was quiet, yet its CPU time "
                   f"per echo varied (cv {f.cv_us_per_msg:.0%}): the hardware under this "
                   f"machine (a shared VM host, clock speed){probe}")
    return out


def steadiness_line(probed: dict | None, window: float | None, target: float, what: str,
                    figures: list[tuple[float, float, list | None, float | None]]) -> str:
    """The machine's noise at ``window``; of ``figures`` (cv, median, 95 % interval, the
    machine's floor), how many are as steady as the machine allows, how many well known."""
    probed, text = probed or {}, []
    if window:
        text.append(steadiness.describe(probed.get("start"), window, target))
        end = steadiness.floor(probed.get("end"), window)
        if end is not None:
            text.append(f"After the run: CV {pct(end)} per {window:g} s window.")
    if any(floor is not None for *_, floor in figures):
        steady = sum(floor is not None and cv <= max(target, floor)
                     for cv, _, _, floor in figures)
        text.append(f"{what} with a CV at or below the machine's own: {steady} of "
                    f"{len(figures)}.")
    # half the 95 % interval relative to the median: how well the figure is known
    known = sum(((ci[1] - ci[0]) / 2 / abs(median) if ci and median else 1) <= target
                for _, median, ci, _ in figures)
    text.append(f"Medians known within ±{pct(target)} (half their 95 % bootstrap interval): "
                f"{known} of {len(figures)}.")
    return " ".join(text)


def medians(pairs, order=None) -> list[tuple]:
    """(*group, median, count) per group of (group, value) pairs with a value; sorted by
    ``order(group)``, else in the order first seen."""
    groups: dict = {}
    for key, value in pairs:
        if value is not None:
            groups.setdefault(key, []).append(value)
    rows = [(*key, statistics.median(v), len(v)) for key, v in groups.items()]
    return sorted(rows, key=lambda row: order(row[:-2])) if order else rows


def cpu_ratio(p: EchoPoint, other: EchoPoint | None) -> float | None:
    """Server CPU per echo of ``p`` / of ``other``, where both were measured."""
    mine, theirs = (x.fig.server_us_per_msg if x and x.fig else None for x in (p, other))
    return mine / theirs if mine and theirs else None
