"""Fixtures and hooks of the free-threading suite: intensity, ``hammer``, time bounds.

Every test here runs its own threads (``nvx_ft.hammer.run_threaded``), so every item
is marked ``thread_unsafe`` for pytest-run-parallel: running a hammer inside its
``--parallel-threads`` workers would multiply threads without testing anything new.
What these fixtures hand out lives in the library: ``nvx_ft.stress_settings``
(intensities), ``nvx_ft.stress_inputs`` (shared inputs), ``nvx_ft.stress_pytest``
(the per-test ``Hammer``, the summary); the last-resort bound is ``nvx_ft.hang_guard``'s.
"""

from __future__ import annotations

import sys

import pytest

from nvx_ft import hang_bound, overlap
from nvx_ft import stress_pytest
from nvx_ft.hang_guard import GUARD
from nvx_ft.stress_inputs import SharedInputs, make_shared_inputs
from nvx_ft.stress_settings import INTENSITIES, Intensity

ALREADY_THREADED = "already multithreaded: starts its own threads through nvx_ft.hammer"


def pytest_configure(config):
    # Registered by pytest-run-parallel / pytest-timeout when installed (the [stress]
    # extra); registered here too so --strict-markers accepts them without the plugins.
    config.addinivalue_line("markers", "thread_unsafe: not run in pytest-run-parallel threads")
    config.addinivalue_line("markers", "timeout(seconds): pytest-timeout per-test bound")
    config.addinivalue_line("markers", "run_last: run after every other test of the session")
    config.addinivalue_line("markers", "bound_per_overlap_second(factor): the test's bound "
                            "is at least factor x its overlap budget (a test that runs one "
                            "race run per implementation, each with its own budget)")


def pytest_collection_modifyitems(config, items):
    intensity = INTENSITIES[config.getoption("--nvx-intensity")]
    budget = stress_pytest.overlap_budget(config, intensity)
    last = []
    for item in items:
        if item.path.parent.name != "stress":
            continue
        scales = item.get_closest_marker("bound_per_overlap_second")
        bound = intensity.test_timeout if scales is None else max(
            intensity.test_timeout, scales.args[0] * budget)
        hang_bound.mark_self_threaded(item, ALREADY_THREADED, bound)
        if item.get_closest_marker("run_last"):
            last.append(item)
    for item in last:  # e.g. "the GIL is still disabled after all of the above"
        items.remove(item)
        items.append(item)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stress_pytest.write_hammer_summary(terminalreporter)


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """A test whose threads did not reach the overlap its scenario needs is
    inconclusive - failed or loudly warned (``--nvx-inconclusive``), never passed."""
    result = yield
    hammer = pyfuncitem.funcargs.get("hammer")
    if hammer is not None:
        hammer.conclude(stress_pytest.inconclusive_mode(pyfuncitem.config))
    return result


@pytest.fixture(autouse=True)
def _watchdog(intensity, request):
    """Last resort behind pytest-timeout, a minute after the test's bound: faulthandler's
    timer (the process's one hang guard; nested inside a contained run's bound)."""
    bound = hang_bound.item_bound(request.node, intensity.test_timeout) or intensity.test_timeout
    with GUARD.bound(bound + 60):
        yield


@pytest.fixture(autouse=True)
def _gil_stays_disabled(request):
    """Fail the very test during which this process got its GIL re-enabled."""
    before = overlap.gil_enabled()
    modules_before = set(sys.modules)
    yield
    if not before and overlap.gil_enabled():
        from nvx_ft.gil_guard import extension_modules

        new = extension_modules(set(sys.modules) - modules_before)
        pytest.fail(f"the GIL got enabled during {request.node.nodeid}; extension modules "
                    f"imported meanwhile: {new or 'none (imported in another thread?)'}",
                    pytrace=False)


@pytest.fixture(scope="session")
def intensity(nvx_intensity) -> Intensity:
    return INTENSITIES[nvx_intensity]


@pytest.fixture
def hammer(request, nvx_target, nvx_seed, nvx_intensity) -> stress_pytest.Hammer:
    return stress_pytest.Hammer(request, nvx_target, nvx_seed, nvx_intensity)


@pytest.fixture(scope="session")
def shared_inputs(nvx_seed, intensity) -> SharedInputs:
    """Read-only payloads every thread of a test shares (bytes objects, never copied)."""
    return make_shared_inputs(nvx_seed, intensity.max_payload)
