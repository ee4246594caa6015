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
connection on the same loop keeps all its messages intact. The good traffic runs again
and again until the last bad peer is done, so every bad case meets it. With two loops, all of it
runs again until the loop threads overlapped as the run needs
(``nvx_ft.protocol.concurrency``), else the test is inconclusive.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from nvx_ft import hang_bound, overlap
from nvx_ft.protocol import peers, rawpeer, verify
from nvx_ft.protocol.servers import EchoServers

#: share of the test's bound after which a raw peer still waiting on a starved server
#: calls its case inconclusive (nvx_ft.protocol.patience): slowness is never a failure
RAW_DEADLINE_SHARE = 0.5


def _good_traffic(urls, it, nvx_seed, servers, raw_done, deadline) -> list[tuple[str, dict]]:
    """The websockets peer's good traffic, again and again (connection paths
    ``/g<k>/c/<n>``) until the bad peers are done: every bad case then meets good traffic
    on the other loop, not only the first few (under load the good traffic alone took
    10 s, the bad cases 25 s)."""
    runs = []
    while not runs or (not raw_done() and time.monotonic() < deadline):
        prefix = f"/g{len(runs)}"
        runs.append((prefix, peers.run_client(
            [u + prefix for u in urls], it.conns, nvx_seed, it.volume,
            timeout=it.io_timeout, bound=it.peer_bound, beats=servers.beats_path)))
    return runs


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

        raw_done = threading.Event()
        with ThreadPoolExecutor(4, thread_name_prefix="nvx-ft-raw-peer") as pool:
            good = pool.submit(_good_traffic, urls, it, nvx_seed, servers, raw_done.is_set,
                               deadline)
            try:
                outcomes = list(pool.map(play, enumerate(cases)))
            finally:
                raw_done.set()
            good_runs = good.result()
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
    for prefix, result in good_runs:
        problems += _good_problems(prefix, result, servers, it, nvx_seed, inconclusive)
    return problems + verify.loop_problems(servers), inconclusive


def _good_problems(prefix, result, servers, it, nvx_seed, inconclusive) -> list[str]:
    """Problems of one run of good traffic (its undecided connections go to
    ``inconclusive``: no evidence either way)."""
    paths = f"{prefix}/c/"
    left_out = verify.undecided(result["connections"])
    inconclusive += [f"websockets connection {paths}{c}: {m}" for c, m in sorted(left_out.items())]
    records = {p: r.messages for p, r in servers.recorder.records.items()
               if p.startswith(paths) and p not in {f"{paths}{c}" for c in left_out}}
    return (verify.echo_problems(result["connections"], nvx_seed, it.volume, "websockets")
            + verify.transcript_problems(records, nvx_seed, it.volume,
                                         [c for c in range(it.conns) if c not in left_out],
                                         side="autobahn server", prefix=paths)
            + verify.server_close_problems(servers.recorder, prefix=paths, skip=left_out))


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
