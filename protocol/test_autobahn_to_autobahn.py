"""autobahn asyncio clients in threads -> autobahn asyncio echo servers in threads.

Both ends are autobahn: the client masks (per-frame and per-message maskers), the
server unmasks and validates. A symmetric bug (both ends wrong the same way) passes
here - which is why test_websockets_server.py exists. With 2+ server threads the
traffic runs again until the server threads overlapped as the run needs
(``nvx_ft.protocol.concurrency``), else the test is inconclusive.
"""

import pytest

from nvx_ft.protocol import clients, verify
from nvx_ft.protocol.servers import EchoServers


def test_autobahn_clients_to_autobahn_servers(server_threads, protocol_intensity, nvx_seed,
                                              reproduce, record_run, server_overlap):
    it = protocol_intensity
    record_run("autobahn -> autobahn", server_threads=server_threads,
               client_threads=it.client_threads, connections=it.conns,
               messages=it.conns * it.volume.messages)
    run = server_overlap(server_threads)
    for recorder in run.rounds():  # the same traffic again while the overlap is not reached
        with EchoServers(server_threads, timeout=it.io_timeout, overlap=recorder) as servers:
            clients_run = clients.run_clients(servers.url, it.conns, it.client_threads,
                                              nvx_seed, it.volume, timeout=it.io_timeout,
                                              bound=it.peer_bound)
        records = {p: r.messages for p, r in servers.recorder.records.items()}
        problems = (verify.echo_problems(clients_run.results, nvx_seed, it.volume,
                                         "autobahn client")
                    + verify.transcript_problems(records, nvx_seed, it.volume, range(it.conns),
                                                 side="autobahn server")
                    + verify.server_close_problems(servers.recorder)
                    + verify.loop_problems(servers, clients_run))
        if problems:
            pytest.fail(verify.fail_message(
                "autobahn clients -> autobahn servers", problems, seed=nvx_seed,
                setup=f"{server_threads} server threads, {it.client_threads} client threads, "
                      f"{it.conns} connections x {it.volume.messages} messages, round "
                      f"{run.round}\n  reproduce: {reproduce}"), pytrace=False)
