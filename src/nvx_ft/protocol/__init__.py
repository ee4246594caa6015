"""Machinery of the protocol suite (``protocol/``): NVX as autobahn's WebSocket protocol
drives it, many connections on many threads, judged by an independent peer.

* ``traffic``: seeded plans (sizes, fragments inside code points, pings), invalid UTF-8;
* ``frames``: our own RFC 6455 frame encoder/decoder and opening handshake;
* ``loops``: one asyncio event loop per thread, bounded start and stop;
* ``servers`` / ``clients``: autobahn asyncio echo servers and plan-sending clients;
* ``peer`` (child process) / ``peers`` (its launcher): the ``websockets`` peer;
* ``rawpeer``: a raw-socket client sending malformed frames;
* ``twisted_echo``: autobahn on Twisted, reactor on a thread, in its own process;
* ``invariants``, ``verify``: what must hold after a run, and the comparison with the plan;
* ``faults``: wrong protocol behaviour injected for the self-tests; ``intensity``.

Nothing here imports autobahn at module level except where it runs autobahn (inside
functions), so the peer process never loads it.
"""
