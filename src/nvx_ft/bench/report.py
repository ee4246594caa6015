"""The benchmark report: ``summary.md``, ``single_thread.md`` and ``scaling.png``.

Input is the dict :func:`nvx_ft.bench.driver.run_all` writes to ``results.json``;
what it says is :mod:`nvx_ft.bench.findings`, the plot :mod:`nvx_ft.bench.plot`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from nvx_ft.bench import single_report, stats, steadiness
from nvx_ft.bench.findings import (BUSY_CPU_SHARE, BUSY_WAITING_SHARE, CONTENDED_WORK,
                                   CV_TARGET, POOR_EFFICIENCY, findings, ft_cost,
                                   idle_estimate, is_anti_scaling, machine_floor, pct,
                                   scaling_rows, workload_order)
from nvx_ft.bench.markdown import mbs, table
from nvx_ft.bench.plot import plot_scaling
from nvx_ft.bench.workloads import human_size


def _gil(build: dict) -> str:
    s = build.get("scaling") or {}
    if "gil_enabled" not in s:
        return "?"
    state = "on" if s["gil_enabled"] else "off"
    if s.get("origin", {}).get("build") == "free-threaded" and s["gil_enabled"] \
            and build.get("env", {}).get("PYTHON_GIL") != "1":
        return "**on (re-enabled at NVX import!)**"
    return state


def _copy_throughput(results: dict) -> dict:
    """(build, frame, threads) -> copy bytes/s, to read XOR/UTF-8 as a fraction of it."""
    out = {}
    for name, s in scaling_rows(results):
        if s["workload"] == "copy":
            for p in s["points"]:
                out[(name, s["frame_size"], p["threads"])] = p["median_throughput"]
    return out


def _builds_section(results: dict) -> list[str]:
    rows = []
    for name, b in results["builds"].items():
        interp = b.get("interpreter") or {}
        origin = (b.get("scaling") or {}).get("origin") or {}
        status = b["status"]
        if status == "missing":
            status = f"**MISSING - NOT RUN**: {b['reason']}"
        elif status == "failed":
            status = "**FAILED**: " + "; ".join(e.splitlines()[0] for e in b.get("errors", []))
        else:
            status = f"ok ({b.get('seconds', 0):.0f} s)"
        nvx = (f"autobahn {origin.get('autobahn')} ({', '.join(origin.get('wheel_tags') or [])})"
               if origin else "")
        rows.append([name, f"{interp.get('executable', '')} {interp.get('version', '')}".strip(),
                     b.get("env", {}) and " ".join(f"{k}={v}" for k, v in b["env"].items()) or "",
                     _gil(b), nvx, status])
    return table(["build", "interpreter", "env", "GIL at runtime", "NVX under test", "status"],
                  rows)


def _scaling_section(results: dict) -> list[str]:
    copy = _copy_throughput(results)
    threads = sorted({p["threads"] for _, s in scaling_rows(results) for p in s["points"]})
    header = ["workload", "frame", "build", "1 thread MB/s"] + \
             [f"{n} threads: speedup (cv, eff, cpu, work, blocked, no core; idle est.)"
              for n in threads[1:]] + \
             ["best MB/s (threads)", "best as % of copy"]
    rows = []
    ordered = sorted(scaling_rows(results),
                     key=lambda bs: (workload_order(bs[1]["workload"]), bs[1]["frame_size"],
                                     list(results["builds"]).index(bs[0])))
    for name, s in ordered:
        pts = {p["threads"]: p for p in s["points"]}
        one = pts[1]
        cells = [s["workload"], human_size(s["frame_size"]), name,
                 f"{mbs(one['median_throughput'])} (cv {pct(one['cv_throughput'])}"
                 + (f", cpu {pct(one['median_cpu_share'])})" if "median_cpu_share" in one
                    else ")")]
        for n in threads[1:]:
            p = pts.get(n)
            if not p:
                cells.append("-")
                continue
            flag = " **ANTI**" if is_anti_scaling(p) else (
                " *poor*" if p["efficiency"] < POOR_EFFICIENCY else "")
            cpu = f", cpu {pct(p['median_cpu_share'])}" if "median_cpu_share" in p else ""
            work = f", work {p['work_efficiency']:.2f}" if "work_efficiency" in p else ""
            if p.get("median_blocked_share") is not None:
                work += f", blocked {pct(p['median_blocked_share'])}"
            if p.get("median_waiting_share") is not None:
                work += f", no core {pct(p['median_waiting_share'])}"
            idle = (f"; idle est. x{idle_estimate(p):.2f}" if idle_estimate(p) else "")
            ci = (f" [{p['ci_speedup'][0]:.2f}-{p['ci_speedup'][1]:.2f}]"
                  if p.get("ci_speedup") else "")
            cells.append(f"x{p['median_speedup']:.2f}{ci} (cv {pct(p['cv_speedup'])}, "
                         f"eff {p['efficiency']:.2f}{cpu}{work}{idle}){flag}")
        best = max(s["points"], key=lambda p: p["median_throughput"])
        cells.append(f"{mbs(best['median_throughput'])} ({best['threads']})")
        c = copy.get((name, s["frame_size"], best["threads"]))
        cells.append(pct(best["median_throughput"] / c) if c and s["workload"] != "copy" else "-")
        rows.append(cells)
    return table(header, rows)


def _glance_section(results: dict) -> list[str]:
    """Per workload and frame: each build's speedup at N = cores (the most the machine can
    give) and at the most threads, and its 1-thread throughput."""
    cores = results["machine"].get("cores_usable") or 1
    by_key: dict = defaultdict(dict)
    for name, s in scaling_rows(results):
        by_key[(s["workload"], s["frame_size"])][name] = s
    builds = [n for n, b in results["builds"].items() if b.get("scaling")]
    rows = []
    for (w, f) in sorted(by_key, key=lambda k: (workload_order(k[0]), k[1])):
        cells = [w, human_size(f)]
        for b in builds:
            s = by_key[(w, f)].get(b)
            if not s:
                cells.append("-")
                continue
            pts = {p["threads"]: p for p in s["points"]}
            at_cores = pts.get(cores) or s["points"][-1]
            most = s["points"][-1]
            idle = (f" (idle est. x{idle_estimate(at_cores):.2f})"
                    if idle_estimate(at_cores) else "")
            cells.append(f"{mbs(s['points'][0]['median_throughput'])} MB/s; "
                         f"x{at_cores['median_speedup']:.2f} ±{pct(at_cores['cv_speedup'])} "
                         f"at {at_cores['threads']}{idle}, x{most['median_speedup']:.2f} "
                         f"±{pct(most['cv_speedup'])} at {most['threads']}")
        ft, gil = by_key[(w, f)].get("3.14t"), by_key[(w, f)].get("3.14")
        if ft and gil:
            best = [max(p["median_throughput"] for p in x["points"]) for x in (ft, gil)]
            cells.append(f"{best[0] / best[1]:.2f}")
        elif "3.14t" in builds and "3.14" in builds:
            cells.append("-")
        rows.append(cells)
    missing = [n for n, b in results["builds"].items() if not b.get("scaling")]
    note = [f"Not measured: {', '.join(missing)} (see Builds)."] if missing else []
    extra = (["3.14t / 3.14, best aggregate throughput"]
             if "3.14t" in builds and "3.14" in builds else [])
    return table(["workload", "frame"] + builds + extra, rows) + [""] + note


def summary_markdown(results: dict) -> str:
    """``summary.md``: machine and builds, at a glance, findings, the single-thread cost of
    free-threading, parallel scaling, single-thread throughput."""
    lines = [*_overview(results), *_findings_section(results), *_ft_cost_section(results),
             *_parallel_section(results), *_echo_section(results),
             *single_report.section(results)]
    return "\n".join(lines) + "\n"


def _echo_section(results: dict) -> list[str]:
    """The end-to-end echo benchmark (nvx_ft.bench.echo_report), when it ran."""
    if not results.get("echo"):
        return []
    from nvx_ft.bench import echo_report

    return echo_report.section(results["echo"])


def _overview(results: dict) -> list[str]:
    m = results["machine"]
    la0, la1 = results.get("load_average_start"), results.get("load_average_end")
    cores = m.get("cores_usable")
    return [
        "# NVX benchmarks: free-threaded vs GIL build",
        "",
        f"{results['started']}, **{results['mode']} mode**, {results['seconds']:.0f} s wall. "
        f"Machine: {m.get('cpu')}, {cores} usable cores ({m.get('platform')}), "
        f"nice {m.get('nice')}. "
        f"Load average (1/5/15 min) at start {la0}, at end {la1}: a load above 0 means other "
        "work shared the cores, which shows up as CV.",
        "",
        "## Builds",
        "",
        *_builds_section(results),
        "",
        "## At a glance",
        "",
        f"Per build: 1-thread throughput; median speedup ± its CV at {cores} threads (= the "
        "cores) - with the GIL off also the idle-machine estimate, min(N, cores) x work "
        "efficiency, where the threads really ran side by side - and at the most threads "
        "measured (each thread count is a separate measurement, so the two can differ by "
        "more than noise); last column: what free-threading buys - the best aggregate "
        "throughput (any thread count) of 3.14t over that of 3.14. "
        "Details and efficiency: Parallel scaling.",
        "",
        *_glance_section(results),
        "",
    ]


def _pinning_note(results: dict) -> str:
    rounds = results.get("scaling_pinning")
    if not rounds:
        return ""
    if isinstance(rounds, dict):  # one decision for the run (older results.json)
        rounds = [rounds]
    pinned = sum(r["pinned"] for r in rounds)
    return (f"Threads pinned to cores in {pinned} of {len(rounds)} rounds (decided before "
            f"each from how idle the machine was; last: {rounds[-1]['note']}).")


def _steadiness_lines(results: dict) -> list[str]:
    """The machine's own noise (steadiness probe) at the scaling window, how many
    speedups are as steady as it allows, and how well each median is known."""
    probed = results.get("steadiness") or {}
    rows = [(name, s) for name, s in scaling_rows(results)]
    if not rows:
        return []
    window = ((results["builds"][rows[0][0]].get("scaling") or {}).get("config")
              or {}).get("window")
    text = []
    if window:
        text.append(steadiness.describe(probed.get("start"), window, CV_TARGET))
        end = steadiness.floor(probed.get("end"), window)
        if end is not None:
            text.append(f"After the run: CV {pct(end)} per {window:g} s window.")
    multi = [(n, p) for n, s in rows for p in s["points"] if p["threads"] > 1]
    floors = {n: machine_floor(results, n) for n, _ in rows}
    at_floor = [p for n, p in multi if floors[n] is not None
                and p["cv_speedup"] <= max(CV_TARGET, floors[n])]
    known = [p for _, p in multi if (stats.half_width(p["median_speedup"],
                                                      p.get("ci_speedup")) or 1) <= CV_TARGET]
    if any(f is not None for f in floors.values()):
        text.append(f"Speedups with a CV at or below the machine's own: {len(at_floor)} of "
                    f"{len(multi)}.")
    text.append(f"Median speedup known within ±{pct(CV_TARGET)} (half its 95 % bootstrap "
                f"interval; more repeats narrow it, they do not lower a CV): {len(known)} of "
                f"{len(multi)}.")
    return [" ".join(text)]


def _findings_section(results: dict) -> list[str]:
    la0 = results.get("load_average_start")
    cores = results["machine"].get("cores_usable")
    f = findings(results)
    multi = [p for _, s in scaling_rows(results) for p in s["points"] if p["threads"] > 1]
    within = sum(p["cv_speedup"] <= CV_TARGET for p in multi)
    lines = ["## Findings", ""]
    if multi:
        fit = [p for p in multi if p["threads"] <= (cores or 1)]
        lines += [f"CV target ({pct(CV_TARGET)}): met by {within} of {len(multi)} reported "
                  f"speedups ({sum(p['cv_speedup'] <= CV_TARGET for p in fit)} of {len(fit)} "
                  f"with no more threads than cores). {_pinning_note(results)}", "",
                  *_steadiness_lines(results), ""]
    if f["busy"]:
        lines += ["> **Warning: the machine was busy during this run** (load average "
                  f"{la0} at start for {cores} cores; {len(f['busy'])} series with a "
                  "thread short of a core, see Machine busy). Speedups there are distorted "
                  "by other processes; read the idle estimate and work efficiency, or rerun "
                  "on an idle machine before quoting them.", ""]
    elif la0 and cores and la0[0] > 0.5 * cores:
        lines += [f"> Note: load average {la0} at start for {cores} cores - other processes "
                  "ran, but no measured point lost its core to them (see Machine busy).", ""]
    lines.append("**Anti-scaling (speedup below 1.0: more threads, less throughput):**")
    lines += [f"- {x}" for x in f["anti_scaling"]] or ["- none"]
    lines.append("")
    lines.append(f"**Poor efficiency (speedup / min(threads, cores) below {POOR_EFFICIENCY}):**")
    lines += [f"- {x}" for x in f["poor_efficiency"]] or ["- none"]
    lines.append("")
    lines.append(f"**Noisy (CV of the speedup above {pct(CV_TARGET)}; read those numbers "
                 "with care, or rerun on a quiet machine):**")
    lines += [f"- {x}" for x in f["noisy"]] or ["- none"]
    lines.append("")
    lines.append(f"**Contention (work efficiency below {CONTENDED_WORK}: per CPU-second they "
                 "got, N threads did less than one thread - they slow each other down, "
                 "independent of machine load):**")
    lines += [f"- {x}" for x in f["contended"]] or ["- none"]
    lines.append("")
    lines.append("**Beyond the cores (speedup above 1.1 x min(N, cores) - not NVX getting "
                 "faster: with more threads this process took a larger share of a busy "
                 "machine from other processes):**")
    lines += [f"- {x}" for x in f["beyond_cores"]] or ["- none"]
    lines.append("")
    lines.append(f"**Machine busy (a single thread got less than {pct(BUSY_CPU_SHARE)} of a "
                 f"core, or with no more threads than cores they waited for a core more than "
                 f"{pct(BUSY_WAITING_SHARE)} of the time: other processes competed, so "
                 "speedups there understate NVX - read the idle estimate / work "
                 "efficiency):**")
    lines += [f"- {x}" for x in f["busy"]] or ["- none"]
    lines.append("")
    return lines


def _ft_cost_section(results: dict) -> list[str]:
    ok = [n for n, b in results["builds"].items() if b["status"] != "missing"]
    gil = next((n for n in ok if n == "3.14" or not n.startswith("3.14t")), None)
    lines = ["## Single-thread cost of free-threading", ""]
    cost_rows = []
    for ft in (n for n in ok if n.startswith("3.14t")):
        if gil:
            for cls, n, mid, lo, hi in ft_cost(results, ft, gil):
                cost_rows.append([f"{ft} vs {gil}", cls, str(n), f"{mid:.3f} ({mid - 1:+.1%})",
                                  f"{lo:.3f} .. {hi:.3f}"])
    if cost_rows:
        lines.append("Throughput of the free-threaded build relative to the GIL build, one "
                     "thread, same benchmark (1.0 = same speed; below 1.0 = the free-threaded "
                     "build is slower): median over the benchmarks of each class (sizes, "
                     "payloads, implementations).")
        lines.append("")
        lines += table(["builds", "benchmarks", "n", "ft / GIL throughput", "range"], cost_rows)
    else:
        lines.append("Not available: needs both a GIL build and a free-threaded build measured.")
    lines.append("")
    return lines


def _repeats(results: dict, cfgs: dict) -> str:
    """How many repeats, and how they were spread (rounds over builds, reruns)."""
    counts = [n for b in results["builds"].values()
              for n in ((b.get("scaling") or {}).get("repeats_per_series") or {}).values()]
    runs = max([(b.get("scaling") or {}).get("runs", 1) for b in results["builds"].values()]
               or [1])
    if not counts:
        return f"{cfgs.get('repeats', '?')} interleaved repeats"
    return (f"{min(counts)} to {max(counts)} repeats per series (thread counts interleaved "
            f"in every repeat; builds interleaved in rounds, up to {runs} runs per build "
            "including reruns of noisy series; every repeat kept)")


def _parallel_section(results: dict) -> list[str]:
    threads = sorted({p["threads"] for _, s in scaling_rows(results) for p in s["points"]})
    cfgs = {json_key: v for b in results["builds"].values()
            for json_key, v in ((b.get("scaling") or {}).get("config") or {}).items()}
    return [
        "## Parallel scaling",
        "",
        f"Aggregate throughput of 1..{threads[-1] if threads else '?'} threads, each with its "
        "own objects, started behind a barrier; "
        f"{cfgs.get('warmup', '?')} s warm-up then a {cfgs.get('window', '?')} s window, "
        f"{_repeats(results, cfgs)}. Cells: median speedup "
        "(= throughput(N) / throughput(1) of the same repeat) [95 % bootstrap interval of "
        "the median], its CV over repeats, and "
        "efficiency = speedup / min(N, cores), and the CPU share (CPU time of all threads / "
        "(wall time x min(N, cores)): below 100 % the threads waited - for the GIL, a lock, "
        "or a core held by another process), the work efficiency (bytes per CPU-second at N "
        "/ at 1 thread: below 1.0 the threads slow each other down while running; unaffected "
        "by how much CPU other processes left), the blocked share (time a thread neither "
        "ran nor waited for a core: asleep on the GIL or a lock), the no-core share (runnable "
        "but without a core: other processes, or more threads than cores) and, with the GIL "
        "off, the "
        "idle-machine "
        "estimate min(N, cores) x work efficiency. **ANTI** = speedup below 1.0, *poor* = "
        f"efficiency below {POOR_EFFICIENCY}. \"% of copy\": throughput relative to a memcpy "
        "of the same frames with the same number of threads. Plot: scaling.png.",
        "",
        *(_scaling_section(results) if threads else ["No scaling results."]),
        "",
    ]


def write_report(results: dict, out: Path) -> str:
    """Write summary.md, single_thread.md, scaling.png and echo.png into ``out``; return
    the summary."""
    summary = summary_markdown(results)
    try:
        if any(True for _ in scaling_rows(results)):
            plot_scaling(results, out / "scaling.png")
        if results.get("echo"):
            from nvx_ft.bench.echo_report import plot

            plot(results["echo"], out / "echo.png")
    except ImportError as exc:  # matplotlib is in the bench extra; say so, keep the rest
        summary += (f"\n**scaling.png / echo.png NOT drawn**: {exc}. Install nvx-ft[bench] "
                    "in the interpreter that writes the report.\n")
    (out / "summary.md").write_text(summary)
    (out / "single_thread.md").write_text(
        "# Single-thread throughput, every build and size\n\n"
        + "\n".join(single_report.tables(results, full=True)) + "\n")
    return summary
