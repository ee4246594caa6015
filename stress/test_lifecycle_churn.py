"""Scenario 2: threads create, use and drop objects all the time.

Every object is used by one thread at a time, but it may be *dropped* by another one
(handed over through a shared queue) or by the cyclic garbage collector run from any
thread, so ``ffi.gc`` finalisers (``nvx_*_free``) run while other threads allocate
with ``nvx_*_new``. Each object's answers are checked against its model afterwards.
"""

import gc
import queue

from nvx_ft.hammer import Stream


def _churn(hammer, impl, kind, inputs, masks=None):
    threads = hammer.intensity.threads
    rngs = [hammer.rng(t) for t in range(threads)]
    streams: list[list[Stream]] = [[] for _ in range(threads)]
    handover: queue.SimpleQueue = queue.SimpleQueue()  # used objects another thread drops
    op = "validate" if kind == "utf8" else "process"

    def worker(t, i):
        r = rngs[t]
        live = []
        for _ in range(r.randint(1, 6)):
            mask = r.choice(masks) if masks else None
            s = Stream(impl, kind, t, mask=mask, align=r.randrange(16))
            obj = impl.new(*((mask,) if mask else ()), align=s.align)
            s.record(obj, hammer.chunk_ops(r, op, r.choice(inputs), max_chunks=3))
            streams[t].append(s)
            live.append(obj)
        r.shuffle(live)
        for obj in live[: len(live) // 2]:
            handover.put(obj)  # dropped later, by whichever thread takes it
        if r.random() < 0.3:
            cycle = [live]  # a reference cycle: only the collector frees these
            cycle.append(cycle)
        del live
        for _ in range(r.randint(0, 4)):
            try:
                handover.get_nowait()  # and dropped right here
            except queue.Empty:
                break
        if r.random() < 0.05:
            gc.collect()

    hammer.run(worker, threads, 2 * hammer.intensity.iterations)
    while not handover.empty():
        handover.get_nowait()
    gc.collect()
    hammer.verify([s for per_thread in streams for s in per_thread], threads)


def test_utf8_validator_churn(hammer, utf8_impl, shared_inputs):
    _churn(hammer, utf8_impl, "utf8", shared_inputs.utf8)


def test_xor_masker_churn(hammer, xor_impl, shared_inputs):
    _churn(hammer, xor_impl, "xor", shared_inputs.xor, shared_inputs.masks)
