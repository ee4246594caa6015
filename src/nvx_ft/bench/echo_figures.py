"""What the end-to-end results say: per point messages/s, MB/s, latency, speedup, the
3.14t/3.14 ratio, CPU per message, and which points are noisy and why.

Input is ``results["echo"]`` as :func:`nvx_ft.bench.echo_run.run` returns it; nothing here
measures or writes.
"""

from __future__ import annotations

import statistics

from nvx_ft.bench import stats, steadiness

BASELINE = "3.14"
#: a load generator busier than this (CPU / wall, per process) may have limited the run
SATURATED = 0.9
#: a server process with less CPU than this (per usable thread) while the generators were
#: not saturated either: both waited for cores other processes held
STARVED = 0.8
#: other processes using less than this many cores: the machine was quiet
QUIET_OTHERS = 0.2
#: fewer echoes than this in a window: counting alone moves the rate by a few %
FEW_MESSAGES = 200


def _series_key(p: dict) -> tuple:
    return (p["build"], p["nvx"], p["kind"], p["size"])


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def point_figures(p: dict, cores: int, seed: int = 0) -> dict | None:
    """One point's figures from its repeats; None when it has none."""
    reps = p["repeats"]
    if not reps:
        return None
    rates = [r["msgs_per_s"] for r in reps]
    usable = min(p["threads"], cores)
    return {
        "msgs": stats.summary(rates, seed),
        "mb_per_s": statistics.median(rates) * p["size"] / 1e6,
        "p50_us": _median(r["p50_us"] for r in reps),
        "p99_us": _median(r["p99_us"] for r in reps),
        "server_cpu_share": _median(r["server_cpu"] / r["server_wall"] / usable for r in reps),
        "server_us_per_msg": _median(1e6 * r["server_cpu"] / (r["msgs_per_s"] * r["server_wall"])
                                     for r in reps if r["msgs_per_s"]),
        "load_cpu_share": _median(r["load_cpu"] / r["load_wall"] for r in reps),
        "messages": _median(r["messages"] for r in reps),
        "others_cores": _median(r.get("others_cores") for r in reps),
        # spread of the CPU time per echo: high with the server on its cores and the
        # machine quiet = the hardware under the machine varied (shared host, clock)
        "cv_us_per_msg": stats.cv([r["server_cpu"] / (r["msgs_per_s"] * r["server_wall"])
                                   for r in reps if r["msgs_per_s"]]),
    }


def figures(echo: dict) -> dict[str, dict]:
    """point key -> the point with its ``fig`` (None if unmeasured), ``speedup`` vs 1
    thread of the same build (paired by repeat), ``vs_baseline`` (ratio of medians to
    3.14 at the same point), ``noisy`` and ``why``."""
    from nvx_ft.bench.echo_run import point_key

    cores = echo["cores"]
    target = echo.get("cv_target", 0.05)
    pts = {point_key(p["build"], p["nvx"], p["threads"], p["kind"], p["size"]): dict(p)
           for p in echo["points"]}
    for i, p in enumerate(pts.values()):
        p["fig"] = point_figures(p, cores, seed=i)
    for p in pts.values():
        one = pts.get(point_key(p["build"], p["nvx"], 1, p["kind"], p["size"]))
        rates = [r["msgs_per_s"] for r in p["repeats"]]
        p["speedup"] = (stats.ratio_summary(rates, [r["msgs_per_s"] for r in one["repeats"]])
                        if one and rates and p["threads"] > 1 else None)
        base = pts.get(point_key(BASELINE, p["nvx"], p["threads"], p["kind"], p["size"]))
        p["vs_baseline"] = (stats.ratio_of_medians(rates, [r["msgs_per_s"] for r in
                                                           base["repeats"]])
                            if base and base is not p and rates and base["repeats"] else None)
        p["noisy"] = bool(p["fig"] and p["fig"]["msgs"]["n"] > 1
                          and p["fig"]["msgs"]["cv"] > target)
        p["why"] = reasons(p, echo) if p["fig"] else []
    return pts


def reasons(p: dict, echo: dict) -> list[str]:
    """Why a point's figures may be off (or noisy): said per point, by measurement."""
    f, cores, out = p["fig"], echo["cores"], []
    if p["oversubscribed"]:
        out.append(f"oversubscribed ({p['threads']} threads on {cores} cores)")
    if f["load_cpu_share"] is not None and f["load_cpu_share"] >= SATURATED:
        out.append(f"load generator saturated ({stats_pct(f['load_cpu_share'])} CPU): "
                   "measured the generator, not the server")
    elif f["server_cpu_share"] is not None and f["server_cpu_share"] < STARVED:
        got = (f"server got {stats_pct(f['server_cpu_share'])} of its "
               f"{min(p['threads'], cores)} core(s), the generator was not saturated: ")
        if f["others_cores"] is not None and f["others_cores"] < QUIET_OTHERS:
            out.append(got + "too few messages in flight (latency-bound), not other load")
        else:
            others = (f" (other processes used {f['others_cores']:.2f} cores)"
                      if f["others_cores"] is not None else "")
            out.append(got + f"it waited for cores{others}")
    if p["threads"] + p["load_processes"] > cores and not p["oversubscribed"]:
        out.append(f"server threads and load generator share {cores} cores")
    if f["messages"] is not None and f["messages"] < FEW_MESSAGES:
        out.append(f"few echoes per window ({f['messages']:.0f}): counting noise")
    if not out and f["cv_us_per_msg"] > echo.get("cv_target", 0.05) \
            and (f["others_cores"] or 0) < QUIET_OTHERS:
        floor = machine_floor(echo)
        probe = (f"; this machine's CPUs alone vary {floor:.0%} per window (steadiness "
                 "probe)" if floor is not None else "")
        out.append(f"the server had its cores and the machine was quiet, yet its CPU time "
                   f"per echo varied (cv {f['cv_us_per_msg']:.0%}): the hardware under this "
                   f"machine (a shared VM host, clock speed){probe}")
    return out


def machine_floor(echo: dict) -> float | None:
    """The machine's own CV (steadiness probe before the run) for this run's windows."""
    probed = (echo.get("steadiness") or {}).get("start")
    window = (echo.get("config") or {}).get("window")
    return steadiness.floor(probed, window) if window else None


def stats_pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def noise_summary(pts: dict) -> tuple[int, int]:
    """(points within the CV target, points with more than one repeat)."""
    judged = [p for p in pts.values() if p["fig"] and p["fig"]["msgs"]["n"] > 1]
    return sum(not p["noisy"] for p in judged), len(judged)


def steadiness_line(pts: dict, echo: dict) -> str:
    """The machine's own noise at this run's window (steadiness probe), the points as
    steady as it allows, and how well the medians are known."""
    target = echo.get("cv_target", stats.CV_TARGET)
    window = (echo.get("config") or {}).get("window")
    judged = [p for p in pts.values() if p["fig"] and p["fig"]["msgs"]["n"] > 1]
    known = [p for p in judged if (stats.half_width(p["fig"]["msgs"]["median"],
                                                    p["fig"]["msgs"]["ci"]) or 1) <= target]
    text = []
    floor = machine_floor(echo)
    if window and (echo.get("steadiness") or {}).get("start"):
        text.append(steadiness.describe(echo["steadiness"]["start"], window, target))
    if floor is not None:
        steady = [p for p in judged if p["fig"]["msgs"]["cv"] <= max(target, floor)]
        text.append(f"Points with a CV at or below the machine's own: {len(steady)} of "
                    f"{len(judged)}.")
    text.append(f"Median messages/s known within ±{target:.0%} (half its 95 % bootstrap "
                f"interval): {len(known)} of {len(judged)}.")
    return " ".join(text)


def build_ratios(pts: dict, build: str = "3.14t") -> list[tuple[bool, int, float, int]]:
    """(NVX, threads, median over workloads of build/3.14 msgs/s, workloads) - the
    headline of what the free-threaded build does for an autobahn server."""
    groups: dict = {}
    for p in pts.values():
        if p["build"] == build and p["vs_baseline"]:
            groups.setdefault((p["nvx"], p["threads"]), []).append(p["vs_baseline"]["median"])
    return [(nvx, n, statistics.median(v), len(v)) for (nvx, n), v in sorted(
        groups.items(), key=lambda kv: (not kv[0][0], kv[0][1]))]


def nvx_gain(pts: dict) -> list[tuple[str, int, str, int, float]]:
    """(build, threads, kind, size, msgs/s NVX on / off) where both were measured."""
    from nvx_ft.bench.echo_run import point_key

    out = []
    for p in pts.values():
        if not p["nvx"] or not p["fig"]:
            continue
        off = pts.get(point_key(p["build"], False, p["threads"], p["kind"], p["size"]))
        if off and off["fig"]:
            out.append((p["build"], p["threads"], p["kind"], p["size"],
                        p["fig"]["msgs"]["median"] / off["fig"]["msgs"]["median"]))
    return out


def cpu_ratios(pts: dict, build: str = "3.14t") -> list[tuple[bool, int, float, int]]:
    """(NVX, threads, median over workloads of server CPU per echo build / 3.14, count):
    what the build costs per message, whatever share of the machine it got."""
    from nvx_ft.bench.echo_run import point_key

    groups: dict = {}
    for p in pts.values():
        base = pts.get(point_key(BASELINE, p["nvx"], p["threads"], p["kind"], p["size"]))
        if p["build"] == build and p["fig"] and base and base["fig"] \
                and p["fig"]["server_us_per_msg"] and base["fig"]["server_us_per_msg"]:
            groups.setdefault((p["nvx"], p["threads"]), []).append(
                p["fig"]["server_us_per_msg"] / base["fig"]["server_us_per_msg"])
    return [(nvx, n, statistics.median(v), len(v)) for (nvx, n), v in sorted(
        groups.items(), key=lambda kv: (not kv[0][0], kv[0][1]))]


def thread_cost(pts: dict) -> list[tuple[str, bool, int, float, int]]:
    """(build, NVX, threads, median over workloads of server CPU per echo at N threads /
    at 1 thread, count): above 1 the server's threads slow each other down per message
    (contention), independent of how much CPU the machine left them. It cannot see time
    spent waiting for the GIL."""
    from nvx_ft.bench.echo_run import point_key

    groups: dict = {}
    for p in pts.values():
        one = pts.get(point_key(p["build"], p["nvx"], 1, p["kind"], p["size"]))
        if p["threads"] > 1 and p["fig"] and one and one["fig"] \
                and p["fig"]["server_us_per_msg"] and one["fig"]["server_us_per_msg"]:
            groups.setdefault((p["build"], p["nvx"], p["threads"]), []).append(
                p["fig"]["server_us_per_msg"] / one["fig"]["server_us_per_msg"])
    return [(b, nvx, n, statistics.median(v), len(v)) for (b, nvx, n), v in groups.items()]
