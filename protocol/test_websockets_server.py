"""autobahn asyncio clients in threads -> a websockets echo server (another process).

websockets unmasks and validates by its own reading of RFC 6455: autobahn's client
masking (one masker per frame in sendMessage, one per message in the streaming API)
is judged by someone else. Checked both ways: the echoes autobahn got back, and the
transcript of what websockets received.
"""

import pytest

from nvx_ft.protocol import clients, verify
from nvx_ft.protocol.peers import PeerServer


def test_autobahn_clients_to_websockets_server(protocol_intensity, nvx_seed, reproduce,
                                               record_run):
    it = protocol_intensity
    record_run("autobahn -> websockets", client_threads=it.client_threads,
               connections=it.conns, messages=it.conns * it.volume.messages)
    with PeerServer(timeout=it.io_timeout, bound=it.peer_bound) as peer:
        run = clients.run_clients(peer.url, it.conns, it.client_threads, nvx_seed, it.volume,
                                  timeout=it.io_timeout, bound=it.peer_bound)
    records = {p: r["messages"] for p, r in peer.result["connections"].items()}
    problems = (verify.echo_problems(run.results, nvx_seed, it.volume, "autobahn client")
                + verify.transcript_problems(records, nvx_seed, it.volume, range(it.conns),
                                             side="websockets server")
                + [f"websockets server: connection {p} closed with {r['close_code']}"
                   f" ({r['error']})" for p, r in sorted(peer.result["connections"].items())
                   if r["close_code"] != 1000]
                + verify.loop_problems(run))
    if problems:
        pytest.fail(verify.fail_message(
            "autobahn clients -> websockets server", problems, seed=nvx_seed,
            setup=f"{it.client_threads} client threads x {it.conns} connections x "
                  f"{it.volume.messages} messages\n  reproduce: {reproduce}"), pytrace=False)
