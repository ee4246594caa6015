"""How much the protocol suite does per run, by ``--nvx-intensity``.

The default keeps ``pytest protocol`` within about 2 minutes on 2 cores on 3.14t;
``nightly`` runs more connections, more and larger messages, more threads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from nvx_ft.hammer import cpu_count
from nvx_ft.protocol.traffic import Volume


@dataclass(frozen=True)
class ProtocolIntensity:
    #: connections per traffic run
    conns: int
    volume: Volume
    #: server thread counts the multi-thread runs are parametrized with
    server_threads: tuple[int, ...]
    #: autobahn client threads (autobahn-to-autobahn and websockets-server runs)
    client_threads: int
    #: seconds one receive may wait; a peer process's total bound
    io_timeout: float
    peer_bound: float
    #: pytest-timeout per test (signal method: a hang fails with every thread's stack)
    test_timeout: float
    #: seconds of traffic rounds a multi-thread run may take to reach the overlap it
    #: needs (nvx_ft.protocol.concurrency); --nvx-overlap-budget overrides, as in stress/
    overlap_budget: float = 8.0


def _threads(*counts: int) -> tuple[int, ...]:
    return tuple(sorted(set(counts)))


INTENSITIES = {
    "default": ProtocolIntensity(conns=64, volume=Volume(16, 65537, 2048),
                                 server_threads=_threads(1, 2, 4, cpu_count()),
                                 client_threads=2, io_timeout=10, peer_bound=90,
                                 test_timeout=100),
    "nightly": ProtocolIntensity(conns=64, volume=Volume(40, 262144, 16384),
                                 server_threads=_threads(1, 2, 4, cpu_count(), 2 * cpu_count()),
                                 client_threads=4, io_timeout=60, peer_bound=900,
                                 test_timeout=1200, overlap_budget=60.0),
}


def resolve(name: str, conns: int | None = None, messages: int | None = None,
            server_threads: int | None = None,
            io_timeout: float | None = None) -> ProtocolIntensity:
    """The named intensity with command-line overrides applied."""
    it = INTENSITIES[name]
    if io_timeout:
        it = replace(it, io_timeout=io_timeout)
    if conns:
        it = replace(it, conns=conns)
    if messages:
        it = replace(it, volume=replace(it.volume, messages=messages))
    if server_threads:
        it = replace(it, server_threads=(server_threads,))
    return it
