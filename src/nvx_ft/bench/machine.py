"""The machine under the benchmarks: its CPUs, how busy it is (Linux ``/proc/stat``), and
pinning threads to CPUs, only where each gets a core of its own, decided once per run."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import time
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: share of the machine idle at the start of a run at or above which "auto" pins
IDLE_TO_PIN = 0.8


def cpu_seconds() -> list[float] | None:
    """CPU-seconds since boot by state (``/proc/stat``: user, nice, system, idle, ...)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    return [int(x) / _TICK for x in fields[1:]] if fields and fields[0] == "cpu" else None


def busy_seconds() -> float | None:
    """CPU-seconds all CPUs spent busy since boot (not idle or iowait; guest time is in user)."""
    t = cpu_seconds()
    return None if t is None else sum(t[:8]) - t[3] - (t[4] if len(t) > 4 else 0)


def idle_share(seconds: float = 0.5, cores: int | None = None) -> float | None:
    """Share of ``cores`` CPUs (default: all) left idle over the next ``seconds``."""
    b0, t0 = busy_seconds(), time.monotonic()
    if b0 is None:
        return None
    time.sleep(seconds)
    b1, t1 = busy_seconds(), time.monotonic()
    n = cores or os.cpu_count() or 1
    return max(0.0, 1.0 - (b1 - b0) / ((t1 - t0) * n))


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def machine_info() -> dict:
    info = {"platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "cpu": platform.processor() or "?",
            # a run started with `nice -n -10` pre-empts other work: say so in the report
            "nice": os.nice(0) if hasattr(os, "nice") else None,
            "cores_usable": len(allowed_cpus())}
    with contextlib.suppress(OSError):
        model = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
        info["cpu"] = model.group(1) if model else info["cpu"]
    return info


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order (all of them where unknown)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity")


def pin_current_thread(cpu: int | set[int]) -> bool:
    """Pin the calling thread (Linux: pid 0) to ``cpu`` or a set of CPUs; False: not allowed."""
    try:
        os.sched_setaffinity(0, cpu if isinstance(cpu, set) else {cpu})
        return True
    except (AttributeError, OSError):  # AttributeError: an OS without it
        return False


def should_pin(count: int, cpus: list[int] | None = None) -> bool:
    """Pin ``count`` threads only if each gets a core of its own."""
    return can_pin() and count <= len(cpus or allowed_cpus())


def pins(count: int, cpus: list[int], first: int = 0) -> list[int]:
    """A CPU each for ``count`` threads after ``first`` others; none where there are too few."""
    return cpus[first:first + count] if should_pin(first + count, cpus) else []


def decide(pin: str, idle: float | None) -> tuple[bool, str]:
    """Pin or not, and why; "auto": only on a machine idle at the start (on a busy one a
    pinned thread cannot escape a core another process holds)."""
    if not can_pin():
        return False, "the OS does not allow pinning"
    if pin in ("on", "off"):
        return pin == "on", f"pinning {pin} (asked)"
    if idle is None:
        return False, "auto: machine load unknown, not pinned"
    if idle >= IDLE_TO_PIN:
        return True, f"auto: machine {idle:.0%} idle at the start"
    return False, (f"auto: machine only {idle:.0%} idle at the start - pinned threads "
                   "could not escape cores other processes hold")


def decision(pin: str) -> dict:
    """The run's one pinning decision, with the machine measured now for "auto"."""
    idle = idle_share(0.5) if pin == "auto" and can_pin() else None
    pinned, why = decide(pin, idle)
    return {"pinned": pinned, "note": why, "idle": idle}
