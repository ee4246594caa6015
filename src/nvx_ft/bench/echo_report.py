"""The end-to-end benchmark in the report: a section of ``summary.md`` and ``echo.png``.

Input is ``results["echo"]`` (:func:`nvx_ft.bench.echo_run.run`); the figures come from
:mod:`nvx_ft.bench.echo_figures`.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from nvx_ft.bench import echo_figures as ef
from nvx_ft.bench.markdown import table
from nvx_ft.bench.workloads import human_size

BUILD_ORDER = ("3.14", "3.14t", "3.14t PYTHON_GIL=1")
#: noisy points listed by name at most; the rest are counted
MAX_LISTED = 30


def _k(x: float) -> str:
    return f"{x / 1e3:.3g} k" if x >= 1e3 else f"{x:.3g}"


def _ms(us: float | None) -> str:
    if us is None:
        return "-"
    ms = us / 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.2g}"


def _rows(pts: dict):
    """Points grouped as table rows: (kind, size, nvx, build) -> {threads: point}."""
    rows: dict = {}
    for p in pts.values():
        rows.setdefault((p["kind"], p["size"], p["nvx"], p["build"]), {})[p["threads"]] = p
    order = {b: i for i, b in enumerate(BUILD_ORDER)}
    return sorted(rows.items(), key=lambda kv: (kv[0][0] != "text", kv[0][1], not kv[0][2],
                                                order.get(kv[0][3], 9), kv[0][3]))


def _threads_label(n: int, cores: int) -> str:
    return f"{n} (oversubscribed)" if n > cores else str(n)


def _throughput_cell(p: dict | None) -> list[str]:
    if p is None:
        return ["-"] * 5
    if not p["fig"]:
        return ["**ERROR**" if p["errors"] else "not run", "", "", "", ""]
    f = p["fig"]
    m = f["msgs"]
    noisy = " ⚠" if p["noisy"] else ""
    err = " **ERROR**" if p["errors"] else ""
    cell = f"{_k(m['median'])} [{_k(m['ci'][0])}–{_k(m['ci'][1])}] cv {m['cv']:.0%}{noisy}{err}"
    sp = f"x{p['speedup']['median']:.2f}" if p["speedup"] else "1"
    vs = f"{p['vs_baseline']['median']:.2f}" if p["vs_baseline"] else "-"
    return [cell, f"{f['mb_per_s']:.3g}", f"{_ms(f['p50_us'])} / {_ms(f['p99_us'])}", sp, vs]


def _cost_cell(p: dict | None) -> str:
    if p is None or not p["fig"]:
        return "-"
    f = p["fig"]
    us = "-" if f["server_us_per_msg"] is None else f"{f['server_us_per_msg']:.0f}"
    others = ("" if f["others_cores"] is None else f", others {f['others_cores']:.2f}")
    return (f"{us} µs, server cpu {ef.stats_pct(f['server_cpu_share'])}, "
            f"load {ef.stats_pct(f['load_cpu_share'])} x{p['load_processes']}{others}")


def _main_table(pts: dict, threads: list[int], cores: int) -> list[str]:
    header = ["workload", "NVX", "build"]
    for n in threads:
        t = _threads_label(n, cores)
        header += [f"{t} thr: msg/s [95 % CI] cv", "MB/s", "p50 / p99 ms", "speedup",
                   "vs 3.14"]
    rows = []
    for (kind, size, nvx, build), by_n in _rows(pts):
        cells = [f"{kind} {human_size(size)}", "on" if nvx else "off", build]
        for n in threads:
            cells += _throughput_cell(by_n.get(n))
        rows.append(cells)
    return table(header, rows)


def _cost_table(pts: dict, threads: list[int], cores: int) -> list[str]:
    header = ["workload", "NVX", "build"] + [
        f"{_threads_label(n, cores)} thr: server CPU per echo, server / load CPU share"
        for n in threads]
    rows = [[f"{kind} {human_size(size)}", "on" if nvx else "off", build]
            + [_cost_cell(by_n.get(n)) for n in threads]
            for (kind, size, nvx, build), by_n in _rows(pts)]
    return table(header, rows)


def _headline(pts: dict, echo: dict) -> list[str]:
    lines = []
    for nvx, n, ratio, count in ef.build_ratios(pts):
        lines.append(f"- NVX {'on' if nvx else 'off'}, {n} server thread{'s' * (n > 1)}: "
                     f"3.14t serves **x{ratio:.2f}** the messages/s of 3.14 (median over "
                     f"{count} workloads)")
    for nvx, n, ratio, count in ef.cpu_ratios(pts):
        lines.append(f"- NVX {'on' if nvx else 'off'}, {n} server thread{'s' * (n > 1)}: "
                     f"the 3.14t server spends **x{ratio:.2f}** the CPU time per echo of 3.14 "
                     f"(median over {count} workloads; robust to other load)")
    for build, nvx, n, ratio, count in sorted(ef.thread_cost(pts),
                                              key=lambda t: (BUILD_ORDER.index(t[0])
                                                             if t[0] in BUILD_ORDER else 9,
                                                             not t[1], t[2])):
        lines.append(f"- {build}, NVX {'on' if nvx else 'off'}: CPU per echo at {n} threads "
                     f"/ at 1 thread x{ratio:.2f} (median over {count} workloads; above 1: the "
                     "threads slow each other down per message)")
    gains = ef.nvx_gain(pts)
    for build in BUILD_ORDER:
        mine = [g for g in gains if g[0] == build and g[1] == 1]
        if mine:
            lines.append(f"- NVX on / off, {build}, 1 thread: x{statistics.median(g[4] for g in mine):.2f} "
                         f"messages/s (median; per workload "
                         + ", ".join(f"{k} {human_size(s)} x{r:.2f}" for _, _, k, s, r in mine)
                         + ")")
    return lines


def _servers_line(echo: dict) -> str:
    """GIL state and NVX use as the server processes reported them, per build."""
    seen: dict = {}
    for name, srv in echo.get("servers", {}).items():
        info = srv.get("info") or {}
        if info:
            build = name.split(" NVX ")[0]
            seen.setdefault(build, set()).add("on" if info.get("gil_enabled") else "off")
    if not seen:
        return ""
    return ("GIL at runtime in the server processes (after importing autobahn and NVX): "
            + ", ".join(f"{b}: {'/'.join(sorted(v))}" for b, v in seen.items()) + ".")


def _pinning_line(echo: dict) -> str:
    """In how many repeats the threads were pinned, and why the last decision went so."""
    decisions = echo.get("pinning_decisions")
    if decisions is None:  # one decision for the run (older results.json)
        return (f"Threads pinned to cores: {'yes' if echo.get('pinning') else 'no'}"
                + (f" ({echo['pinning_note']})" if echo.get("pinning_note") else "") + ".")
    if not decisions:
        return "Threads pinned to cores: no repeat ran."
    pinned = sum(d["pinned"] for d in decisions)
    how = " from how idle the machine was" if echo["config"].get("pin") == "auto" else ""
    refused = sum(len(d.get("refused", [])) for d in decisions)
    return (f"Threads pinned to cores in {pinned} of {len(decisions)} repeats (decided before "
            f"each{how}; last: {decisions[-1]['note']})"
            + (f"; the OS refused {refused} pin requests (results.json)" if refused else "")
            + ".")


def _warnings(pts: dict, echo: dict) -> list[str]:
    out = []
    if echo.get("stopped"):
        out.append(f"> **Stopped early**: {echo['stopped']}.")
    for e in echo.get("errors", []):
        out.append(f"> **ERROR**: {e}")
    sat = [k for k, p in pts.items() if p["fig"] and p["fig"]["load_cpu_share"] is not None
           and p["fig"]["load_cpu_share"] >= ef.SATURATED]
    if sat:
        out.append(f"> **Warning: the load generator was saturated** at {len(sat)} points "
                   f"(its CPU >= {ef.SATURATED:.0%} of its wall time): there the run measured "
                   "the generator, not the server: " + "; ".join(sat[:8])
                   + (" ..." if len(sat) > 8 else ""))
    return out


def section(echo: dict) -> list[str]:
    """The summary.md section."""
    pts = ef.figures(echo)
    cores = echo["cores"]
    threads = sorted({p["threads"] for p in pts.values()}) or list(echo["config"]["threads"])
    within, judged = ef.noise_summary(pts)
    cfg = echo["config"]
    la0, la1 = echo.get("load_average_start"), echo.get("load_average_end")
    lines = [
        "## End-to-end: autobahn WebSocket echo server, by server threads",
        "",
        f"autobahn's asyncio echo server (the protocol suite's) in 1 to {max(threads)} "
        f"threads, one event loop each, on every build, NVX on and off "
        f"(`AUTOBAHN_USE_NVX=0`: autobahn's pure-Python fallback); {cfg['conns_per_thread']} "
        f"connections per server thread, {cfg['depth']} messages in flight each, from "
        f"load-generator processes (raw sockets, pre-built masked frames, every echo "
        f"compared byte for byte). {cfg['repeats']} interleaved repeats of "
        f"{cfg['window']} s windows (+ reruns of noisy series), {echo['seconds']:.0f} s. "
        f"{cores} usable cores: "
        + ("the server threads and the load generator share them, so with "
           f"{cores} server threads the server cannot get {cores} whole cores (the load costs "
           "CPU too) - read speedups against that. " if cores <= 4 else "")
        + f"Load average at start {la0}, at end {la1}. {_pinning_line(echo)} "
        + _servers_line(echo),
        "",
        *_warnings(pts, echo),
        "",
        f"Median messages/s over repeats [95 % bootstrap interval of the median], CV; MB/s "
        f"= payload bytes echoed per second; p50 / p99 round trip (ms); speedup = vs 1 "
        f"thread of the same build and NVX setting, paired by repeat; vs 3.14 = this "
        f"build's median / 3.14's at the same point. ⚠ = CV above "
        f"{echo.get('cv_target', 0.05):.0%} (within target: {within} of {judged} points). "
        "Plot: echo.png.",
        "",
        ef.steadiness_line(pts, echo),
        "",
        *_main_table(pts, threads, cores),
        "",
        "**What it says:**",
        "",
        *(_headline(pts, echo) or ["- nothing measured"]),
        "",
        "Where the CPU went: server CPU time per echo (µs, all its threads; robust to "
        "other load on the machine), the server's CPU share (of min(threads, cores) "
        "cores), the load generators' (per process, x processes) and the cores other "
        "processes on the machine used meanwhile (`/proc/stat` busy time minus ours):",
        "",
        *_cost_table(pts, threads, cores),
        "",
        "**Noisy or doubtful points, and why:**",
        "",
    ]
    noisy = [(k, p) for k, p in pts.items() if p["noisy"]]
    lines += [f"- {k}: cv {p['fig']['msgs']['cv']:.0%}; "
              + ("; ".join(p["why"]) or "no cause measured (a burst of other load?)")
              for k, p in noisy[:MAX_LISTED]] or ["- none"]
    if len(noisy) > MAX_LISTED:
        lines.append(f"- ... and {len(noisy) - MAX_LISTED} more (results.json)")
    starved = [k for k, p in pts.items() if not p["noisy"] and any(
        w.startswith(("server got", "load generator saturated")) for w in p["why"])]
    if starved:
        lines.append(f"- steady but doubtful ({len(starved)}: the server was starved of CPU "
                     "or the generator saturated): " + "; ".join(starved[:MAX_LISTED]))
    lines.append("")
    return lines


def plot(echo: dict, path: Path) -> None:
    """``echo.png`` (see :mod:`nvx_ft.bench.echo_plot`); nothing when nothing was measured."""
    from nvx_ft.bench.echo_plot import plot_echo

    pts = ef.figures(echo)
    if any(p["fig"] for p in pts.values()):
        plot_echo(echo, pts, path)
