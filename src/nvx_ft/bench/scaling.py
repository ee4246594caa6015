"""Parallel scaling of NVX inside one interpreter: aggregate throughput vs threads.

``python -m nvx_ft.bench.scaling --mode quick --json out.json``; method and figures:
benchmarks/README.md, Parallel scaling.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

from nvx_ft.bench import machine, stats
from nvx_ft.bench import workloads as wl
from nvx_ft.overlap import gil_enabled


def thread_counts(cores_: int, factor: int = 2, extra: tuple[int, ...] = ()) -> tuple[int, ...]:
    """1, 2, 4, ... up to at least ``factor`` x cores, plus ``cores`` and ``extra``."""
    counts, n = {1, cores_, *extra}, 1
    while n < factor * cores_:
        n *= 2
        counts.add(n)
    return tuple(sorted(counts))


@dataclass(frozen=True)
class Config:
    workloads: tuple[str, ...]
    frame_sizes: tuple[int, ...]
    threads: tuple[int, ...]
    warmup: float  # seconds, untimed, after the barrier
    window: float  # seconds, timed
    repeats: int

    def estimated_seconds(self) -> float:
        per_window = self.warmup + self.window + 0.01  # + thread start/join
        return (len(self.workloads) * len(self.frame_sizes) * len(self.threads)
                * self.repeats * per_window)


#: name -> (description, call(target, frame) -> one thread's call, made in that thread)
WORKLOADS: dict[str, tuple[str, Callable]] = {
    "xor": ("autobahn create_xor_masker(mask, len).process(frame) (wrapper)",
            wl.autobahn_xor_call),
    "xor-lib-sse2": ("raw nvx_xormask_process, SSE2, in place (lib)",
                     lambda t, data: wl.xor_call(t.impl("xor", "lib/impl=2:sse2"), data)),
    "utf8": ("autobahn Utf8Validator reset()+validate(ascii frame) (wrapper, default impl)",
             lambda t, data: wl.utf8_call(wl.default_utf8_impl(t),
                                          wl.utf8_payload("ascii", len(data)))),
    "utf8-multilingual": ("as utf8, multilingual text",
                          lambda t, data: wl.utf8_call(wl.default_utf8_impl(t), wl.utf8_payload(
                              "multilingual", len(data)))),
    "copy": ("libc memcpy of the frame into the thread's own buffer via cffi (context)",
             lambda t, data: wl.copy_call(data)),
}

FRAME_SIZES = (64, wl.KIB, 64 * wl.KIB)

#: CPU share at or above which N threads count as having run in parallel.
PARALLEL_CPU_SHARE = 0.9


def mode_config(mode: str, cores_: int | None = None) -> Config:
    c = cores_ or len(machine.allowed_cpus())
    if mode == "quick":
        return Config(("xor", "utf8", "copy"), FRAME_SIZES, thread_counts(c), 0.03, 0.1, 7)
    if mode == "full":
        return Config(tuple(WORKLOADS), (64, 256, wl.KIB, 16 * wl.KIB, 64 * wl.KIB),
                      thread_counts(c, factor=4, extra=(3,) if c == 2 else ()), 0.1, 0.3, 9)
    if mode == "smoke":  # structure only: one tiny window per point
        return Config(tuple(WORKLOADS), (64,), (1, 2), 0.0, 0.005, 2)
    raise ValueError(f"unknown mode {mode!r}: quick, full or smoke")


def _calibrate(make_call, target_batch_s: float) -> int:
    """Calls per batch so that one batch takes about ``target_batch_s`` single-threaded."""
    call = make_call()
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < 0.01:
        call()
        n += 1
    return max(1, int(target_batch_s / (elapsed / n)))


def measure_window(make_call, n_threads: int, warmup: float, window: float,
                   batch: int, nbytes: int, cores_: int = 1,
                   pin_cpus: list[int] | None = None) -> tuple[float, ...]:
    """REPEAT_FIELDS of one window of ``n_threads`` threads, thread i on ``pin_cpus[i]``."""
    clock: list[float] = []
    #: per thread: (wall, CPU, runnable-but-waiting) seconds of its window, bytes done
    got: list[tuple] = [()] * n_threads
    errors: list[BaseException] = []

    def fix_clock():  # runs once, in the last thread to arrive
        start = time.perf_counter() + warmup
        clock[:] = [start, start + window]

    barrier = threading.Barrier(n_threads, action=fix_clock)

    def worker(i: int):
        try:
            if pin_cpus:
                machine.pin_current_thread(pin_cpus[i])
            call = make_call()
            call()
            barrier.wait()
            start, end = clock
            now, batch_range = time.perf_counter, range(batch)
            while now() < start:
                for _ in batch_range:
                    call()
            s_first = _run_delay()
            calls, t_first, c_first = 0, now(), time.thread_time()
            while True:  # at least one batch: a thread starved past the window still counts
                for _ in batch_range:
                    call()
                calls += batch
                if now() >= end:
                    break
            c_last, t_last = time.thread_time(), now()
            s_last = _run_delay()
            waited = (float("nan") if s_first is None or s_last is None
                      else (s_last - s_first) / 1e9)
            got[i] = (t_last - t_first, c_last - c_first, waited, calls * nbytes)
        except BaseException as exc:  # reported, not swallowed
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), name=f"nvx-bench-{i}")
               for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    walls, cpus, waits, done = zip(*got)
    # thread_time() ticks coarsely on some systems: never divide by a zero CPU time
    work_rate = sum(done) / max(sum(cpus), 1e-9)
    # asleep = neither running nor waiting for a core (the GIL, a lock); nan: unknown
    blocked = [max(0.0, 1.0 - (c + w) / t) if w == w else w
               for t, c, w in zip(walls, cpus, waits)]
    return (sum(d / t for d, t in zip(done, walls)),
            sum(c / t for c, t in zip(cpus, walls)) / min(n_threads, cores_), work_rate,
            statistics.fmean(blocked), statistics.fmean(w / t for w, t in zip(waits, walls)))


def _run_delay() -> int | None:
    """Nanoseconds this thread has waited for a core (schedstat), or None; only that: the
    running time there can lag a tick, thread_time() does not."""
    try:
        with open("/proc/thread-self/schedstat") as fh:
            return int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def run_series(target, workload: str, frame: int, cfg: Config, cores_: int,
               log=lambda msg: None, pin: bool = False) -> dict:
    """One series (workload, frame size): every thread count in every repeat."""
    desc, call = WORKLOADS[workload]
    make_call = functools.partial(call, target, wl.xor_payload(frame))
    # a batch is ~1/400 of the window: a thread overshoots the window by at most that
    batch = _calibrate(make_call, cfg.window / 400)
    per_n: dict[int, dict[str, list[float]]] = {n: {k: [] for k in REPEAT_FIELDS}
                                                for n in cfg.threads}
    cpus = machine.allowed_cpus()
    for _ in range(cfg.repeats):  # interleaved: every N in every repeat
        for n in cfg.threads:
            pins = machine.pins(n, cpus) if pin else None
            values = measure_window(make_call, n, cfg.warmup, cfg.window, batch, frame,
                                    cores_, pins)
            for k, v in zip(REPEAT_FIELDS, values):
                per_n[n][k].append(v)
    points = summarize(per_n, cores_, not gil_enabled(), pin)
    log(f"  {workload:18} {wl.human_size(frame):>7}: " + "  ".join(
        f"{p['threads']}t {p['median_throughput'] / 1e6:8.1f} MB/s x{p['median_speedup']:4.2f}"
        f" (cv {p['cv_speedup']:4.1%}, cpu {p['median_cpu_share']:4.0%}, "
        f"work {p['work_efficiency']:4.2f})" for p in points))
    return {"workload": workload, "description": desc, "frame_size": frame, "batch": batch,
            "points": points}


#: per-repeat lists of a point, in measure_window's order
REPEAT_FIELDS = ("throughput", "cpu_share", "work_rate", "blocked_share", "waiting_share")


def summarize(per_n: dict[int, dict[str, list[float]]], cores_: int, gil_is_off: bool,
              pinned: bool = False) -> list[dict]:
    """Points from per-repeat lists (threads -> REPEAT_FIELDS -> values), speedups by repeat."""
    threads = sorted(per_n)
    base, work_base = per_n[threads[0]]["throughput"], per_n[threads[0]]["work_rate"]
    points = []
    for n in threads:
        v = per_n[n]
        sp = [a / b for a, b in zip(v["throughput"], base)]
        work_eff = statistics.median(a / b for a, b in zip(v["work_rate"], work_base))
        share = statistics.median(v["cpu_share"])
        sp_sum = stats.summary(sp, seed=n)
        points.append({
            "threads": n, "throughput": v["throughput"], "speedup": sp,
            "median_throughput": statistics.median(v["throughput"]),
            "cv_throughput": stats.cv(v["throughput"]),
            "median_speedup": sp_sum["median"], "cv_speedup": sp_sum["cv"],
            "efficiency": sp_sum["median"] / min(n, cores_),
            "cpu_share": v["cpu_share"], "median_cpu_share": share,
            # median of work_rate(N) / work_rate(1), paired by repeat
            "work_rate": v["work_rate"], "work_efficiency": work_eff,
            # only where the GIL is off and the threads ran side by side
            "idle_estimate": (min(n, cores_) * work_eff
                              if gil_is_off and share >= PARALLEL_CPU_SHARE else None),
            "blocked_share": v["blocked_share"],
            "median_blocked_share": stats.median_known(v["blocked_share"]),
            "waiting_share": v["waiting_share"],
            "median_waiting_share": stats.median_known(v["waiting_share"]),
            "min_speedup": sp_sum["min"], "max_speedup": sp_sum["max"],
            "ci_speedup": sp_sum["ci"], "pinned": pinned})
    return points


def merge(runs: list[dict]) -> dict:
    """One result from an interpreter's runs (rounds, reruns): every run's repeats, in order."""
    first = runs[0]
    series: dict[tuple, tuple[dict, dict]] = {}  # (workload, frame): (first seen, repeats)
    for run_ in runs:
        for s_ in run_["series"]:
            lists = series.setdefault((s_["workload"], s_["frame_size"]), (s_, {}))[1]
            for p in s_["points"]:
                slot = lists.setdefault(p["threads"], {k: [] for k in REPEAT_FIELDS})
                for k in REPEAT_FIELDS:
                    slot[k].extend(p[k])
    pinned = any(p.get("pinned") for r in runs for s_ in r["series"] for p in s_["points"])
    return {**first, "series": [
        {**{k: s_[k] for k in ("workload", "description", "frame_size", "batch")},
         "points": summarize(lists, first["cores"], not first["gil_enabled"], pinned)}
        for s_, lists in series.values()],
        "seconds": sum(r["seconds"] for r in runs), "runs": len(runs),
        "repeats_per_series": {f"{w} {f}": len(lists[min(lists)]["throughput"])
                               for (w, f), (_, lists) in series.items()}}


def run(cfg: Config, target=None, log=lambda msg: None, *, pin: bool = False,
        only: set[tuple[str, int]] | None = None) -> dict:
    """Every series of ``cfg`` (or ``only`` those (workload, frame)) here; a JSON-ready dict."""
    from nvx_ft import target as target_mod

    t = target or target_mod.load()
    cores_ = len(machine.allowed_cpus())
    if cfg.threads[0] != 1:
        raise ValueError("thread counts must start at 1 (the speedup baseline)")
    started = time.time()
    series = [run_series(t, w, f, cfg, cores_, log, pin)
              for w in cfg.workloads for f in cfg.frame_sizes
              if only is None or (w, f) in only]
    return {"kind": "nvx-ft-scaling", "config": asdict(cfg), "cores": cores_,
            "cpu_count": os.cpu_count(), "target": t.name, "origin": t.origin,
            # after the NVX import: a free-threaded build that re-enabled the GIL shows here
            "gil_enabled": gil_enabled(), "switch_interval": sys.getswitchinterval(),
            "seconds": time.time() - started, "series": series}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", default="quick", choices=("quick", "full", "smoke"))
    p.add_argument("--json", required=True, help="where to write the results")
    p.add_argument("--target", default=None, help="autobahn (default) or module:function")
    p.add_argument("--repeats", type=int, default=None, help="instead of the mode's")
    p.add_argument("--only", default=None,
                   help="comma-separated workload:frame series to run (default: all)")
    p.add_argument("--pin", choices=("on", "off"), default="off",
                   help="pin thread i to core i where there are enough cores (Linux)")
    args = p.parse_args(argv)
    from nvx_ft import target as target_mod

    cfg = mode_config(args.mode)
    if args.repeats:
        cfg = replace(cfg, repeats=args.repeats)
    only = ({(w, int(f)) for w, f in (x.rsplit(":", 1) for x in args.only.split(","))}
            if args.only else None)
    print(f"scaling ({args.mode}, ~{cfg.estimated_seconds():.0f} s): {sys.executable}",
          flush=True)
    result = run(cfg, target_mod.load(args.target), log=lambda m: print(m, flush=True),
                 pin=args.pin == "on", only=only)
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
