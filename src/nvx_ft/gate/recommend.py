"""Which ``Programming Language :: Python :: Free Threading :: N - ...`` classifier a
gate run's evidence supports, by a fixed rule (README, "The classifier the gate
recommends"), and whether the wheel under test claims more.

:func:`recommend` is a pure function of the gate's checks (``gate.json``'s ``checks``),
its interpreter and optional outside evidence; :func:`compare` of the recommendation and
the classifiers the wheel declares. The rule, level by level, each needing the one
below:

* **none** - a check failed, crashed or timed out (the gate fails), the run was not on a
  free-threaded CPython, or importing autobahn re-enabled the GIL: declare no Free
  Threading classifier and do not ship the free-threaded wheel.
* **1 - Unstable** - install, static, gil-guard and correctness passed on a
  free-threaded CPython: the wheel installs, keeps the GIL off and is exact.
* **2 - Beta** - also stress and protocol passed: exact while hammered from many
  threads, and autobahn's own servers and clients in threads stay correct.
* **3 - Stable** - also ThreadSanitizer clean and the nightly passing on every
  supported platform. One gate run, on one platform without TSan, cannot show this:
  without that evidence the recommendation stops at Beta and says "not shown by this
  run".
* **4 - Resilient** - also the objects documented safe to share between threads
  without a lock. NVX's are not (``stress/README.md``: one validator or masker used by
  several threads at once loses updates; the contract is one thread at a time), so
  never for NVX as it is.

A check that did not run (skipped, nothing to run, after a failed install) or that is
inconclusive lowers the recommendation to the last level whose evidence is complete,
and the reasons name it. ``benchmark-smoke`` is no thread-safety evidence: failing it
fails the gate (so: none), not running it lowers nothing.
"""

from __future__ import annotations

from nvx_ft import overlap

CLASSIFIER_PREFIX = "Programming Language :: Python :: Free Threading :: "
LABELS = {1: "1 - Unstable", 2: "2 - Beta", 3: "3 - Stable", 4: "4 - Resilient"}
FAILING = ("failed", "crashed", "timeout")

#: level -> the gate checks it needs (beside those of the levels below)
LEVEL_CHECKS = {1: ("install", "static", "gil-guard", "correctness"),
                2: ("stress", "protocol"), 3: (), 4: ()}
#: checks that are evidence for no level
NO_EVIDENCE = ("benchmark-smoke",)

RULE = ("none: a check failed, the run was not on a free-threaded CPython or the imports "
        "re-enabled the GIL; 1 - Unstable: install, static, gil-guard and correctness "
        "passed on a free-threaded CPython; 2 - Beta: also stress and protocol passed; "
        "3 - Stable: also ThreadSanitizer clean and the nightly passing on every supported "
        "platform (not shown by one gate run: capped at Beta without that evidence); "
        "4 - Resilient: also objects documented safe to share between threads without a "
        "lock (NVX's are not: stress/README.md). A check not run or inconclusive stops the "
        "recommendation at the last level whose evidence is complete.")

NVX_SHARING = ("stress/README.md: one NVX validator or masker used by several threads at "
               "once loses updates (memory-safe but wrong); the contract is one thread at "
               "a time")


def classifier(level: int) -> str | None:
    return CLASSIFIER_PREFIX + LABELS[level] if level else None


def level_of(text: str) -> int | None:
    """``...Free Threading :: 2 - Beta`` (or ``2 - Beta``) -> 2; None if not one."""
    tail = text[len(CLASSIFIER_PREFIX):] if text.startswith(CLASSIFIER_PREFIX) else text
    tail = " ".join(tail.split())
    for level, label in LABELS.items():
        if tail == label:
            return level
    return None


def recommend(checks: list[dict], free_threaded: bool, *,
              evidence: dict | None = None) -> dict:
    """The classifier ``checks`` (``gate.json``'s list: name, status, summary) support.

    ``evidence`` (optional, from outside this run): ``{"tsan": {"clean": bool, "source":
    str}, "platforms": {"required": [...], "passed": [...], "source": str},
    "sharing_safe": {"documented": bool, "source": str}}``.
    Returns ``{"level", "label", "classifier", "rule", "reasons", "levels"}``; ``levels``
    holds, per level, whether it is shown and the evidence for and against it.
    """
    by_name = {c["name"]: {**c, "status": effective_status(c)} for c in checks}
    evidence = evidence or {}
    reasons: list[str] = []

    def item(name: str) -> dict:
        c = by_name.get(name)
        if c is None:
            return {"check": name, "status": "absent",
                    "summary": "this gate run has no such check"}
        return {"check": name, "status": c["status"], "summary": c.get("summary", "")}

    failing = [c for c in by_name.values() if c["status"] in FAILING]
    levels = []
    # level 1 and 2: this run's checks
    for level in (1, 2):
        items = [item(n) for n in LEVEL_CHECKS[level]]
        if level == 1:
            items.insert(0, {"check": "interpreter", "status": "passed" if free_threaded
                             else "failed", "summary": "free-threaded CPython" if free_threaded
                             else "not a free-threaded CPython: nothing shown about 3.14t"})
        levels.append({"level": level, "label": LABELS[level], "items": items})
    # level 3: outside evidence
    tsan, plats = evidence.get("tsan"), evidence.get("platforms")
    items3 = [
        {"check": "tsan", "status": ("passed" if tsan["clean"] else "failed") if tsan
         else "not-shown",
         "summary": (f"ThreadSanitizer {'clean' if tsan['clean'] else 'NOT clean'} "
                     f"({tsan.get('source', 'evidence')})") if tsan
         else "ThreadSanitizer clean: not shown by this run (the gate runs no TSan build)"},
        {"check": "platforms", "status": _platform_status(plats),
         "summary": _platform_summary(plats)},
    ]
    levels.append({"level": 3, "label": LABELS[3], "items": items3})
    sharing = evidence.get("sharing_safe")
    items4 = [{"check": "sharing",
               "status": "passed" if sharing and sharing.get("documented") else "failed",
               "summary": (f"objects documented safe to share without a lock "
                           f"({sharing.get('source', 'evidence')})")
               if sharing and sharing.get("documented") else
               (sharing or {}).get("source") or NVX_SHARING}]
    levels.append({"level": 4, "label": LABELS[4], "items": items4})

    chosen = 0
    if failing:
        names = ", ".join(f"{c['name']} {c['status']}" for c in failing)
        reasons.append(f"the gate fails ({names}): no classifier, do not ship the "
                       "free-threaded wheel")
    gil = by_name.get("gil-guard")
    if gil is not None and gil["status"] in FAILING:
        reasons.append("importing autobahn re-enabled the GIL or failed (gil-guard): "
                       + (gil.get("summary") or gil["status"]))
    if not free_threaded:
        reasons.append("the run was not on a free-threaded CPython: it shows nothing "
                       "about free-threading")
    for lv in levels:
        bad = [i for i in lv["items"] if i["status"] != "passed"]
        lv["shown"] = not bad and not failing and free_threaded and chosen == lv["level"] - 1
        if lv["shown"]:
            chosen = lv["level"]
            continue
        if not failing and free_threaded and chosen == lv["level"] - 1:
            reasons.append(f"not {lv['label']}: " + "; ".join(
                f"{i['check']}: {_why(i)}" for i in bad))
    for name in NO_EVIDENCE:
        c = by_name.get(name)
        if c is not None and c["status"] == "not-run":
            reasons.append(f"{name} not run (no thread-safety evidence: lowers nothing)")
    return {"level": chosen, "label": LABELS.get(chosen, "none"),
            "classifier": classifier(chosen), "rule": RULE, "reasons": reasons,
            "levels": levels}


def effective_status(check: dict) -> str:
    """A check's status for the rule: a failed suite whose every failure is an
    inconclusive race check (the threads did not overlap enough to prove anything,
    ``nvx_ft.overlap``) is ``inconclusive`` - no evidence either way - not a failure.
    (The gate's suite steps already report such a run as ``inconclusive``.)"""
    failures = check.get("failures") or []
    if check["status"] == "failed" and overlap.only_inconclusive(
            [f.get("message", "") for f in failures]):
        return "inconclusive"
    return check["status"]


def _why(item: dict) -> str:
    status = item["status"]
    if status in ("not-shown", "absent"):
        return item["summary"] if status == "not-shown" else "absent from this run"
    if status == "not-run":
        return f"not run ({item['summary'] or 'no reason given'})"
    if status == "inconclusive":
        return ("inconclusive: the threads did not race enough to prove anything "
                f"(no evidence either way; {item['summary'] or 'see its failures'})")
    return f"{status}: {item['summary']}" if item["summary"] else status


def _platform_status(plats: dict | None) -> str:
    if not plats:
        return "not-shown"
    missing = set(plats.get("required", [])) - set(plats.get("passed", []))
    return "passed" if plats.get("required") and not missing else "failed"


def _platform_summary(plats: dict | None) -> str:
    if not plats:
        return ("nightly on every supported platform: not shown by this run (one gate run "
                "covers one platform)")
    missing = sorted(set(plats.get("required", [])) - set(plats.get("passed", [])))
    src = plats.get("source", "evidence")
    if not plats.get("required"):
        return f"no supported platforms listed ({src})"
    if missing:
        return f"nightly not passing on {', '.join(missing)} ({src})"
    return f"nightly passing on {', '.join(sorted(plats['required']))} ({src})"


def compare(rec: dict, declared: list[str]) -> dict:
    """The wheel's declared Free Threading classifiers against the recommendation:
    ``{"status": "passed"|"failed", "verdict": "over-claims"|"matches"|"under-claims"|
    "none-declared", "summary", "declared"}``. Claiming more than the evidence supports
    fails; claiming less, or nothing, is a note."""
    levels = [(level_of(c), c) for c in declared]
    unknown = [c for lv, c in levels if lv is None]
    known = [lv for lv, _ in levels if lv is not None]
    have = rec["label"] if rec["level"] else "no classifier"
    out = {"declared": list(declared)}
    if unknown:
        out.update(status="failed", verdict="unknown",
                   summary=f"METADATA declares an unknown Free Threading classifier: "
                           f"{'; '.join(unknown)}")
        return out
    if not known:
        out.update(status="passed", verdict="none-declared",
                   summary=f"note: the wheel declares no Free Threading classifier; the "
                           f"evidence supports {have}")
        return out
    claimed = max(known)
    why = "; ".join(rec["reasons"]) or "see the rule"
    if claimed > rec["level"]:
        out.update(status="failed", verdict="over-claims",
                   summary=f"the wheel declares '{LABELS[claimed]}' but this run's evidence "
                           f"supports {have}: {why}")
    elif claimed < rec["level"]:
        out.update(status="passed", verdict="under-claims",
                   summary=f"note: the wheel declares '{LABELS[claimed]}', the evidence "
                           f"supports '{rec['label']}'")
    else:
        out.update(status="passed", verdict="matches",
                   summary=f"the wheel declares '{LABELS[claimed]}', as the evidence supports")
    if len(set(known)) > 1:
        out["summary"] += f" (it declares {len(set(known))} different levels)"
    return out


# --------------------------------------------------------------------------- the gate's use

CHECK_NAME = "classifier"


def for_gate(checks: list[dict], free_threaded: bool, declared: list[str] | None,
             evidence: dict | None = None) -> tuple[dict, dict]:
    """``gate.json``'s ``recommendation`` object and the ``classifier`` check (as a dict:
    status, summary, details): the recommendation from ``checks``, compared with the
    Free Threading classifiers the wheel under test declares (``None``: no wheel read)."""
    rec = recommend(checks, free_threaded, evidence=evidence)
    if declared is None:
        rec["declared"] = {"declared": None, "verdict": "unknown",
                           "status": "not-run",
                           "summary": "not run: no wheel was read, so no METADATA to compare"}
    else:
        rec["declared"] = compare(rec, declared)
    check = {"status": rec["declared"]["status"], "summary": rec["declared"]["summary"],
             "details": [f"recommended: {rec['classifier'] or 'no Free Threading classifier'}",
                         *rec["reasons"], f"rule: {rec['rule']}"]}
    return rec, check


def _evidence_text(lv: dict) -> str:
    return "; ".join(f"{i['check']} {i['status']}" + (
        f" ({i['summary'][:160]})" if i["status"] != "passed" and i["summary"] else "")
        for i in lv["items"])


def render_text(rec: dict) -> str:
    """The terminal's lines: the recommendation, the evidence per level, the comparison."""
    head = rec["classifier"] or "no Free Threading classifier (do not ship the cp314t wheel)"
    out = [f"RECOMMENDATION: {head}"]
    for lv in rec["levels"]:
        out.append(f"  {lv['label']:<13} {'shown' if lv['shown'] else 'not shown':<9}  "
                   + _evidence_text(lv))
    out += [f"  why: {r}" for r in rec["reasons"]]
    if rec.get("open_bugs"):
        out.append(f"  note: {_open_bugs_text(rec['open_bugs'])}")
    d = rec.get("declared")
    if d:
        out.append(f"  wheel: {d['summary']}")
    return "\n".join(out)


def render_markdown(rec: dict) -> str:
    """gate.md's (and the step summary's) closing section."""
    head = (f"`{rec['classifier']}`" if rec["classifier"]
            else "no Free Threading classifier: do not ship the free-threaded wheel")
    lines = [f"## Free-threading classifier: {rec['label']}", "",
             f"This run's evidence supports {head}.", "",
             "| level | shown | evidence |", "|---|---|---|"]
    for lv in rec["levels"]:
        ev = "<br>".join(f"{i['check']}: {i['status']}" + (
            f" - {i['summary'][:200]}" if i["summary"] else "") for i in lv["items"])
        lines.append(f"| {lv['label']} | {'yes' if lv['shown'] else 'no'} | "
                     + ev.replace("|", "\\|") + " |")
    lines.append("")
    if rec["reasons"]:
        lines += ["Why not higher:", ""] + [f"- {r}" for r in rec["reasons"]] + [""]
    if rec.get("open_bugs"):
        lines += [f"Note: {_open_bugs_text(rec['open_bugs'])}", ""]
    d = rec.get("declared")
    if d:
        mark = "**FAILED**: " if d["status"] == "failed" else ""
        lines += [f"Wheel: {mark}{d['summary']}", ""]
    lines += [f"Rule: {rec['rule']}", ""]
    return "\n".join(lines)


def _open_bugs_text(ids: list[str]) -> str:
    return (f"this build has {len(ids)} open upstream NVX bug(s) ({', '.join(ids)}; see "
            "Findings): a classifier is about thread safety and says nothing about them")
