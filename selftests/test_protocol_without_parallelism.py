"""Pinned to one CPU, a protocol run ends killed or inconclusive - never passed (issue 15).

``protocol/``'s multi-thread runs (websockets -> autobahn with 2 and 4 server threads,
autobahn -> autobahn with 2) run in a child pytest started under ``taskset -c <cpu>``,
as in a 1-vCPU container, with ``--nvx-inconclusive=fail``: a run whose server threads
did not reach the overlap it needs fails with a message starting ``INCONCLUSIVE:``, so
each test's outcome is one of killed / inconclusive / passed:

* ``--protocol-fault=nvx-shared-state`` (NVX replaced by ``bad_targets``
  implementations with module-level scratch state): every run killed or inconclusive;
* no fault: every run passed or inconclusive, none killed.

On a free-threaded build a pinned run cannot run two threads at once (parallel time is
exactly 0), so it is inconclusive unless it caught the race anyway; on a GIL build the
interleaving a time slice gives is all a run needs, so the clean run may pass. The
overlap budget is cut to ``BUDGET`` seconds so an inconclusive run ends quickly.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261201
BUDGET = 2.0  # seconds of further traffic rounds before a run is inconclusive
CHILD_TIMEOUT = 240
# the fault self-tests' volume: enough to catch the fault; 5 s waits, so broken
# connections give up quickly
VOLUME = ("--protocol-conns=8", "--protocol-messages=10", "--protocol-io-timeout=5")
WS_CLIENT = "protocol/test_websockets_client.py::test_websockets_clients_to_autobahn_servers"
AB_AB = "protocol/test_autobahn_to_autobahn.py::test_autobahn_clients_to_autobahn_servers"
RUNS = [f"{WS_CLIENT}[2threads]", f"{WS_CLIENT}[4threads]", f"{AB_AB}[2threads]"]

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs the protocol suite in pinned subprocesses"),
    pytest.mark.skipif(not (hasattr(os, "sched_getaffinity") and shutil.which("taskset")),
                       reason="not applicable: no taskset / CPU affinity on this platform"),
]


def run_pinned(fault: str | None) -> tuple[dict[str, str], str, float]:
    """nodeid -> killed | inconclusive | passed, the output, the seconds."""
    env = {**os.environ, "COLUMNS": "4000"}  # no "..." in -rA lines
    chosen = [f"--protocol-fault={fault}"] if fault else []
    cpu = min(os.sched_getaffinity(0))
    cmd = ["taskset", "-c", str(cpu), sys.executable, "-m", "pytest", *RUNS,
           f"--nvx-seed={SEED}", *VOLUME, "--nvx-inconclusive=fail",
           f"--nvx-overlap-budget={BUDGET}", *chosen, "-p", "no:cacheprovider",
           "-p", "no:randomly", "-q", "--tb=line", "-rA", "--rootdir", str(ROOT)]
    start = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=CHILD_TIMEOUT)
    text = out.stdout + out.stderr
    outcomes = {}
    for word, nodeid, rest in re.findall(r"^(PASSED|FAILED|ERROR) (\S+)(.*)$", text, re.M):
        outcomes[nodeid] = ("passed" if word == "PASSED"
                            else "inconclusive" if re.match(r" - (Failed: )?INCONCLUSIVE:", rest)
                            else "killed")
    assert set(outcomes) == set(RUNS), f"outcomes not parsed (exit {out.returncode}):\n" \
                                       + text[-6000:]
    # the protocol summary shows the overlap reached per run, with 1 CPU usable
    assert "nvx-ft protocol runs" in text and "1 CPU(s) usable" in text, text[-6000:]
    assert len(re.findall(r"^    overlap: \d+ interleaved of \d+ reads, parallel ", text,
                          re.M)) == len(RUNS), text[-6000:]
    return outcomes, text, time.monotonic() - start


def test_nvx_shared_state_pinned_is_killed_or_inconclusive_never_passed():
    outcomes, out, seconds = run_pinned("nvx-shared-state")
    passed = sorted(n for n, o in outcomes.items() if o == "passed")
    assert not passed, f"pinned to one CPU, a run passed on NVX with shared state: " \
                       f"{passed}\n" + out[-8000:]
    print(f"pinned, nvx-shared-state: {_tally(outcomes)} in {seconds:.1f}s")


def test_clean_run_pinned_is_passed_or_inconclusive_never_failed():
    outcomes, out, seconds = run_pinned(None)
    killed = sorted(n for n, o in outcomes.items() if o == "killed")
    assert not killed, f"pinned to one CPU, the clean run failed: {killed}\n" + out[-8000:]
    print(f"pinned, clean: {_tally(outcomes)} in {seconds:.1f}s")


def _tally(outcomes: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes.values():
        counts[o] = counts.get(o, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
