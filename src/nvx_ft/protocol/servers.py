"""autobahn's asyncio echo server, in N threads with one event loop each, on 127.0.0.1:0.

Every connection is recorded under its request path (``/c/<n>`` for planned traffic):
the digest of each message autobahn delivered, in order, and how the connection closed.
The test compares these transcripts with the plan the peer derived from the same seed.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from nvx_ft import overlap as overlap_mod
from nvx_ft.protocol import faults
from nvx_ft.protocol.loops import LoopThread
from nvx_ft.protocol.patience import BeatFile, Patience
from nvx_ft.protocol.traffic import digest

HOST = "127.0.0.1"


@dataclass
class ConnectionRecord:
    path: str
    thread: int
    messages: list = field(default_factory=list)
    #: (wasClean, code, reason) from onClose, and the close codes autobahn sent/received
    closed: tuple | None = None
    local_close_code: int | None = None
    remote_close_code: int | None = None


class Recorder:
    """Thread-safe registry of connection records (one server thread writes each)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: dict[str, ConnectionRecord] = {}

    def open(self, path: str, thread: int) -> ConnectionRecord:
        rec = ConnectionRecord(path, thread)
        with self._lock:
            if path in self.records:  # same path twice: keep both, visibly
                path = f"{path}#{len(self.records)}"
                rec.path = path
            self.records[path] = rec
        return rec


def _protocol_class():
    from autobahn.asyncio.websocket import WebSocketServerProtocol

    class EchoServerProtocol(WebSocketServerProtocol):
        """Echoes every message as it came (same kind, same bytes) and records it."""

        record = None

        def _dataReceived(self, data):
            # everything autobahn does with received bytes runs in here: frame parsing,
            # unmasking (XOR), UTF-8 validation, onMessage and the echo it sends
            with self.factory.overlap:
                super()._dataReceived(data)

        def onConnect(self, request):
            self.record = self.factory.recorder.open(request.path, self.factory.thread_index)
            self.factory.live.add(self)

        def onMessage(self, payload, isBinary):
            if self.factory.record_messages:
                self.record.messages.append(digest(isBinary, payload))
            self.sendMessage(payload, isBinary)

        def onClose(self, wasClean, code, reason):
            self.factory.live.discard(self)
            if self.record is not None:
                self.record.closed = (wasClean, code, reason)
                self.record.local_close_code = self.localCloseCode
                self.record.remote_close_code = self.remoteCloseCode

    return EchoServerProtocol


class EchoServers:
    """Context manager: ``threads`` autobahn echo servers, ``ports[i]`` served by thread i.

    ``record=False`` keeps no per-message digests (the benchmark: an echo server does no
    hashing); ``thread_hook(index)`` runs first in each loop thread (e.g. to pin it);
    ``overlap`` (an :class:`nvx_ft.overlap.Overlap`) records when each server thread was
    inside autobahn's processing of received data (read it after the servers closed)."""

    def __init__(self, threads: int, *, timeout: float = 20.0, record: bool = True,
                 thread_hook=None, overlap: overlap_mod.Overlap | None = None,
                 **options) -> None:
        self.threads = threads
        self.timeout = timeout
        self.record = record
        self.thread_hook = thread_hook
        self.overlap = overlap
        self.options = dict(options)
        self.recorder = Recorder()
        self.loops: list[LoopThread] = []
        self.ports: list[int] = []
        #: every loop's heartbeat, readable by the websockets peer (beats_path)
        self.beats: BeatFile | None = None

    async def _setup(self, loop, index):
        from autobahn.asyncio.websocket import WebSocketServerFactory

        if self.thread_hook is not None:
            self.thread_hook(index)
        factory = WebSocketServerFactory(loop=loop)
        factory.protocol = _protocol_class()
        # large messages are the point; no compression: NVX sees the bytes as sent.
        # autobahn's open / close handshake timeouts are off (0): a wall-clock wait would
        # fail a starved but healthy peer. Whether a peer answered is judged by the peers,
        # on this loop's progress (nvx_ft.protocol.patience); a connection still open when
        # the servers stop is aborted, and its unclean close is reported.
        factory.setProtocolOptions(maxFramePayloadSize=0, maxMessagePayloadSize=0,
                                   openHandshakeTimeout=0, closeHandshakeTimeout=0,
                                   **faults.protocol_options(self.options))
        factory.recorder, factory.thread_index, factory.live = self.recorder, index, set()
        factory.record_messages = self.record
        factory.overlap = overlap_mod.NULL if self.overlap is None else self.overlap
        server = await loop.create_server(factory, HOST, 0)
        return server, factory

    def __enter__(self) -> "EchoServers":
        try:
            self.beats = BeatFile(self.threads)
            for i in range(self.threads):
                lt = LoopThread(i, f"nvx-ft-ab-server-{i}", self._setup, overlap=self.overlap,
                                beat_hook=self.beats.writer(i))
                self.loops.append(lt)
                lt.start(self.timeout)
                self.ports.append(lt.value[0].sockets[0].getsockname()[1])
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        errors = []
        for lt in self.loops:
            if lt.value is None:
                continue
            server, factory = lt.value

            async def shut(server=server, factory=factory):
                server.close()
                # connections the test left open are dropped, not waited for
                for proto in list(factory.live):
                    proto.transport.abort()
                await server.wait_closed()  # bounded on this loop's progress (lt.stop)
                await asyncio.sleep(0)  # let connection_lost callbacks run

            try:
                lt.stop(shut, self.timeout)
            except AssertionError as exc:
                errors.append(exc)
        if self.beats is not None and not any(lt.thread.is_alive() for lt in self.loops
                                              if lt.thread is not None):
            self.beats.close()
            self.beats = None
        if errors:
            raise errors[0]

    @property
    def beats_path(self) -> str:
        """The :class:`~nvx_ft.protocol.patience.BeatFile` of the loops (``ports`` order)."""
        return self.beats.path

    def patience(self, index: int, quiet: float, deadline: float) -> Patience:
        """A wait on loop ``index`` (its heartbeat and CPU time): ``nvx_ft.protocol.patience``."""
        lt = self.loops[index]
        return Patience(quiet, deadline, lt.heartbeat, lt.cpu_seconds)

    # ------------------------------------------------------------------ results

    def url(self, conn: int, prefix: str = "c") -> str:
        return f"ws://{HOST}:{self.ports[conn % self.threads]}/{prefix}/{conn}"

    @property
    def loop_errors(self) -> list[str]:
        return [e for lt in self.loops for e in lt.loop_errors]

    @property
    def leftover_tasks(self) -> list[str]:
        return [t for lt in self.loops for t in lt.leftover_tasks]
