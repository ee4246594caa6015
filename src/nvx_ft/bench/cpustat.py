"""The whole machine's CPU time (Linux ``/proc/stat``): how busy it was, and with whom.

A benchmark window knows its own processes' CPU time; the machine's busy time over the
same window minus that is what *other* processes took - the measured form of "the
machine was busy", per window, instead of a load average that also counts ourselves.
"""

from __future__ import annotations

import os
import time

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def busy_seconds() -> float | None:
    """CPU-seconds all CPUs spent not idle since boot (user, nice, system, irq, softirq,
    steal); None where /proc/stat is not there."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    # guest time is already counted in user
    busy = sum(ticks[:8]) - idle
    return busy / _TICK


def idle_share(seconds: float = 0.5, cores: int | None = None) -> float | None:
    """Share of ``cores`` CPUs (default: all) left idle over the next ``seconds``."""
    b0, t0 = busy_seconds(), time.monotonic()
    if b0 is None:
        return None
    time.sleep(seconds)
    b1, t1 = busy_seconds(), time.monotonic()
    n = cores or os.cpu_count() or 1
    return max(0.0, 1.0 - (b1 - b0) / ((t1 - t0) * n))
