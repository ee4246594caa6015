"""The echo benchmark's server with a fault, for ``test_echo_bench.py``:

    python selftests/faulty_echo_server.py corrupt-echo|no-echo [nvx_ft.bench.echo's options]

``corrupt-echo`` flips one byte of the 10th echo, ``no-echo`` sends nothing from it on.
"""

import sys
import threading

from autobahn.websocket.protocol import WebSocketProtocol

from nvx_ft.bench import echo

#: the echo a fault starts at (1-based, per process)
CORRUPT_NTH = 10


def inject(kind: str) -> None:
    real, lock, sent = WebSocketProtocol.sendMessage, threading.Lock(), [0]

    def send(self, payload, isBinary=False, *args, **kwargs):
        with lock:
            sent[0] += 1
            nth = sent[0]
        if nth >= CORRUPT_NTH and kind == "no-echo":
            return None
        if nth == CORRUPT_NTH and payload:
            payload = bytes([payload[0] ^ 0x01]) + payload[1:]
        return real(self, payload, isBinary, *args, **kwargs)

    WebSocketProtocol.sendMessage = send


if __name__ == "__main__":
    inject(sys.argv[1])
    sys.exit(echo.main(sys.argv[2:]))
