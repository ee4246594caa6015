"""The end-to-end benchmark's server process: autobahn's asyncio echo server in N threads.

    python -m nvx_ft.bench.echo --threads 2 [--pin-cpus 0,1] [--lifetime 600]

The protocol suite's ``EchoServers`` (an event loop and 127.0.0.1 port per thread), NVX on or
off by ``AUTOBAHN_USE_NVX``. Prints ``REPLY {ports, uses_nvx, ...}`` when ready; then a
JSON command a line: ``measure`` (start, end: ``time.monotonic``) -> ``REPLY {cpu, wall,
machine_busy}`` over that interval; ``quit``. It exits (3) by itself after ``--lifetime`` s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

REPLY = "REPLY"  # before each answer line, in the server's and the load generator's output


def _watchdog(lifetime: float) -> None:
    def expire():
        print(f"nvx_ft.bench.echo: lifetime of {lifetime:.0f} s reached, exiting",
              file=sys.stderr, flush=True)
        os._exit(3)

    timer = threading.Timer(lifetime, expire)
    timer.daemon = True
    timer.start()


def _measure(start: float, end: float) -> dict:
    from nvx_ft.bench.machine import busy_seconds

    def at(when: float) -> tuple:
        time.sleep(max(0.0, when - time.monotonic()))
        # process_time: every thread's CPU time, ns resolution (unlike os.times)
        return time.process_time(), time.monotonic(), busy_seconds()

    (c0, t0, m0), (c1, t1, m1) = at(start), at(end)
    return {"cpu": c1 - c0, "wall": t1 - t0,
            "machine_busy": None if m0 is None or m1 is None else m1 - m0}


def _info(servers, pinned: dict[int, int], tids: dict[int, int]) -> dict:
    import autobahn
    import autobahn.websocket as ws

    return {"ports": servers.ports, "pid": os.getpid(), "threads": servers.threads,
            "pinned_cpus": [c for _, c in sorted(pinned.items())],
            "python": sys.version.split()[0],
            "free_threaded_build": bool(__import__("sysconfig")
                                        .get_config_var("Py_GIL_DISABLED")),
            "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
            "uses_nvx": bool(getattr(ws, "USES_NVX", False)),
            "autobahn": autobahn.__version__, "tids": [t for _, t in sorted(tids.items())]}


def serve(threads: int, pin_cpus: list[int], timeout: float) -> None:
    from nvx_ft.protocol.servers import EchoServers

    from nvx_ft.bench.machine import pin_current_thread

    pinned: dict[int, int] = {}  # server thread index -> its CPU, where the OS agreed
    tids: dict[int, int] = {}  # server thread index -> native id (to check the pinning)

    def hook(index: int) -> None:  # in server thread ``index`` as it starts
        tids[index] = threading.get_native_id()
        if index < len(pin_cpus) and pin_current_thread(pin_cpus[index]):
            pinned[index] = pin_cpus[index]

    with EchoServers(threads, timeout=timeout, record=False, thread_hook=hook) as servers:
        print(REPLY, json.dumps(_info(servers, pinned, tids)), flush=True)
        for line in sys.stdin:
            cmd = json.loads(line) if line.strip() else {"cmd": "quit"}
            if cmd["cmd"] == "quit":
                break
            print(REPLY, json.dumps(_measure(cmd["start"], cmd["end"]) if cmd["cmd"] == "measure"
                                    else {"error": f"unknown command {cmd['cmd']!r}"}), flush=True)
        errors = servers.loop_errors
    if errors:
        print("loop errors:\n" + "\n".join(errors[:20]), file=sys.stderr, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--pin-cpus", default="", help="comma-separated CPU per server thread")
    p.add_argument("--lifetime", type=float, default=600.0, help="exit after this many s")
    p.add_argument("--timeout", type=float, default=30.0, help="handshake/start bound, s")
    args = p.parse_args(argv)
    _watchdog(args.lifetime)
    serve(args.threads, [int(c) for c in args.pin_cpus.split(",") if c], args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
