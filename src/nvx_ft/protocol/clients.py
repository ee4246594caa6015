"""autobahn's asyncio WebSocket clients, spread over threads with one event loop each.

Connection ``c`` runs on thread ``c % threads``, opens ``url_for(c)``, and sends its
seeded plan one message at a time: a ping first where the plan says so, fragmented
messages through ``beginMessage``/``beginMessageFrame``/``sendMessageFrameData``/
``endMessage`` (the per-message masker path) yielding to the loop between fragments,
the others through ``sendMessage`` (one masker per frame); then it waits for the exact
echo. Outgoing client frames are masked - that is what a peer server judges.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from nvx_ft.protocol import faults
from nvx_ft.protocol.loops import LoopThread
from nvx_ft.protocol.traffic import Volume, digest, plan


@dataclass
class ClientResult:
    conn: int
    url: str
    thread: int
    sent: int = 0
    ok: int = 0
    mismatches: list = field(default_factory=list)
    error: str | None = None
    close_code: int | None = None
    was_clean: bool | None = None
    close_reason: str | None = None


def _protocol_class():
    from autobahn.asyncio.websocket import WebSocketClientProtocol

    class PlanClientProtocol(WebSocketClientProtocol):
        def onOpen(self):
            self.inbox = asyncio.Queue()
            if self.factory.listen_only:
                return
            self.factory.task = asyncio.get_running_loop().create_task(self._run())

        def onMessage(self, payload, isBinary):
            self.inbox.put_nowait((isBinary, payload))
            if self.factory.listen_only:  # it should have been rejected, not delivered
                self.factory.result.mismatches.append(
                    {"index": self.inbox.qsize() - 1, "what": "a message that must be rejected",
                     "expected": "close 1007", "got": digest(isBinary, payload)})

        def onClose(self, wasClean, code, reason):
            res = self.factory.result
            res.was_clean, res.close_code, res.close_reason = wasClean, code, reason
            if hasattr(self, "inbox"):
                self.inbox.put_nowait(None)  # wake the plan if it is waiting for an echo
            self.factory.closed.set_result(None) if not self.factory.closed.done() else None

        async def _run(self):
            f = self.factory
            res = f.result
            try:
                for msg in f.plan:
                    if msg.ping_before:
                        self.sendPing(f"p{msg.index}".encode())
                    if msg.cuts:
                        self.beginMessage(isBinary=msg.binary)
                        for frag in msg.fragments:
                            self.beginMessageFrame(len(frag))
                            self.sendMessageFrameData(frag)
                            await asyncio.sleep(0)  # interleave with other connections
                        self.endMessage()
                    else:
                        self.sendMessage(msg.payload, msg.binary)
                    res.sent += 1
                    got = await asyncio.wait_for(self.inbox.get(), f.timeout)
                    if got is None:
                        res.error = f"closed while waiting for the echo of {msg.describe()}"
                        return
                    if got == (msg.binary, msg.payload):
                        res.ok += 1
                    else:
                        res.mismatches.append({"index": msg.index, "what": msg.describe(),
                                               "expected": digest(msg.binary, msg.payload),
                                               "got": digest(*got)})
                self.sendClose(1000)
            except Exception as exc:  # reported per connection, never lost in a task
                res.error = f"{type(exc).__name__}: {exc}"
                self.dropConnection(abort=True)

    return PlanClientProtocol


def _ws_options(timeout: float) -> dict:
    # autobahn's own open / close handshake timeouts off (0), as in the echo servers: a
    # wall-clock wait failed healthy handshakes beside one busy loop per CPU (64 clients
    # on 2 loops, "opening handshake timeout" after 10 s). A connection that never ends is
    # still caught, by the run's bound ("still open after ...").
    return dict(maxFramePayloadSize=0, maxMessagePayloadSize=0, autoPingInterval=0,
                openHandshakeTimeout=0, closeHandshakeTimeout=0,
                serverConnectionDropTimeout=timeout)


@dataclass
class ClientRun:
    results: list
    loop_errors: list
    leftover_tasks: list


def run_clients(url_for, conns: int, threads: int, seed: int, volume: Volume, *,
                timeout: float = 20.0, bound: float = 120.0,
                listen_only=frozenset()) -> ClientRun:
    """Run ``conns`` autobahn client connections on ``threads`` loops to completion.

    Connections in ``listen_only`` send nothing and wait for the server to close (the
    server sends them something to reject); they fail on the wire (failByDrop=False),
    so the server learns their close code.
    """
    from autobahn.asyncio.websocket import WebSocketClientFactory

    results = [ClientResult(c, url_for(c), c % threads) for c in range(conns)]
    # plans made before the loops start (as the websockets peer does): making one costs
    # far more CPU than sending it, and the servers should be busy, not waiting
    plans = {c: plan(seed, c, volume) for c in range(conns) if c not in listen_only}
    proto_cls = _protocol_class()

    async def one(loop, res: ClientResult):
        factory = WebSocketClientFactory(res.url, loop=loop)
        factory.protocol = proto_cls
        factory.setProtocolOptions(**faults.protocol_options(_ws_options(timeout)))
        if res.conn in listen_only:
            factory.setProtocolOptions(failByDrop=False)
        factory.listen_only = res.conn in listen_only
        factory.result, factory.plan, factory.timeout = res, plans.get(res.conn, []), timeout
        factory.closed, factory.task = loop.create_future(), None
        host, port = res.url.split("/")[2].split(":")
        try:
            transport, _ = await asyncio.wait_for(
                loop.create_connection(factory, host, int(port)), timeout)
        except (OSError, TimeoutError) as exc:
            res.error = f"connect: {type(exc).__name__}: {exc}"
            return
        try:
            await asyncio.wait_for(asyncio.shield(factory.closed), bound)
        except TimeoutError:
            res.error = res.error or f"connection still open after {bound} s"
            transport.abort()
        if factory.task is not None and not factory.task.done():
            await asyncio.wait([factory.task], timeout=timeout)
        if factory.task is not None and not factory.task.done():
            factory.task.cancel()

    async def setup(loop, index):
        return None

    loops = [LoopThread(i, f"nvx-ft-ab-client-{i}", setup) for i in range(threads)]
    try:
        for lt in loops:
            lt.start(timeout)
        futures = []
        for lt in loops:
            mine = [r for r in results if r.thread == lt.index]

            async def all_of(lt=lt, mine=mine):
                await asyncio.gather(*(one(lt.loop, r) for r in mine))

            futures.append(asyncio.run_coroutine_threadsafe(all_of(), lt.loop))
        for fut in futures:
            fut.result(bound + 2 * timeout)
    finally:
        for lt in loops:
            lt.stop(None, timeout)
    return ClientRun(results, [e for lt in loops for e in lt.loop_errors],
                     [t for lt in loops for t in lt.leftover_tasks])
