"""Scenario 2: threads create, use and drop objects all the time.

Every object is used by one thread at a time, but it may be *dropped* by another one
(handed over through a shared queue) or by the cyclic garbage collector run from any
thread, so ``ffi.gc`` finalisers (``nvx_*_free``) run while other threads allocate
with ``nvx_*_new``. Each object's answers are checked against its model afterwards.
Creating and dropping objects count as calls into the target for the overlap (an
allocation racing a free is what this scenario is after), like their method calls.

The collector runs in one thread only, at its second iteration and then every
``GC_EVERY`` seconds: on a free-threaded build a collection stops every thread while it
looks for garbage (only then are the finalisers run, with the others going again), and
a collection of pytest's heap costs 10-60 ms. Collected at 5 % of every thread's
iterations, as before, the collector took ~90 % of the run and the threads almost never
ran side by side; by time, it takes a few per cent and still frees each run's cycles
in bursts while the other threads allocate.
"""

import gc
import queue
import time

from nvx_ft import overlap
from nvx_ft.hammer import Stream
from nvx_ft.overlap import Need

#: allocations and frees of two threads must really overlap (and the calls between them);
#: less parallel time than the other scenarios: gc.collect() stops every thread
NEED = Need(interleaved_calls=100, parallel_seconds=0.1,
            why="nvx_*_new racing nvx_*_free only happens in overlapping calls")
#: seconds between two collections (thread 0 only): stop-the-world time stays a few per cent
GC_EVERY = 0.25


def _churn(hammer, impl, kind, inputs, masks=None):
    threads = hammer.intensity.threads
    rngs = [hammer.rng(t) for t in range(threads)]
    streams: list[list[Stream]] = [[] for _ in range(threads)]
    handover: queue.SimpleQueue = queue.SimpleQueue()  # used objects another thread drops
    op = "validate" if kind == "utf8" else "process"
    next_collection = [0.0]  # monotonic; only thread 0 reads and writes it

    def worker(t, i):
        r = rngs[t]
        inside = overlap.current()  # this run's recorder: new and drop are calls too
        live = []
        for _ in range(r.randint(1, 6)):
            mask = r.choice(masks) if masks else None
            s = Stream(impl, kind, t, mask=mask, align=r.randrange(16))
            with inside:
                obj = impl.new(*((mask,) if mask else ()), align=s.align)
            s.record(obj, hammer.chunk_ops(r, op, r.choice(inputs), max_chunks=3))
            s.close()  # used once: checked streams are then forgotten between rounds
            streams[t].append(s)
            live.append(obj)
        r.shuffle(live)
        for obj in live[: len(live) // 2]:
            handover.put(obj)  # dropped later, by whichever thread takes it
        if r.random() < 0.3:
            cycle = [live]  # a reference cycle: only the collector frees these
            cycle.append(cycle)
        with inside:
            del live  # the other half goes here (unless in the cycle)
        for _ in range(r.randint(0, 4)):
            try:
                with inside:
                    handover.get_nowait()  # and dropped right here
            except queue.Empty:
                break
        if t == 0 and (i == 1 or time.monotonic() >= next_collection[0]):
            with inside:
                gc.collect()  # the cycles' finalisers run here, beside the others' new
            next_collection[0] = time.monotonic() + GC_EVERY

    def all_streams():
        return [s for per_thread in streams for s in per_thread]

    hammer.run(worker, threads, 2 * hammer.intensity.iterations, need=NEED,
               streams=all_streams)
    while not handover.empty():
        handover.get_nowait()
    gc.collect()
    hammer.verify(all_streams(), threads)


def test_utf8_validator_churn(hammer, utf8_impl, shared_inputs):
    _churn(hammer, utf8_impl, "utf8", shared_inputs.utf8)


def test_xor_masker_churn(hammer, xor_impl, shared_inputs):
    _churn(hammer, xor_impl, "xor", shared_inputs.xor, shared_inputs.masks)
