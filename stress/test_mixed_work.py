"""Scenario 3: XOR and UTF-8 work interleaved in the same threads, incrementally.

Each thread plays both ends of a WebSocket text frame, as autobahn's protocol does:
masks a message chunk by chunk with one masker, unmasks the masked bytes with a
second masker (same key, different chunking), and validates the unmasked bytes with
a validator fed in yet another chunking. Every validator of the target is used, and
each message picks its maskers among all XOR implementations, so different C
functions run side by side in one thread and across threads.
"""

from nvx_ft.hammer import Stream
from nvx_ft.overlap import Need

SCALE = 4  # iterations = SCALE * intensity.iterations
#: different C functions side by side: the calls of two threads must really overlap
NEED = Need(interleaved_calls=100, parallel_seconds=0.25,
            why="XOR and UTF-8 code side by side is only tested by overlapping calls")


def test_mask_unmask_validate(hammer, utf8_impl, nvx_target, shared_inputs):
    threads = hammer.intensity.threads
    rngs = [hammer.rng(t) for t in range(threads)]
    streams: list[list[Stream]] = [[] for _ in range(threads)]
    validators = [None] * threads
    vstreams = [Stream(utf8_impl, "utf8", t, align=rngs[t].randrange(16)) for t in range(threads)]

    def worker(t, i):
        r = rngs[t]
        if validators[t] is None:
            validators[t] = utf8_impl.new(align=vstreams[t].align)
        message = r.choice(shared_inputs.utf8)
        mask = r.choice(shared_inputs.masks)
        sender = Stream(r.choice(nvx_target.xor), "xor", t, mask=mask, align=r.randrange(16))
        receiver = Stream(r.choice(nvx_target.xor), "xor", t, mask=mask, align=r.randrange(16))
        streams[t] += [sender, receiver]
        tx = sender.impl.new(mask, align=sender.align)
        rx = receiver.impl.new(mask, align=receiver.align)
        # interleave: each sent chunk is unmasked and validated before the next is sent
        for _, chunk in hammer.chunk_ops(r, "process", message):
            sender.record(tx, [("process", chunk)])
            masked = sender.got[-1][0]
            for _, piece in hammer.chunk_ops(r, "process", masked, max_chunks=3):
                receiver.record(rx, [("process", piece)])
                plain = receiver.got[-1][0]
                vstreams[t].record(validators[t],
                                   hammer.chunk_ops(r, "validate", plain, max_chunks=2))
        vstreams[t].record(validators[t], [("reset",)])
        sender.close()  # one message each: checked streams are forgotten between rounds
        receiver.close()

    def all_streams():
        return vstreams + [s for per_thread in streams for s in per_thread]

    hammer.run(worker, threads, SCALE * hammer.intensity.iterations, need=NEED,
               streams=all_streams)
    hammer.verify(all_streams(), threads)
