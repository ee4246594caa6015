"""The sweeps behind :mod:`nvx_ft.overlap`'s figures, on plain per-thread arrays.

* :func:`calls` - intervals (one flat ``array('q')`` of enter, exit per thread) to
  overlapping pairs, interleaved calls, time with two or more inside, most inside;
* :func:`parallel` - samples of (wall, thread CPU time) per thread to a lower bound of
  the CPU time that ran beyond one core, i.e. of threads really running at once.

Both are exact on the data and cost O(n log n) plus O(n x threads inside at once).
"""

from __future__ import annotations

from array import array
from typing import Sequence

#: a thread enters the fine parallel bound only if it ran at least this share of its span
BUSY_SHARE = 0.5


def _events(per_thread: Sequence[array]) -> list[tuple[int, int, int, int]]:
    """(time, 0 = exit / 1 = enter, thread, interval) sorted; exits first on a tie."""
    events = []
    for s, calls in enumerate(per_thread):
        for k in range(0, len(calls), 2):
            events.append((calls[k], 1, s, k))
            events.append((calls[k + 1], 0, s, k))
    events.sort()
    return events


def calls(per_thread: Sequence[array]) -> tuple[int, int, int, int, int]:
    """(pairs, ns with >= 2 inside, interleaved calls, most inside, calls).

    A thread's own intervals never overlap (nested entries merge into one), so at most
    one interval per thread is open; a call is *interleaved* when another thread
    enters while it is open, and each such entry is one overlapping pair per open call.
    Intervals that only touch (exit == enter) do not overlap.
    """
    open_now: dict[int, int] = {}  # thread -> its open interval
    interleaved: set[tuple[int, int]] = set()
    pairs = max_inside = overlap_ns = 0
    last = None
    for t, kind, s, k in _events(per_thread):
        if last is not None and len(open_now) >= 2:
            overlap_ns += t - last
        last = t
        if kind == 0:
            open_now.pop(s, None)
            continue
        for u, j in open_now.items():
            if u != s:
                pairs += 1
                interleaved.add((u, j))
        open_now[s] = k
        max_inside = max(max_inside, len(open_now))
    total = sum(len(c) // 2 for c in per_thread)
    return pairs, overlap_ns, len(interleaved), max_inside, total


def union_ns(spans: list[tuple[int, int]]) -> int:
    total, end = 0, None
    for a, b in sorted(spans):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def parallel(series: Sequence[array]) -> tuple[int, int]:
    """(total CPU ns, lower bound of the CPU ns beyond one core) from per-thread
    samples ``wall0, cpu0, wall1, cpu1, ...`` (first and last: the thread's span).

    The larger of two bounds, both valid: ``sum(CPU) - |union of spans|`` (at any
    instant n threads run on at most n - 1 cores beyond one), and the same per elementary
    segment between samples (:func:`_fine`), which still sees parallel bursts when the
    threads got less than one core on average. Time-slicing on one CPU yields 0.
    """
    series = [s for s in series if len(s) >= 4]
    cpu = sum(s[-1] - s[1] for s in series)
    coarse = cpu - union_ns([(s[0], s[-2]) for s in series])
    return cpu, max(0, coarse, _fine(series))


def _fine(series: list[array]) -> int:
    """Per segment between consecutive sample times: each thread sampled around it ran
    at least ``cpu - (interval - segment)`` inside it; what the threads ran beyond the
    segment's length ran in parallel. Only sample intervals in which their thread ran
    for BUSY_SHARE of the time take part (leaving any out keeps a lower bound, and
    keeps the sweep short when many threads share few cores)."""
    events = []
    for k, s in enumerate(series):
        for j in range(0, len(s) - 2, 2):
            length = s[j + 2] - s[j]
            if length > 0 and s[j + 3] - s[j + 1] >= BUSY_SHARE * length:
                events.append((s[j], 1, k, j))
                events.append((s[j + 2], 0, k, j))
    events.sort()
    active: dict[int, int] = {}
    total, last = 0, None
    for t, kind, k, j in events:
        if last is not None and t > last and len(active) >= 2:
            seg = t - last
            ran = 0
            for kk, jj in active.items():
                s = series[kk]
                ran += max(0, (s[jj + 3] - s[jj + 1]) - (s[jj + 2] - s[jj] - seg))
            total += max(0, ran - seg)
        last = t
        if kind:
            active[k] = j
        else:
            active.pop(k, None)
    return total
