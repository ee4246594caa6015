"""The thread-safety contract the evidence supports, as Markdown for autobahn's docs
(``contract.md`` next to ``gate.md``, and next to ``decision.md``).

The facts come from ``stress/README.md`` ("Sharing one object between threads: the
contract") and from how autobahn's protocol drives NVX (one validator per connection, a
masker per frame). Each statement names the checks that show it; a statement whose
checks did not pass is listed as *not shown*, never stated. The three
:data:`KEY_SENTENCES` are the contract itself: a release document that states them
(:func:`missing_sentences`) documents what the evidence supports - ``nvx-ft decide
--contract FILE`` checks for them.
"""

from __future__ import annotations

import re
from pathlib import Path

#: name -> (the sentence, the gate checks that must have passed to state it)
STATEMENTS = {
    "one-thread-at-a-time": (
        "Each NVX Utf8Validator and XOR masker may be used by one thread at a time; "
        "handing it to another thread, or sharing it behind a lock, is exact.",
        ("stress",)),
    "no-unlocked-sharing": (
        "Calling one Utf8Validator or XOR masker from several threads at the same time "
        "without a lock is not supported: it stays memory-safe but loses updates.",
        ("stress",)),
    "protocol": (
        "autobahn's WebSocket protocol uses one Utf8Validator per connection and a new "
        "XOR masker per frame, so connections served in different threads share no NVX "
        "object.",
        ("protocol",)),
}
KEY_SENTENCES = tuple(sentence for sentence, _ in STATEMENTS.values())

DETAILS = {
    "one-thread-at-a-time": "separate objects in separate threads are exact at every "
                            "thread count tried; an object may change threads, be freed "
                            "from another thread, or be shared under a lock "
                            "(stress/: per-thread objects, churn, handover, shared under "
                            "a lock)",
    "no-unlocked-sharing": "without a lock, `pointer()` and the validator's indices lose "
                           "updates, frames get unmasked from the wrong phase and valid "
                           "UTF-8 can be rejected; no crash, hang or out-of-bounds write "
                           "was ever seen (stress/README.md, \"Sharing one object between "
                           "threads: the contract\")",
    "protocol": "autobahn servers and clients in 1-4 threads with many connections each, "
                "judged by the websockets library in its own process (protocol/)",
}
GIL_SENTENCE = "Importing autobahn's NVX modules keeps the GIL disabled."


def _norm(text: str) -> str:
    """Case, whitespace, Markdown emphasis and code marks do not matter."""
    return " ".join(re.sub(r"[`*_]", "", text).lower().split())


def missing_sentences(text: str) -> list[str]:
    """The key sentences a release document does not state."""
    have = _norm(text)
    return [s for s in KEY_SENTENCES if _norm(s) not in have]


def render(title: str, evidence: dict[str, dict[str, str]], notes: list[str] = ()) -> str:
    """The contract as Markdown. ``evidence``: cell (e.g. ``cp314t/linux-x86_64``) ->
    gate check name -> status. A statement is made when its checks passed on at least
    one cell and failed on none; the cells it stands on are named."""
    shown, not_shown = [], []
    gil_cells = _cells_where(evidence, ("gil-guard",))
    for name, (sentence, needs) in STATEMENTS.items():
        cells = _cells_where(evidence, needs)
        failing = [c for c, checks in evidence.items()
                   if any(checks.get(n) in ("failed", "crashed", "timeout") for n in needs)]
        if cells and not failing:
            shown.append((name, sentence, cells))
        else:
            why = (f"{', '.join(needs)} failed on {', '.join(failing)}" if failing
                   else f"{', '.join(needs)} passed on no cell")
            not_shown.append((name, why))
    lines = [f"# {title}", ""]
    if gil_cells:
        lines += [f"{GIL_SENTENCE} (gil-guard passed on {', '.join(gil_cells)}.)", ""]
    if shown:
        lines += ["## The contract", ""]
        for name, sentence, cells in shown:
            lines += [f"- **{sentence}**", f"  Evidence: {DETAILS[name]}; passed on "
                      f"{', '.join(cells)}.", ""]
    else:
        lines += ["No thread-safety contract can be stated from this evidence.", ""]
    if not_shown:
        # named, not quoted: a document quoting this section must not pass --contract
        lines += ["## Not shown by this evidence", ""]
        lines += [f"- not stated: {name.replace('-', ' ')} ({why})"
                  for name, why in not_shown] + [""]
    lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    lines += ["Not thread-safe in the sense of the *4 - Resilient* classifier: misuse "
              "(sharing without a lock) gives wrong results instead of raising.", ""]
    return "\n".join(lines)


def _cells_where(evidence: dict[str, dict[str, str]], needs: tuple[str, ...]) -> list[str]:
    return [c for c, checks in evidence.items() if all(checks.get(n) == "passed"
                                                       for n in needs)]


def gate_cell_checks(data: dict) -> dict[str, str]:
    """A gate.json's check statuses by name."""
    return {c["name"]: c["status"] for c in data.get("checks", [])}


def write_for_gate(data: dict, report_dir: Path) -> Path:
    """``contract.md`` of one gate run (its wheel is the one cell)."""
    wheel = (data.get("target") or {}).get("wheel")
    cell = Path(wheel).name if wheel else (data.get("target") or {}).get("spec", "this run")
    md = render("Thread-safety contract of NVX supported by this gate run",
                {cell: gate_cell_checks(data)},
                ["one gate run covers one platform; the release-wide contract comes from "
                 "`nvx-ft decide` over every platform's gate.json"])
    path = report_dir / "contract.md"
    path.write_text(md, encoding="utf-8")
    return path
