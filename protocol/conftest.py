"""Fixtures of the protocol suite: intensity, the injected fault, invariants, time bounds.

Machinery lives in ``nvx_ft.protocol``; this file only wires it into pytest.
"""

from __future__ import annotations

import shlex

import pytest

from nvx_ft import hang_bound, overlap
from nvx_ft.hammer import fast_switching
from nvx_ft.hang_guard import GUARD
from nvx_ft.protocol import concurrency, faults, intensity as intensity_mod, invariants
from nvx_ft.pytest_plugin import reproduce_command, settings_of

ALREADY_THREADED = "already multithreaded: runs its own event-loop threads and processes"
PROTOCOL_OPTIONS = (faults.OPTION, "--protocol-conns", "--protocol-messages",
                    "--protocol-server-threads", "--protocol-io-timeout")


def pytest_addoption(parser):
    group = parser.getgroup("nvx-ft protocol")
    group.addoption(faults.OPTION, default=None, choices=sorted(faults.FAULTS),
                    help="self-tests only: inject this fault into autobahn's protocol in "
                         "this process (nvx_ft.protocol.faults); the suite must fail")
    group.addoption("--protocol-conns", type=int, default=None,
                    help="connections per traffic run (default: by --nvx-intensity)")
    group.addoption("--protocol-messages", type=int, default=None,
                    help="messages per connection (default: by --nvx-intensity)")
    group.addoption("--protocol-server-threads", type=int, default=None,
                    help="run the multi-thread traffic tests with only this many server threads")
    group.addoption("--protocol-io-timeout", type=float, default=None,
                    help="seconds one wait (echo, pong, handshake) may take before the "
                         "connection counts as broken (default: by --nvx-intensity)")


def _intensity(config) -> intensity_mod.ProtocolIntensity:
    return intensity_mod.resolve(config.getoption("--nvx-intensity"),
                                 config.getoption("--protocol-conns"),
                                 config.getoption("--protocol-messages"),
                                 config.getoption("--protocol-server-threads"),
                                 config.getoption("--protocol-io-timeout"))


def pytest_configure(config):
    config.addinivalue_line("markers", "thread_unsafe: not run in pytest-run-parallel threads")
    config.addinivalue_line("markers", "timeout(seconds): pytest-timeout per-test bound")


def pytest_report_header(config):
    it = _intensity(config)
    fault = config.getoption(faults.OPTION)
    return [f"nvx-ft protocol: {it.conns} connections x {it.volume.messages} messages "
            f"(sizes up to {it.volume.max_size} B), server threads {list(it.server_threads)}, "
            f"autobahn client threads {it.client_threads}, GIL enabled at start: "
            f"{overlap.gil_enabled()}",
            f"nvx-ft protocol: injected fault: {fault or 'none'}"]


def pytest_generate_tests(metafunc):
    if "server_threads" in metafunc.fixturenames:
        counts = _intensity(metafunc.config).server_threads
        metafunc.parametrize("server_threads", counts, ids=[f"{n}threads" for n in counts])


def pytest_collection_modifyitems(config, items):
    it = _intensity(config)
    for item in items:
        if item.path.parent.name != "protocol":
            continue
        hang_bound.mark_self_threaded(item, ALREADY_THREADED, it.test_timeout)


@pytest.fixture(scope="session")
def protocol_intensity(pytestconfig) -> intensity_mod.ProtocolIntensity:
    return _intensity(pytestconfig)


@pytest.fixture(scope="session", autouse=True)
def injected_fault(pytestconfig):
    """The fault named by --protocol-fault, applied to autobahn for the session."""
    undo = faults.apply(pytestconfig.getoption(faults.OPTION))
    yield faults.active()
    undo()


@pytest.fixture
def reproduce(request) -> str:
    cmd = reproduce_command(request.config, request.node.nodeid)
    extra = [f"{opt}={request.config.getoption(opt)}" for opt in PROTOCOL_OPTIONS
             if request.config.getoption(opt)]
    return " ".join([cmd, *(shlex.quote(x) for x in extra)])


@pytest.fixture(autouse=True)
def protocol_invariants(request, protocol_intensity):
    """After every test: no unexpected WARNING+ log record, no thread or socket left,
    GIL still off on a free-threaded build. Also the last-resort hang bound: if the main
    thread is stuck in C, faulthandler dumps every stack and ends the process (a deadline
    on the process's one hang guard, nested inside a contained run's bound)."""
    with GUARD.bound(protocol_intensity.test_timeout + 60):
        baseline = invariants.Baseline()
        # GIL builds: switch threads as often as CPython allows, so the Python code of the
        # loop threads interleaves finely, as it does on a free-threaded build
        with invariants.WarningCapture() as capture, fast_switching():
            yield capture
    problems = capture.unexpected() + baseline.leaks()
    gil = invariants.gil_problem()
    if gil:
        problems.append(gil)
    # checked after a passed, skipped or inconclusive run: only a run that failed a check
    # already reports something more specific (and may leave its peers half-closed)
    if problems and not getattr(request.node, "rep_call_failed", lambda: False)():
        pytest.fail("invariants broken after the run:\n  - " + "\n  - ".join(problems),
                    pytrace=False)


@pytest.fixture
def record_run(request):
    """``record_run(what, threads, conns, messages)``: one line of the terminal summary."""
    def record(what: str, **numbers) -> None:
        request.node.user_properties.append(("nvx_protocol", {"what": what, **numbers}))
    return record


@pytest.fixture
def server_overlap(request, protocol_intensity):
    """``server_overlap(server_threads)``: the test's rounds of traffic and the overlap its
    autobahn server threads reached (``nvx_ft.protocol.concurrency``); reported in the
    summary and, after a body that passed, concluded (inconclusive: failed or warned)."""
    def start(server_threads: int, need=concurrency.TRAFFIC_NEED) -> concurrency.ServerOverlap:
        budget = overlap.overlap_budget(request.config.getoption("--nvx-overlap-budget"),
                                        protocol_intensity.overlap_budget)
        run = concurrency.ServerOverlap(request.node.nodeid, server_threads, need, budget)
        request.node.nvx_server_overlap = run
        return run
    return start


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    """A multi-thread run whose server threads did not reach the overlap it needs is
    inconclusive - failed or skipped with the reason (``--nvx-inconclusive``), never
    passed."""
    mode = settings_of(pyfuncitem.config).inconclusive_mode()
    try:
        result = yield
    except overlap.Inconclusive as exc:  # the body could not decide (a starved machine)
        overlap.conclude(str(exc), mode)
    finally:
        run = getattr(pyfuncitem, "nvx_server_overlap", None)
        if run is not None:  # figures for the summary, also when the test failed
            run.finish()
            pyfuncitem.user_properties.append(("nvx_protocol_overlap", run.as_dict()))
    if run is not None:
        run.conclude(mode)
    return result


def outcome(rep, run: dict | None) -> str:
    """PASSED, FAILED (a check failed) or INCONCLUSIVE (failed or skipped: never a pass)."""
    if overlap.report_inconclusive(rep):
        return "INCONCLUSIVE"
    if rep.failed:
        return "FAILED"
    if run is not None and run["verdict"] == "inconclusive":
        return "INCONCLUSIVE"
    return rep.outcome.upper()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = []
    for reports in terminalreporter.stats.values():
        for rep in reports:
            props = dict(getattr(rep, "user_properties", ()))
            if getattr(rep, "when", None) == "call" and "nvx_protocol" in props:
                rows.append((rep, props["nvx_protocol"], props.get("nvx_protocol_overlap")))
    if not rows:
        return
    tr = terminalreporter
    tr.section("nvx-ft protocol runs")
    machine = overlap.Machine.now()
    tr.line(f"fault: {faults.active() or 'none'}; GIL enabled now: {overlap.gil_enabled()} "
            f"(free-threaded build: {invariants.FREE_THREADED}); {machine.cpus} CPU(s) "
            f"usable, load {machine.load}")
    if overlap.gil_enabled():
        tr.line("GIL enabled: a multi-thread run needs interleaved reads only (protocol/"
                "README.md, 'Overlap')")
    counts: dict[str, int] = {}
    for rep, v, run in sorted(rows, key=lambda r: r[0].nodeid):
        result = outcome(rep, run)
        counts[result] = counts.get(result, 0) + 1
        nums = ", ".join(f"{k} {n}" for k, n in v.items() if k != "what")
        tr.line(f"{result:12} {rep.nodeid.split('::')[-1]}: {v['what']}: {nums}; "
                f"{rep.duration:.1f}s", yellow=result == "INCONCLUSIVE")
        if run is not None:
            tr.line(f"    {concurrency.describe(run)}")
    for text, markup in overlap.outcome_counts_lines(counts, "protocol runs",
                                                     "protocol/README.md"):
        tr.line(text, **markup)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        item.rep_call_failed = lambda: report.failed and not overlap.failed_inconclusive(report)
    return report
