"""Invalid UTF-8 sent BY the websockets server TO autobahn clients, next to good traffic.

The other direction of the bad-peer check: the autobahn client's incremental validator
(one per connection) must reject each invalid text message of
``nvx_ft.protocol.traffic.INVALID_CASES`` (sent by websockets, fragments as separate
frames) with close 1007 - as websockets reads the close frame - while the good client
connections on the same loop threads keep every echo exact.
"""

import pytest

from nvx_ft.protocol import clients, verify
from nvx_ft.protocol.peers import PeerServer
from nvx_ft.protocol.traffic import INVALID_CASES

CASES = [c for c in INVALID_CASES if not c.close_reason]  # websockets sends str reasons only


def test_autobahn_clients_reject_invalid_utf8(protocol_intensity, nvx_seed, reproduce,
                                              protocol_invariants, record_run):
    it = protocol_intensity
    record_run("websockets invalid UTF-8 -> autobahn clients", client_threads=it.client_threads,
               bad_connections=len(CASES), connections=it.conns,
               messages=it.conns * it.volume.messages)
    # autobahn logs each connection it fails at WARNING: expected here, and only these
    protocol_invariants.expect(r"^failing WebSocket connection \(code=1007\)")
    protocol_invariants.expect(r"^dropping connection to peer tcp4:127\.0\.0\.1:\d+ "
                               r"with abort=False: None$")
    good = it.conns
    bad = {good + i: c for i, c in enumerate(CASES)}

    with PeerServer(timeout=it.io_timeout, bound=it.peer_bound) as peer:
        def url_for(conn):
            return peer.url(conn) if conn < good else peer.url(bad[conn].name, prefix="bad")

        run = clients.run_clients(url_for, good + len(bad), it.client_threads, nvx_seed,
                                  it.volume, timeout=it.io_timeout, bound=it.peer_bound,
                                  listen_only=frozenset(bad))
    seen = peer.result["connections"]
    problems = verify.echo_problems(run.results[:good], nvx_seed, it.volume, "autobahn client")
    problems += verify.transcript_problems({p: r["messages"] for p, r in seen.items()},
                                           nvx_seed, it.volume, range(good),
                                           side="websockets server")
    for conn, case in bad.items():
        res, rec = run.results[conn], seen.get(f"/bad/{case.name}")
        problems += [f"autobahn client {conn} ({case.name}): delivered {m['got']} instead of "
                     f"closing with 1007" for m in res.mismatches]
        if rec is None:
            problems.append(f"autobahn client {conn} ({case.name}) never connected")
        elif rec["close_code"] != case.expect:
            problems.append(f"autobahn client {conn} ({case.name}): websockets received close "
                            f"{rec['close_code']}, expected {case.expect} ({rec['error']}; "
                            f"client: {res.close_code} {res.close_reason})")
    problems += verify.loop_problems(run)
    if problems:
        pytest.fail(verify.fail_message(
            "invalid UTF-8 from websockets to autobahn clients", problems, seed=nvx_seed,
            setup=f"{it.client_threads} client threads, {good} good + {len(bad)} bad "
                  f"connections\n  reproduce: {reproduce}"), pytrace=False)
