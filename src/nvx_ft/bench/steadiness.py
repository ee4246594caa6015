"""How steady this machine's CPUs are on their own: the noise floor of every figure here.

A fixed pure-Python loop in a pinned process per CPU, counted in short windows: what its rate
varies by is the machine (method: benchmarks/README.md, Noise). ``python -m
nvx_ft.bench.steadiness`` prints it.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time

from nvx_ft.bench import machine, stats

#: The probe's own window (seconds) and how long each CPU is probed.
WINDOW = 0.04
SECONDS = 3.0
#: Window lengths the floor is given for (the benchmarks' windows are among them).
HORIZONS = (0.04, 0.1, 0.25, 0.3, 0.6)


def _loop(n: int = 200) -> int:
    """The fixed work: dispatch, integer arithmetic, a small list (as around an NVX call)."""
    acc, xs = 0, [0] * 8
    for i in range(n):
        acc += i * 3 ^ (acc >> 2)
        xs[i & 7] = acc & 0xFF
    return acc + xs[3]


def measure(seconds: float, window: float, cpu: int | None) -> dict:
    """``seconds`` of the loop: per ``window`` the iterations per second and the CPU share."""
    pinned = cpu is not None and machine.pin_current_thread(cpu)
    rates, shares = [], []
    end = time.perf_counter() + seconds
    _loop()
    while time.perf_counter() < end:
        count, t0, c0 = 0, time.perf_counter(), time.thread_time()
        while (t1 := time.perf_counter()) - t0 < window:
            for _ in range(20):
                _loop()
            count += 20
        shares.append((time.thread_time() - c0) / (t1 - t0))
        rates.append(count / (t1 - t0))
    return {"cpu": cpu, "pinned": pinned, "window": window, "rates": rates,
            "cpu_share": shares}


def _steal_seconds() -> float | None:
    t = machine.cpu_seconds()
    return t[7] if t and len(t) > 7 else None


def cv_at(rates: list[float], window: float, horizon: float) -> float | None:
    """CV of the rate over ``horizon``-second windows (probe windows merged); None: < 3 fit."""
    k = max(1, round(horizon / window))
    merged = [statistics.fmean(rates[i:i + k]) for i in range(0, len(rates) - k + 1, k)]
    return stats.cv(merged) if len(merged) >= 3 else None


def autocorrelation(values: list[float]) -> float:
    """Lag-1 autocorrelation: near 0 for independent windows, near 1 for lasting regimes."""
    if len(values) < 3:
        return 0.0
    m = statistics.fmean(values)
    den = sum((v - m) ** 2 for v in values)  # 0: all equal
    return sum((a - m) * (b - m) for a, b in zip(values, values[1:])) / den if den else 0.0


def summarize_cpu(raw: dict) -> dict:
    rates = raw["rates"]
    return {"cpu": raw["cpu"], "pinned": raw["pinned"], "windows": len(rates),
            "cv": {str(h): cv_at(rates, raw["window"], h) for h in HORIZONS},
            "fast_over_slow": (stats.quantile(rates, 0.9) / stats.quantile(rates, 0.1)
                               if rates and stats.quantile(rates, 0.1) else None),
            "autocorrelation": autocorrelation(rates),
            "cpu_share": statistics.fmean(raw["cpu_share"]) if raw["cpu_share"] else None}


def probe(python: str = sys.executable, seconds: float = SECONDS, window: float = WINDOW,
          timeout: float = 60.0) -> dict:
    """Every allowed CPU at once, one child each; the summary (``error``: a child failed)."""
    cpus = machine.allowed_cpus()
    pin = machine.can_pin()
    steal0, t0 = _steal_seconds(), time.monotonic()
    children = [subprocess.Popen(
        [python, "-m", "nvx_ft.bench.steadiness", "--child", "--seconds", str(seconds),
         "--window", str(window), *(["--cpu", str(c)] if pin else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in cpus]
    raws, errors = [], []
    for child in children:
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            errors.append(f"probe child timed out after {timeout:.0f} s")
            continue
        if child.returncode:
            errors.append(f"probe child exit {child.returncode}: {err.strip()[-300:]}")
        else:
            raws.append(json.loads(out))
    steal1, t1 = _steal_seconds(), time.monotonic()
    result: dict = {"seconds": seconds, "window": window, "cpus": len(cpus),
                    "error": "; ".join(errors) or None}
    if steal0 is not None and steal1 is not None:
        result["steal_share"] = (steal1 - steal0) / ((t1 - t0) * len(cpus))
    result["per_cpu"] = [summarize_cpu(r) for r in raws]
    return result


def floor(result: dict | None, horizon: float) -> float | None:
    """The machine's own CV at ``horizon`` (or the probed window below it), median of CPUs."""
    if not result or result.get("error") or not result.get("per_cpu"):
        return None
    known = sorted(h for h in HORIZONS if h <= horizon + 1e-9) or [HORIZONS[0]]
    return stats.median_known(c["cv"].get(str(known[-1])) for c in result["per_cpu"])


def describe(result: dict | None, horizon: float, target: float) -> str:
    """The floor, its kind, and whether ``target`` is within reach at ``horizon``."""
    if not result:
        return "Machine steadiness: not probed."
    if result.get("error"):
        return f"Machine steadiness: probe failed ({result['error']})."
    f = floor(result, horizon)
    cpus = result["per_cpu"]
    gaps = [c["fast_over_slow"] for c in cpus if c["fast_over_slow"]]
    ac = statistics.median(c["autocorrelation"] for c in cpus)
    share = min((c["cpu_share"] for c in cpus if c["cpu_share"] is not None), default=None)
    steal = result.get("steal_share")
    kind = []
    if share is not None and share < 0.9:
        kind.append(f"other processes took {1 - share:.0%} of a probe's core")
    if steal is not None and steal > 0.01:
        kind.append(f"the hypervisor stole {steal:.1%} of the CPU time")
    if not kind and ac >= 0.5:
        kind.append("the rate jumped between levels with the cores all ours and nothing "
                    "stolen: the hardware under this machine (shared cores, clock)")
    text = (f"Machine steadiness (a fixed pure-Python loop, one pinned process per CPU, "
            f"{result['seconds']:.0f} s in {result['window'] * 1000:.0f} ms windows): CV "
            f"{'?' if f is None else f'{f:.1%}'} per {horizon:g} s window (median over {len(cpus)} CPUs), fastest / "
            f"slowest tenth of windows {statistics.median(gaps) if gaps else math.nan:.2f}x, "
            f"lag-1 autocorrelation {ac:.2f}"
            + (f"; {'; '.join(kind)}" if kind else "") + ". ")
    if f is None:
        return text
    if f > target:
        return text + (f"No figure timed in {horizon:g} s windows here has a CV below that "
                       f"floor: the {target:.0%} target is out of reach.")
    return text + f"The {target:.0%} target is within reach on this machine."


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--cpu", type=int, default=None)
    p.add_argument("--seconds", type=float, default=SECONDS)
    p.add_argument("--window", type=float, default=WINDOW)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.seconds, args.window, args.cpu)))
        return 0
    result = probe(seconds=args.seconds, window=args.window)
    for h in (0.1, 0.3, 0.6):
        print(describe(result, h, stats.CV_TARGET))
    return 1 if result.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
