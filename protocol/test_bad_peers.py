"""Malformed frames and invalid UTF-8 from a raw-socket peer, next to good traffic.

One autobahn server thread (one event loop) serves, at the same time, the websockets
peer's well-behaved connections and a raw-socket peer (our own RFC 6455 encoder) that
sends: reserved bits, unknown opcodes, an unmasked client frame, oversized and
fragmented control frames, lengths that lie, frames cut off, a disconnect mid-frame,
byte-by-byte delivery of a valid message, and every invalid UTF-8 case of
``nvx_ft.protocol.traffic.INVALID_CASES`` (overlong, surrogate, above U+10FFFF,
truncated, split across fragments, invalid close reasons). Each bad connection must get
exactly its close code (1002 protocol error, 1007 invalid payload; autobahn runs with
failByDrop=False so it says so on the wire) or a clean drop, while every good
connection on the same loop keeps all its messages intact. With two loops, all of it
runs again until the loop threads overlapped as the run needs
(``nvx_ft.protocol.concurrency``), else the test is inconclusive.
"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from nvx_ft import hang_bound, overlap
from nvx_ft.protocol import peers, rawpeer, verify
from nvx_ft.protocol.servers import EchoServers

#: share of the test's bound after which a raw peer still waiting on a starved server
#: calls its case inconclusive (nvx_ft.protocol.patience): slowness is never a failure
RAW_DEADLINE_SHARE = 0.5


def _one_round(loop_threads, it, nvx_seed, recorder, bound) -> tuple[list[str], list[str]]:
    """(problems, inconclusive waits) of one round of bad and good traffic."""
    cases = rawpeer.BAD_CASES
    with EchoServers(loop_threads, timeout=it.io_timeout, failByDrop=False,
                     overlap=recorder) as servers:
        urls = [f"ws://127.0.0.1:{p}" for p in servers.ports]
        deadline = time.monotonic() + RAW_DEADLINE_SHARE * bound

        def play(index_case):
            k = index_case[0] % loop_threads  # silence is counted in that loop's beats
            wait = servers.patience(k, min(it.io_timeout, 5), deadline)
            return rawpeer.run(index_case[1], "127.0.0.1", servers.ports[k], patience=wait)

        with ThreadPoolExecutor(4, thread_name_prefix="nvx-ft-raw-peer") as pool:
            good = pool.submit(peers.run_client, urls, it.conns, nvx_seed, it.volume,
                               timeout=it.io_timeout, bound=it.peer_bound,
                               beats=servers.beats_path)
            outcomes = list(pool.map(play, enumerate(cases)))
            result = good.result()
    problems, inconclusive = [], []
    for case, out in zip(cases, outcomes):
        if out.inconclusive:
            inconclusive.append(f"bad peer {case.name}: {out.inconclusive}")
            continue  # the server may not have reached it: nothing to check
        problems += [f"bad peer {case.name}: {p}" for p in out.problems(case)]
        rec = servers.recorder.records.get(f"/raw/{case.name}")
        if rec is None or rec.closed is None:
            problems.append(f"bad peer {case.name}: the server never recorded its close")
        elif case.close and rec.local_close_code not in case.close:
            problems.append(f"bad peer {case.name}: server sent close {rec.local_close_code}")
    left_out = verify.undecided(result["connections"])  # good connections, no evidence
    inconclusive += [f"websockets connection {c}: {m}" for c, m in sorted(left_out.items())]
    records = {p: r.messages for p, r in servers.recorder.records.items()
               if p not in {f"/c/{c}" for c in left_out}}
    return problems + (
        verify.echo_problems(result["connections"], nvx_seed, it.volume, "websockets")
        + verify.transcript_problems(records, nvx_seed, it.volume,
                                     [c for c in range(it.conns) if c not in left_out],
                                     side="autobahn server")
        + verify.server_close_problems(servers.recorder, skip=left_out)
        + verify.loop_problems(servers)), inconclusive


@pytest.mark.parametrize("loop_threads", [1, 2], ids=["1loop", "2loops"])
def test_bad_peers_next_to_good_traffic(loop_threads, protocol_intensity, nvx_seed,
                                        reproduce, protocol_invariants, record_run,
                                        server_overlap, request):
    it = protocol_intensity
    bound = hang_bound.item_bound(request.node, it.test_timeout) or it.test_timeout
    record_run("bad raw peers + websockets -> autobahn", server_threads=loop_threads,
               bad_connections=len(rawpeer.BAD_CASES), connections=it.conns,
               messages=it.conns * it.volume.messages)
    # autobahn logs each failed connection at WARNING: expected here, and only these
    protocol_invariants.expect(r"^failing WebSocket connection \(code=100[27]\)")
    protocol_invariants.expect(r"^dropping connection to peer tcp4:127\.0\.0\.1:\d+ "
                               r"with abort=False: None$")
    run = server_overlap(loop_threads)
    for recorder in run.rounds():  # all of it again while the overlap is not reached
        problems, inconclusive = _one_round(loop_threads, it, nvx_seed, recorder, bound)
        if problems:
            pytest.fail(verify.fail_message(
                "bad peers next to good traffic", problems, seed=nvx_seed,
                setup=f"{loop_threads} server thread(s), {len(rawpeer.BAD_CASES)} bad "
                      f"connections, {it.conns} good connections x {it.volume.messages} "
                      f"messages, round {run.round}\n  reproduce: {reproduce}"),
                pytrace=False)
        if inconclusive:  # no evidence for those cases: never a pass, never a failure
            raise overlap.Inconclusive(
                f"{overlap.INCONCLUSIVE} bad peers next to good traffic, round {run.round}: "
                f"{len(inconclusive)} connection(s) got no answer before the machine ran "
                f"out of time to tell a silent server from a starved one:\n  - "
                + "\n  - ".join(inconclusive) + f"\n  reproduce: {reproduce}")
