"""The gate's verdict and its reports: ``gate.json`` (schema ``nvx-ft.gate/2``),
``gate.md`` (also appended to ``$GITHUB_STEP_SUMMARY``) and ``gate.junit.xml``."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path

from nvx_ft import junit, suites
from nvx_ft.errors import EXIT_BLOCKED, EXIT_FAIL, EXIT_PASS
from nvx_ft.gate import contract, findings, recommend
from nvx_ft.gate.context import Check, Target
from nvx_ft.interpreters import Interpreter
from nvx_ft.paths import ROOT

SCHEMA = "nvx-ft.gate/2"
SCHEMA_FILE = Path(__file__).parents[1] / "schemas" / "gate-2.schema.json"
FAILING = ("failed", "crashed", "timeout")


def verdict_of(checks: list[Check]) -> tuple[str, int]:
    """A failing check fails the gate; anything else short of all passed is not a pass."""
    if any(c.status in FAILING for c in checks):
        return "fail", EXIT_FAIL
    if any(c.status != "passed" for c in checks):
        return "not-passed", EXIT_BLOCKED
    return "pass", EXIT_PASS


def write_reports(checks: list[Check], target: Target, interp: Interpreter,
                  installer: str | None, started: dt.datetime, report_dir: Path) -> dict:
    """Write the three reports (and the step summary); return ``gate.json``'s data."""
    checks, rec = with_recommendation(checks, target, interp)
    data = _report_data(checks, target, interp, installer, started)
    data["findings"] = findings.findings(checks)
    rec["open_bugs"] = findings.open_bugs(data["findings"])
    data["recommendation"] = rec
    (report_dir / "gate.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md = render_markdown(data)
    (report_dir / "gate.md").write_text(md, encoding="utf-8")
    contract.write_for_gate(data, report_dir)  # contract.md: what the evidence supports
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(md + "\n")
    junit.write_junit(report_dir / "gate.junit.xml",
                       [junit.junit_testsuite(c.suite or _as_suite_result(c)) for c in checks])
    return data


def with_recommendation(checks: list[Check], target: Target, interp) -> tuple[list[Check], dict]:
    """The Free Threading classifier the checks support (``recommend.py``) and the
    ``classifier`` check: failed when the wheel declares more than that."""
    declared = target.wheel.info.classifiers if target.wheel else None
    rec, c = recommend.for_gate([c.as_dict() for c in checks], interp.free_threaded, declared)
    return [*checks, Check(recommend.CHECK_NAME, c["status"], 0.0, c["summary"],
                           details=c["details"])], rec


def _report_data(checks, target, interp, installer, started) -> dict:
    verdict, code = verdict_of(checks)
    finished = dt.datetime.now(dt.timezone.utc)
    return {
        "schema": SCHEMA, "verdict": verdict, "exit_code": code,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "target": target.as_dict(),
        "interpreter": {**interp.as_dict(), "realpath": os.path.realpath(interp.executable)},
        "installer": installer,
        "host": {"platform": platform.platform(), "machine": platform.machine(),
                 "cpus": os.cpu_count()},
        "nvx_ft": {"version": _nvx_ft_version(), "commit": _git_commit()},
        "checks": [c.as_dict() for c in checks],
    }


def _nvx_ft_version() -> str | None:
    try:
        return importlib.metadata.version("nvx-ft")
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except OSError:
        return None


def _as_suite_result(c: Check) -> suites.SuiteResult:
    """A one-test suite for a check that is not a pytest run (install, static, gil-guard)."""
    outcome = c.status if c.status in FAILING + ("passed",) else None
    tests = [suites.TestOutcome(c.name, outcome, c.duration_s,
                                "\n".join([c.summary] + c.details))] if outcome else []
    counts = {k: sum(1 for t in tests if t.outcome == k) for k in suites.OUTCOMES}
    return suites.SuiteResult(c.name, c.status, counts, c.duration_s,
                              [(f["nodeid"], f["message"]) for f in c.failures],
                              reason=c.summary, tests=tests)


def render_table(data: dict) -> str:
    rows = [("#", "check", "status", "time", "summary")]
    for i, c in enumerate(data["checks"], 1):
        t = f"{c['duration_s']:.1f}s" if c["duration_s"] else ""
        rows.append((str(i), c["name"], c["status"].upper(), t, c["summary"][:150]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(x.ljust(w) for x, w in zip(row, widths)) + " |"

    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + [line(r) for r in rows[1:]])


def verdict_line(data: dict) -> str:
    counts: dict[str, int] = {}
    for c in data["checks"]:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    detail = ", ".join(f"{n} {s}" for s, n in counts.items())
    return f"VERDICT: {data['verdict'].upper()} ({detail}) -> exit {data['exit_code']}"


def render_markdown(data: dict) -> str:
    t, i = data["target"], data["interpreter"]
    lines = [f"# nvx-ft release gate: {data['verdict'].upper()}", "",
             f"- target: {t['kind']} `{t['spec']}` -> `{Path(t['wheel']).name if t['wheel'] else '-'}`"
             f" ({t.get('origin') or '-'}), sha256 `{(t.get('wheel_sha256') or '-')[:16]}`",
             f"- interpreter: `{i['executable']}` (`{i.get('realpath', '?')}`) CPython {i['version']} "
             f"{'free-threaded' if i['free_threaded'] else 'GIL'} ({i['source']})",
             f"- nvx-ft {data['nvx_ft']['version']} @ {(data['nvx_ft']['commit'] or '?')[:12]}, "
             f"{data['host']['platform']}, {data['duration_s']}s", "",
             render_table(data), "", f"**{verdict_line(data)}**", ""]
    for c in data["checks"]:
        if c["failures"]:
            lines.append(f"## {c['name']}: {len(c['failures'])} failure(s)")
            for f in c["failures"][:20]:
                lines += ["", f"### `{f['nodeid']}`", "", "```", f["message"][:3000], "```"]
            lines.append("")
    for c in data["checks"]:
        reached = [d for d in c["details"] if "\n    overlap: " in d]
        if reached:  # did the race checks' threads really run at once? (stress/README.md)
            lines += [f"<details><summary>{c['name']}: the overlap each race check "
                      f"reached</summary>", "", "```", *reached, "```", "</details>", ""]
    if "findings" in data:
        lines.append(findings.render_markdown(data["findings"]))
    if data.get("recommendation"):
        lines.append(recommend.render_markdown(data["recommendation"]))
    return "\n".join(lines)
