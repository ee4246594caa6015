"""The steadiness probe (nvx_ft.bench.steadiness): it measures the machine's own noise,
names its kind, and says whether the bench's CV target is within reach - and it can
tell a steady machine from an unsteady one. No speed is asserted."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nvx_ft.bench import figures, machine, stats, steadiness

pytestmark = [pytest.mark.harness,
              pytest.mark.thread_unsafe(reason="starts one probe process per CPU")]


def _cpu(rates, share=1.0, window=0.04):
    return steadiness.summarize_cpu({"cpu": 0, "pinned": True, "window": window,
                                     "rates": rates, "cpu_share": [share] * len(rates)})


def _result(*cpus, steal=0.0):
    return {"seconds": 3.0, "window": 0.04, "cpus": len(cpus), "error": None,
            "steal_share": steal, "per_cpu": list(cpus)}


#: a CPU that flips between a slow and a fast level and stays there (regimes)
REGIMES = [0.75] * 15 + [1.3] * 15 + [0.75] * 15 + [1.3] * 15 + [0.75] * 15
STEADY = [1.0, 1.01, 0.99, 1.0, 1.005, 0.995] * 12


def test_regimes_put_the_target_out_of_reach_and_are_blamed_on_the_hardware():
    text = steadiness.describe(_result(_cpu(REGIMES), _cpu(REGIMES[::-1])), 0.1,
                               stats.CV_TARGET)
    assert "out of reach" in text and "hardware under this machine" in text
    assert steadiness.floor(_result(_cpu(REGIMES)), 0.1) > stats.CV_TARGET


def test_a_steady_machine_has_the_target_within_reach():
    result = _result(_cpu(STEADY), _cpu(STEADY))
    assert steadiness.floor(result, 0.1) < stats.CV_TARGET
    assert "within reach" in steadiness.describe(result, 0.1, stats.CV_TARGET)


def test_other_processes_and_stolen_time_are_named_instead_of_the_hardware():
    busy = steadiness.describe(_result(_cpu(REGIMES, share=0.5)), 0.1, stats.CV_TARGET)
    assert "other processes took 50%" in busy and "hardware" not in busy
    stolen = steadiness.describe(_result(_cpu(REGIMES), steal=0.2), 0.1, stats.CV_TARGET)
    assert "stole 20.0%" in stolen and "hardware" not in stolen


def test_floor_merges_windows_and_autocorrelation_tells_regimes_from_jitter():
    jitter = [0.8, 1.2] * 30  # alternating: noisy per window, steady per 2 windows
    assert steadiness.cv_at(jitter, 0.04, 0.04) > 0.15
    assert steadiness.cv_at(jitter, 0.04, 0.08) == pytest.approx(0.0, abs=1e-9)
    assert steadiness.autocorrelation(jitter) < -0.9
    assert steadiness.autocorrelation(REGIMES) > 0.8
    assert steadiness.cv_at([1.0, 2.0], 0.04, 0.1) is None  # too few windows to say
    assert steadiness.floor({"error": "x"}, 0.1) is None and steadiness.floor(None, 0.1) is None


def test_an_unexplained_noisy_speedup_cites_the_machine_floor():
    point = {"threads": 2, "median_waiting_share": 0.0, "median_blocked_share": 0.0}
    assert "steadiness probe" in figures.noise_cause(point, 2, machine_floor=0.2)
    assert "steadiness probe" not in figures.noise_cause(point, 2, machine_floor=0.01)
    # a measured cause comes first and alone
    point["median_waiting_share"] = 0.5
    assert "steadiness probe" not in figures.noise_cause(point, 2, machine_floor=0.2)


def test_the_probe_runs_one_process_per_cpu_and_reports_each():
    result = steadiness.probe(seconds=0.3, window=0.02)
    assert result["error"] is None
    assert len(result["per_cpu"]) == len(machine.allowed_cpus())
    for cpu in result["per_cpu"]:
        assert cpu["windows"] >= 3 and cpu["cpu_share"] > 0
        assert cpu["pinned"] == machine.can_pin()


@pytest.mark.skipif(not machine.can_pin(), reason="pinning needs Linux sched_setaffinity")
def test_the_probe_sees_a_process_that_shares_its_core():
    """The killing case: a busy loop pinned to the probe's CPU takes about half of it;
    the probe must report the share and name other processes, never a steady machine."""
    cpu = machine.allowed_cpus()[0]
    hog = subprocess.Popen([sys.executable, "-c",
                            "import os,time\n"
                            f"os.sched_setaffinity(0, {{{cpu}}})\n"
                            "end = time.monotonic() + 20\n"
                            "while time.monotonic() < end: pass\n"])
    try:
        raw = subprocess.run([sys.executable, "-m", "nvx_ft.bench.steadiness", "--child",
                              "--seconds", "1.0", "--window", "0.05", "--cpu", str(cpu)],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    finally:
        hog.kill()
        hog.wait()
    summary = steadiness.summarize_cpu(json.loads(raw))
    assert summary["cpu_share"] < 0.9
    text = steadiness.describe(_result(summary), 0.1, stats.CV_TARGET)
    assert "other processes took" in text
