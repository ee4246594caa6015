"""The report: summary.md, single_thread.md and the plots, from ``results.json``."""

from __future__ import annotations

import statistics
from pathlib import Path

from nvx_ft.bench import figures as ef
from nvx_ft.bench.figures import (BUSY_CPU_SHARE, BUSY_WAITING_SHARE, CONTENDED_WORK,
                                  CV_TARGET, POOR_EFFICIENCY, EchoPoint, build_records,
                                  findings, ft_cost, is_anti_scaling, machine_floor, pct,
                                  scaling_panels, scaling_rows, scaling_threads,
                                  single_thread_entries)
from nvx_ft.bench.plot import plot_echo, plot_scaling
from nvx_ft.bench.workloads import human_size

BUILD_ORDER = ("3.14", "3.14t", "3.14t PYTHON_GIL=1")
#: where the report's columns and terms are explained, cited under each table
TERMS = "Columns and terms: benchmarks/README.md, 'Reading the report'."
#: noisy echo points listed by name at most; the rest are counted
MAX_LISTED = 30
#: a scaling point's optional figures in its cell: (key, label, format)
POINT_FIGURES = (("median_cpu_share", "cpu", pct), ("work_efficiency", "work", "{:.2f}".format),
                 ("median_blocked_share", "blocked", pct),
                 ("median_waiting_share", "no core", pct))


def _builds_section(results: dict) -> list[str]:
    rows = []
    for name, b in build_records(results).items():
        s, interp = b.scaling or {}, b.interpreter or {}
        origin = s.get("origin") or {}
        gil = ("?" if "gil_enabled" not in s else "**on (re-enabled at NVX import!)**"
               if s["gil_enabled"] and origin.get("build") == "free-threaded"
               and b.env.get("PYTHON_GIL") != "1" else _on(s["gil_enabled"]))
        status = {"missing": f"**MISSING - NOT RUN**: {b.reason}",
                  "failed": "**FAILED**: " + "; ".join(e.splitlines()[0] for e in b.errors),
                  }.get(b.status, f"ok ({b.seconds:.0f} s)")
        nvx = (f"autobahn {origin.get('autobahn')} ({', '.join(origin.get('wheel_tags') or [])})"
               if origin else "")
        rows.append([name, f"{interp.get('executable', '')} {interp.get('version', '')}".strip(),
                     " ".join(f"{k}={v}" for k, v in b.env.items()), gil, nvx, status])
    return table(["build", "interpreter", "env", "GIL at runtime", "NVX under test", "status"],
                 rows)


def _point_figures(p: dict, figures=POINT_FIGURES) -> str:
    """", cpu 98.0 %, work 0.95, ...": those of ``figures`` the point has."""
    return "".join(f", {label} {fmt(p[k])}" for k, label, fmt in figures if p.get(k) is not None)


def _speedup_cell(p: dict | None) -> str:
    if not p:
        return "-"
    flag = (" **ANTI**" if is_anti_scaling(p)
            else " *poor*" if p["efficiency"] < POOR_EFFICIENCY else "")
    ci = f" [{p['ci_speedup'][0]:.2f}-{p['ci_speedup'][1]:.2f}]" if p.get("ci_speedup") else ""
    idle = f"; idle est. x{p['idle_estimate']:.2f}" if p.get("idle_estimate") else ""
    return (f"x{p['median_speedup']:.2f}{ci} (cv {pct(p['cv_speedup'])}, "
            f"eff {p['efficiency']:.2f}{_point_figures(p)}{idle}){flag}")


def _scaling_section(results: dict) -> list[str]:
    copy = {(name, s["frame_size"], p["threads"]): p["median_throughput"]
            for name, s in scaling_rows(results) if s["workload"] == "copy" for p in s["points"]}
    threads = scaling_threads(results)
    header = ["workload", "frame", "build", "1 thread MB/s"] + \
             [f"{n} threads: speedup (cv, eff, cpu, work, blocked, no core; idle est.)"
              for n in threads[1:]] + ["best MB/s (threads)", "best as % of copy"]
    rows = []
    for name, s in ((n, s) for by_build in scaling_panels(results).values()
                    for n, s in by_build.items()):
        pts = {p["threads"]: p for p in s["points"]}
        best = max(s["points"], key=lambda p: p["median_throughput"])
        c = copy.get((name, s["frame_size"], best["threads"]))
        rows.append([s["workload"], human_size(s["frame_size"]), name,
                     f"{mbs(pts[1]['median_throughput'])} (cv {pct(pts[1]['cv_throughput'])}"
                     f"{_point_figures(pts[1], POINT_FIGURES[:1])})",
                     *(_speedup_cell(pts.get(n)) for n in threads[1:]),
                     f"{mbs(best['median_throughput'])} ({best['threads']})",
                     pct(best["median_throughput"] / c) if c and s["workload"] != "copy"
                     else "-"])
    return table(header, rows)


def _glance_section(results: dict) -> list[str]:
    """Per panel and build: 1-thread MB/s, the speedup at N = cores and at the most threads."""
    cores = results["machine"].get("cores_usable") or 1
    records = build_records(results)
    builds = [n for n, b in records.items() if b.scaling]
    both = "3.14t" in builds and "3.14" in builds
    rows = []
    for (w, f), by_build in scaling_panels(results).items():
        cells = [w, human_size(f)]
        for s in map(by_build.get, builds):
            if not s:
                cells.append("-")
                continue
            at_cores = next((p for p in s["points"] if p["threads"] == cores), s["points"][-1])
            most = s["points"][-1]
            idle = (f" (idle est. x{at_cores['idle_estimate']:.2f})"
                    if at_cores.get("idle_estimate") else "")
            cells.append(f"{mbs(s['points'][0]['median_throughput'])} MB/s; "
                         f"x{at_cores['median_speedup']:.2f} ±{pct(at_cores['cv_speedup'])} "
                         f"at {at_cores['threads']}{idle}, x{most['median_speedup']:.2f} "
                         f"±{pct(most['cv_speedup'])} at {most['threads']}")
        if both:
            ft, gil = (by_build.get(b) for b in ("3.14t", "3.14"))
            best = [max(p["median_throughput"] for p in x["points"]) for x in (ft, gil) if x]
            cells.append(f"{best[0] / best[1]:.2f}" if len(best) == 2 else "-")
        rows.append(cells)
    missing = [n for n, b in records.items() if not b.scaling]
    extra = ["3.14t / 3.14, best aggregate throughput"] if both else []
    return table(["workload", "frame"] + builds + extra, rows) + [""] + (
        [f"Not measured: {', '.join(missing)} (see Builds)."] if missing else [])


def _blocks(*blocks: str | list[str]) -> list[str]:
    """Markdown blocks (a line, or a list of lines), each followed by an empty line."""
    return [line for b in blocks for line in ([b] if isinstance(b, str) else b) + [""]]


def summary_markdown(results: dict) -> str:
    m = results["machine"]
    cores = m.get("cores_usable")
    overview = _blocks(
        "# NVX benchmarks: free-threaded vs GIL build",
        f"{results['started']}, **{results['mode']} mode**, {results['seconds']:.0f} s wall. "
        f"Machine: {m.get('cpu')}, {cores} usable cores ({m.get('platform')}), "
        f"nice {m.get('nice')}. Load average (1/5/15 min) at start "
        f"{results.get('load_average_start')}, at end {results.get('load_average_end')}.",
        "## Builds", _builds_section(results), "## At a glance",
        f"Per build: 1-thread throughput; median speedup ± its CV at {cores} threads (= the "
        f"cores) and at the most threads; last column: best 3.14t / best 3.14. {TERMS}",
        _glance_section(results))
    return "\n".join([*overview, *_findings_section(results), *_ft_cost_section(results),
                      *_parallel_section(results),
                      *(echo_section(results["echo"]) if results.get("echo") else []),
                      *single_section(results)]) + "\n"


def pinning_line(decision: dict | None) -> str:
    """Whether threads were pinned to cores in this run, and why (decided once)."""
    return (f"Threads pinned to cores: {'yes' if decision['pinned'] else 'no'} (decided once, "
            f"at the start of the run: {decision['note']}).") if decision else ""


def _findings_section(results: dict) -> list[str]:
    la0 = results.get("load_average_start")
    cores = results["machine"].get("cores_usable")
    f = findings(results)
    multi = [(n, p) for n, s in scaling_rows(results) for p in s["points"] if p["threads"] > 1]
    blocks: list = ["## Findings"]
    if multi:
        within = sum(p["cv_speedup"] <= CV_TARGET for _, p in multi)
        fit = [p for _, p in multi if p["threads"] <= (cores or 1)]
        window = (build_records(results)[multi[0][0]].scaling.get("config") or {}).get("window")
        speedups = [(p["cv_speedup"], p["median_speedup"], p.get("ci_speedup"),
                     machine_floor(results, n)) for n, p in multi]
        blocks += [f"CV target ({pct(CV_TARGET)}): met by {within} of {len(multi)} reported "
                   f"speedups ({sum(p['cv_speedup'] <= CV_TARGET for p in fit)} of {len(fit)} "
                   f"with no more threads than cores). {pinning_line(results.get('pinning'))}",
                   ef.steadiness_line(results.get("steadiness"), window, CV_TARGET, "Speedups",
                                      speedups)]
    if f["busy"]:
        blocks.append("> **Warning: the machine was busy during this run** (load average "
                      f"{la0} at start for {cores} cores; {len(f['busy'])} series with a "
                      "thread short of a core, see Machine busy): rerun on an idle machine "
                      "before quoting those speedups.")
    elif la0 and cores and la0[0] > 0.5 * cores:
        blocks.append(f"> Note: load average {la0} at start for {cores} cores - other "
                      "processes ran, but no measured point lost its core to them (see "
                      "Machine busy).")
    for key, label in (
            ("anti_scaling", "Anti-scaling (speedup below 1.0)"),
            ("poor_efficiency", f"Poor efficiency (efficiency below {POOR_EFFICIENCY})"),
            ("noisy", f"Noisy (CV of the speedup above {pct(CV_TARGET)})"),
            ("contended", f"Contention (work efficiency below {CONTENDED_WORK})"),
            ("beyond_cores", "Beyond the cores (speedup above 1.1 x min(N, cores))"),
            ("busy", f"Machine busy (1 thread below {pct(BUSY_CPU_SHARE)} of a core, or no core "
             f"more than {pct(BUSY_WAITING_SHARE)} of the time)")):
        blocks.append([f"**{label}:**", *([f"- {x}" for x in f[key]] or ["- none"])])
    return _blocks(*blocks)


def _ft_cost_section(results: dict) -> list[str]:
    ok = [n for n, b in build_records(results).items() if b.status != "missing"]
    gil = next((n for n in ok if n == "3.14" or not n.startswith("3.14t")), None)
    rows = [[f"{ft} vs {gil}", cls, str(n), f"{mid:.3f} ({mid - 1:+.1%})",
             f"{lo:.3f} .. {hi:.3f}"] for ft in ok if gil and ft.startswith("3.14t")
            for cls, n, mid, lo, hi in ft_cost(results, ft, gil)]
    return _blocks("## Single-thread cost of free-threading", *([
        "Free-threaded / GIL build throughput, one thread, median over the benchmarks of each "
        f"class (1.0 = same speed). {TERMS}",
        table(["builds", "benchmarks", "n", "ft / GIL throughput", "range"], rows)] if rows else [
        "Not available: needs both a GIL build and a free-threaded build measured."]))


def _parallel_section(results: dict) -> list[str]:
    threads = scaling_threads(results)
    parts = [b.scaling or {} for b in build_records(results).values()]
    cfgs = {k: v for s in parts for k, v in (s.get("config") or {}).items()}
    counts = [n for s in parts for n in (s.get("repeats_per_series") or {}).values()]
    repeats = (f"{min(counts)} to {max(counts)} repeats per series, up to "
               f"{max(s.get('runs', 1) for s in parts)} runs per build" if counts
               else f"{cfgs.get('repeats', '?')} interleaved repeats")
    return _blocks(
        "## Parallel scaling",
        f"Aggregate throughput of 1..{threads[-1] if threads else '?'} threads; "
        f"{cfgs.get('warmup', '?')} s warm-up then a {cfgs.get('window', '?')} s window, "
        f"{repeats}. **ANTI** = speedup below 1.0, *poor* = efficiency below "
        f"{POOR_EFFICIENCY}. {TERMS} Plot: scaling.png.",
        _scaling_section(results) if threads else "No scaling results.")


def write_report(results: dict, out: Path) -> str:
    """Write summary.md, single_thread.md and the plots into ``out``; the summary."""
    summary = summary_markdown(results)
    try:
        if any(True for _ in scaling_rows(results)):
            plot_scaling(results, out / "scaling.png")
        pts = ef.figures(results["echo"]) if results.get("echo") else {}
        if any(p.fig for p in pts.values()):
            plot_echo(results["echo"], pts, out / "echo.png")
    except ImportError as exc:  # matplotlib is in the bench extra; say so, keep the rest
        summary += (f"\n**scaling.png / echo.png NOT drawn**: {exc}. Install nvx-ft[bench] "
                    "in the interpreter that writes the report.\n")
    (out / "summary.md").write_text(summary)
    (out / "single_thread.md").write_text(
        "# Single-thread throughput, every build and size\n\n"
        + "\n".join(tables(results, full=True)) + "\n")
    return summary


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def mbs(bytes_per_s: float) -> str:
    """MB/s (10^6 bytes), three significant digits, thousands separated from 100 up."""
    mb = bytes_per_s / 1e6
    return f"{mb:,.0f}" if mb >= 100 else f"{mb:.3g}"


def rate(per_s: float) -> str:
    """A rate with a G/M/k prefix, three significant digits."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_s >= scale:
            return f"{per_s / scale:.3g} {unit}"
    return f"{per_s:.3g}"


def _single_cells(e: dict | None, full: bool) -> list[str]:
    """One size's cells: MB/s and calls/s (full: µs, calls/s, MB/s, CV over rounds), ⚠
    where the medians of its rounds vary more than the CV target."""
    if not e:
        return ["-"] * (4 if full else 1)
    spread = (e.get("round_cv") or 0) > CV_TARGET
    if full:
        return [f"{e['seconds'] * 1e6:.3g}", rate(e["calls_per_s"]), mbs(e["bytes_per_s"]),
                "-" if e.get("round_cv") is None else pct(e["round_cv"]) + " ⚠" * spread]
    return [f"{mbs(e['bytes_per_s'])} MB/s<br>{rate(e['calls_per_s'])} calls/s"
            + (f"<br>⚠ cv {pct(e['round_cv'])}" if spread else "")]


def tables(results: dict, full: bool) -> list[str]:
    """A ⚠ legend, then per workload a table: rows impl x build, columns sizes."""
    entries = single_thread_entries(results)
    if not entries:
        return ["No single-thread benchmarks ran."]
    spreads = [e["round_cv"] for e in entries.values() if e.get("round_cv") is not None]
    rounds = max((len(e["round_medians"]) for e in entries.values() if e.get("round_medians")),
                 default=0)
    lines = _blocks(f"⚠ = the medians of this cell's {rounds} rounds vary by more than "
                    f"{pct(CV_TARGET)} ({sum(cv > CV_TARGET for cv in spreads)} of "
                    f"{len(spreads)} cells); cv: their CV.") if rounds >= 2 else []
    builds = list(build_records(results))
    for group in sorted({k[1] for k in entries}, key=lambda g: (g != "xor", g)):
        keys = [k for k in entries if k[1] == group]
        sizes = sorted({k[3] for k in keys})
        impls = sorted({k[2] for k in keys},
                       key=lambda i: (i.startswith(("fallback/", "reference/")), i))
        rows = [[impl, b] + [cell for sz in sizes
                             for cell in _single_cells(entries.get((b, group, impl, sz)), full)]
                for impl in impls for b in builds
                if any((b, group, impl, sz) in entries for sz in sizes)]
        columns = [(f"{human_size(s)}: median µs", "calls/s", "MB/s", "CV over rounds")
                   if full else (human_size(s),) for s in sizes]
        lines += _blocks(f"### {group}",
                         table(["impl", "build"] + [c for cs in columns for c in cs], rows))
    return lines


def single_section(results: dict) -> list[str]:
    order = results.get("single_thread_rounds")  # absent in a results.json from before
    how = (f"Builds interleaved in {len(order)} round{'s' if len(order) > 1 else ''} ("
           + " / ".join(", ".join(r) for r in order) + "). Cell: the median over the rounds of "
           "each round's median " if order else "One build after the other. Cell: the median ")
    return _blocks(
        "## Single-thread throughput (pytest-benchmark)",
        how + f"CPU time per call. Every cell: single_thread.md. {TERMS}",
        [f"- {name}: not run: {b.single_not_run}." for name, b in build_records(results).items()
         if b.single_not_run]) + tables(results, full=False)


def _ms(us: float | None) -> str:
    if us is None:
        return "-"
    ms = us / 1e3
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.2g}"


def _on(nvx: bool) -> str:
    return "on" if nvx else "off"


def _rank(build: str) -> int:
    """A build's place in the echo tables and lists: BUILD_ORDER, then the others."""
    return BUILD_ORDER.index(build) if build in BUILD_ORDER else 9


def _throughput_cells(p: EchoPoint | None) -> list[str]:
    if p is None:
        return ["-"] * 5
    if not p.fig:
        return ["**ERROR**" if p.errors else "not run", "", "", "", ""]
    f, m = p.fig, p.fig.msgs
    cell = (f"{rate(m['median'])} [{rate(m['ci'][0])}–{rate(m['ci'][1])}] cv {m['cv']:.0%}"
            + " ⚠" * p.noisy + " **ERROR**" * bool(p.errors))
    return [cell, f"{f.mb_per_s:.3g}", f"{_ms(f.p50_us)} / {_ms(f.p99_us)}",
            f"x{p.speedup['median']:.2f}" if p.speedup else "1",
            f"{p.vs_baseline['median']:.2f}" if p.vs_baseline else "-"]


def _cost_cell(p: EchoPoint | None) -> list[str]:
    if p is None or not p.fig:
        return ["-"]
    f = p.fig
    us = "-" if f.server_us_per_msg is None else f"{f.server_us_per_msg:.0f}"
    others = "" if f.others_cores is None else f", others {f.others_cores:.2f}"
    return [f"{us} µs, server cpu {pct(f.server_cpu_share, 0)}, "
            f"load {pct(f.load_cpu_share, 0)} x{p.load_processes}{others}"]


def _echo_table(pts: dict, threads: list[int], cores: int, columns, cells) -> list[str]:
    """A row per workload, NVX and build; per thread count ``columns(label)``, ``cells(point)``."""
    rows: dict = {}
    for p in pts.values():
        rows.setdefault((p.kind, p.size, p.nvx, p.build), {})[p.threads] = p
    header = ["workload", "NVX", "build"] + [
        c for n in threads for c in columns(f"{n} (oversubscribed)" if n > cores else str(n))]
    return table(header, [
        [f"{kind} {human_size(size)}", _on(nvx), build]
        + [c for n in threads for c in cells(by_n.get(n))]
        for (kind, size, nvx, build), by_n in sorted(rows.items(), key=lambda kv: (
            kv[0][0] != "text", kv[0][1], not kv[0][2], _rank(kv[0][3]), kv[0][3]))])


def _headline(pts: dict) -> list[str]:
    def nvx_threads(nvx: bool, n: int) -> str:
        return f"NVX {_on(nvx)}, {n} server thread{'s' * (n > 1)}"

    def like(p: EchoPoint, **other) -> EchoPoint | None:  # p's point on another build, ...
        return pts.get(ef.point_key(**{"build": p.build, "nvx": p.nvx, "threads": p.threads,
                                       "kind": p.kind, "size": p.size, **other}))

    ft = [p for p in pts.values() if p.build == "3.14t"]
    nvx_first = lambda key: (not key[0], key[1])  # noqa: E731
    # (group..., median over workloads, workloads) of: 3.14t / 3.14 messages/s, 3.14t / 3.14
    # server CPU per echo, and CPU per echo at N / at 1 thread per build
    served = ef.medians((((p.nvx, p.threads), p.vs_baseline and p.vs_baseline["median"])
                         for p in ft), nvx_first)
    cpu_vs_baseline = ef.medians((((p.nvx, p.threads), ef.cpu_ratio(
        p, like(p, build=ef.BASELINE))) for p in ft), nvx_first)
    cpu_vs_one_thread = ef.medians((((p.build, p.nvx, p.threads), ef.cpu_ratio(
        p, like(p, threads=1))) for p in pts.values() if p.threads > 1),
        lambda k: (_rank(k[0]), not k[1], k[2]))
    lines = [f"- {nvx_threads(nvx, n)}: 3.14t serves **x{ratio:.2f}** the messages/s of 3.14 "
             f"(median over {count} workloads)" for nvx, n, ratio, count in served]
    lines += [f"- {nvx_threads(nvx, n)}: the 3.14t server spends **x{ratio:.2f}** the CPU time "
              f"per echo of 3.14 (median over {count} workloads; robust to other load)"
              for nvx, n, ratio, count in cpu_vs_baseline]
    lines += [f"- {build}, NVX {_on(nvx)}: CPU per echo at {n} threads / at 1 thread "
              f"x{ratio:.2f} (median over {count} workloads; above 1: the threads slow each "
              "other down per message)" for build, nvx, n, ratio, count in cpu_vs_one_thread]
    for build in BUILD_ORDER:
        gains = [(p.kind, p.size, p.fig.msgs["median"] / off.fig.msgs["median"])
                 for p in pts.values() if p.build == build and p.threads == 1 and p.nvx
                 and p.fig for off in [like(p, nvx=False)] if off and off.fig]
        if gains:
            lines.append(f"- NVX on / off, {build}, 1 thread: "
                         f"x{statistics.median(g[2] for g in gains):.2f} messages/s (median; "
                         "per workload " + ", ".join(
                             f"{k} {human_size(s)} x{r:.2f}" for k, s, r in gains) + ")")
    return lines


def _servers_line(echo: dict) -> str:
    """GIL state and NVX use as the server processes reported them, per build."""
    seen: dict = {}
    for name, srv in echo.get("servers", {}).items():
        if srv.get("info"):
            seen.setdefault(name.split(" NVX ")[0], set()).add(_on(srv["info"].get("gil_enabled")))
    return ("GIL at runtime in the server processes (after importing autobahn and NVX): "
            + ", ".join(f"{b}: {'/'.join(sorted(v))}" for b, v in seen.items()) + "."
            ) if seen else ""


def _warnings(pts: dict, echo: dict) -> list[str]:
    out = [f"> **Stopped early**: {echo['stopped']}."] if echo.get("stopped") else []
    out += [f"> **ERROR**: {e}" for e in echo.get("errors", [])]
    sat = [k for k, p in pts.items() if p.fig and p.fig.load_cpu_share is not None
           and p.fig.load_cpu_share >= ef.SATURATED]
    if sat:
        out.append(f"> **Warning: the load generator was saturated** at {len(sat)} points "
                   f"(its CPU >= {ef.SATURATED:.0%} of its wall time): there the run measured "
                   "the generator, not the server: " + "; ".join(sat[:8])
                   + (" ..." if len(sat) > 8 else ""))
    return out


def echo_section(echo: dict) -> list[str]:
    pts = ef.figures(echo)
    cores = echo["cores"]
    threads = sorted({p.threads for p in pts.values()}) or list(echo["config"]["threads"])
    judged = [p for p in pts.values() if p.fig and p.fig.msgs["n"] > 1]
    judged_points = [(p.fig.msgs["cv"], p.fig.msgs["median"], p.fig.msgs["ci"],
                      ef.machine_floor(echo)) for p in judged]
    cfg = echo["config"]
    noisy = [(k, p) for k, p in pts.items() if p.noisy]
    doubts = [f"- {k}: cv {p.fig.msgs['cv']:.0%}; "
              + ("; ".join(p.why) or "no cause measured (a burst of other load?)")
              for k, p in noisy[:MAX_LISTED]] or ["- none"]
    if len(noisy) > MAX_LISTED:
        doubts.append(f"- ... and {len(noisy) - MAX_LISTED} more (results.json)")
    starved = [k for k, p in pts.items() if not p.noisy and any(
        w.startswith(("server got", "load generator saturated")) for w in p.why)]
    if starved:
        doubts.append(f"- steady but doubtful ({len(starved)}: the server was starved of CPU "
                      "or the generator saturated): " + "; ".join(starved[:MAX_LISTED]))
    return _blocks(
        "## End-to-end: autobahn WebSocket echo server, by server threads",
        f"1 to {max(threads)} server threads, NVX on and off; {cfg['conns_per_thread']} "
        f"connections per server thread, {cfg['depth']} messages in flight each. "
        f"{cfg['repeats']} interleaved repeats of {cfg['window']} s windows (+ reruns of noisy "
        f"series), {echo['seconds']:.0f} s. {cores} usable cores"
        + (", shared by the server threads and the load generator. " if cores <= 4 else ". ")
        + f"Load average at start {echo.get('load_average_start')}, at end "
        f"{echo.get('load_average_end')}. {pinning_line(echo.get('pinning'))} "
        + _servers_line(echo),
        _warnings(pts, echo),
        f"⚠ = CV above {echo.get('cv_target', 0.05):.0%} (within target: "
        f"{sum(not p.noisy for p in judged)} of {len(judged)} points). {TERMS} Plot: echo.png.",
        ef.steadiness_line(echo.get("steadiness"), cfg.get("window"),
                           echo.get("cv_target", CV_TARGET), "Points", judged_points),
        _echo_table(pts, threads, cores, lambda t: [
            f"{t} thr: msg/s [95 % CI] cv", "MB/s", "p50 / p99 ms", "speedup", "vs 3.14"],
            _throughput_cells),
        "**What it says:**",
        _headline(pts) or ["- nothing measured"],
        "Where the CPU went (server, load generators, other processes):",
        _echo_table(pts, threads, cores, lambda t: [
            f"{t} thr: server CPU per echo, server / load CPU share"], _cost_cell),
        "**Noisy or doubtful points, and why:**", doubts)
