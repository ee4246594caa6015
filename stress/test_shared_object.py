"""Scenario 5: one validator / masker shared by all threads.

The contract (stress/README.md, "Sharing one object"): an NVX object may be used by
one thread at a time. Shared behind a lock it is exact (first test). Used by several
threads at once it is memory-safe but its answers are wrong: lost pointer / total
updates, torn indices, valid text rejected. The second test runs that experiment in a
subprocess, asserts only what holds for every interleaving (no crash, invariants of
``shared_object_probe.py``), and reports the symptoms it saw without asserting them,
so the suite documents the behaviour without becoming flaky.
"""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from nvx_ft import hang_bound
from nvx_ft.hammer import Stream, fast_switching
from nvx_ft.overlap import Need, OverlapReport
from nvx_ft.overlap import merge as overlap_merge

PROBE = Path(__file__).with_name("shared_object_probe.py")
#: shares of the test's own bound: the probe's work (split between implementations),
#: and its hard bound (faulthandler's stacks, then exit) - so a slow machine makes
#: fewer calls and a hang is named by this test, with stacks, before pytest-timeout
PROBE_WORK_SHARE, PROBE_HANG_SHARE = 0.4, 0.8
#: under the lock no two calls ever overlap (that is the point); what the test needs is
#: contention - threads queueing for the lock, so the object changes thread all the time
LOCKED_NEED = Need(interleaved_calls=20,
                   why="the object must change hands between threads queueing for it")
#: one shared object: its state is read at the start of a call and written at the end,
#: so any two calls in progress at once race on it - side by side, or one preempted
#: mid-call while the other runs: each implementation's run needs interleaved calls
UNLOCKED_NEED = Need(interleaved_calls=100,
                     why="unsynchronised calls on one object must be in progress at once")
#: and on a free-threaded build the probe as a whole must show its threads really ran
#: side by side, summed over its implementations' runs (beside one busy loop per CPU the
#: probe's threads get x0.4-0.8 of a core, and single runs 0.000-0.34 s: stress/README.md)
UNLOCKED_PARALLEL_NEED = Need(parallel_seconds=0.1,
                              why="the unsynchronised calls must also have run side by "
                                  "side (summed over the implementations' runs)")


def _shared_under_lock(hammer, impl, kind, inputs, mask=None):
    threads = hammer.intensity.threads
    rngs = [hammer.rng(t) for t in range(threads)]
    stream = Stream(impl, kind, thread=-1, mask=mask, align=rngs[0].randrange(16))
    obj = impl.new(*((mask,) if mask else ()), align=stream.align)
    lock = threading.Lock()
    op = "validate" if kind == "utf8" else "process"

    def worker(t, i):
        r = rngs[t]
        ops = hammer.chunk_ops(r, op, r.choice(inputs), max_chunks=3)
        if r.random() < 0.2:
            ops.append(("reset",))
        with lock:  # the calls land in the stream in the order they ran
            stream.record(obj, ops)

    with fast_switching():  # an iteration includes its wait for the lock
        hammer.run(worker, threads, 2 * hammer.intensity.iterations, need=LOCKED_NEED,
                   streams=lambda: [stream], record="iterations")
    hammer.verify([stream], threads)


def test_shared_utf8_validator_under_lock_is_exact(hammer, utf8_impl, shared_inputs):
    _shared_under_lock(hammer, utf8_impl, "utf8", shared_inputs.utf8)


def test_shared_xor_masker_under_lock_is_exact(hammer, xor_impl, shared_inputs):
    _shared_under_lock(hammer, xor_impl, "xor", shared_inputs.xor, shared_inputs.masks[2])


#: one race run per implementation (a dozen), each needing its own parallel time: with a
#: larger overlap budget (the gate's reruns, 60 s) the test's bound grows to 4 x the
#: budget, so each implementation gets more time than the default bound's few seconds
@pytest.mark.bound_per_overlap_second(4)
def test_shared_object_without_lock_is_memory_safe(hammer, nvx_target, pytestconfig):
    """Documents the unsupported case: asserts safety, reports (not asserts) wrong answers."""
    spec = pytestconfig.getoption("--nvx-target")
    threads = hammer.intensity.threads
    iterations = 50 * hammer.intensity.iterations  # at most; the time budget ends it first
    need = UNLOCKED_NEED
    bound = hang_bound.item_bound(hammer.request.node, hammer.intensity.test_timeout) \
        or hammer.intensity.test_timeout
    per_impl = PROBE_WORK_SHARE * bound / (len(nvx_target.xor) + len(nvx_target.utf8))
    cmd = [sys.executable, "-X", "faulthandler", str(PROBE), "--threads", str(threads),
           "--iterations", str(iterations), "--seconds", f"{per_impl:.2f}",
           "--hang-bound", f"{PROBE_HANG_SHARE * bound:.0f}",
           "--need-interleaved", str(need.interleaved_calls),
           # rounds go on while a run has less than the whole probe's parallel need
           # (up to its budget): more side-by-side time per run, a surer sum
           "--need-parallel", str(UNLOCKED_PARALLEL_NEED.parallel_seconds),
           "--budget", str(hammer.budget / 4)] + (["--target", spec] if spec else [])
    try:  # the probe ends itself at its hang bound; this is the last resort
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=PROBE_HANG_SHARE * bound + 10)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the shared-object experiment outlived its own hang bound "
                             f"and was killed: {' '.join(cmd)}\n  stderr: "
                             f"{(exc.stderr or b'')[-6000:]!r}") from None
    assert proc.returncode == 0, (
        f"the shared-object experiment died (exit {proc.returncode}) with {threads} threads, "
        f"seed n/a (fixed inputs): a crash is a memory-safety bug, not just a wrong answer.\n"
        f"  command: {' '.join(cmd)}\n  stderr:\n{proc.stderr[-6000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report["results"]) == len(nvx_target.xor) + len(nvx_target.utf8)
    lines = [f"shared object, no lock, {threads} threads x up to {iterations} calls or "
             f"{per_impl:.1f} s per implementation, Python {report['python']}, "
             f"GIL enabled: {report['gil_enabled']}"]
    runs = []
    for r in report["results"]:
        lines.append(f"  {r['kind']:4} {r['impl']:28} {r['calls']:7} calls "
                     f"{r['wall']:.2f}s (ended by {r['bounded_by']})  {r['symptoms']}")
        hammer.request.node.user_properties.append(("nvx_shared_object", r))
        for o in r["overlap"]:
            runs.append(OverlapReport.from_dict(o))
            hammer.note(runs[-1], need, threads=threads,
                        impl=r["impl"], calls=r["calls"], wall=o["wall_seconds"],
                        budget=hammer.budget / 4)  # the probe's --budget: the margin's base
    if runs:
        whole = overlap_merge(runs)
        hammer.note(whole, UNLOCKED_PARALLEL_NEED, threads=threads, impl="all (summed)",
                    calls=whole.calls, wall=whole.wall_seconds,
                    budget=per_impl * len(report["results"]))
    print("\n".join(lines))
    violated = {r["impl"]: r["invariants_violated"] for r in report["results"]
                if r["invariants_violated"]}
    assert not violated, (
        f"shared-object invariants violated (see {PROBE.name} for what each means): "
        f"{violated}\n" + "\n".join(lines) + f"\n  command: {' '.join(cmd)}")
