"""The single-thread part of the bench report: the pytest-benchmark tables of every
build (interleaved rounds, :mod:`nvx_ft.bench.single`), in ``summary.md`` and in full in
``single_thread.md``."""

from __future__ import annotations

from nvx_ft.bench.findings import CV_TARGET, pct, single_thread_entries
from nvx_ft.bench.markdown import mbs, rate, table
from nvx_ft.bench.workloads import human_size


def _is_spread(e: dict) -> bool:
    """The medians of a cell's rounds vary more than the CV target."""
    return (e.get("round_cv") or 0) > CV_TARGET


def _spread_legend(entries: dict) -> list[str]:
    """One line on ⚠, where the tables come from interleaved rounds."""
    spreads = [e["round_cv"] for e in entries.values() if e.get("round_cv") is not None]
    rounds = max((len(e["round_medians"]) for e in entries.values() if e.get("round_medians")),
                 default=0)
    if rounds < 2:
        return []
    flagged = sum(cv > CV_TARGET for cv in spreads)
    return [f"⚠ = the medians of this cell's {rounds} rounds vary by more than "
            f"{pct(CV_TARGET)} (cv: their CV): the CPU's speed changed between rounds, read "
            f"the cell with care ({flagged} of {len(spreads)} cells; each round's median: "
            "`round_medians` in */single-<target>.json).", ""]


def tables(results: dict, full: bool) -> list[str]:
    """Per workload: rows impl x build, columns sizes; cells MB/s and calls/s (full: also
    µs and the CV over rounds), ⚠ where the rounds disagree."""
    entries = single_thread_entries(results)
    if not entries:
        return ["No single-thread benchmarks ran."]
    lines = _spread_legend(entries)
    groups = sorted({k[1] for k in entries}, key=lambda g: (g != "xor", g))
    builds = list(results["builds"])
    for group in groups:
        keys = [k for k in entries if k[1] == group]
        sizes = sorted({k[3] for k in keys})
        impls = sorted({k[2] for k in keys},
                       key=lambda i: (i.startswith(("fallback/", "reference/")), i))
        rows = []
        for impl in impls:
            for b in builds:
                if not any((b, group, impl, sz) in entries for sz in sizes):
                    continue
                cells = [impl, b]
                for sz in sizes:
                    e = entries.get((b, group, impl, sz))
                    if full:  # one column per figure, so the Markdown table stays one
                        cells += (["-"] * 4 if not e else [
                            f"{e['seconds'] * 1e6:.3g}", rate(e["calls_per_s"]),
                            mbs(e["bytes_per_s"]),
                            "-" if e.get("round_cv") is None
                            else pct(e["round_cv"]) + (" ⚠" if _is_spread(e) else "")])
                    elif not e:
                        cells.append("-")
                    else:
                        cells.append(f"{mbs(e['bytes_per_s'])} MB/s<br>{rate(e['calls_per_s'])}"
                                     " calls/s" + (f"<br>⚠ cv {pct(e['round_cv'])}"
                                                   if _is_spread(e) else ""))
                rows.append(cells)
        lines += [f"### {group}", ""]
        if full:
            lines += table(["impl", "build"] + [
                column for s in sizes for column in (f"{human_size(s)}: median µs", "calls/s",
                                                     "MB/s", "CV over rounds")], rows)
        else:
            lines += table(["impl", "build"] + [human_size(s) for s in sizes], rows)
        lines.append("")
    return lines


def section(results: dict) -> list[str]:
    order = results.get("single_thread_rounds")  # absent in a results.json from before
    how = (f"Builds interleaved in {len(order)} round{'s' if len(order) > 1 else ''}: each "
           "round runs the NVX suite of every build, then the fallback suite of every build, "
           "the builds in an order rotated from round to round ("
           + " / ".join(", ".join(r) for r in order) + f"), each benchmark for 1/{len(order)} "
           "of the mode's max-time; so a change of the CPU's speed (this VM flips between a "
           "fast and a slow regime) hits every build alike, not one. Cell: the median over "
           "the rounds of each round's median "
           if order else "One build after the other. Cell: the median ")
    lines = [
        "## Single-thread throughput (pytest-benchmark)",
        "",
        how + "of the process's CPU time per call (robust to other processes; equal to wall "
        "time on an idle machine); MB/s = payload bytes / median time per call. All sizes, "
        "builds, the raw times and each cell's CV over the rounds: single_thread.md; "
        "pytest-benchmark JSON: */single-<target>.json (rounds merged), "
        "*/single-<target>-round<k>.json (each round, for `pytest-benchmark compare`).",
        "",
    ]
    for name, b in results["builds"].items():
        if b.get("single_not_run"):
            lines.append(f"- {name}: not run: {b['single_not_run']}.")
    lines.append("")
    return lines + tables(results, full=False)
