"""``echo.png``: end-to-end messages/s by server threads, one panel per workload, one
line per build (solid: NVX on, dashed: NVX off), bars: 95 % bootstrap interval.

matplotlib (Agg backend, no display) is imported only when a plot is drawn.
"""

from __future__ import annotations

from pathlib import Path

from nvx_ft.bench.plot import BUILD_STYLE
from nvx_ft.bench.workloads import human_size


def plot_echo(echo: dict, pts: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in ("text", "binary") if any(p["kind"] == k for p in pts.values())]
    sizes = sorted({p["size"] for p in pts.values()})
    threads = sorted({p["threads"] for p in pts.values()})
    fig, axes = plt.subplots(max(1, len(kinds)), max(1, len(sizes)), squeeze=False,
                             figsize=(max(8.0, 4.2 * len(sizes)), 1.2 + 3.0 * len(kinds)))
    series: dict = {}
    for p in pts.values():
        if p["fig"]:
            series.setdefault((p["kind"], p["size"], p["build"], p["nvx"]), []).append(p)
    for i, kind in enumerate(kinds):
        for j, size in enumerate(sizes):
            ax = axes[i][j]
            for (k, s, build, nvx), ps in sorted(series.items(), key=lambda kv: str(kv[0])):
                if (k, s) != (kind, size):
                    continue
                ps = sorted(ps, key=lambda p: p["threads"])
                colour, marker = BUILD_STYLE.get(build, (None, "o"))
                med = [p["fig"]["msgs"]["median"] for p in ps]
                lo = [m - p["fig"]["msgs"]["ci"][0] for m, p in zip(med, ps)]
                hi = [p["fig"]["msgs"]["ci"][1] - m for m, p in zip(med, ps)]
                ax.errorbar([p["threads"] for p in ps], med,
                            yerr=[[max(0, x) for x in lo], [max(0, x) for x in hi]],
                            color=colour, marker=marker, ms=4, capsize=2,
                            ls="-" if nvx else "--", mfc=None if nvx else "none",
                            label=f"{build}, NVX {'on' if nvx else 'off'}")
            ax.set_title(f"{kind}, {human_size(size)} messages", fontsize=10)
            ax.set_xticks(threads)
            ax.set_xticklabels([f"{n}*" if n > echo["cores"] else str(n) for n in threads])
            # log scale: NVX on and off differ up to ~50x at 64 KiB; equal ratios read
            # as equal distances
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            if j == 0:
                ax.set_ylabel("echoes / s (log)")
            if i == len(kinds) - 1:
                ax.set_xlabel("server threads (* = more than cores)")
    seen: dict = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(lab, h)
    fig.legend(list(seen.values()), list(seen), loc="lower center", ncol=max(1, min(3, len(seen))),
               frameon=False, fontsize=9)
    fig.suptitle("autobahn WebSocket echo server: messages/s by server threads "
                 f"({echo['cores']} cores, load average {echo.get('load_average_start')}, "
                 f"{echo['mode']} mode)\nbars: 95 % bootstrap interval of the median over "
                 "repeats; the load generator shares the cores", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
