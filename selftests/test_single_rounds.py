"""The single-thread benchmarks run in interleaved rounds (nvx_ft.bench.schedule).

Structure only, no timing asserted: the rounds' JSONs merge into one pytest-benchmark
JSON (median of the round medians, every round's median, their spread marked in the
report), the builds take turns in an order rotated from round to round, a failing round
is an error with its log tail, and the driver runs it end to end in smoke mode.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

import pytest

from nvx_ft.bench import driver, figures, report, schedule, stats

pytestmark = pytest.mark.harness

#: the real one, also when a test puts a fake in its place
RUN_CHILD = driver._run_child


def _bench(fullname: str, data: list[float], size: int = 16, iterations: int = 20) -> dict:
    """One benchmark as pytest-benchmark writes it (the fields merge and report read)."""
    return {"group": f"xor {size} B", "name": fullname, "fullname": fullname,
            "extra_info": {"impl": fullname, "level": "lib", "bytes": size, "workload": "xor"},
            "options": {"max_time": 0.01},
            "stats": {"min": min(data), "max": max(data), "mean": statistics.fmean(data),
                      "median": statistics.median(data), "rounds": len(data),
                      "total": sum(data), "iterations": iterations, "data": data}}


def _round(*benches: dict) -> dict:
    return {"machine_info": {"node": "test"}, "commit_info": {}, "datetime": "now",
            "version": "5.3.1", "benchmarks": list(benches)}


def test_merging_rounds_takes_the_median_of_the_round_medians_and_keeps_each():
    rounds_json = [_round(_bench("lib/steady", [1.0, 1.0, 1.01]),
                          _bench("lib/jumpy", [1.0, 1.1, 1.2])),
                   _round(_bench("lib/steady", [1.0, 1.02, 1.0]),
                          _bench("lib/jumpy", [2.0, 1.9, 2.1], iterations=5)),
                   _round(_bench("lib/steady", [0.99, 1.0, 1.0]))]  # jumpy missing here
    merged = schedule.merge_pytest(rounds_json)
    assert merged["rounds_merged"] == 3 and merged["machine_info"] == {"node": "test"}
    by_name = {b["fullname"]: b["stats"] for b in merged["benchmarks"]}
    steady, jumpy = by_name["lib/steady"], by_name["lib/jumpy"]
    assert steady["round_medians"] == [1.0, 1.0, 1.0]
    assert steady["median"] == 1.0 and steady["min"] == 0.99 and steady["rounds"] == 9
    assert steady["round_cv"] == 0.0
    # a benchmark missing from one round merges the rounds that have it
    assert jumpy["round_medians"] == [1.1, 2.0]
    assert jumpy["median"] == pytest.approx(1.55) and jumpy["min"] == 1.0
    assert jumpy["round_cv"] == pytest.approx(stats.cv([1.1, 2.0]))
    # the rest pooled, as pytest-benchmark would show one run of all samples
    assert jumpy["data"] == [1.0, 1.1, 1.2, 2.0, 1.9, 2.1] and jumpy["max"] == 2.1
    assert jumpy["mean"] == pytest.approx(statistics.fmean(jumpy["data"]))
    assert jumpy["q1"] <= jumpy["median"] <= jumpy["q3"] and jumpy["outliers"].count(";") == 1
    assert jumpy["iterations"] == 5  # calls per sample: the fewest of any round


def _results_with(merged: dict) -> dict:
    return {"builds": {"3.14": {"status": "ok", "single": {"autobahn": merged}}},
            "single_thread_rounds": [["3.14"], ["3.14"]]}


def test_report_marks_a_cell_whose_rounds_disagree():
    merged = schedule.merge_pytest([
        _round(_bench("lib/steady", [1.0]), _bench("lib/jumpy", [1.0], size=256)),
        _round(_bench("lib/steady", [1.01]), _bench("lib/jumpy", [1.5], size=256))])
    summary = report.tables(_results_with(merged), full=False)
    steady = next(line for line in summary if line.startswith("| lib/steady"))
    jumpy = next(line for line in summary if line.startswith("| lib/jumpy"))
    assert "⚠" not in steady
    assert f"⚠ cv {stats.cv([1.0, 1.5]) * 100:.1f} %" in jumpy
    assert summary[0].startswith("⚠ = the medians of this cell's 2 rounds")
    assert "(1 of 2 cells" in summary[0]
    full = report.tables(_results_with(merged), full=True)
    at = next(i for i, line in enumerate(full) if line.startswith("| impl"))
    header, delimiter = full[at], full[at + 1]
    # one Markdown column per figure: the delimiter row matches the header
    assert header.count(" | ") + 1 == delimiter.count("---")
    assert "CV over rounds" in header
    section = "\n".join(report.single_section(_results_with(merged)))
    assert "Builds interleaved in 2 rounds" in section


def test_rotation_gives_every_build_the_first_turn():
    assert [schedule.rotated(["a", "b", "c"], r) for r in range(4)] == [
        ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert schedule.rotated([], 2) == []
    assert schedule.run_single([], driver.MODES["quick"], FakeChild()) == []


class FakeChild:
    """Stands in for driver._run_child: records every run, writes a one-benchmark JSON;
    ``fail`` = (build slot name, target, round tag) runs a failing process instead,
    through the real _run_child, so that the log tail is the real one."""

    def __init__(self, fail: tuple[str, str, str] | None = None):
        self.calls: list[tuple[str, str, str]] = []
        self.options: list[list[str]] = []
        self.fail = fail

    def __call__(self, cmd, env, log_path: Path, timeout):
        target = next(a.split("=", 1)[1] for a in cmd if a.startswith("--nvx-target="))
        assert (env.get("AUTOBAHN_USE_NVX") == "0") == (target == "fallback")
        tag = re.search(r"round\d+", log_path.name).group()
        call = (log_path.parent.name, target, tag)
        self.calls.append(call)
        self.options.append([a for a in cmd if a.startswith("--benchmark-m")])
        if call == self.fail:
            return RUN_CHILD(
                [sys.executable, "-c", "print('collected 0 items'); print('the last words');"
                 " raise SystemExit(3)"], env, log_path, timeout)
        out = next(a.split("=", 1)[1] for a in cmd if a.startswith("--benchmark-json="))
        Path(out).write_text(json.dumps(_round(_bench(f"{target}/x", [1.0]))))
        return None


def _builds(tmp_path: Path, *names: str) -> list[schedule.Job]:
    return [schedule.Job(n, sys.executable, {}, tmp_path / n) for n in names]


def test_rounds_rotate_the_builds_per_target_and_divide_the_max_time(tmp_path):
    fake = FakeChild()
    builds = _builds(tmp_path, "A", "B")
    order = schedule.run_single(builds, driver.MODES["quick"], fake, log=lambda m: None)
    assert order == [["A", "B"], ["B", "A"], ["A", "B"]]
    assert fake.calls == [
        ("A", "autobahn", "round1"), ("B", "autobahn", "round1"),
        ("A", "fallback", "round1"), ("B", "fallback", "round1"),
        ("B", "autobahn", "round2"), ("A", "autobahn", "round2"),
        ("B", "fallback", "round2"), ("A", "fallback", "round2"),
        ("A", "autobahn", "round3"), ("B", "autobahn", "round3"),
        ("A", "fallback", "round3"), ("B", "fallback", "round3")]
    # quick: 0.02 s and 3 samples per benchmark in all, over 3 rounds
    assert fake.options[0][:2] == ["--benchmark-max-time=0.00666667", "--benchmark-min-rounds=1"]
    assert [o[1] for o in (schedule.round_options(driver.MODES["full"], 3))] == [
        "--benchmark-min-rounds=3", "--benchmark-min-rounds=2", "--benchmark-min-rounds=2"]
    for b in builds:
        merged = schedule.single_result(b)
        assert list(merged) == ["autobahn", "fallback"]
        assert merged["autobahn"]["rounds_merged"] == 3
        assert json.loads((b.slot / "single-autobahn.json").read_text()) == merged["autobahn"]


def test_a_failing_round_is_an_error_with_its_log_tail(tmp_path, monkeypatch):
    """Quick mode: a build's NVX suite fails in round 2; its other rounds and its
    fallback stay, it is not run again, and the third build is not run (quick mode runs
    the single-thread benchmarks only for 3.14 and 3.14t)."""
    fake = FakeChild(fail=("3.14t", "autobahn", "round2"))
    monkeypatch.setattr(driver, "_run_child", fake)
    slot = {"3.14": "3.14", "3.14t": "3.14t", "3.14t PYTHON_GIL=1": "gil1"}
    resolved = [(v, sys.executable, tmp_path / slot[v.name], {}) for v in driver.VARIANTS]
    results = {"builds": {v.name: figures.BuildResult("ok") for v in driver.VARIANTS}}
    driver.run_single(resolved, driver.MODES["quick"], results, log=lambda m: None)

    assert results["single_thread_rounds"] == [["3.14", "3.14t"], ["3.14t", "3.14"],
                                               ["3.14", "3.14t"]]
    ft = results["builds"]["3.14t"]
    assert len(ft.errors) == 1
    assert ft.errors[0].startswith("single-thread autobahn (round2): exit code 3")
    assert "the last words" in ft.errors[0]
    assert ("3.14t", "autobahn", "round3") not in fake.calls
    assert ft.single["autobahn"]["rounds_merged"] == 1
    assert ft.single["fallback"]["rounds_merged"] == 3
    assert results["builds"]["3.14"].errors == []
    assert results["builds"]["3.14t PYTHON_GIL=1"].single_not_run == (
        "quick mode runs the single-thread benchmarks only for 3.14, 3.14t")
    assert not any(c[0] == "gil1" for c in fake.calls)


@pytest.mark.nightly  # about 35 s of real benchmark runs; the units above run every time
@pytest.mark.thread_unsafe(reason="runs the benchmarks in subprocesses")
def test_the_driver_interleaves_two_builds_end_to_end(tmp_path, monkeypatch):
    """Smoke mode, this interpreter as two builds, two rounds (smoke mode runs one; two
    show the rotation): the builds took turns, each round's JSON and the merged one are
    written, and the report says how the builds were interleaved."""
    pytest.importorskip("pytest_benchmark", reason="install nvx-ft[bench]")
    pytest.importorskip("matplotlib", reason="install nvx-ft[bench]")
    monkeypatch.setitem(schedule.SINGLE_ROUNDS, "smoke", 2)
    builds = [driver.Variant(name, "3.11", python=sys.executable) for name in ("one", "two")]
    log: list[str] = []
    results = driver.run_all(builds, driver.MODES["smoke"], tmp_path, venv_root=None,
                             log=log.append, echo=False)
    for name in ("one", "two"):
        assert results["builds"][name].status == "ok", results["builds"][name].errors

    turns = [m.split(" round")[0] for m in log if "single-thread benchmarks:" in m]
    assert turns == [f"[{b}] single-thread benchmarks: {t}," for b, t in (
        ("one", "autobahn"), ("two", "autobahn"), ("one", "fallback"), ("two", "fallback"),
        ("two", "autobahn"), ("one", "autobahn"), ("two", "fallback"), ("one", "fallback"))]
    assert results["single_thread_rounds"] == [["one", "two"], ["two", "one"]]
    for name in ("one", "two"):
        slot = tmp_path / name
        for target in ("autobahn", "fallback"):
            for k in (1, 2):
                assert json.loads((slot / f"single-{target}-round{k}.json").read_text())[
                    "benchmarks"]
            merged = json.loads((slot / f"single-{target}.json").read_text())
            assert merged == results["builds"][name].single[target]
            for bench in merged["benchmarks"]:
                s = bench["stats"]
                assert len(s["round_medians"]) == 2, bench["fullname"]
                assert s["median"] == statistics.median(s["round_medians"])
                assert s["round_cv"] == pytest.approx(stats.cv(s["round_medians"]))

    summary = report.write_report(results, tmp_path)
    assert "Builds interleaved in 2 rounds" in summary and "(one, two / two, one)" in summary
    assert "| wrapper/XorMaskerSimple | one |" in summary
    assert "CV over rounds" in (tmp_path / "single_thread.md").read_text()
