"""Scenario 1: every thread owns its validators/maskers; all read the same input objects.

This is the supported contract (one object per connection, connections on many
threads). Each thread keeps one object for its whole run and feeds it whole messages
in random chunks, resetting between messages; every answer is checked against the
expected model after the concurrent phase. Covers every implementation of the target,
wrapper and raw lib level (at random buffer alignments).
"""

from nvx_ft.hammer import Stream
from nvx_ft.overlap import Need

SCALE = 5  # iterations = SCALE * intensity.iterations (cheap calls: run longer)
#: a race between *different* objects (hidden shared state, like a C static) shows only
#: when calls of two threads are in progress at once (stress/README.md, "Overlap")
NEED = Need(interleaved_calls=100, parallel_seconds=0.25,
            why="hidden state shared by different objects is only hit by overlapping calls")


def test_utf8_validator_per_thread(hammer, utf8_impl, shared_inputs):
    threads = hammer.intensity.threads
    rngs = [hammer.rng(t) for t in range(threads)]
    streams = [Stream(utf8_impl, "utf8", t, align=rngs[t].randrange(16)) for t in range(threads)]
    objects = [None] * threads

    def worker(t, i):
        r, s = rngs[t], streams[t]
        if objects[t] is None:  # created in its own thread
            objects[t] = utf8_impl.new(align=s.align)
        data = r.choice(shared_inputs.utf8)
        s.record(objects[t], hammer.chunk_ops(r, "validate", data) + [("reset",)])

    hammer.run(worker, threads, SCALE * hammer.intensity.iterations, need=NEED,
               streams=lambda: streams)
    hammer.verify(streams, threads)


def test_xor_masker_per_thread(hammer, xor_impl, shared_inputs):
    threads = hammer.intensity.threads
    rngs = [hammer.rng(t) for t in range(threads)]
    streams = [Stream(xor_impl, "xor", t, mask=rngs[t].choice(shared_inputs.masks),
                      align=rngs[t].randrange(16)) for t in range(threads)]
    objects = [None] * threads

    def worker(t, i):
        r, s = rngs[t], streams[t]
        if objects[t] is None:
            objects[t] = xor_impl.new(s.mask, align=s.align)
        data = r.choice(shared_inputs.xor)
        s.record(objects[t], hammer.chunk_ops(r, "process", data) + [("reset",)])

    hammer.run(worker, threads, SCALE * hammer.intensity.iterations, need=NEED,
               streams=lambda: streams)
    hammer.verify(streams, threads)
