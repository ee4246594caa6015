"""websockets (another process) -> autobahn asyncio echo servers in 1, 2, 4, cpu threads.

Many connections per server thread, seeded text and binary traffic with fragments cut
inside code points and pings: every echo exact (judged by websockets), and every
message autobahn delivered recorded in order (judged against the plan). With 2+ server
threads the traffic runs again until the threads overlapped as the run needs
(``nvx_ft.protocol.concurrency``), else the test is inconclusive.
"""

import pytest

from nvx_ft import overlap
from nvx_ft.protocol import peers, verify
from nvx_ft.protocol.servers import EchoServers


def test_websockets_clients_to_autobahn_servers(server_threads, protocol_intensity, nvx_seed,
                                                reproduce, record_run, server_overlap):
    it = protocol_intensity
    record_run("websockets -> autobahn", server_threads=server_threads, connections=it.conns,
               messages=it.conns * it.volume.messages)
    run = server_overlap(server_threads)
    for recorder in run.rounds():  # the same traffic again while the overlap is not reached
        with EchoServers(server_threads, timeout=it.io_timeout, overlap=recorder) as servers:
            urls = [f"ws://127.0.0.1:{p}" for p in servers.ports]
            result = peers.run_client(urls, it.conns, nvx_seed, it.volume,
                                      timeout=it.io_timeout, bound=it.peer_bound,
                                      beats=servers.beats_path)
        left_out = verify.undecided(result["connections"])  # too slow to tell: no evidence
        records = {p: r.messages for p, r in servers.recorder.records.items()
                   if p not in {f"/c/{c}" for c in left_out}}
        problems = (verify.echo_problems(result["connections"], nvx_seed, it.volume,
                                         "websockets")
                    + verify.transcript_problems(records, nvx_seed, it.volume,
                                                 [c for c in range(it.conns)
                                                  if c not in left_out],
                                                 side="autobahn server")
                    + verify.server_close_problems(servers.recorder, skip=left_out)
                    + verify.loop_problems(servers))
        if problems:
            pytest.fail(verify.fail_message(
                "websockets clients -> autobahn servers", problems, seed=nvx_seed,
                setup=f"{server_threads} server threads x {it.conns} connections x "
                      f"{it.volume.messages} messages, round {run.round}\n"
                      f"  peer: {result['command']}\n  reproduce: {reproduce}"),
                pytrace=False)
        if left_out:  # never a pass, never a failure
            raise overlap.Inconclusive(
                f"{overlap.INCONCLUSIVE} websockets clients -> autobahn servers, round "
                f"{run.round}: {len(left_out)} connection(s) got no answer before the "
                f"machine ran out of time to tell a silent server from a starved one:\n  - "
                + "\n  - ".join(f"connection {c}: {m}" for c, m in sorted(left_out.items()))
                + f"\n  reproduce: {reproduce}")
