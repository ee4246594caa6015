"""The gate's **Findings**: the known divergences of autobahn's NVX
(``nvx_ft.divergences.KNOWN_DIVERGENCES``) that the build under test shows.

The evidence is the correctness suite's own pin: ``tests/test_known_divergences.py::
test_divergence_still_reproduces[<id>]`` passes only while the divergence is there. So a
finding is

* ``shown: true`` - its pin passed in this run: the build has it;
* ``shown: false`` - its pin failed: the build no longer behaves as recorded (fixed
  upstream?), and the correctness check fails with the reason;
* ``shown: null`` - no evidence: the pin did not run (correctness skipped, not run,
  stopped before it) or was skipped; the report says which.

A finding does not change the verdict: a known bug is on record, pinned and modelled, and
the differential suite holds the build to that model. It is reported so that a green gate
never hides an open upstream bug.
"""

from __future__ import annotations

from nvx_ft.divergences import KNOWN_DIVERGENCES
from nvx_ft.gate.context import Check

#: the name the correctness suite gives autobahn's NVX (``nvx_ft.target``)
TARGET_NAME = "autobahn-nvx"
PIN = "test_known_divergences.py::test_divergence_still_reproduces[{id}]"


def findings(checks: list[Check]) -> list[dict]:
    """One entry per known divergence of autobahn's NVX, with this run's evidence."""
    correctness = next((c for c in checks if c.name == "correctness"), None)
    tests = {t.nodeid: t.outcome for t in (correctness.suite.tests if correctness
                                            and correctness.suite else [])}
    out = []
    for d in KNOWN_DIVERGENCES:
        if TARGET_NAME not in d.targets:
            continue
        pin = PIN.format(id=d.id)
        nodeid = next((n for n in tests if n.endswith(pin)), None)
        outcome = tests.get(nodeid)
        if outcome == "passed":
            shown, evidence = True, f"{nodeid} passed: this build has it"
        elif outcome in ("failed", "error", "crashed", "timeout"):
            shown, evidence = False, (f"{nodeid} {outcome}: this build no longer behaves "
                                      f"as recorded (see the correctness failures)")
        elif outcome:
            shown, evidence = None, f"{nodeid} {outcome}: no evidence either way"
        else:
            status = correctness.status if correctness else "absent"
            shown, evidence = None, (f"not shown by this run: {pin} did not run "
                                     f"(correctness {status})")
        out.append({"id": d.id, "status": d.status, "shown": shown, "evidence": evidence,
                    "summary": d.summary, "impact": d.impact, "fix": d.fix,
                    "reproduce": d.reproduce, "reproduce_shows": d.reproduce_shows})
    return out


def open_bugs(found: list[dict]) -> list[str]:
    """Ids of the upstream bugs this build was shown to have."""
    return [f["id"] for f in found if f["shown"] and f["status"] == "bug"]


def count_line(found: list[dict]) -> str:
    """The terminal's one line."""
    shown = [f for f in found if f["shown"]]
    bugs = open_bugs(found)
    accepted = [f["id"] for f in shown if f["status"] != "bug"]
    parts = [f"{len(bugs)} known upstream bug(s)" + (f" ({', '.join(bugs)})" if bugs else ""),
             f"{len(accepted)} accepted divergence(s)"]
    unknown = [f["id"] for f in found if f["shown"] is None]
    if unknown:
        parts.append(f"{len(unknown)} not shown by this run")
    gone = [f["id"] for f in found if f["shown"] is False]
    if gone:
        parts.append(f"{len(gone)} no longer reproduced ({', '.join(gone)})")
    return "FINDINGS: " + ", ".join(parts) + " - gate.md, Findings"


def render_markdown(found: list[dict]) -> str:
    """gate.md's (and the step summary's) Findings section."""
    lines = ["## Findings", "",
             "Known divergences of autobahn's NVX from the RFC references "
             "(`nvx_ft.divergences`), as this run's correctness suite showed them. They do "
             "not change the verdict: each is pinned and modelled exactly.", ""]
    if not found:
        return "\n".join(lines + ["None on record.", ""])
    for f in found:
        state = {True: "shown by this build", False: "NOT reproduced by this build",
                 None: "not shown by this run"}[f["shown"]]
        kind = "upstream bug" if f["status"] == "bug" else "accepted"
        lines += [f"### `{f['id']}` ({kind}): {state}", "",
                  f"- what: {f['summary']}", f"- for autobahn's use: {f['impact']}",
                  f"- upstream fix: {f['fix']}", f"- evidence: {f['evidence']}",
                  f"- see it on the installed autobahn (prints `{f['reproduce_shows']}`):",
                  "", "```sh", f["reproduce"], "```", ""]
    return "\n".join(lines)
