"""Summaries of repeated measurements (min/median/max, CV, a bootstrap interval), seeded: a
report regenerated from its JSON reads the same."""

from __future__ import annotations

import random
import statistics

CV_TARGET = 0.05  # of every figure, NVX scaling and end to end: a CV at or below it is steady
BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


def cv(values: list[float]) -> float:
    """Coefficient of variation (sample stdev / mean); 0 for fewer than two values."""
    mean = statistics.fmean(values) if len(values) > 1 else 0.0
    return statistics.stdev(values) / mean if mean else 0.0


def bootstrap_median(values: list[float], seed: int = 0) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the median; (v, v) for a single value."""
    if not values:
        raise ValueError("no values")
    if len(values) == 1:
        return values[0], values[0]
    rng = random.Random(seed)
    return _interval([statistics.median(rng.choices(values, k=len(values)))
                      for _ in range(BOOTSTRAP_RESAMPLES)])


def _interval(resampled: list[float]) -> tuple[float, float]:
    """The ``CONFIDENCE`` percentile interval of bootstrap resamples."""
    s = sorted(resampled)
    return (s[int((1 - CONFIDENCE) / 2 * (len(s) - 1))],
            s[int((1 + CONFIDENCE) / 2 * (len(s) - 1))])


def summary(values: list[float], seed: int = 0) -> dict:
    """min, median, max, CV and the bootstrap interval of the median."""
    lo, hi = bootstrap_median(values, seed)
    return {"n": len(values), "min": min(values), "median": statistics.median(values),
            "max": max(values), "cv": cv(values), "ci": [lo, hi]}


def ratio_summary(num: list[float], den: list[float], seed: int = 0) -> dict | None:
    """Per-repeat ratios num[i] / den[i] (pairs measured back to back), summarised."""
    pairs = [a / b for a, b in zip(num, den) if b]
    return summary(pairs, seed) if pairs else None


def ratio_of_medians(num: list[float], den: list[float], seed: int = 0) -> dict | None:
    """median(num) / median(den), with a 95 % bootstrap interval (each side resampled)."""
    if not num or not den or not statistics.median(den):
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        d = statistics.median(rng.choices(den, k=len(den)))
        if d:
            ratios.append(statistics.median(rng.choices(num, k=len(num))) / d)
    return {"median": statistics.median(num) / statistics.median(den),
            "ci": list(_interval(ratios))}


def median_known(values) -> float | None:
    """The median of the values known (not None, not nan); None if there are none."""
    known = [v for v in values if v is not None and v == v]
    return statistics.median(known) if known else None


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation; values need not be sorted."""
    if not values:
        raise ValueError("no values")
    s = sorted(values)
    pos = q * (len(s) - 1)
    i = int(pos)
    return s[i] if i + 1 >= len(s) else s[i] + (s[i + 1] - s[i]) * (pos - i)
