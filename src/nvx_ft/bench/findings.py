"""What the benchmark results say: the series measured, the findings (anti-scaling, poor
efficiency, noise, contention, a busy machine) and the single-thread cost of free-threading.

Input is the dict :func:`nvx_ft.bench.driver.run_all` writes to ``results.json``;
nothing here measures or writes.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from nvx_ft.bench import stats, steadiness
from nvx_ft.bench.scaling import PARALLEL_CPU_SHARE, WORKLOADS
from nvx_ft.bench.workloads import human_size

#: Efficiency (speedup / min(N, cores)) below this is called out as poor.
POOR_EFFICIENCY = 0.7
#: Speedups whose coefficient of variation over repeats exceeds this are called noisy.
CV_TARGET = stats.CV_TARGET
#: A single thread with less CPU than this (of its wall time) was kept off a core by
#: other processes: the machine was busy and every number near it is suspect.
BUSY_CPU_SHARE = 0.9
#: Threads that had no core for more than this share of the window, with no more threads
#: than cores: other processes held this run's cores.
BUSY_WAITING_SHARE = 0.1
#: Work efficiency (bytes per CPU-second at N / at 1 thread) below this: the threads slow
#: each other down even when they run (contention), whatever else ran on the machine.
CONTENDED_WORK = 0.8


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def workload_order(workload: str) -> int:
    order = list(WORKLOADS)
    return order.index(workload) if workload in order else len(order)


def scaling_rows(results: dict):
    """(build, series dict) for every measured series, in build order."""
    for name, b in results["builds"].items():
        for s in (b.get("scaling") or {}).get("series", []):
            yield name, s


def idle_estimate(point: dict) -> float | None:
    """The idle-machine estimate, only where the threads really ran side by side."""
    if point.get("idle_estimate") is None:
        return None
    if point.get("median_cpu_share", 1.0) < PARALLEL_CPU_SHARE:
        return None
    return point["idle_estimate"]


def is_anti_scaling(point: dict) -> bool:
    """Speedup below 1.0 as printed (x0.996 reads x1.00 and is no anti-scaling)."""
    return round(point["median_speedup"], 2) < 1.0


#: threads asleep (GIL, lock) more than this share of the window: hand-offs are irregular
SLEEPY = 0.3


def noise_cause(point: dict, cores: int, machine_floor: float | None = None) -> str:
    """What the measurements say about why a point is noisy (the likeliest first);
    ``machine_floor``: this machine's own CV for windows this long (steadiness probe)."""
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


def machine_floor(results: dict, build: str) -> float | None:
    """The machine's own CV (steadiness probe before the run) for this build's scaling
    windows; None where not probed."""
    window = ((results["builds"][build].get("scaling") or {}).get("config") or {}).get("window")
    probed = (results.get("steadiness") or {}).get("start")
    return steadiness.floor(probed, window) if window else None


def findings(results: dict) -> dict[str, list[str]]:
    """Anti-scaling, poor efficiency, noise, contention, a busy machine: by name."""
    anti, poor, noisy, busy, contended, superlinear = [], [], [], [], [], []
    for name, s in scaling_rows(results):
        where = f"{s['workload']} {human_size(s['frame_size'])} on {name}"
        cores = (results["builds"][name].get("scaling") or {}).get("cores", 1)
        one = s["points"][0]
        starved = [p for p in s["points"] if p["threads"] <= cores
                   and (p.get("median_waiting_share") or 0) > BUSY_WAITING_SHARE]
        if one.get("median_cpu_share", 1.0) < BUSY_CPU_SHARE or starved:
            short = one.get("median_cpu_share", 1.0) < BUSY_CPU_SHARE
            busy.append(f"{where}: " + ", ".join(
                ([f"the single thread ran {pct(one['median_cpu_share'])} of its wall time"]
                 if short else [])
                + [f"{p['threads']} thread{'s' if p['threads'] > 1 else ''} waited for a "
                   f"core {pct(p['median_waiting_share'])} of the time" for p in starved]))
        multi = [p for p in s["points"] if p["threads"] > 1]
        bad = [p for p in multi if is_anti_scaling(p)]
        if bad:
            anti.append(f"{where}: " + ", ".join(
                f"x{p['median_speedup']:.2f} at {p['threads']} threads "
                f"(cv {pct(p['cv_speedup'])})" for p in bad))
        weak = [p for p in multi if p["efficiency"] < POOR_EFFICIENCY and p not in bad]
        if weak:
            poor.append(f"{where}: " + ", ".join(
                f"efficiency {p['efficiency']:.2f} at {p['threads']} threads "
                f"(x{p['median_speedup']:.2f} of ideal x{min(p['threads'], cores)})"
                for p in weak))
        beyond = [p for p in multi if p["median_speedup"] > 1.1 * min(p["threads"], cores)]
        if beyond:
            superlinear.append(f"{where}: " + ", ".join(
                f"x{p['median_speedup']:.2f} at {p['threads']} threads" for p in beyond))
        slow = [p for p in multi if p.get("work_efficiency", 1.0) < CONTENDED_WORK]
        if slow:
            contended.append(f"{where}: " + ", ".join(
                f"work efficiency {p['work_efficiency']:.2f} at {p['threads']} threads"
                for p in slow))
        loud = [p for p in multi if p["cv_speedup"] > CV_TARGET]
        if loud:
            noisy.append(f"{where}: " + ", ".join(
                f"cv {pct(p['cv_speedup'])} at {p['threads']} threads "
                f"({noise_cause(p, cores, machine_floor(results, name))})"
                for p in loud))
    return {"anti_scaling": anti, "poor_efficiency": poor, "noisy": noisy, "busy": busy,
            "contended": contended, "beyond_cores": superlinear}


def single_thread_entries(results: dict) -> dict:
    """(build, group, impl, size) -> {seconds, calls_per_s, bytes_per_s, round_medians,
    round_cv} from pytest-benchmark (the round fields: the interleaved rounds of
    nvx_ft.bench.single; None in a results.json from before them)."""
    out = {}
    for name, b in results["builds"].items():
        for target_json in (b.get("single") or {}).values():
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
    workload_kind = "NVX " + (level or "?")
    if impl.startswith("fallback/"):
        return "autobahn fallback (pure Python)"
    if impl.startswith("reference/"):
        return "nvx-ft reference (pure Python)"
    return workload_kind


def _one_thread_work_rate(series: dict) -> float:
    one = series["points"][0]
    if one.get("work_rate"):
        return statistics.median(one["work_rate"])
    return one["median_throughput"]


def ft_cost(results: dict, ft: str, gil: str) -> list[tuple[str, int, float, float, float]]:
    """Per class of benchmark: (class, n, median, min, max) of
    single-thread throughput(ft build) / throughput(GIL build)."""
    entries = single_thread_entries(results)
    ratios = defaultdict(list)
    for (build, group, impl, size), e in entries.items():
        if build != ft:
            continue
        base = entries.get((gil, group, impl, size))
        if base:
            kind = group.split("-")[0]
            ratios[f"{kind}: {_impl_class(impl, e['level'])}"].append(
                e["bytes_per_s"] / base["bytes_per_s"])
    # the scaling harness's 1-thread points are single-thread numbers as well; per
    # CPU-second, so that a build that got less of a busy machine is not called slower
    scal = {(b, s["workload"], s["frame_size"]): _one_thread_work_rate(s)
            for b, s in scaling_rows(results)}
    for (build, workload, frame), thr in scal.items():
        if build == ft and (gil, workload, frame) in scal:
            ratios[f"scaling harness, 1 thread, per CPU-second: {workload}"].append(
                thr / scal[(gil, workload, frame)])
    rows = []
    for cls, rs in sorted(ratios.items()):
        # the median: one benchmark disturbed by the rest of the machine cannot move it
        rows.append((cls, len(rs), statistics.median(rs), min(rs), max(rs)))
    return rows
