"""The release-wide Free Threading classifier, from every cell's evidence (README, "The
release decision").

Each free-threaded cell of the release line (``cp314t`` x platform, from the manifest)
counts at the level its gate.json recommends (at most Beta: one gate run shows no more).
Then, for the release:

* a gate that failed on any cell (a check failed, crashed or timed out, the GIL came
  back, not a free-threaded interpreter): **no classifier**, do not ship - the cell is
  named;
* otherwise the lowest level of the cells with runtime evidence (a check not run or
  inconclusive lowers its cell to the last complete level, and so the release);
* **3 - Stable** needs, beside every cell at Beta: a gate.json for *every* free-threaded
  cell (a cell without one is named "no runtime evidence" and caps the release at
  Beta), ThreadSanitizer clean, the fileset check passing and the thread-safety contract
  documented (``--contract``);
* **4 - Resilient** needs objects safe to share without a lock: NVX's are not.

The wheels' declared Free Threading classifier (their METADATA, as the fileset check
read it) is compared with the decision: declaring more fails the decision.
"""

from __future__ import annotations

from pathlib import Path

from nvx_ft.decision.evidence import Evidence, GateRun
from nvx_ft.gate import contract, recommend
from nvx_ft.release.manifest import Manifest

FAILING = recommend.FAILING
NOT_A_SAFETY_CHECK = ("classifier",)  # compared release-wide below, not per gate

RULE = ("a cell (cp314t x platform) counts at the level its gate.json recommends (at most "
        "2 - Beta); none: a gate failed on any cell (do not ship); otherwise the lowest "
        "level of the cells with a gate run (a check not run or inconclusive lowers it); "
        "3 - Stable: also a gate run at Beta on every free-threaded cell (a cell without "
        "one has no runtime evidence and caps the release at Beta), ThreadSanitizer clean, "
        "the fileset check passing and the thread-safety contract documented (--contract); "
        "4 - Resilient: also objects safe to share without a lock (NVX's are not). Wheels "
        "declaring more than decided fail the decision.")


def gate_failed(run: GateRun) -> list[str]:
    """The checks that failed this gate run (the classifier check aside)."""
    bad = [f"{n} {s}" for n, s in run.checks.items()
           if s in FAILING and n not in NOT_A_SAFETY_CHECK]
    if not run.free_threaded:
        bad.append("not a free-threaded interpreter")
    return bad


def cells_of(ev: Evidence, manifest: Manifest, line: str | None) -> list[dict]:
    chosen = manifest.line_for(ev.version, line)
    fileset_cells = {c["id"]: c for c in (ev.fileset or {}).get("cells", [])}
    out = []
    for interp, plat, req in manifest.cells(chosen):
        if not interp.free_threaded:
            continue
        cid = f"{interp.id}/{plat}"
        runs = [g for g in ev.gates if g.cell == cid]
        failed = {str(g.path): gate_failed(g) for g in runs if gate_failed(g)}
        fs = fileset_cells.get(cid)
        cell = {"id": cid, "interpreter": interp.id, "platform": plat, "requirement": req,
                "fileset": fs["status"] if fs else None,
                "gates": [{"path": str(g.path), "wheel": g.wheel, "verdict": g.verdict,
                           "level": g.level, "label": g.label, "checks": g.checks,
                           "reasons": g.reasons} for g in runs]}
        if failed:
            cell.update(status="failed", level=0, summary="; ".join(
                f"gate failed ({', '.join(v)}) in {k}" for k, v in failed.items()))
        elif not runs:
            cell.update(status="no runtime evidence", level=None,
                        summary="no gate.json for this cell in the evidence")
        else:
            low = min(runs, key=lambda g: g.level)
            cell.update(level=low.level, status="passed" if low.level >= 2 else "lowered",
                        summary=f"gate recommends {low.label}" + (
                            f" ({'; '.join(low.reasons)})" if low.level < 2 and low.reasons
                            else "") + (f"; lowest of {len(runs)} gate runs"
                                        if len(runs) > 1 else ""))
        out.append(cell)
    return out


def tsan_item(ev: Evidence) -> dict:
    if not ev.tsan:
        return {"check": "tsan", "status": "absent", "where": "sanitize.json",
                "summary": "no ThreadSanitizer evidence (sanitize.json of `nvx-ft sanitize "
                           "tsan --report-json`, the nightly or release-gate tsan job)"}
    bad = [(p, d) for p, d in ev.tsan if d.get("verdict") != "clean"]
    if not bad:
        return {"check": "tsan", "status": "passed", "where": ", ".join(str(p) for p, _ in ev.tsan),
                "summary": "ThreadSanitizer clean: " + ", ".join(
                    f"{s['name']} {s['status']}" for _, d in ev.tsan for s in d.get("suites", []))}
    p, d = bad[0]
    status = "failed" if d.get("verdict") == "not-clean" else "not-run"
    detail = "; ".join(d.get("problems") or []) or "; ".join(
        f"{s['name']} {s['status']}: {s.get('detail', '')[:300]}" for s in d.get("suites", [])
        if s["status"] != "passed")
    return {"check": "tsan", "status": status, "where": str(p),
            "summary": f"ThreadSanitizer {d.get('verdict')}: {detail or 'no detail'}"}


def fileset_item(ev: Evidence) -> dict:
    fs = ev.fileset
    if fs is None:
        return {"check": "fileset", "status": "absent", "where": "fileset.json",
                "summary": "no fileset check of the release (`nvx-ft fileset DIR --json-out "
                           "fileset.json`)"}
    if fs.get("verdict") == "pass":
        return {"check": "fileset", "status": "passed", "where": str(ev.fileset_path),
                "summary": f"every required cell present (line {fs.get('line', {}).get('name')})"}
    failing = fs.get("failing_cells") or []
    return {"check": "fileset", "status": "failed", "where": str(ev.fileset_path),
            "summary": "required cells not present: " + (", ".join(failing) or "sdist")}


def contract_item(given: str | None) -> dict:
    if not given:
        return {"check": "contract", "status": "absent", "where": "--contract",
                "summary": "no documented thread-safety contract (--contract URL_OR_FILE: "
                           "where the release documents contract.md's key sentences)"}
    if given.startswith(("http://", "https://")):
        return {"check": "contract", "status": "passed", "where": given,
                "summary": f"documented at {given} (a URL is recorded as given, not fetched)"}
    path = Path(given)
    if not path.is_file():
        return {"check": "contract", "status": "absent", "where": given,
                "summary": f"--contract {given}: no such file"}
    missing = contract.missing_sentences(path.read_text(encoding="utf-8", errors="replace"))
    if missing:
        return {"check": "contract", "status": "failed", "where": given,
                "summary": f"{given} does not state: " + " | ".join(missing)}
    return {"check": "contract", "status": "passed", "where": given,
            "summary": f"{given} states every key sentence of the contract"}


def decide(ev: Evidence, manifest: Manifest, *, line: str | None = None,
           contract_given: str | None = None) -> dict:
    """The decision's data (``decision.json`` without the outer fields)."""
    cells = cells_of(ev, manifest, line)
    failed = [c for c in cells if c["status"] == "failed"]
    evidenced = [c for c in cells if c["level"] is not None]
    bare = [c for c in cells if c["status"] == "no runtime evidence"]
    levels, reasons = [], []
    cell_items = {lv: [{"check": f"gate {c['id']}",
                        "status": "passed" if c["level"] >= lv else (
                            "failed" if c["status"] == "failed" else "lowered"),
                        "where": ", ".join(g["path"] for g in c["gates"]),
                        "summary": c["summary"]} for c in evidenced] for lv in (1, 2)}
    for lv in (1, 2):
        items = cell_items[lv] or [{"check": "runtime evidence", "status": "absent",
                                    "where": "gate.json", "summary": "no gate.json for any "
                                    "free-threaded cell"}]
        levels.append({"level": lv, "label": recommend.LABELS[lv], "items": items})
    items3 = [{"check": f"gate {c['id']}", "status": "absent",
               "where": f"gate.json of a {c['id']} wheel",
               "summary": "no runtime evidence: no gate.json for this cell"} for c in bare]
    items3 += [tsan_item(ev), fileset_item(ev), contract_item(contract_given)]
    levels.append({"level": 3, "label": recommend.LABELS[3], "items": items3})
    levels.append({"level": 4, "label": recommend.LABELS[4], "items": [
        {"check": "sharing", "status": "failed", "where": "stress/README.md",
         "summary": recommend.NVX_SHARING}]})

    chosen = 0
    if failed:
        reasons.append("a gate failed on " + ", ".join(c["id"] for c in failed)
                       + ": no classifier, do not ship the free-threaded wheels")
    for lv in levels:
        bad = [i for i in lv["items"] if i["status"] != "passed"]
        lv["shown"] = not bad and not failed and chosen == lv["level"] - 1
        lv["missing"] = bad
        if lv["shown"]:
            chosen = lv["level"]
        elif not failed and chosen == lv["level"] - 1:
            reasons.append(f"not {lv['label']}: " + "; ".join(
                f"{i['check']}: {i['status']} - {i['summary']} [{i['where']}]" for i in bad))
    failures = [c["id"] for c in failed] + [
        f"{i['check']} {i['status']}" for i in levels[2]["items"]
        if i["status"] == "failed" and i["check"] in ("tsan", "fileset")]
    rec = {"level": chosen, "label": recommend.LABELS.get(chosen, "none"),
           "classifier": recommend.classifier(chosen), "reasons": reasons}
    declared = _declared(ev)
    rec["declared"] = recommend.compare(rec, declared) if declared is not None else None
    if rec["declared"] and rec["declared"]["status"] == "failed":
        failures.append("declared classifier: " + rec["declared"]["verdict"])
    return {**rec, "cells": cells, "levels": levels, "failures": failures,
            "line": manifest.line_for(ev.version, line).name,
            "contract_evidence": {c["id"]: c["gates"][0]["checks"] for c in evidenced}}


def _declared(ev: Evidence) -> list[str] | None:
    """The Free Threading classifiers the release's wheels declare (from the fileset
    check's METADATA reading); None when unknown."""
    ft = (ev.fileset or {}).get("free_threading") or {}
    if ft.get("by") == "metadata":
        return sorted(ft.get("classifiers") or {})
    return None if ev.fileset is None or ft.get("by") == "flag" else []
