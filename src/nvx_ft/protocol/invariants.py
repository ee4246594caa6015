"""What must hold after every protocol run, whatever the test checked itself.

* no WARNING-or-worse log record: txaio (under asyncio) logs through the stdlib
  ``logging`` module, as does asyncio itself, so one handler on the root logger sees
  autobahn's and asyncio's complaints alike; a test names the records it expects;
* no thread and no socket left behind (sockets: this process's fds that are sockets);
* on a free-threaded build, the GIL still disabled.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sysconfig
import threading
import time

from nvx_ft import overlap

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


class WarningCapture(logging.Handler):
    """Collects WARNING+ records from every logger; thread-safe (logging locks emit)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.expected: list[re.Pattern] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def expect(self, pattern: str) -> None:
        """Records whose message matches ``pattern`` are part of the test, not a failure."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        out = []
        for r in self.records:
            try:
                msg = r.getMessage()
            except Exception:  # txaio formats with {} placeholders; keep the raw text
                msg = f"{r.msg} {r.args}"
            if not any(p.search(msg) for p in self.expected):
                out.append(f"{r.levelname} {r.name} [{r.threadName}]: {msg[:500]}")
        return out

    def __enter__(self) -> "WarningCapture":
        root = logging.getLogger()
        self._old_level = root.level
        root.addHandler(self)
        if root.level > logging.WARNING or root.level == logging.NOTSET:
            root.setLevel(logging.WARNING)
        return self

    def __exit__(self, *exc) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        root.setLevel(self._old_level)


def socket_fds() -> set[str]:
    """This process's open sockets as 'fd -> socket:[inode]' (Linux /proc; empty elsewhere)."""
    out = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:"):
            out.add(f"{fd}->{link}")
    return out


class Baseline:
    """Threads and sockets before a run; :meth:`leaks` lists what is new after it."""

    def __init__(self) -> None:
        self.threads = {t.ident for t in threading.enumerate()}
        self.sockets = socket_fds()

    def leaks(self, settle: float = 5.0) -> list[str]:
        deadline = time.monotonic() + settle
        while True:
            gc.collect()  # a socket only garbage holds closes here, not leaks
            threads = [t for t in threading.enumerate()
                       if t.ident not in self.threads and t.is_alive()]
            sockets = socket_fds() - self.sockets
            if not (threads or sockets) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        out = [f"thread left running: {t.name} (daemon={t.daemon})" for t in threads]
        out += [f"socket left open: fd {s}" for s in sorted(sockets)]
        return out


def gil_problem() -> str | None:
    if FREE_THREADED and overlap.gil_enabled():
        return ("the GIL is enabled on a free-threaded build after the run (an import or a "
                "PYTHON_GIL setting turned it on)")
    return None
