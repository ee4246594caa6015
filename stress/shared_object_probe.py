"""Scenario 5 experiment: ONE validator / masker used by all threads at once, no lock.

Outside the supported contract, so it runs in its own process (a crash must not take
the test run with it; ``-X faulthandler`` prints the stacks if it does). For every
implementation of the target it hammers one shared object and prints, as JSON, what
it saw: the invariants that the C code guarantees even under races (checked, and
listed as violated if not) and the symptoms of the races (counted, never asserted).

Invariants (hold for any interleaving, given NVX's per-object state of plain ints):
  xor-output-phase-consistent  every output is the input masked from *some* phase 0-3
  xor-pointer-bounded          0 < pointer() <= bytes processed in total
  utf8-ascii-stays-valid       only ASCII fed by every thread: every answer is valid
  utf8-ascii-index-from-some-call  current_index is the length of some thread's chunk
  utf8-total-bounded           total_index <= bytes fed in total
Symptoms (counted): lost pointer/total updates, torn current_index, valid UTF-8
reported invalid when threads interleave mid-code-point.
Overlap (``nvx_ft.overlap``, one report per threaded run, each call one interval):
with ``--need-interleaved N --need-parallel S`` a run goes on in rounds until N
interleaved calls (and S seconds of parallel running where the GIL is off) or until
``--budget`` seconds; the test calls a run that missed it inconclusive.

Bounded by time, not by count: each implementation gets ``--seconds`` (shared by its
runs); a run stops at ``--iterations`` calls per thread or at its share of that time,
whichever comes first, and reports the calls it made - a slow machine makes fewer
calls, never a hang. ``--hang-bound`` seconds after the start faulthandler prints
every thread's stack and ends the process (exit 1): a real hang, with its stacks.

Usage: python shared_object_probe.py --threads 4 --iterations 2000 --seconds 7
       [--target SPEC] [--need-interleaved N --need-parallel S --budget SECONDS]
       [--hang-bound SECONDS]
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import sys
import threading

from nvx_ft import hammer, target as target_mod
from nvx_ft.overlap import Need, gil_enabled
from nvx_ft.reference import XorReference

#: set by main(): the overlap every run needs, the seconds it may take to get it, the
#: seconds each implementation may take in all, and the hard bound of one run
NEED: Need | None = None
BUDGET = 0.0
SECONDS = 0.0
HANG_BOUND = 300.0

# Chunks per thread for the UTF-8 experiments: thread t uses entry t mod len.
_ASCII = [b"a" * n for n in (1, 7, 16, 33, 64, 129)]
_TEXT = ("h\u00e9llo \u4e16\u754c \U0001F600 " * 8).encode()  # 19-byte unit, 152 bytes
_SPLITS = [2, 9, 16, 0, 5, 13]  # most of them mid-code-point; 0 = whole message


def _run(worker, threads, iterations, share):
    """One threaded run: ``iterations`` per thread or ``share`` of the implementation's
    seconds, whichever ends first; further rounds for the overlap within that share."""
    seconds = SECONDS * share if SECONDS > 0 else None
    budget = BUDGET if seconds is None else min(BUDGET, seconds)
    with hammer.fast_switching():
        return hammer.run_threaded(worker, threads, iterations, time_budget=seconds,
                                   timeout=HANG_BOUND, need=NEED, overlap_budget=budget)


def _bounded_by(runs, iterations) -> str:
    """``count`` when every thread made all its iterations, else ``time`` (a thread
    stopped at its share of the time budget first)."""
    return "count" if all(n >= iterations for r in runs for n in r.iterations) else "time"


def probe_xor(impl, threads: int, iterations: int) -> dict:
    mask = b"\x0f\xf0\x3c\xc3"
    obj = impl.new(mask, align=3)
    payloads = [bytes(range(256))[: 5 + 37 * t] * 3 for t in range(threads)]  # 15..; SSE2 too
    phases = [XorReference(mask) for _ in range(4)]
    expected = []
    for p in payloads:
        per_phase = []
        for k, ref in enumerate(phases):
            ref.reset()
            ref.process(b"\0" * k)
            per_phase.append(ref.process(p))
        expected.append(per_phase)

    def worker(t, i):
        out = obj.process(payloads[t])
        return expected[t].index(out) if out in expected[t] else -1

    run = _run(worker, threads, iterations, 1.0)
    total = sum(len(payloads[t]) * len(r) for t, r in enumerate(run.results))
    torn = sum(r.count(-1) for r in run.results)
    final = obj.pointer()
    return {
        "impl": impl.name, "kind": "xor", "threads": threads, "calls": run.total_iterations,
        "wall": round(run.wall_seconds, 3),
        "bounded_by": _bounded_by([run], iterations),
        "invariants_violated": [name for name, ok in (
            ("xor-output-phase-consistent", torn == 0),
            ("xor-pointer-bounded", 0 < final <= total),
        ) if not ok],
        "symptoms": {"lost_pointer_bytes": total - final, "torn_outputs": torn},
        "overlap": [run.overlap.as_dict()],
    }


def probe_utf8(impl, threads: int, iterations: int) -> dict:
    # 1. ASCII only: the DFA state can only ever be 0 (accept), whatever interleaves
    obj = impl.new(align=7)
    chunks = [_ASCII[t % len(_ASCII)] for t in range(threads)]
    lengths = {len(c) for c in chunks}

    def ascii_worker(t, i):
        valid, ends, cur, total = obj.validate(chunks[t])
        return (valid and ends, cur in lengths, cur == len(chunks[t]))

    run = _run(ascii_worker, threads, iterations, 0.5)
    answers = [a for r in run.results for a in r]
    fed = sum(len(chunks[t]) * len(r) for t, r in enumerate(run.results))
    _, _, _, total = obj.validate(b"")
    ascii_ok = all(a[0] for a in answers)
    index_ok = all(a[1] for a in answers)
    torn_index = sum(not a[2] for a in answers)

    # 2. valid multi-byte text, split mid-code-point by most threads
    obj2 = impl.new(align=7)
    parts = []
    for t in range(threads):
        k = _SPLITS[t % len(_SPLITS)]
        parts.append([_TEXT[:k], _TEXT[k:]] if k else [_TEXT])

    def text_worker(t, i):
        rejected = 0
        for part in parts[t]:
            if not obj2.validate(part)[0]:
                rejected += 1
                obj2.reset()  # what a protocol would do: fail, start a new message
        return rejected

    run2 = _run(text_worker, threads, iterations, 0.5)
    false_rejections = sum(sum(r) for r in run2.results)
    return {
        "impl": impl.name, "kind": "utf8", "threads": threads,
        "calls": run.total_iterations + sum(len(parts[t]) * len(r)
                                            for t, r in enumerate(run2.results)),
        "wall": round(run.wall_seconds + run2.wall_seconds, 3),
        "bounded_by": _bounded_by([run, run2], iterations),
        "invariants_violated": [name for name, ok in (
            ("utf8-ascii-stays-valid", ascii_ok),
            ("utf8-ascii-index-from-some-call", index_ok),
            ("utf8-total-bounded", 0 < total <= fed),
        ) if not ok],
        "symptoms": {"lost_total_bytes": fed - total, "torn_current_index": torn_index,
                     "valid_text_rejected": false_rejections},
        "overlap": [run.overlap.as_dict(), run2.overlap.as_dict()],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=None)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--need-interleaved", type=int, default=0)
    ap.add_argument("--need-parallel", type=float, default=0.0)
    ap.add_argument("--budget", type=float, default=0.0)
    ap.add_argument("--seconds", type=float, default=0.0,
                    help="time budget per implementation (0: bounded by --iterations only)")
    ap.add_argument("--hang-bound", type=float, default=300.0)
    args = ap.parse_args(argv)
    global NEED, BUDGET, SECONDS, HANG_BOUND
    NEED = Need(args.need_interleaved, args.need_parallel)
    BUDGET, SECONDS, HANG_BOUND = args.budget, args.seconds, args.hang_bound
    faulthandler.dump_traceback_later(HANG_BOUND, exit=True)
    t = target_mod.load(args.target)
    report = {"target": t.name, "gil_enabled": gil_enabled(),
              "python": sys.version.split()[0], "results": []}
    for impl in t.xor:
        report["results"].append(probe_xor(impl, args.threads, args.iterations))
    for impl in t.utf8:
        report["results"].append(probe_utf8(impl, args.threads, args.iterations))
    report["threads_alive_after"] = threading.active_count()
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
