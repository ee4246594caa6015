"""The decision's reports: ``decision.json`` (schema ``nvx-ft.decision/1``,
``schemas/decision-1.schema.json``), ``decision.md`` (also appended to
``$GITHUB_STEP_SUMMARY``), ``contract.md`` and the terminal's lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nvx_ft.gate import contract

SCHEMA = "nvx-ft.decision/1"
SCHEMA_FILE = Path(__file__).parents[1] / "schemas" / "decision-1.schema.json"
#: gate checks shown in the cell table, in the gate's order
TABLE_CHECKS = ("install", "static", "gil-guard", "correctness", "stress", "protocol")
MARK = {"passed": "ok", "failed": "FAILED", "crashed": "CRASHED", "timeout": "TIMEOUT",
        "not-run": "not run", "inconclusive": "inconclusive", "absent": "-"}


def write(data: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "decision.json", out / "decision.md", out / "contract.md"]
    paths[0].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md = render_markdown(data)
    paths[1].write_text(md, encoding="utf-8")
    paths[2].write_text(contract.render(
        f"Thread-safety contract of NVX in {data['project']} {data['version']}",
        data["contract_evidence"],
        [f"evidence: `nvx-ft decide` over {len(data['contract_evidence'])} free-threaded "
         f"cell(s) with a gate run; decided {data['label']}"]), encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(md + "\n")
    return paths


def _headline(data: dict) -> str:
    if data["classifier"]:
        return f"`{data['classifier']}`"
    return "no Free Threading classifier: do not ship the free-threaded wheels"


def _cell_row(data: dict, cell: dict) -> list[str]:
    gate = cell["gates"][0]["checks"] if cell["gates"] else {}
    checks = [MARK.get(gate.get(n, "absent"), gate.get(n, "-")) if gate else "-"
              for n in TABLE_CHECKS]
    tsan = next(i for i in data["levels"][2]["items"] if i["check"] == "tsan")["status"]
    level = cell["gates"] and (cell["level"] and f"{cell['level']}" or "none")
    return [f"`{cell['id']}`", cell["fileset"] or "-", *checks,
            MARK.get(tsan, tsan) + " (release-wide)" if tsan != "absent" else "-",
            level or "**no runtime evidence**", cell["status"]]


def render_markdown(data: dict) -> str:
    lines = [f"# nvx-ft release decision: {data['project']} {data['version']}: "
             f"{data['label']}", "",
             f"The evidence supports {_headline(data)}. Verdict **{data['verdict'].upper()}**"
             f" (exit {data['exit_code']}; required {data['required_label']}).", "",
             f"Manifest `{data['manifest']}`, line `{data['line']}`; evidence from "
             f"{', '.join(f'`{d}`' for d in data['inputs'])}.", "",
             "| cell | fileset | " + " | ".join(TABLE_CHECKS) + " | TSan | level | status |",
             "|" + "---|" * (len(TABLE_CHECKS) + 5)]
    for cell in data["cells"]:
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in _cell_row(data, cell))
                     + " |")
    lines += ["", "| level | reached | what is missing, and where |", "|---|---|---|"]
    for lv in data["levels"]:
        missing = "<br>".join(f"{i['check']}: {i['status']} - {i['summary'][:240]} "
                              f"[{i['where']}]" for i in lv["missing"]) or "-"
        lines.append(f"| {lv['label']} | {'yes' if lv['shown'] else 'no'} | "
                     + missing.replace("|", "\\|") + " |")
    lines.append("")
    if data["failures"]:
        lines += ["Failed: " + ", ".join(data["failures"]), ""]
    if data["reasons"]:
        lines += ["Why not higher:", ""] + [f"- {r}" for r in data["reasons"]] + [""]
    if data.get("declared"):
        d = data["declared"]
        lines += [f"Wheels: {'**FAILED**: ' if d['status'] == 'failed' else ''}"
                  f"{d['summary']}", ""]
    lines += [f"- {n}" for n in data["notes"]] + ([""] if data["notes"] else [])
    lines += [f"Rule: {data['rule']}", ""]
    return "\n".join(lines)


def render_text(data: dict) -> str:
    out = [f"DECISION: {data['project']} {data['version']}: "
           + (data["classifier"] or "no Free Threading classifier (do not ship the "
                                    "free-threaded wheels)")]
    for cell in data["cells"]:
        out.append(f"  {cell['id']:<28} {cell['status']:<20} {cell['summary'][:150]}")
    for lv in data["levels"]:
        out.append(f"  {lv['label']:<13} {'reached' if lv['shown'] else 'not reached'}")
        out += [f"      missing: {i['check']}: {i['status']} - {i['summary'][:200]} "
                f"[{i['where']}]" for i in lv["missing"]]
    out += [f"  note: {n}" for n in data["notes"]]
    out.append(f"VERDICT: {data['verdict'].upper()} -> exit {data['exit_code']}")
    return "\n".join(out)
