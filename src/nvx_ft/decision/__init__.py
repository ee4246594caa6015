"""``nvx-ft decide DIR...``: one release's Free Threading classifier from all its evidence.

    nvx-ft decide artifacts/ [--contract URL_OR_FILE] [--require LEVEL] [--out DIR]

Reads every platform's ``gate.json``, the ThreadSanitizer run's ``sanitize.json`` and the
release's ``fileset.json`` found under the folders (``evidence.py``), decides the
release-wide level by the rule in ``rule.py`` and writes ``decision.json`` (schema
``nvx-ft.decision/1``), ``decision.md`` (also to ``$GITHUB_STEP_SUMMARY``) and
``contract.md`` (``report.py``). A layer above ``gate/``: it reads gate runs' reports and
uses the gate's level definitions (``gate/recommend.py``) and contract
(``gate/contract.py``); nothing below imports it.

Exit codes: 0 the decided level reaches ``--require`` (default 1 - Unstable) and nothing
failed; 1 evidence failed (a gate on some cell, ThreadSanitizer, the fileset check, or
wheels declaring more than decided); 2 the level stays below ``--require`` for missing,
not-run or inconclusive evidence; 3 bad input, or evidence of another version, wheel or
nvx-ft schema (refused).
"""

from nvx_ft.decision.command import add_arguments, run

__all__ = ["add_arguments", "run"]
