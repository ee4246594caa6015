"""``scaling.png``: speedup over threads per workload and frame size, one line per build.

matplotlib (Agg backend, no display) is imported only when a plot is drawn.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from nvx_ft.bench.findings import idle_estimate, scaling_rows, workload_order
from nvx_ft.bench.workloads import human_size

#: One colour per build, so the plot reads the same from run to run.
BUILD_STYLE = {"3.14": ("tab:blue", "o"), "3.14t": ("tab:red", "s"),
               "3.14t PYTHON_GIL=1": ("tab:orange", "^")}


def plot_scaling(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({(s["workload"], s["frame_size"]) for _, s in scaling_rows(results)},
                    key=lambda p: (workload_order(p[0]), p[1]))
    workloads = list(dict.fromkeys(w for w, _ in panels))
    frames = sorted({f for _, f in panels})
    cores = results["machine"].get("cores_usable") or 1
    rows, columns = max(1, len(workloads)), max(1, len(frames))
    fig, axes = plt.subplots(rows, columns, squeeze=False, sharex=True,
                             figsize=(max(8.0, 4.2 * len(frames)), 1.0 + 3.0 * rows))
    series = defaultdict(dict)
    for name, s in scaling_rows(results):
        series[(s["workload"], s["frame_size"])][name] = s
    max_threads = max([p["threads"] for _, s in scaling_rows(results) for p in s["points"]] or [1])
    for i, w in enumerate(workloads):
        for j, f in enumerate(frames):
            ax = axes[i][j]
            xs = list(range(1, max_threads + 1))
            ax.plot(xs, [min(x, cores) for x in xs], color="0.6", ls="--", lw=1,
                    label=f"ideal (min(N, {cores} cores))")
            ax.axhline(1.0, color="0.8", lw=0.8)
            for name, s in series.get((w, f), {}).items():
                colour, marker = BUILD_STYLE.get(name, (None, "o"))
                n = [p["threads"] for p in s["points"]]
                med = [p["median_speedup"] for p in s["points"]]
                lo = [m - _quantile(p["speedup"], 0.25) for m, p in zip(med, s["points"])]
                hi = [_quantile(p["speedup"], 0.75) - m for m, p in zip(med, s["points"])]
                ax.errorbar(n, med, yerr=[[max(0, x) for x in lo], [max(0, x) for x in hi]],
                            color=colour, marker=marker, ms=4, capsize=2, label=name)
                est = [idle_estimate(p) for p in s["points"]]
                shown = [(x, e) for x, e in zip(n, est) if e is not None]
                if len(shown) > 1:
                    ax.plot([x for x, _ in shown], [e for _, e in shown], color=colour,
                            marker=marker, ms=4, ls=":", mfc="none",
                            label=f"{name}: idle estimate (min(N, cores) x work efficiency)")
            ax.set_title(f"{w}, {human_size(f)} frames", fontsize=10)
            ax.set_xscale("log", base=2)
            ax.set_xticks([p for p in (1, 2, 4, 8, 16, 32) if p <= max_threads] +
                          ([3] if 3 <= max_threads and 3 in {p["threads"] for _, s in
                                                               scaling_rows(results)
                                                               for p in s["points"]} else []))
            ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.set_ylim(bottom=0)
            if j == 0:
                ax.set_ylabel("speedup vs 1 thread")
            if i == len(workloads) - 1:
                ax.set_xlabel("threads")
            ax.grid(alpha=0.3)
    # one legend for the figure; missing/failed builds appear in it, marked
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    for name, b in results["builds"].items():
        if b["status"] == "missing" or not b.get("scaling"):
            colour, marker = BUILD_STYLE.get(name, ("0.5", "o"))
            handles.append(Line2D([], [], color=colour, marker=marker, ls=":", alpha=0.4))
            labels.append(f"{name} ({b['status'].upper()} - not run)")
    seen = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=min(3, len(seen)),
               frameon=False, fontsize=9)
    m = results["machine"]
    fig.suptitle(f"NVX parallel scaling: aggregate throughput(N) / throughput(1); "
                 "dotted: idle-machine estimate where the GIL is off\n"
                 f"{m.get('cpu')}, {cores} cores, {results['mode']} mode, {results['started']}; "
                 "bars: interquartile range over repeats", fontsize=10)
    fig.tight_layout(rect=(0, 0.08, 1, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=4, method="inclusive")[int(q * 4) - 1]
