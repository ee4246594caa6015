"""One autobahn-on-Twisted echo round trip, reactor on a thread, in its own process.

Its own process because txaio picks one framework per process (``use_twisted`` vs
``use_asyncio``) and a Twisted reactor runs once per process. Server and client are
``autobahn.twisted.websocket``; the client sends a seeded plan (fragmented messages
through beginMessage/.../endMessage) and checks every echo.

``python -m nvx_ft.protocol.twisted_echo --seed S --messages N`` prints
``NVX-FT-TWISTED-RESULT {...}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from nvx_ft.protocol.traffic import Volume, digest, plan

RESULT = "NVX-FT-TWISTED-RESULT"


def run(seed: int, volume: Volume, timeout: float) -> dict:
    from autobahn.twisted.websocket import (WebSocketClientFactory, WebSocketClientProtocol,
                                            WebSocketServerFactory, WebSocketServerProtocol)
    from twisted.internet import reactor

    msgs = plan(seed, 0, volume)
    res = {"sent": 0, "ok": 0, "mismatches": [], "close_code": None, "error": None,
           "server_received": [],
           "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)()}
    done = threading.Event()

    class Echo(WebSocketServerProtocol):
        def onMessage(self, payload, isBinary):
            res["server_received"].append(digest(isBinary, payload))
            self.sendMessage(payload, isBinary)

    class Client(WebSocketClientProtocol):
        def onOpen(self):
            self.i = 0
            self._send_next()

        def _send_next(self):
            if self.i == len(msgs):
                self.sendClose(1000)
                return
            m = msgs[self.i]
            if m.ping_before:
                self.sendPing(b"p")
            if m.cuts:
                self.beginMessage(isBinary=m.binary)
                for frag in m.fragments:
                    self.beginMessageFrame(len(frag))
                    self.sendMessageFrameData(frag)
                self.endMessage()
            else:
                self.sendMessage(m.payload, m.binary)
            res["sent"] += 1

        def onMessage(self, payload, isBinary):
            m = msgs[self.i]
            if (isBinary, payload) == (m.binary, m.payload):
                res["ok"] += 1
            else:
                res["mismatches"].append({"index": m.index, "what": m.describe(),
                                          "expected": digest(m.binary, m.payload),
                                          "got": digest(isBinary, payload)})
            self.i += 1
            self._send_next()

        def onClose(self, wasClean, code, reason):
            res["close_code"] = code
            reactor.callLater(0, port.stopListening)
            done.set()

    server = WebSocketServerFactory()
    server.protocol = Echo
    server.setProtocolOptions(maxFramePayloadSize=0, maxMessagePayloadSize=0)
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    url = f"ws://127.0.0.1:{port.getHost().port}/tw"
    client = WebSocketClientFactory(url)
    client.protocol = Client
    reactor.callLater(0, reactor.connectTCP, "127.0.0.1", port.getHost().port, client)

    thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                              name="nvx-ft-twisted-reactor", daemon=True)
    thread.start()
    if not done.wait(timeout):
        res["error"] = f"no close within {timeout} s"
    reactor.callFromThread(reactor.stop)
    thread.join(timeout)
    if thread.is_alive():
        res["error"] = (res["error"] or "") + "; reactor thread did not stop"
    res["gil_enabled_after"] = getattr(sys, "_is_gil_enabled", lambda: True)()
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m nvx_ft.protocol.twisted_echo")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--max-size", type=int, default=65537)
    p.add_argument("--random-max", type=int, default=2048)
    p.add_argument("--timeout", type=float, default=30.0)
    a = p.parse_args(argv)
    res = run(a.seed, Volume(a.messages, a.max_size, a.random_max), a.timeout)
    print(f"{RESULT} {json.dumps(res)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
