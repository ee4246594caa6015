"""The independent peer: the ``websockets`` library in its own process.

``python -m nvx_ft.protocol.peer client --urls U1,U2 --conns K --seed S ...`` opens K
connections (connection c to ``urls[c % len]``/c/<c>), sends each its seeded plan
(fragments as separate frames, pings before some messages), checks every echo exactly
and prints one JSON line ``NVX-FT-PEER-RESULT {...}``: per connection, the mismatches
and the close code.

``python -m nvx_ft.protocol.peer server`` runs a websockets echo server on 127.0.0.1:0,
prints ``NVX-FT-PEER-READY <port>``, records what it received per request path (digests,
close codes) and prints ``NVX-FT-PEER-RESULT {...}`` when its stdin closes. websockets
unmasks and validates UTF-8 by its own reading of RFC 6455, so it judges autobahn's
client masking.

Imports only websockets and nvx_ft (stdlib only: traffic, patience): never autobahn.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from nvx_ft.overlap import Inconclusive
from nvx_ft.protocol.patience import Patience, read_beats
from nvx_ft.protocol.traffic import INVALID_CASES, Volume, digest, plan

RESULT, READY = "NVX-FT-PEER-RESULT", "NVX-FT-PEER-READY"


def _close_code(ws) -> int | None:
    """The close code the other end sent (None: it sent no close frame)."""
    rcvd = ws.protocol.close_rcvd
    return rcvd.code if rcvd is not None else None


async def _fragments(msg):
    for frag in msg.fragments:
        yield frag
        # a pause, so the server reads this message in pieces with other connections'
        # frames in between (what per-connection state must survive); not a timing check
        await asyncio.sleep(0.002)


async def _client_conn(url: str, conn: int, messages: list, timeout: float,
                       patience: Patience | None = None) -> dict:
    """One connection's plan. Each wait for the server is bounded by ``patience`` (the
    server loop's heartbeat: nvx_ft.protocol.patience), else by ``timeout`` seconds; a
    wait the machine was too slow to decide leaves the connection ``inconclusive``."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    wait = patience or Patience.wall_clock(timeout)
    own = None if patience else timeout  # websockets' own timeouts: only without a heartbeat
    res = {"conn": conn, "url": url, "sent": 0, "ok": 0, "mismatches": [], "error": None,
           "close_code": None, "inconclusive": None}
    try:
        ws = await wait.wait(connect(url, max_size=None, compression=None, open_timeout=own,
                                     close_timeout=own, ping_interval=None),
                             "opening handshake")
        async with ws:
            try:
                for msg in messages:
                    if msg.ping_before:
                        await wait.wait(await ws.ping(f"p{msg.index}".encode()), "pong")
                    if msg.cuts:
                        await ws.send(_fragments(msg), text=not msg.binary)
                    else:
                        await ws.send(msg.payload, text=not msg.binary)
                    res["sent"] += 1
                    got = await wait.wait(ws.recv(), f"echo of message {msg.index}")
                    got_binary = isinstance(got, bytes)
                    got = got if got_binary else got.encode()
                    if got_binary == msg.binary and got == msg.payload:
                        res["ok"] += 1
                    else:
                        res["mismatches"].append({
                            "index": msg.index, "what": msg.describe(),
                            "expected": digest(msg.binary, msg.payload),
                            "got": digest(got_binary, got)})
                await wait.wait(ws.close(), "closing handshake")
            except ConnectionClosed as exc:
                res["error"] = f"connection closed early: {exc}"
            except Inconclusive as exc:
                res["inconclusive"] = str(exc)
                ws.transport.abort()  # no evidence: leave without waiting any longer
            except TimeoutError as exc:  # Silent: the server ran and did not answer
                res["error"] = f"{type(exc).__name__}: {exc}"
                ws.transport.abort()
            res["close_code"] = _close_code(ws)
    except Inconclusive as exc:
        res["inconclusive"] = str(exc)
    except Exception as exc:  # noqa: BLE001 - per connection, never lost (Silent too)
        res["error"] = f"{type(exc).__name__}: {exc}"
    return res


async def _client(args) -> dict:
    urls = args.urls.split(",")
    volume = Volume(args.messages, args.max_size, args.random_max)
    # every plan made before the first connection: making one costs far more CPU than
    # sending it, and the servers under test should be busy, not waiting for the peer
    plans = [plan(args.seed, c, volume) for c in range(args.conns)]
    deadline = time.monotonic() + args.deadline
    waits = [Patience(args.timeout, deadline, read_beats(args.beats, k)) if args.beats
             else None for k in range(len(urls))]
    conns = [_client_conn(f"{urls[c % len(urls)]}/c/{c}", c, plans[c], args.timeout,
                          waits[c % len(urls)])
             for c in range(args.conns)]
    return {"connections": await asyncio.gather(*conns)}


async def _server(args) -> dict:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    records: dict = {}

    async def echo(ws):
        path = ws.request.path
        rec = records.setdefault(path, {"messages": [], "close_code": None, "error": None})
        if path.startswith("/bad/"):  # send the named invalid UTF-8 text; the client must close
            case = next(c for c in INVALID_CASES if c.name == path.split("/")[2])
            try:
                frags = case.fragments
                await ws.send(frags[0] if len(frags) == 1 else iter(frags), text=True)
                await asyncio.wait_for(ws.wait_closed(), args.timeout)
            except (ConnectionClosed, TimeoutError) as exc:
                rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["close_code"] = _close_code(ws)
            return
        try:
            async for message in ws:
                binary = isinstance(message, bytes)
                data = message if binary else message.encode()
                rec["messages"].append(digest(binary, data))
                await ws.send(message)
        except ConnectionClosed as exc:
            rec["error"] = str(exc)
        rec["close_code"] = _close_code(ws)

    async with serve(echo, "127.0.0.1", 0, max_size=None, compression=None,
                     ping_interval=None, close_timeout=args.timeout) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"{READY} {port}", flush=True)
        loop = asyncio.get_running_loop()
        # serve until the parent closes our stdin (or the lifetime bound runs out)
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), args.lifetime)
    return {"connections": records}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nvx_ft.protocol.peer")
    p.add_argument("mode", choices=("client", "server"))
    p.add_argument("--urls", default="")
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--max-size", type=int, default=65536)
    p.add_argument("--random-max", type=int, default=4096)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--lifetime", type=float, default=300.0)
    p.add_argument("--beats", default="",
                   help="the servers' heartbeat file (nvx_ft.protocol.patience.BeatFile, "
                        "one slot per URL): wait on their progress, not the wall clock")
    p.add_argument("--deadline", type=float, default=60.0,
                   help="seconds after which a wait the servers' progress has not decided "
                        "is inconclusive (with --beats)")
    args = p.parse_args(argv)
    result = asyncio.run(_client(args) if args.mode == "client" else _server(args))
    print(f"{RESULT} {json.dumps(result)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
