"""scaling.png and echo.png, a line per build; matplotlib (Agg) is imported only to draw."""

from __future__ import annotations

from pathlib import Path

from nvx_ft.bench.figures import build_records, scaling_panels, scaling_threads
from nvx_ft.bench.stats import quantile
from nvx_ft.bench.workloads import human_size

#: One colour per build, so the plot reads the same from run to run.
BUILD_STYLE = {"3.14": ("tab:blue", "o"), "3.14t": ("tab:red", "s"),
               "3.14t PYTHON_GIL=1": ("tab:orange", "^")}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return matplotlib, plt


def _grid(plt, rows: list, columns: list, height: float, y: str, x: str, **options):
    """(figure, axes, [(ax, row, column)]): a panel each, axis labels on the outer ones."""
    shape = max(1, len(rows)), max(1, len(columns))
    fig, axes = plt.subplots(*shape, squeeze=False, **options,
                             figsize=(max(8.0, 4.2 * len(columns)), height + 3.0 * shape[0]))
    cells = [(axes[i][j], r, c) for i, r in enumerate(rows) for j, c in enumerate(columns)]
    for ax, r, c in cells:
        if c == columns[0]:
            ax.set_ylabel(y)
        if r == rows[-1]:
            ax.set_xlabel(x)
    return fig, axes, cells


def _bars(ax, xs, med, lo, hi, colour, marker, **style) -> None:
    """Medians with asymmetric bars from ``lo`` to ``hi``."""
    ax.errorbar(xs, med, yerr=[[max(0, m - x) for m, x in zip(med, lo)],
                               [max(0, x - m) for m, x in zip(med, hi)]],
                color=colour, marker=marker, ms=4, capsize=2, **style)


def _legend_and_save(fig, plt, path: Path, handles, labels, title: str, bottom: float,
                     top: float) -> None:
    """One legend for the figure (each label once), the title, the PNG."""
    seen: dict = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen), loc="lower center",
               ncol=max(1, min(3, len(seen))), frameon=False, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, bottom, 1, top))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(results: dict, path: Path) -> None:
    matplotlib, plt = _pyplot()

    series = scaling_panels(results)
    workloads = list(dict.fromkeys(w for w, _ in series))
    frames = sorted({f for _, f in series})
    cores = results["machine"].get("cores_usable") or 1
    fig, axes, cells = _grid(plt, workloads, frames, 1.0, "speedup vs 1 thread", "threads",
                             sharex=True)
    measured = scaling_threads(results)
    max_threads = max(measured or [1])
    xs = list(range(1, max_threads + 1))
    for ax, w, f in cells:
        ax.plot(xs, [min(x, cores) for x in xs], color="0.6", ls="--", lw=1,
                label=f"ideal (min(N, {cores} cores))")
        ax.axhline(1.0, color="0.8", lw=0.8)
        for name, s in series.get((w, f), {}).items():
            colour, marker = BUILD_STYLE.get(name, (None, "o"))
            n = [p["threads"] for p in s["points"]]
            _bars(ax, n, [p["median_speedup"] for p in s["points"]],
                  [quantile(p["speedup"], 0.25) for p in s["points"]],
                  [quantile(p["speedup"], 0.75) for p in s["points"]], colour, marker,
                  label=name)
            shown = [(x, p["idle_estimate"]) for x, p in zip(n, s["points"])
                     if p.get("idle_estimate") is not None]
            if len(shown) > 1:
                ax.plot([x for x, _ in shown], [e for _, e in shown], color=colour,
                        marker=marker, ms=4, ls=":", mfc="none",
                        label=f"{name}: idle estimate (min(N, cores) x work efficiency)")
        ax.set_title(f"{w}, {human_size(f)} frames", fontsize=10)
        ax.set_xscale("log", base=2)
        ax.set_xticks([p for p in (1, 2, 4, 8, 16, 32) if p <= max_threads]
                      + ([3] if 3 in measured else []))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    # one legend for the figure; missing/failed builds appear in it, marked
    handles, labels = axes[0][0].get_legend_handles_labels()
    from matplotlib.lines import Line2D

    for name, b in build_records(results).items():
        if b.status == "missing" or not b.scaling:
            colour, marker = BUILD_STYLE.get(name, ("0.5", "o"))
            handles.append(Line2D([], [], color=colour, marker=marker, ls=":", alpha=0.4))
            labels.append(f"{name} ({b.status.upper()} - not run)")
    m = results["machine"]
    _legend_and_save(fig, plt, path, handles, labels,
                     "NVX parallel scaling: aggregate throughput(N) / throughput(1); "
                     "dotted: idle-machine estimate where the GIL is off\n"
                     f"{m.get('cpu')}, {cores} cores, {results['mode']} mode, "
                     f"{results['started']}; bars: interquartile range over repeats", 0.08, 0.95)


def plot_echo(echo: dict, pts: dict, path: Path) -> None:
    _, plt = _pyplot()
    kinds = [k for k in ("text", "binary") if any(p.kind == k for p in pts.values())]
    sizes = sorted({p.size for p in pts.values()})
    threads = sorted({p.threads for p in pts.values()})
    fig, axes, cells = _grid(plt, kinds, sizes, 1.2, "echoes / s (log)",
                             "server threads (* = more than cores)")
    series: dict = {}
    for p in pts.values():
        if p.fig:
            series.setdefault((p.kind, p.size, p.build, p.nvx), []).append(p)
    for ax, kind, size in cells:
        for (k, s, build, nvx), ps in sorted(series.items(), key=lambda kv: str(kv[0])):
            if (k, s) != (kind, size):
                continue
            ps = sorted(ps, key=lambda p: p.threads)
            colour, marker = BUILD_STYLE.get(build, (None, "o"))
            _bars(ax, [p.threads for p in ps], [p.fig.msgs["median"] for p in ps],
                  [p.fig.msgs["ci"][0] for p in ps], [p.fig.msgs["ci"][1] for p in ps],
                  colour, marker, ls="-" if nvx else "--", mfc=None if nvx else "none",
                  label=f"{build}, NVX {'on' if nvx else 'off'}")
        ax.set_title(f"{kind}, {human_size(size)} messages", fontsize=10)
        ax.set_xticks(threads)
        ax.set_xticklabels([f"{n}*" if n > echo["cores"] else str(n) for n in threads])
        # log: NVX on and off differ up to ~50x at 64 KiB; equal ratios, equal distances
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    handles = [h for ax in axes.flat for h in ax.get_legend_handles_labels()[0]]
    labels = [lab for ax in axes.flat for lab in ax.get_legend_handles_labels()[1]]
    _legend_and_save(fig, plt, path, handles, labels,
                     "autobahn WebSocket echo server: messages/s by server threads "
                     f"({echo['cores']} cores, load average {echo.get('load_average_start')}, "
                     f"{echo['mode']} mode)\nbars: 95 % bootstrap interval of the median over "
                     "repeats; the load generator shares the cores", 0.1, 0.93)
