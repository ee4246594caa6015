"""Single-thread throughput benchmarks (pytest-benchmark) for NVX and its context.

Run by ``nox -s bench`` once per build; by hand: ``pytest benchmarks`` (NVX as
installed, plus our reference), ``AUTOBAHN_USE_NVX=0 pytest benchmarks
--nvx-target=fallback -k "not reference"`` (autobahn's pure-Python fallback). Sizes:
quick by default, 16 B .. 1 MiB in full with ``--nvx-intensity=nightly``, or exactly
``--nvx-bench-sizes=16,1024``. See benchmarks/README.md for what a number means.
"""

from __future__ import annotations

import pytest

from nvx_ft.bench import workloads as wl


def pytest_addoption(parser):
    parser.getgroup("nvx-ft").addoption(
        "--nvx-bench-sizes", default=None,
        help="comma-separated payload sizes in bytes (default: by --nvx-intensity)")


def _sizes(config) -> tuple[int, ...]:
    explicit = config.getoption("--nvx-bench-sizes")
    if explicit:
        return tuple(int(s) for s in explicit.split(","))
    return wl.SIZES_FULL if config.getoption("--nvx-intensity") == "nightly" else wl.SIZES_QUICK


def pytest_generate_tests(metafunc):
    if "size" in metafunc.fixturenames:
        metafunc.parametrize("size", _sizes(metafunc.config),
                             ids=[f"{s}B" for s in _sizes(metafunc.config)])


@pytest.fixture
def measure(benchmark, pytestconfig):
    """``measure(impl_name, call, nbytes, group)`` times ``call`` and returns its result.

    The byte count goes into ``extra_info`` so the report can turn calls/s into MB/s.
    """
    quick = pytestconfig.getoption("--nvx-intensity") != "nightly"

    def run(impl, call, nbytes: int, group: str):
        if quick and wl.is_pure_python(impl) and nbytes > wl.PURE_PYTHON_MAX_SIZE_QUICK:
            pytest.skip(f"quick mode: pure-Python context ({impl.name}) stops at "
                        f"{wl.human_size(wl.PURE_PYTHON_MAX_SIZE_QUICK)}; "
                        "--nvx-intensity=nightly runs it up to 1 MiB")
        benchmark.group = f"{group} {wl.human_size(nbytes)}"
        benchmark.extra_info.update(impl=impl.name, level=impl.level, bytes=nbytes,
                                    workload=group)
        return benchmark(call)
    return run
