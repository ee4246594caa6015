"""JUnit XML of suite results (:mod:`nvx_ft.suites`), written from nvx-ft's own events
rather than by pytest, so tests that ran before a crash are reported too; and the one-line
headline of a pytest failure that JUnit's ``message`` and the gate's summaries show."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path


def headline(message: str) -> str:
    """One line for a table: the first ``E   `` line of a pytest report, else the first line."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    err = next((ln[1:].strip() for ln in lines if ln.startswith("E ")), None)
    return (err or (lines[0] if lines else ""))[:200]


def junit_testsuite(result) -> ET.Element:
    """A ``<testsuite>`` element for one suite, from its outcomes (a
    :class:`nvx_ft.suites.SuiteResult`)."""
    c = result.counts
    suite = ET.Element("testsuite", name=result.name, tests=str(len(result.tests) + c.get("not_run", 0)),
                       failures=str(c.get("failed", 0) + c.get("xpassed", 0)),
                       errors=str(c.get("error", 0) + c.get("crashed", 0) + c.get("timeout", 0)),
                       skipped=str(c.get("skipped", 0) + c.get("xfailed", 0) + c.get("not_run", 0)
                                   + c.get("inconclusive", 0)),
                       time=f"{result.duration:.3f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="status", value=result.status)
    if result.reason:
        ET.SubElement(props, "property", name="reason", value=result.reason)
    for o in result.tests:
        path, _, rest = o.nodeid.partition("::")
        case = ET.SubElement(suite, "testcase", classname=path.replace("/", ".").removesuffix(".py"),
                             name=rest or o.nodeid, file=path, time=f"{o.duration:.3f}")
        first = headline(o.message) or o.outcome
        if o.outcome in ("failed", "xpassed"):
            ET.SubElement(case, "failure", message=first).text = o.message
        elif o.outcome in ("error", "crashed", "timeout"):
            ET.SubElement(case, "error", message=first, type=o.outcome).text = o.message
        elif o.outcome in ("skipped", "xfailed"):
            ET.SubElement(case, "skipped", message=first)
        elif o.outcome == "inconclusive":  # not passed, not failed: JUnit's "skipped"
            message = o.message.strip().removeprefix("Skipped: ")
            ET.SubElement(case, "skipped", message=message.splitlines()[0][:300],
                          type="inconclusive").text = message
    if result.status == "not-run" and not result.tests:
        case = ET.SubElement(suite, "testcase", classname=result.name, name="not-run")
        ET.SubElement(case, "skipped", message=f"NOT RUN: {result.reason}")
    return suite


def write_junit(path: str | os.PathLike, suites: list[ET.Element]) -> None:
    root = ET.Element("testsuites")
    root.extend(suites)
    ET.indent(root)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
