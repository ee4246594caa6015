"""How hard the free-threading suite (``stress/``) pushes, per ``--nvx-intensity``."""

from __future__ import annotations

from dataclasses import dataclass

from nvx_ft.hammer import cpu_count


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
    #: seconds from a run's start during which further rounds may run until the overlap
    #: its scenario needs is reached (nvx_ft.overlap.Need); then it is inconclusive
    overlap_budget: float = 4.0


_CPUS = cpu_count()
INTENSITIES = {
    # stress/ within 2 minutes on 2 cores, on any build
    "default": Intensity(threads=4, oversubscribed=max(16, 8 * _CPUS), iterations=40,
                         max_payload=4096, hang_timeout=60, test_timeout=90,
                         overlap_budget=4.0),
    "nightly": Intensity(threads=max(8, 2 * _CPUS), oversubscribed=max(64, 16 * _CPUS),
                         iterations=600, max_payload=256 * 1024, hang_timeout=900,
                         test_timeout=1200, overlap_budget=60.0),
}
