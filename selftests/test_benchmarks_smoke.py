"""The benchmark code runs, once, with a tiny budget, and what it reports is sane.

No timing is asserted (speed lives in benchmarks/ and ``nox -s bench``): these tests
check structure and invariants - every expected key and point, positive throughput,
speedup 1.0 for one thread, efficiency consistent with speedup - so the benchmark
code cannot rot between benchmark runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap

import pytest

from nvx_ft.bench import driver, figures, report, scaling, stats
from nvx_ft.bench import workloads as wl
from nvx_ft.reference import Utf8Reference, XorReference

pytestmark = pytest.mark.harness


@pytest.mark.parametrize("kind", wl.UTF8_KINDS)
@pytest.mark.parametrize("size", [1, 2, 3, 16, 1000, 4096])
def test_utf8_payload_has_its_size_and_validity(kind, size):
    data = wl.utf8_payload(kind, size)
    valid, *_ = Utf8Reference().validate(data)
    assert len(data) == size
    assert valid == (not kind.startswith("invalid")), (kind, size, data)


def test_every_call_factory_does_its_work(nvx_target):
    """Wrapper, lib and pure-Python closures all compute the right thing once."""
    data = wl.xor_payload(1000)
    expected = XorReference(wl.MASK).process(data)
    for impl in [*nvx_target.xor, wl.REFERENCE_XOR]:
        out = wl.xor_call(impl, data)()
        assert out is None or bytes(out) == expected, impl.name
    for impl in [*nvx_target.utf8, wl.REFERENCE_UTF8]:
        for kind in wl.UTF8_KINDS:
            res = wl.utf8_call(impl, wl.utf8_payload(kind, 300))()
            assert wl.utf8_verdict(res) == (not kind.startswith("invalid")), (impl.name, kind)
    assert bytes(wl.autobahn_xor_call(nvx_target, data)()) == expected
    assert wl.copy_call(data)() is None


@pytest.mark.thread_unsafe(reason="starts its own threads and measures their throughput: "
                                   "copies running side by side starve each other's timed "
                                   "windows (a repeat can count 0 operations)")
def test_scaling_harness_reports_every_point(nvx_target):
    cfg = scaling.mode_config("smoke")
    res = scaling.run(cfg, nvx_target)
    assert res["kind"] == "nvx-ft-scaling" and res["cores"] >= 1
    assert {(s["workload"], s["frame_size"]) for s in res["series"]} == \
        {(w, f) for w in cfg.workloads for f in cfg.frame_sizes}
    for s in res["series"]:
        assert [p["threads"] for p in s["points"]] == list(cfg.threads)
        assert s["batch"] >= 1
        for p in s["points"]:
            assert len(p["throughput"]) == len(p["speedup"]) == cfg.repeats
            assert all(t > 0 for t in p["throughput"]), (s["workload"], p)
            assert p["median_speedup"] > 0 and p["cv_speedup"] >= 0
            assert len(p["cpu_share"]) == cfg.repeats and p["median_cpu_share"] >= 0
            assert len(p["work_rate"]) == cfg.repeats and all(w > 0 for w in p["work_rate"])
            assert p["work_efficiency"] > 0
            assert p["median_blocked_share"] is None or 0 <= p["median_blocked_share"] <= 1
            assert p["median_waiting_share"] is None or p["median_waiting_share"] >= 0
            # an idle estimate only where the GIL is off (with the GIL, waiting is the
            # point) and the threads ran side by side (else they could not contend)
            if p["idle_estimate"] is not None:
                assert not res["gil_enabled"]
                assert p["median_cpu_share"] >= scaling.PARALLEL_CPU_SHARE
            assert p["efficiency"] == pytest.approx(
                p["median_speedup"] / min(p["threads"], res["cores"]))
        assert s["points"][0]["speedup"] == [1.0] * cfg.repeats


def test_scaling_harness_raises_what_a_worker_raised():
    def make_call():
        def call():
            raise ZeroDivisionError("worker failed")
        return call

    with pytest.raises(ZeroDivisionError, match="worker failed"):
        scaling.measure_window(make_call, 2, 0.0, 0.001, 1, 64)


def _fake_results(speedups: dict[int, list[float]]) -> dict:
    """A results dict with one series; only the report logic is under test."""
    points = [{"threads": n, "throughput": [1e6 * s for s in sp], "speedup": sp,
               "median_throughput": 1e6 * sorted(sp)[len(sp) // 2],
               "cv_throughput": stats.cv(sp), "median_speedup": sorted(sp)[len(sp) // 2],
               "cv_speedup": stats.cv(sp), "efficiency": sorted(sp)[len(sp) // 2] / min(n, 2)}
              for n, sp in speedups.items()]
    series = {"workload": "xor", "description": "", "frame_size": 64, "batch": 1,
              "points": points}
    return {"mode": "quick", "started": "now", "seconds": 1.0,
            "machine": {"cores_usable": 2, "cpu": "test"},
            "builds": {"3.14t": {"status": "ok", "env": {},
                                 "scaling": {"cores": 2, "series": [series]}}}}


def test_report_names_anti_scaling_poor_efficiency_and_noise():
    res = _fake_results({1: [1.0, 1.0, 1.0], 2: [0.8, 0.82, 0.81], 4: [1.1, 1.3, 1.5]})
    found = figures.findings(res)
    assert found["anti_scaling"] == ["xor 64 B on 3.14t: x0.81 at 2 threads (cv 1.2 %)"]
    assert len(found["poor_efficiency"]) == 1 and "at 4 threads" in found["poor_efficiency"][0]
    assert len(found["noisy"]) == 1 and "cv 15.4 % at 4 threads" in found["noisy"][0]
    md = report.summary_markdown({**res, "load_average_start": None, "load_average_end": None})
    assert "**ANTI**" in md and "*poor*" in md


def test_report_names_contention_by_work_efficiency():
    res = _fake_results({1: [1.0, 1.0], 2: [1.9, 1.9]})
    res["builds"]["3.14t"]["scaling"]["series"][0]["points"][1]["work_efficiency"] = 0.6
    assert figures.findings(res)["contended"] == [
        "xor 64 B on 3.14t: work efficiency 0.60 at 2 threads"]


def test_report_names_points_where_another_process_held_a_core():
    res = _fake_results({1: [1.0, 1.0], 2: [1.1, 1.1], 4: [1.9, 1.9]})
    points = res["builds"]["3.14t"]["scaling"]["series"][0]["points"]
    points[1]["median_waiting_share"] = 0.5  # 2 threads on 2 cores, one core taken
    points[2]["median_waiting_share"] = 0.5  # 4 threads on 2 cores: waiting is expected
    assert figures.findings(res)["busy"] == [
        "xor 64 B on 3.14t: 2 threads waited for a core 50.0 % of the time"]


def test_report_of_ideal_scaling_calls_out_nothing():
    res = _fake_results({1: [1.0, 1.0], 2: [2.0, 2.0], 4: [2.0, 2.0]})
    assert figures.findings(res) == {"anti_scaling": [], "poor_efficiency": [], "noisy": [],
                                    "busy": [], "contended": [], "beyond_cores": []}


@pytest.mark.thread_unsafe(reason="runs the benchmarks in subprocesses, timed windows")
def test_every_benchmark_runs_once_and_the_report_is_written(tmp_path, nvx_target):
    """The multi-build driver end to end, smoke mode: this interpreter as one build
    (NVX and, in its own process, autobahn's fallback), plus a build that cannot be
    found, which must be reported as missing rather than dropped."""
    pytest.importorskip("pytest_benchmark", reason="install nvx-ft[bench]")
    pytest.importorskip("matplotlib", reason="install nvx-ft[bench]")
    builds = [driver.Variant("current", "3.11", python=sys.executable),
              driver.Variant("3.99t", "3.99t")]
    results = driver.run_all(builds, driver.MODES["smoke"], tmp_path, venv_root=None,
                             log=lambda m: None)
    current = results["builds"]["current"]
    assert current.status == "ok", current.errors
    assert results["builds"]["3.99t"].status == "missing"
    assert "python3.99t not found" in results["builds"]["3.99t"].reason

    entries = figures.single_thread_entries(results)
    sizes = (16, 1024)
    expected = {("xor", i.name, s) for i in nvx_target.xor for s in sizes}
    expected |= {(f"utf8-{k}", i.name, s) for i in nvx_target.utf8
                 for k in wl.UTF8_KINDS for s in sizes}
    expected |= {("xor", wl.REFERENCE_XOR.name, s) for s in sizes}
    expected |= {(f"utf8-{k}", wl.REFERENCE_UTF8.name, s) for k in wl.UTF8_KINDS for s in sizes}
    got = {(g, i, s) for (b, g, i, s) in entries}
    assert expected <= got, sorted(expected - got)
    fallback = {i for (_, _, i, _) in entries if i.startswith("fallback/")}
    assert fallback == {"fallback/Utf8Validator", "fallback/XorMaskerSimple",
                        "fallback/XorMaskerShifted1"}
    for key, e in entries.items():
        assert e["calls_per_s"] > 0 and e["bytes_per_s"] == pytest.approx(
            e["calls_per_s"] * key[3]), key

    summary = report.write_report(results, tmp_path)
    assert "MISSING - NOT RUN" in summary and "3.99t" in summary
    for workload in scaling.mode_config("smoke").workloads:
        assert f"| {workload} | 64 B | current |" in summary
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the end-to-end echo benchmark ran on the same build, beside the NVX tables
    assert results["echo"]["status"] == "ok", results["echo"]["errors"]
    assert "## End-to-end: autobahn WebSocket echo server" in summary
    assert (tmp_path / "echo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "results.json").stat().st_size > 0
    assert "wrapper/XorMaskerSimple" in (tmp_path / "single_thread.md").read_text()


ACCEPTS_EVERYTHING = textwrap.dedent('''
    from nvx_ft.target import Impl, Target
    from nvx_ft.reference import XorReference

    class AcceptsEverything:
        """A validator that returns at once: it would look fast on invalid input."""
        def reset(self):
            pass
        def validate(self, data):
            return (True, True, len(data), len(data))

    def target():
        return Target("accepts-everything",
                      [Impl("bad/AcceptsEverything", lambda align=0: AcceptsEverything())],
                      [Impl("ok/XorReference", lambda mask, align=0: XorReference(mask))])
''')


@pytest.mark.thread_unsafe(reason="runs pytest in a subprocess")
def test_benchmarks_refuse_to_time_a_validator_that_does_not_validate(tmp_path):
    """Self-test: a benchmark times the case it names, or fails (a validator that
    accepts invalid UTF-8 would otherwise be reported as fast)."""
    pytest.importorskip("pytest_benchmark", reason="install nvx-ft[bench]")
    (tmp_path / "bench_bad_target.py").write_text(ACCEPTS_EVERYTHING)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", str(driver.ROOT / "benchmarks"), "-q",
         "-p", "no:cacheprovider", "--benchmark-disable", "--nvx-bench-sizes=64",
         "--nvx-target=bench_bad_target:target", "-k", "test_utf8 and not reference"],
        capture_output=True, text=True, cwd=driver.ROOT, timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 1, out.stdout[-2000:]
    assert "2 failed, 2 passed" in out.stdout, out.stdout[-2000:]
    assert "bad/AcceptsEverything" in out.stdout


def test_the_report_points_to_a_readme_section_that_exists():
    """The report explains its terms by pointing there: the section has to exist."""
    from nvx_ft.paths import ROOT

    section = report.TERMS.split("'")[1]
    assert f"\n## {section}\n" in (ROOT / "benchmarks" / "README.md").read_text()


@pytest.mark.parametrize("builds, echo, code", [
    ({"3.14t": {"status": "failed"}}, None, "EXIT_FAIL"),
    ({"3.14": {"status": "ok", "scaling": {"origin": {"build": "gil"}}}}, None, "EXIT_BLOCKED"),
    ({"3.14t": {"status": "ok", "scaling": {"origin": {"build": "free-threaded"}}}}, None,
     "EXIT_PASS"),
    ({"3.14t": {"status": "ok"}}, {"status": "ok", "servers": {
        "3.14t NVX on 2t": {"info": {"free_threaded_build": True}, "error": None}}}, "EXIT_PASS"),
    ({"3.14t": {"status": "ok"}}, {"status": "ok", "servers": {
        "3.14t NVX on 2t": {"info": {"free_threaded_build": True}, "error": "died"}}},
     "EXIT_BLOCKED"),
    ({"3.14t": {"status": "ok"}}, {"status": "failed", "servers": {}}, "EXIT_FAIL"),
], ids=["failed build", "GIL build only", "3.14t scaling", "3.14t echo server",
        "3.14t echo server failed", "echo failed"])
def test_the_bench_exit_code_says_failed_or_blocked_when_nothing_free_threaded_ran(
        builds, echo, code, tmp_path, monkeypatch, capsys):
    """`nvx-ft bench` passes only when a free-threaded build was measured (NVX scaling or
    an echo server) and nothing failed; else it is blocked (exit 2) or failed (exit 1)."""
    from nvx_ft import errors

    results = {"builds": {name: figures.BuildResult(**b) for name, b in builds.items()},
               **({"echo": echo} if echo else {})}
    monkeypatch.setattr(driver, "run_all", lambda *args, **kwargs: results)
    monkeypatch.setattr(report, "write_report", lambda results, out: "")
    parser = argparse.ArgumentParser()
    driver.add_arguments(parser)
    assert driver.run(parser.parse_args(["--current", "--out", str(tmp_path)])) == getattr(
        errors, code)
    assert ("no free-threaded build was measured" in capsys.readouterr().err) == (
        code == "EXIT_BLOCKED")
