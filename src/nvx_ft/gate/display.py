"""Progress on stderr while the gate runs."""

from __future__ import annotations

import sys
import threading
import time

from nvx_ft.gate.context import Check


class Display:
    """Progress on stderr while a step runs (a live line with elapsed time and test counts
    on a terminal, a line every 30 s otherwise); one line per finished step."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._last = 0.0
        self._tests = ""

    def start(self, i: int, n: int, name: str) -> None:
        self.prefix = f"[{i}/{n}] {name:<16}"
        self._t0, self._tests = time.monotonic(), ""
        self.write(f"{self.prefix} running", final=not self.tty)
        if self.tty:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.write(f"{self.prefix} running  {self._tests}{time.monotonic() - self._t0:5.0f}s",
                       final=False)

    def progress(self, done: int, total: int, failed: int, elapsed: float) -> None:
        bad = f", {failed} failing" if failed else ""
        self._tests = f"{done}/{total or '?'} tests{bad}  "
        now = time.monotonic()
        if not self.tty and now - self._last >= 30:
            self._last = now
            self.write(f"{self.prefix} running  {self._tests}{elapsed:5.0f}s", final=True)

    def finish(self, check: Check) -> None:
        if self._ticker:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
        self.write(f"{self.prefix} {check.status.upper():<8} {check.duration_s:6.1f}s  "
                   f"{check.summary}", final=True)

    def write(self, text: str, final: bool) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
