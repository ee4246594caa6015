"""On a slowed-down machine the good build is passed or inconclusive - never failed (issue 19).

Slowness is never a failure: work is bounded by time, not by count, and no wall-clock
wait decides correctness (the shared-object probe stops at its time budget; the raw bad
peers wait on the server loop's heartbeat, ``nvx_ft.protocol.patience``). Here the tests
that used to fail or hang on a busy machine run in a child pytest, against the real NVX
build, (a) pinned to one CPU (``sched_setaffinity``) while a busy-loop process pinned to
the *same* CPU takes half of it, and (b) beside one busy-loop process per usable CPU,
as in issue 19 (busy loops started here, bounded in time, reaped here):

* ``stress/test_shared_object.py::test_shared_object_without_lock_is_memory_safe``
  (named hung after 328 s beside a CPU-saturating process, issue 19);
* ``protocol/test_bad_peers.py::test_bad_peers_next_to_good_traffic[2loops]`` (failed
  with "handshake: timed out" / "server silent for 5 s" beside one busy loop per CPU).

Each must end passed or inconclusive (``INCONCLUSIVE:``, failed or skipped), never
failed and never past its bound. That a really silent server still fails is
``selftests/test_protocol_patience.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from pathlib import Path

import pytest

from nvx_ft.overlap import INCONCLUSIVE

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261202
BUDGET = 2.0  # seconds of further overlap rounds before a run is inconclusive
CHILD_TIMEOUT = 300
TESTS = ["stress/test_shared_object.py::test_shared_object_without_lock_is_memory_safe",
         "protocol/test_bad_peers.py::test_bad_peers_next_to_good_traffic[2loops]"]

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="pins a child pytest and a busy loop to one CPU"),
    pytest.mark.skipif(not hasattr(os, "sched_setaffinity"),
                       reason="not applicable: no CPU affinity on this platform"),
]


def _cpu() -> int:
    return min(os.sched_getaffinity(0))


def _pin() -> None:  # preexec_fn: runs in the child before exec
    os.sched_setaffinity(0, {_cpu()})


@contextmanager
def busy_loops(seconds: float, pinned: bool):
    """Busy-loop processes: one on the CPU the child is pinned to (``pinned``), else one
    per usable CPU. Each stops by itself after ``seconds`` and is killed and reaped on
    the way out anyway."""
    loop = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    count = 1 if pinned else len(os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, "-c", loop], preexec_fn=_pin if pinned else None)
             for _ in range(count)]
    try:
        time.sleep(0.2)
        yield procs
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(10)


def outcomes_from_junit(path: Path) -> dict[str, tuple[str, str]]:
    """test name -> (passed | inconclusive | failed | skipped, message)."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            text = (bad.get("message") or "") + (bad.text or "")
            out[name] = ("inconclusive" if INCONCLUSIVE in text and "Timeout" not in text
                         else "failed", text[:3000])
        elif skipped is not None:
            text = skipped.get("message") or ""
            out[name] = ("inconclusive" if INCONCLUSIVE in text else "skipped", text)
        else:
            out[name] = ("passed", "")
    return out


@pytest.mark.parametrize("condition", ["pinned-beside-a-busy-loop", "busy-loop-per-cpu"])
def test_good_build_on_a_slowed_machine_is_passed_or_inconclusive(tmp_path, condition):
    pinned = condition.startswith("pinned")
    junit = tmp_path / "slow.xml"
    cmd = [sys.executable, "-m", "pytest", *TESTS, f"--nvx-seed={SEED}",
           "--nvx-inconclusive=fail", f"--nvx-overlap-budget={BUDGET}", "-p",
           "no:cacheprovider", "-p", "no:randomly", "-q", "--tb=short", "-rA",
           f"--junitxml={junit}", "--rootdir", str(ROOT)]
    env = {**os.environ, "COLUMNS": "4000"}
    start = time.monotonic()
    with busy_loops(CHILD_TIMEOUT, pinned):
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env,
                              timeout=CHILD_TIMEOUT, preexec_fn=_pin if pinned else None)
    seconds = time.monotonic() - start
    text = proc.stdout + proc.stderr
    assert junit.exists(), f"no JUnit report (exit {proc.returncode}):\n{text[-6000:]}"
    outcomes = outcomes_from_junit(junit)
    assert len(outcomes) == len(TESTS), f"{outcomes}\n{text[-6000:]}"
    failed = {n: m for n, (o, m) in outcomes.items() if o not in ("passed", "inconclusive")}
    assert not failed, (f"{condition}: the good build failed (slowness must never be a "
                        f"failure): {failed}\n{text[-8000:]}")
    print(f"{condition}: "
          f"{', '.join(f'{n}: {o}' for n, (o, _) in outcomes.items())} in {seconds:.1f}s")
