"""The kill matrix's report: its JSON summary, its Markdown, its terminal table."""

from __future__ import annotations

import statistics
import sys
from dataclasses import asdict

from nvx_ft import mutants as corpus_mod
from nvx_ft.mutants.kill_suites import SEED


def summary(results, suites, mode, label, python, ident, source, wall, missing=()) -> dict:
    """The matrix as ``reports/mutants/<label>.json`` holds it: per mutant its build, the
    suites that ran and what they found, and whether the matrix is OK (the control passes
    everything, every applicable mutant is killed, nothing failed to build or run)."""
    control = next(r for r in results if r.name == corpus_mod.CONTROL)
    # an inconclusive control is no false kill, but shows nothing either: it is named
    control_ok = bool(control.results) and all(r.status in ("passed", "inconclusive")
                                               for r in control.results.values())
    control_inconclusive = [s for s, r in control.results.items() if r.status == "inconclusive"]
    applicable = [r for r in results if r.name != corpus_mod.CONTROL and r.applicable]
    survivors = [r.name for r in applicable if not r.killed_by]
    missed = {r.name: [s for s in r.killers if s in r.results and not r.results[s].killed]
              for r in applicable}
    missed = {k: v for k, v in missed.items() if v}
    ttk = [r.time_to_kill for r in applicable if r.time_to_kill is not None]
    problems = []
    if not control_ok:
        problems.append("control did not pass every suite")
    notes = [f"control inconclusive in {', '.join(control_inconclusive)}: its threads did "
             f"not overlap enough to show it clean there (no false kill)"
             ] if control_inconclusive else []
    if survivors:
        problems.append(f"survivors: {', '.join(survivors)}")
    broken = [r.name for r in results if r.note and r.applicable]
    if broken:
        problems.append(f"not run: {', '.join(broken)}")
    if missing:
        problems.append(f"suites missing: {', '.join(missing)}")
    return {
        "label": label, "mode": mode, "python": python, "interpreter": ident["sys_version"],
        "free_threaded": ident["free_threaded"], "autobahn": source,
        "suites": [s.name for s in suites], "seed": SEED,
        "corpora": sorted({r.origin for r in results if r.name != corpus_mod.CONTROL},
                          key=lambda o: (o != "built-in", o)),
        "ok": not problems, "problems": problems, "notes": notes,
        "missed_expectations": missed,
        "median_time_to_kill": round(statistics.median(ttk), 2) if ttk else None,
        "max_time_to_kill": round(max(ttk), 2) if ttk else None,
        "total_seconds": round(wall, 1),
        "mutants": [{**{k: v for k, v in asdict(r).items() if k != "results"},
                     "killed_by": r.killed_by, "time_to_kill": r.time_to_kill,
                     "results": {s: asdict(x) for s, x in r.results.items()}}
                    for r in results],
    }


def _cell(res: dict | None) -> str:
    if res is None:
        return "-"
    word = {"passed": "survived", "failed": "KILLED", "crashed": "KILLED (crash)",
            "hung": "KILLED (hang)", "sanitizer": "KILLED (report)",
            "error": "ERROR", "inconclusive": "INCONCLUSIVE"}.get(res["status"], res["status"])
    rounds = f" ({res['rounds']} rounds)" if res.get("rounds", 1) > 1 else ""
    return f"{word} {res['seconds']:.1f}s{rounds}"


def markdown(rep: dict) -> str:
    """``reports/mutants/<label>.md``: the matrix table, then how each mutant was killed."""
    suites = rep["suites"]
    lines = [f"# NVX kill matrix: {rep['label']}",
             "",
             f"Python {rep['interpreter'].split()[0]} "
             f"({'free-threaded' if rep['free_threaded'] else 'GIL'} build), mode "
             f"`{rep['mode']}`, autobahn {rep['autobahn']}, seed {rep['seed']}.",
             f"Corpora: {', '.join(rep.get('corpora') or ['built-in'])}.",
             f"Result: **{'OK' if rep['ok'] else 'FAILED: ' + '; '.join(rep['problems'])}**",
             f"Median time to kill {rep['median_time_to_kill']} s (target <= 10 s), slowest "
             f"{rep['max_time_to_kill']} s; whole matrix {rep['total_seconds']} s "
             f"(target <= 600 s).",
             "",
             "| mutant | category | " + " | ".join(suites) + " | verdict |",
             "|---|---|" + "---|" * len(suites) + "---|"]
    for m in rep["mutants"]:
        if not m["applicable"] or (m["note"] and not m["results"]):
            cells = ["n/a"] * len(suites)
            verdict = m["note"]
        else:
            cells = [_cell(m["results"].get(s)) for s in suites]
            if m["name"] == "control":
                statuses = {r["status"] for r in m["results"].values()}
                verdict = ("clean" if statuses <= {"passed"} else "clean where conclusive"
                           if statuses <= {"passed", "inconclusive"} else "CONTROL FAILED")
            else:
                verdict = f"killed in {m['time_to_kill']:.1f}s" if m["killed_by"] else "SURVIVED"
        lines.append(f"| `{m['name']}`{_from(m)} | {m['category']} | " + " | ".join(cells)
                     + f" | {verdict} |")
    if rep["missed_expectations"]:
        lines += ["", "Expected killers that missed: " + "; ".join(
            f"`{k}`: {', '.join(v)}" for k, v in rep["missed_expectations"].items())]
    lines += ["", "## How each mutant was killed", ""]
    for m in rep["mutants"]:
        for s, r in m["results"].items():
            if r["status"] != "passed":
                lines.append(f"### `{m['name']}` x {s}: {r['status']} in {r['seconds']}s")
                lines.append(f"test: `{r['test']}`  ")
                lines.append(f"log: `{r['log']}`")
                if r["detail"]:
                    lines += ["```", r["detail"].strip()[:3000], "```"]
                lines.append("")
    return "\n".join(lines) + "\n"


def _from(m: dict) -> str:
    """`` (from my.toml)`` for a mutant of a user's corpus."""
    origin = m.get("origin", "built-in")
    return "" if origin == "built-in" else f" (from {origin})"


def print_matrix(rep: dict, out=sys.stdout) -> None:
    """The matrix on the terminal."""
    suites = rep["suites"]
    w = max(len(m["name"]) for m in rep["mutants"]) + 2
    print(f"\nNVX kill matrix ({rep['label']}; corpora: "
          f"{', '.join(rep.get('corpora') or ['built-in'])}):", file=out)
    print("".ljust(w) + "".join(s.ljust(32) for s in suites), file=out)
    for m in rep["mutants"]:
        cells = (["n/a"] * len(suites) if not m["results"]
                 else [_cell(m["results"].get(s)) for s in suites])
        print(m["name"].ljust(w) + "".join(c.ljust(32) for c in cells), file=out)
    print(f"median time to kill: {rep['median_time_to_kill']} s (target <= 10 s); "
          f"slowest {rep['max_time_to_kill']} s; total {rep['total_seconds']} s "
          f"(target <= 600 s)", file=out)
    for note in rep.get("notes", ()):
        print(f"note: {note}", file=out)
    print("OK" if rep["ok"] else "FAILED: " + "; ".join(rep["problems"]), file=out)
