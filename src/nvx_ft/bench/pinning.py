"""Pinning threads and processes to CPUs, where the OS allows it (Linux).

A pinned thread is not migrated between cores in the middle of a timed window (a
migration costs it its caches and, on a VM, can land it on a vCPU another guest holds).
Pinning is only done where there is a core for each pinned thread: with more threads
than cores the scheduler balances better than a fixed round-robin would.
"""

from __future__ import annotations

import os


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on, in order (all of them where unknown)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity")


def pin_current_thread(cpu: int) -> bool:
    """Pin the calling thread (Linux: pid 0 is the calling thread) to ``cpu``; False where
    the OS does not allow it."""
    if not can_pin():
        return False
    try:
        os.sched_setaffinity(0, {cpu})
        return True
    except OSError:
        return False


def cpu_for(slot: int, cpus: list[int] | None = None) -> int:
    cpus = cpus or allowed_cpus()
    return cpus[slot % len(cpus)]


def should_pin(count: int, cpus: list[int] | None = None) -> bool:
    """Pin ``count`` threads only if each gets a core of its own."""
    return can_pin() and count <= len(cpus or allowed_cpus())


#: share of the machine idle before a run at or above which "auto" pins
IDLE_TO_PIN = 0.8


def decide(pin: str, idle: float | None) -> tuple[bool, str]:
    """Pin or not, and why: ``pin`` is "on", "off" or "auto" - on when the machine was
    idle before the run (``idle``: share of its CPUs idle, :func:`nvx_ft.bench.cpustat.
    idle_share`). On a busy machine a pinned thread cannot escape a core another process
    holds: seen here, a pinned 1-thread echo server got 25 % of its core where an
    unpinned one got 30-65 %."""
    if not can_pin():
        return False, "the OS does not allow pinning"
    if pin in ("on", "off"):
        return pin == "on", f"pinning {pin} (asked)"
    if idle is None:
        return False, "auto: machine load unknown, not pinned"
    if idle >= IDLE_TO_PIN:
        return True, f"auto: machine {idle:.0%} idle just before"
    return False, (f"auto: machine only {idle:.0%} idle just before - pinned threads "
                   "could not escape cores other processes hold")
