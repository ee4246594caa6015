"""``static``: ``nvx-ft inspect``'s findings on the wheel, without installing it."""

from __future__ import annotations

from nvx_ft.gate.context import Check, GateContext


class Static:
    name = "static"

    def run(self, ctx: GateContext, check: Check) -> None:
        findings = ctx.target.wheel.info.findings
        errors = [f for f in findings if f.severity == "error"]
        warnings = [f for f in findings if f.severity == "warning"]
        check.status = "failed" if errors else "passed"
        check.counts = {"ok": len(findings) - len(errors) - len(warnings),
                        "warning": len(warnings), "error": len(errors)}
        check.failures = [{"nodeid": f"inspect::{f.check}", "message": f.message} for f in errors]
        check.details = [f"{f.severity}: {f.check}: {f.message}" for f in findings]
        check.summary = (f"{check.counts['ok']} ok, {len(warnings)} warning(s), "
                         f"{len(errors)} error(s)"
                         + (f": {errors[0].message}" if errors else
                            f" ({warnings[0].check})" if warnings else ""))
