"""Scenario 4: many more threads than cores, short calls, every implementation at once.

Thread ``t`` uses implementation ``t mod n``, so all of the target's implementations
run side by side. On GIL builds the switch interval is set to 1 microsecond while the
threads run (``nvx_ft.hammer.fast_switching``): cffi releases the GIL around every C
call, so C-level races can show there too, and the Python code between calls is
interleaved as finely as CPython allows.
"""

from nvx_ft.hammer import Stream, fast_switching
from nvx_ft.overlap import Need

SMALL = 256  # short payloads: many C calls, many thread switches per second
#: iterations = SCALE * intensity.iterations: each thread must outlive its scheduler
#: time slices, or on a free-threaded build 16 threads just run one after the other
SCALE = 10
#: many threads per core: calls are preempted mid-way all the time; on a free-threaded
#: build they must also have run side by side
NEED = Need(interleaved_calls=200, parallel_seconds=0.25,
            why="threads preempted mid-call are what oversubscription is about")


def _oversubscribed(hammer, impls, kind, inputs, masks=None):
    threads = hammer.intensity.oversubscribed
    rngs = [hammer.rng(t) for t in range(threads)]
    streams = []
    for t in range(threads):
        mask = rngs[t].choice(masks) if masks else None
        streams.append(Stream(impls[t % len(impls)], kind, t, mask=mask,
                              align=rngs[t].randrange(16)))
    objects = [None] * threads
    small = [d for d in inputs if len(d) <= SMALL]
    op = "validate" if kind == "utf8" else "process"

    def worker(t, i):
        r, s = rngs[t], streams[t]
        if objects[t] is None:
            objects[t] = s.impl.new(*((s.mask,) if masks else ()), align=s.align)
        s.record(objects[t], hammer.chunk_ops(r, op, r.choice(small)) + [("reset",)])

    with fast_switching():
        hammer.run(worker, threads, SCALE * hammer.intensity.iterations, need=NEED,
                   streams=lambda: streams)
    hammer.verify(streams, threads)


def test_utf8_validators_oversubscribed(hammer, nvx_target, shared_inputs):
    _oversubscribed(hammer, nvx_target.utf8, "utf8", shared_inputs.utf8)


def test_xor_maskers_oversubscribed(hammer, nvx_target, shared_inputs):
    _oversubscribed(hammer, nvx_target.xor, "xor", shared_inputs.xor, shared_inputs.masks)
