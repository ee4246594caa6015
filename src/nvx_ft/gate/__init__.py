"""``nvx-ft gate``: the release gate. A wheel, sdist or PyPI release in; a verdict out.

    nvx-ft gate [--wheel PATH | --sdist PATH | --pypi VERSION] [--python PATH|3.14t]

Default target: autobahn's latest release on PyPI; default interpreter: a discovered
free-threaded CPython 3.14 (``nvx_ft.interpreters``). Steps, in order (``steps/``):

1. **install**: a fresh venv of that interpreter (``nvx_ft.venvs``: ``uv`` when on PATH,
   else venv + pip, never a shared wheel cache, so a cached wheel of another build cannot
   stand in); the target as a wheel, nvx-ft's test dependencies, then proof that the
   ``_nvx_*`` modules the venv imports are the wheel's (sha256 against its RECORD).
2. **static**: ``nvx-ft inspect``'s findings on that wheel.
3. **gil-guard**: ``nvx-ft gil-guard`` in the venv (NVX import keeps the GIL disabled).
4. **correctness**: this checkout's ``tests/`` with the ``ci`` Hypothesis profile.
5. **stress**: this checkout's ``stress/``, bounded by ``--stress-timeout``.
6. **protocol**: this checkout's ``protocol/`` (autobahn's WebSocket protocol on many
   connections and threads, against the ``websockets`` peer), bounded by
   ``--protocol-timeout``.
7. **benchmark-smoke**: this checkout's ``benchmarks/`` once each, timing disabled.

The wheel is read once (``wheel.py``) and shared by the steps through one context
(``context.py``). Each suite runs contained (``nvx_ft.suites``): a crash or hang is a
named failure with a stack and the run goes on. A part that is not there (e.g. no
``protocol/`` in the checkout) is reported as **not-run**, never as passed; only a failed
install stops the run early.

Each suite's command line and environment are the gate's own (``steps/suites.py``'s
``pinned_args``, ``childenv.GATE_VERDICT``), and each suite reports the ``_nvx_*`` files it
loaded: one that is not the wheel's fails that step.

Reports (``report.py``) in ``reports/gate/<UTC timestamp>/``: ``gate.json`` (schema
``nvx-ft.gate/2``, below), ``gate.md`` (also appended to ``$GITHUB_STEP_SUMMARY``),
``gate.junit.xml``, ``contract.md`` (the thread-safety contract the run's evidence
supports, ``contract.py``), and each step's output in ``logs/``; ``--report-path-file
FILE`` writes this run's ``gate.json`` path to FILE.

Exit codes: 0 every check passed; 1 a check failed (or crashed, or timed out);
2 blocked - no free-threaded interpreter (the message says how to get one), the package
index is unreachable, or a check could not run; 3 bad input (missing path, not a wheel,
corrupt archive, a wheel for another platform or interpreter - e.g. a cp314 wheel given
to a 3.14t gate -, a pure-Python wheel without NVX).

``gate.json`` (``nvx-ft.gate/2``, JSON Schema in ``schemas/gate-2.schema.json``; version
2 added ``findings`` and ``recommendation.open_bugs`` to version 1):
``schema``, ``verdict`` (pass | fail | not-passed), ``exit_code``, ``started``/``finished``
(ISO 8601 UTC), ``duration_s``, ``target`` (``kind`` wheel|sdist|pypi, ``spec``, ``wheel``,
``wheel_sha256``, ``origin``), ``interpreter`` (``executable``, ``version``,
``free_threaded``, ``source``), ``installer``, ``nvx_ft`` (version, git commit),
``checks``: a list of {``name``, ``status`` (passed | failed | crashed | timeout |
not-run), ``duration_s``, ``summary``, ``counts``, ``failures`` [{``nodeid``,
``message``}], ``details``, ``outputs``}, one per step in the order above, then
``classifier``; ``recommendation``: the Free Threading classifier the checks support, the
rule, the evidence per level and the wheel's declared classifiers against it
(``recommend.py``; the ``classifier`` check fails when the wheel declares more), whose
``open_bugs`` lists the findings that are upstream bugs this build showed; ``findings``:
one entry per known divergence of autobahn's NVX (``nvx_ft.divergences``), {``id``,
``status`` (bug | accepted), ``shown`` (true: its pin in the correctness suite passed;
false: the pin failed; null: no evidence from this run), ``evidence``, ``summary``,
``impact``, ``fix``, ``reproduce`` (a command showing it on the installed autobahn),
``reproduce_shows``} (``findings.py``); findings do not change the verdict.
"""

from nvx_ft.gate.inputs import add_arguments
from nvx_ft.gate.runner import run

__all__ = ["add_arguments", "run"]
