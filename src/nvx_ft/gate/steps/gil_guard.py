"""``gil-guard``: ``nvx-ft gil-guard`` in the venv: importing NVX keeps the GIL disabled."""

from __future__ import annotations

import json
import subprocess

from nvx_ft import suites
from nvx_ft.errors import EXIT_BLOCKED, EXIT_FAIL, EXIT_PASS
from nvx_ft.gate.context import Check, GateContext


class GilGuard:
    name = "gil-guard"

    def run(self, ctx: GateContext, check: Check) -> None:
        # The venv's nvx-ft comes from --checkout, which may predate the command.
        has = ctx.venv.python_run("from nvx_ft.cli import COMMANDS; print('gil-guard' in COMMANDS)")
        if has.stdout.strip() != "True":
            check.summary = "not run: this nvx-ft has no gil-guard command (nvx_ft.gil_guard missing)"
            return
        log = ctx.logs / "gil-guard.txt"
        check.outputs.append(str(log))
        budget = ctx.budgets.suite
        try:
            out = subprocess.run([ctx.venv.python, "-m", "nvx_ft", "gil-guard", "--json"],
                                 capture_output=True, text=True, env=ctx.env,
                                 cwd=ctx.report_dir, timeout=budget)
        except subprocess.TimeoutExpired:
            check.status, check.summary = "timeout", f"no answer within {budget:.0f}s"
            return
        log.write_text(out.stdout + out.stderr, encoding="utf-8")
        gil_guard_outcome(check, out.returncode, out.stdout, out.stderr)


def gil_guard_outcome(check: Check, returncode: int, stdout: str, stderr: str) -> None:
    """Fill ``check`` from ``nvx-ft gil-guard --json``: 0 kept off, 1 enabled, 2 n/a."""
    text = (stdout + stderr).strip()
    last_line = text.splitlines()[-1] if text else ""
    check.details.append(text[-4000:])
    if returncode == EXIT_PASS:
        check.status = "passed"
        check.summary = f"importing NVX keeps the GIL disabled ({len(_entries(stdout))} modules)"
    elif returncode == EXIT_FAIL:
        _fill_failure(check, _entries(stdout), text)
    elif returncode == EXIT_BLOCKED:
        check.summary = "not run: " + (last_line or "not applicable")
    elif returncode < 0 or returncode > 3:
        check.status = "crashed"
        check.summary = f"gil-guard died ({suites._describe_exit(returncode)})"
        check.failures = [{"nodeid": "gil-guard", "message": text[-2000:]}]
    else:
        check.status = "failed"
        check.summary = f"gil-guard exited {returncode}: {last_line}"


def _entries(stdout: str) -> list:
    try:
        return json.loads(stdout)
    except ValueError:
        return []


def _fill_failure(check: Check, entries: list, text: str) -> None:
    """The modules whose import enabled the GIL (or failed), each a named failure."""
    check.status = "failed"
    bad = [e for e in entries if isinstance(e, dict) and e.get("status") in
           ("gil-enabled", "import-error")]
    if not bad:
        check.failures = [{"nodeid": "gil-guard", "message": text[-2000:]}]
        check.summary = "gil-guard failed: " + (text.splitlines()[-1] if text else "no output")
        return
    check.failures = [{"nodeid": f"gil-guard::{e.get('module')}",
                       "message": "; ".join(str(e[k]) for k in ("status", "culprit",
                                                                "culprit_file", "warning",
                                                                "detail") if e.get(k))}
                      for e in bad]
    first = bad[0]
    check.summary = (f"{first.get('status', 'failed')} on import of {first.get('module')}"
                     + (f": the GIL was enabled by {first['culprit']}"
                        if first.get("culprit") else ""))
