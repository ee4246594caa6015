"""Shared set-up of the free-threading suite: intensity, the ``hammer`` fixture, time bounds.

Every test here runs its own threads (``nvx_ft.hammer.run_threaded``), so every item
is marked ``thread_unsafe`` for pytest-run-parallel: running a hammer inside its
``--parallel-threads`` workers would multiply threads without testing anything new.
"""

from __future__ import annotations

import faulthandler
import sys
import threading
from dataclasses import dataclass

import pytest

from nvx_ft import hammer as hammer_mod
from nvx_ft.cases import KUHN_CASES
from nvx_ft.pytest_plugin import reproduce_command

ALREADY_THREADED = "already multithreaded: starts its own threads through nvx_ft.hammer"


@dataclass(frozen=True)
class Intensity:
    #: threads of scenarios 1-3 and 5 (free-threaded builds run them really in parallel)
    threads: int
    #: threads of the oversubscription scenario, far more than cores
    oversubscribed: int
    #: iterations per thread; a scenario multiplies it by its own small factor
    iterations: int
    #: largest payload in the shared inputs
    max_payload: int
    #: hard deadline of one run_threaded call (a hang becomes a failure with stacks)
    hang_timeout: float
    #: pytest-timeout per test (covers set-up and the check after the concurrent phase)
    test_timeout: float


_CPUS = hammer_mod.cpu_count()
INTENSITIES = {
    # stress/ within 2 minutes on 2 cores, on any build
    "default": Intensity(threads=4, oversubscribed=max(16, 8 * _CPUS), iterations=40,
                         max_payload=4096, hang_timeout=60, test_timeout=90),
    "nightly": Intensity(threads=max(8, 2 * _CPUS), oversubscribed=max(64, 16 * _CPUS),
                         iterations=600, max_payload=256 * 1024, hang_timeout=900,
                         test_timeout=1200),
}


def pytest_configure(config):
    # Registered by pytest-run-parallel / pytest-timeout when installed (the [stress]
    # extra); registered here too so --strict-markers accepts them without the plugins.
    config.addinivalue_line("markers", "thread_unsafe: not run in pytest-run-parallel threads")
    config.addinivalue_line("markers", "timeout(seconds): pytest-timeout per-test bound")
    config.addinivalue_line("markers", "run_last: run after every other test of the session")


def pytest_collection_modifyitems(config, items):
    intensity = INTENSITIES[config.getoption("--nvx-intensity")]
    last = []
    for item in items:
        if item.path.parent.name != "stress":
            continue
        item.add_marker(pytest.mark.thread_unsafe(reason=ALREADY_THREADED))
        if item.get_closest_marker("timeout") is None:
            # signal method: the main thread (waiting in join) fails the test after
            # pytest-timeout dumped every thread's stack; the run goes on.
            item.add_marker(pytest.mark.timeout(intensity.test_timeout, method="signal"))
        if item.get_closest_marker("run_last"):
            last.append(item)
    for item in last:  # e.g. "the GIL is still disabled after all of the above"
        items.remove(item)
        items.append(item)


def _stderr_fd(config) -> int:
    """The fd pytest's faulthandler plugin writes to (a dup of the real stderr)."""
    try:
        from _pytest.faulthandler import fault_handler_stderr_fd_key

        return config.stash[fault_handler_stderr_fd_key]
    except (ImportError, KeyError):
        return sys.__stderr__.fileno()


@pytest.fixture(autouse=True)
def _watchdog(request, intensity):
    """Last resort behind pytest-timeout: if the main thread itself is stuck in C (the
    timeout signal can then never be handled), faulthandler - which needs no Python
    code to run - dumps every thread's stack and ends the process, a minute after the
    test's bound."""
    faulthandler.dump_traceback_later(intensity.test_timeout + 60, exit=True,
                                      file=_stderr_fd(request.config))
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(autouse=True)
def _gil_stays_disabled(request):
    """Fail the very test during which this process got its GIL re-enabled."""
    before = hammer_mod.is_gil_enabled()
    modules_before = set(sys.modules)
    yield
    if not before and hammer_mod.is_gil_enabled():
        from nvx_ft.gil_guard import extension_modules

        new = extension_modules(set(sys.modules) - modules_before)
        pytest.fail(f"the GIL got enabled during {request.node.nodeid}; extension modules "
                    f"imported meanwhile: {new or 'none (imported in another thread?)'}",
                    pytrace=False)


class Hammer:
    """One stress test's view of the run: seed, intensity, target, thread runs, checks."""

    def __init__(self, request, target, seed: int, intensity_name: str):
        self.request = request
        self.target = target
        self.seed = seed
        self.intensity_name = intensity_name
        self.intensity = INTENSITIES[intensity_name]
        self.label = request.node.nodeid
        self.runs: list[hammer_mod.ThreadedRun] = []

    chunk_ops = staticmethod(lambda r, op, data, max_chunks=6: chunk_ops(r, op, data, max_chunks))

    def rng(self, thread_index: int):
        return hammer_mod.rng(self.seed, self.label, thread_index)

    @property
    def reproduce(self) -> str:
        return reproduce_command(self.request.config, self.request.node.nodeid)

    def run(self, worker, threads: int, iterations: int, **kw) -> hammer_mod.ThreadedRun:
        kw.setdefault("timeout", self.intensity.hang_timeout)
        try:
            run = hammer_mod.run_threaded(worker, threads, iterations, **kw)
        except BaseException as exc:
            exc.add_note(f"nvx-ft: seed {self.seed}, {threads} threads, intensity "
                         f"{self.intensity_name}\n  reproduce: {self.reproduce}")
            raise
        self.runs.append(run)
        self.request.node.user_properties.append(
            ("nvx_hammer", {"threads": threads, "per_thread": max(run.iterations),
                            "iterations": run.total_iterations,
                            "wall": round(run.wall_seconds, 3)}))
        return run

    def verify(self, streams, threads: int) -> int:
        """Exact comparison of every stream with its model; returns the calls checked."""
        checked = hammer_mod.verify(streams, self.target.name, threads=threads,
                                    seed=self.seed, reproduce=self.reproduce)
        self.request.node.user_properties.append(("nvx_checked_calls", checked))
        assert checked > 0, "nothing was checked"
        return checked


@pytest.fixture(scope="session")
def intensity(nvx_intensity) -> Intensity:
    return INTENSITIES[nvx_intensity]


@pytest.fixture
def hammer(request, nvx_target, nvx_seed, nvx_intensity) -> Hammer:
    return Hammer(request, nvx_target, nvx_seed, nvx_intensity)


@pytest.fixture(scope="session")
def shared_inputs(nvx_seed, nvx_intensity):
    """Read-only payloads every thread of a test shares (bytes objects, never copied)."""
    return make_shared_inputs(nvx_seed, INTENSITIES[nvx_intensity].max_payload)


_SIZES = (0, 1, 2, 3, 4, 5, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256,
          1023, 1024, 1025, 4095, 4096, 4097, 65535, 65536, 65537, 262144)
_CORRUPTIONS = (b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\xe2\x82", b"\xf0\x9f\x98")


def _text(r, n: int) -> bytes:
    """About ``n`` bytes of well-formed UTF-8 mixing 1-4 byte sequences."""
    planes = ((0x20, 0x7E), (0x80, 0x7FF), (0x800, 0xD7FF), (0xE000, 0xFFFF), (0x10000, 0x10FFFF))
    out, size = [], 0
    while size < n:
        lo, hi = planes[r.randrange(len(planes))] if r.random() < 0.5 else planes[0]
        c = chr(r.randint(lo, hi)).encode()
        out.append(c)
        size += len(c)
    return b"".join(out)


@dataclass(frozen=True)
class SharedInputs:
    utf8: tuple[bytes, ...]
    xor: tuple[bytes, ...]
    masks: tuple[bytes, ...]


def make_shared_inputs(seed: int, max_payload: int) -> SharedInputs:
    """Deterministic from the seed: edge cases, SIMD boundary sizes, valid and broken text."""
    import random

    r = random.Random(f"nvx-ft:{seed}:shared-inputs")
    sizes = [n for n in _SIZES if n <= max_payload]
    utf8 = [c.data for c in KUHN_CASES]
    for n in sizes:
        good = _text(r, n)
        utf8.append(good)
        if n:
            at = r.randrange(len(good))
            utf8.append(good[:at] + r.choice(_CORRUPTIONS) + good[at:])
        utf8.append(r.randbytes(n))
    xor = [r.randbytes(n) for n in sizes] + [r.randbytes(r.randrange(max_payload + 1))
                                             for _ in range(8)]
    masks = (b"\x00\x00\x00\x00", b"\xff\xff\xff\xff") + tuple(r.randbytes(4) for _ in range(6))
    return SharedInputs(tuple(utf8), tuple(xor), masks)


def chunk_ops(r, op: str, data: bytes, max_chunks: int = 6) -> list[tuple]:
    """``data`` as 1..max_chunks calls split at random points (mid code point, empty chunks)."""
    cuts = sorted(r.randrange(len(data) + 1) for _ in range(r.randrange(max_chunks)))
    bounds = [0, *cuts, len(data)]
    return [(op, data[a:b]) for a, b in zip(bounds, bounds[1:])]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            if getattr(rep, "when", None) != "call" or "stress" not in rep.nodeid.split("::")[0]:
                continue
            runs = [v for k, v in getattr(rep, "user_properties", ()) if k == "nvx_hammer"]
            calls = sum(v for k, v in getattr(rep, "user_properties", ())
                        if k == "nvx_checked_calls")
            shared = [v for k, v in getattr(rep, "user_properties", ())
                      if k == "nvx_shared_object"]
            if runs or shared:
                rows.append((rep.nodeid, runs, calls, rep.duration, shared))
    if not rows:
        return
    terminalreporter.section("nvx-ft hammer runs")
    terminalreporter.line(f"threading: {threading.active_count()} threads alive now, "
                          f"GIL enabled now: {hammer_mod.is_gil_enabled()}")
    for nodeid, runs, calls, duration, shared in sorted(rows, key=lambda row: row[0]):
        desc = ", ".join(f"{r['threads']} threads x {r['per_thread']} iterations in "
                         f"{r['wall']:.2f}s" for r in runs) or "subprocess probe"
        terminalreporter.line(f"{nodeid}: {desc}; {calls} calls checked; test {duration:.2f}s")
        for r in shared:  # scenario 5: what unsynchronised sharing did (documented, not asserted)
            terminalreporter.line(f"    shared, no lock: {r['kind']} {r['impl']}: {r['threads']}t, "
                                  f"{r['calls']} calls: {r['symptoms']}")
