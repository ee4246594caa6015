"""The gate's steps, in the order they run; each fills the check of its name."""

from nvx_ft.gate.steps.gil_guard import GilGuard
from nvx_ft.gate.steps.install import Install
from nvx_ft.gate.steps.static import Static
from nvx_ft.gate.steps.suites import BENCHMARK_SMOKE, CORRECTNESS, PROTOCOL, STRESS

STEPS = (Install(), Static(), GilGuard(), CORRECTNESS, STRESS, PROTOCOL, BENCHMARK_SMOKE)
CHECKS = tuple(step.name for step in STEPS)
