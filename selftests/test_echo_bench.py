"""The end-to-end echo benchmark (nvx_ft.bench.echo*): it runs in a tiny smoke mode,
reports every point, bounds itself, and turns a wrong or silent server into an error
instead of a number. No timing is asserted: only structure and verdicts.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import pytest

from nvx_ft.bench import (echo_load, echo_run, figures, machine, plot, report, schedule,
                          scaling, stats)
from nvx_ft.protocol import frames as F

pytestmark = [pytest.mark.harness,
              pytest.mark.thread_unsafe(reason="starts server and load-generator processes")]


def _needs_autobahn():
    pytest.importorskip("autobahn.asyncio.websocket", reason="install nvx-ft[target]")


def _build() -> echo_run.EchoBuild:
    return echo_run.EchoBuild("current", sys.executable, {})


def _tiny(**changes) -> echo_run.EchoConfig:
    cfg = echo_run.mode_config("smoke", cores=2)
    return dataclasses.replace(cfg, **{"pin": "off", **changes})


# --------------------------------------------------------------------------- the load


@pytest.mark.parametrize("kind", ["text", "binary"])
@pytest.mark.parametrize("size", [1, 3, 64, 1024, 65536])
def test_messages_have_their_size_and_kind_and_differ(kind, size):
    payloads = [echo_load.payload(kind, size, v) for v in range(echo_load.VARIANTS)]
    assert all(len(p) == size for p in payloads)
    if size > 2:
        assert len(set(payloads)) == echo_load.VARIANTS  # a repeated old echo is caught
    if kind == "text":
        texts = [p.decode("utf-8") for p in payloads]  # valid UTF-8
        if size >= 64:
            assert all(any(ord(c) > 0x7FF for c in t) for t in texts)  # multi-byte


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_prebuilt_frames_are_masked_client_frames_and_unmasked_echoes(kind):
    for v, (client, server) in enumerate(echo_load.frames_for(kind, 300)):
        (c,), rest = F.decode_all(client)
        (s,), rest2 = F.decode_all(server)
        assert rest == rest2 == b""
        assert client[1] & 0x80 and not server[1] & 0x80  # masked / not masked
        assert c.payload == s.payload == echo_load.payload(kind, 300, v)
        assert c.opcode == s.opcode == (F.OP_TEXT if kind == "text" else F.OP_BINARY)


# --------------------------------------------------------------------------- the run


def test_smoke_run_measures_every_point_and_writes_table_and_plot(tmp_path):
    _needs_autobahn()
    cfg = _tiny()
    res = echo_run.run([_build()], "smoke", tmp_path, log=lambda m: None, cfg=cfg)
    assert res["status"] == "ok", res["errors"]
    want = {(nvx, n, k, s) for nvx in cfg.nvx for n in cfg.threads for k in cfg.kinds
            for s in cfg.sizes}
    assert {(p["nvx"], p["threads"], p["kind"], p["size"]) for p in res["points"]} == want
    for srv in res["servers"].values():
        assert srv["error"] is None and srv["info"]["ports"]
    for p in res["points"]:
        assert len(p["repeats"]) >= cfg.repeats and not p["errors"]
        assert p["connections"] >= p["threads"]
        for r in p["repeats"]:
            assert r["messages"] > 0 and r["msgs_per_s"] > 0
            assert 0 < r["p50_us"] <= r["p99_us"]
            assert r["server_cpu"] >= 0 and r["load_cpu"] >= 0 and r["server_wall"] > 0
    pts = figures.figures(res)
    for p in pts.values():
        assert p.fig.mb_per_s == pytest.approx(p.fig.msgs["median"] * p.size / 1e6)
        lo, hi = p.fig.msgs["ci"]
        assert lo <= p.fig.msgs["median"] <= hi
        assert (p.speedup is None) == (p.threads == 1)
    md = "\n".join(report.echo_section(res))
    assert "## End-to-end: autobahn WebSocket echo server" in md
    assert "| text 64 B | on | current |" in md and "| binary 1 KiB | off | current |" in md
    pytest.importorskip("matplotlib", reason="install nvx-ft[bench]")
    plot.plot_echo(res, pts, tmp_path / "echo.png")
    assert (tmp_path / "echo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("fault, says", [("corrupt-echo", "wrong echo on connection"),
                                         ("no-echo", "echoes outstanding")])
def test_a_wrong_or_silent_server_is_an_error_not_a_number(tmp_path, monkeypatch, fault,
                                                           says):
    """A server that corrupts one byte of one echo, or stops answering: the run fails,
    the point has no figures, the report says ERROR (and why)."""
    _needs_autobahn()
    faulty = os.path.join(os.path.dirname(__file__), "faulty_echo_server.py")
    monkeypatch.setattr(echo_run.Server, "START", (faulty, fault))
    cfg = _tiny(kinds=("binary",), sizes=(64,), threads=(1,), nvx=(True,), window=0.3,
                io_timeout=1.0)
    res = echo_run.run([_build()], "smoke", tmp_path, log=lambda m: None, cfg=cfg)
    assert res["status"] == "failed"
    (point,) = res["points"]
    assert point["repeats"] == [] and says in point["errors"][0], point["errors"]
    assert any(says in e for e in res["errors"])
    md = "\n".join(report.echo_section(res))
    assert "**ERROR**" in md and says in md
    assert figures.figures(res)[echo_run.point_key(
        "current", True, 1, "binary", 64)].fig is None


def test_the_run_stops_at_its_time_bound(tmp_path):
    _needs_autobahn()
    cfg = _tiny(kinds=("binary",), sizes=(64,), nvx=(True,), repeats=50, budget=0.0)
    res = echo_run.run([_build()], "smoke", tmp_path, log=lambda m: None, cfg=cfg)
    assert "time bound" in res["stopped"]
    assert sum(len(p["repeats"]) for p in res["points"]) < 50
    assert "Stopped early" in "\n".join(report.echo_section(res))


# --------------------------------------------------------------------------- pinning


def test_a_server_pins_its_threads_from_its_start(tmp_path):
    """Pinning is decided once per run, before the servers start (the live re-pinning
    of running servers between repeats is gone): a server started with CPUs has server
    thread i on the i-th CPU - as the OS reports it to this process, not only as the
    server says - and still answers the driver."""
    _needs_autobahn()
    from nvx_ft.childenv import MEASUREMENT, child_env
    from nvx_ft.paths import ROOT

    cpus = machine.allowed_cpus()
    if not machine.can_pin() or len(cpus) < 2:
        pytest.skip("needs an OS that pins threads and 2 usable CPUs")
    srv = echo_run.Server("pin test", sys.executable, 2, [cpus[1], cpus[0]],
                            child_env(scrub=MEASUREMENT), tmp_path / "server.log", 60, cwd=ROOT)
    try:
        srv.ready(60)
        tids = srv.info["tids"]
        assert len(set(tids)) == 2
        assert [os.sched_getaffinity(t) for t in tids] == [{cpus[1]}, {cpus[0]}]
        assert srv.info["pinned_cpus"] == srv.pinned_cpus == [cpus[1], cpus[0]]
        now = time.monotonic()  # it still answers the driver afterwards
        srv.command({"cmd": "measure", "start": now, "end": now + 0.05})
        assert srv.answer(20)["wall"] > 0
    finally:
        assert srv.close() == 0


@pytest.mark.parametrize("idle, pinned", [(0.95, True), (0.1, False)])
def test_pinning_is_decided_once_per_run_and_the_report_says_so(tmp_path, monkeypatch,
                                                                idle, pinned):
    """Idle (or busy) at the start: every repeat is pinned (or none is), the servers
    from their start, and the summary says why."""
    _needs_autobahn()
    if not machine.can_pin():
        pytest.skip("the OS does not pin threads")
    idles = iter([idle])  # measured once: a second measurement would raise
    monkeypatch.setattr(machine, "idle_share", lambda seconds=0.5, cores=None: next(idles))
    cfg = _tiny(kinds=("binary",), sizes=(64,), nvx=(True,), repeats=3, pin="auto")
    res = echo_run.run([_build()], "smoke", tmp_path, log=lambda m: None, cfg=cfg)
    assert res["status"] == "ok", res["errors"]
    assert res["pinning"]["pinned"] is pinned and res["pinning"]["idle"] == idle
    for p in res["points"]:
        n = p["threads"]
        assert [(r["repeat"], r["pinned"]) for r in p["repeats"]][:3] == [
            (1, pinned), (2, pinned), (3, pinned)]
        assert {r["server_pinned"] for r in p["repeats"]} == {
            pinned and machine.should_pin(n, res["cpus"])}
        assert {r["load_pinned"] for r in p["repeats"]} == {
            pinned and n + p["load_processes"] <= res["cores"]}
    md = "\n".join(report.echo_section(res))
    assert (f"Threads pinned to cores: {'yes' if pinned else 'no'} (decided once, at the "
            f"start of the run: auto: machine {'' if pinned else 'only '}{idle:.0%} idle") in md


def test_the_pinning_line_reads_asked_pinning():
    asked = {**_fake([]), "config": dataclasses.asdict(_tiny(pin="on")),
             "pinning": {"pinned": True, "note": "pinning on (asked)", "idle": None}}
    assert ("Threads pinned to cores: yes (decided once, at the start of the run: pinning "
            "on (asked))") in "\n".join(report.echo_section(asked))
    assert report.pinning_line(None) == ""


# --------------------------------------------------------------------------- figures


def _fake(points: list[dict], cores: int = 2) -> dict:
    return {"cores": cores, "cv_target": 0.05, "config": dataclasses.asdict(_tiny()),
            "seconds": 1.0, "mode": "smoke", "points": points, "errors": [], "servers": {}}


def _point(build, n, rates, *, load_cpu=0.3, server_cpu=1.0, nvx=True, messages=1000):
    reps = [{"messages": messages, "msgs_per_s": r, "p50_us": 100.0, "p99_us": 900.0,
             "load_cpu": load_cpu, "load_wall": 1.0, "server_cpu": server_cpu * min(n, 2),
             "server_wall": 1.0, "others_cores": 0.0, "repeat": i + 1, "pinned": False,
             "server_pinned": False, "load_pinned": False} for i, r in enumerate(rates)]
    return {"build": build, "nvx": nvx, "threads": n, "kind": "text", "size": 64,
            "connections": 4 * n, "load_processes": 1, "oversubscribed": n > 2,
            "repeats": reps, "errors": []}


def test_figures_pair_speedups_ratio_builds_and_name_noise_and_saturation():
    pts = figures.figures(_fake([
        _point("3.14", 1, [1000, 1000, 1000]), _point("3.14", 2, [1500, 1500, 1500]),
        _point("3.14t", 1, [900, 900, 900]), _point("3.14t", 2, [1800, 1000, 2600]),
        _point("3.14t", 4, [1700, 1700, 1700], load_cpu=0.95)]))
    ft2 = pts[echo_run.point_key("3.14t", True, 2, "text", 64)]
    assert ft2.speedup["median"] == pytest.approx(2.0)
    assert ft2.vs_baseline["median"] == pytest.approx(1800 / 1500)
    assert ft2.noisy and not pts[echo_run.point_key("3.14", True, 2, "text", 64)].noisy
    ft4 = pts[echo_run.point_key("3.14t", True, 4, "text", 64)]
    assert any("oversubscribed" in w for w in ft4.why)
    assert any("saturated" in w for w in ft4.why)
    md = "\n".join(report.echo_section(_fake([
        _point("3.14", 1, [1000, 1000, 1000]), _point("3.14", 2, [1500, 1500, 1500]),
        _point("3.14t", 1, [900, 900, 900]), _point("3.14t", 2, [1800, 1000, 2600]),
        _point("3.14t", 4, [1700, 1700, 1700], load_cpu=0.95)])))
    assert "(within target: 4 of 5 points)" in md
    assert ("NVX on, 1 server thread: 3.14t serves **x0.90** the messages/s of 3.14 (median "
            "over 1 workloads)\n- NVX on, 2 server threads: 3.14t serves **x1.20**") in md
    # CPU per echo: 1 s of one core for 900 echoes vs for 1000 (whatever the share)
    assert "NVX on, 1 server thread: the 3.14t server spends **x1.11** the CPU time" in md
    assert "3.14, NVX on: CPU per echo at 2 threads / at 1 thread x1.33" in md
    md = "\n".join(report.echo_section(_fake([_point("3.14", 1, [1000] * 3),
                                               _point("3.14t", 4, [10] * 3, load_cpu=0.95)])))
    assert "load generator was saturated" in md and "4 (oversubscribed)" in md


def test_a_quiet_machine_with_varying_cpu_per_echo_is_blamed_on_the_hardware():
    p = _point("3.14t", 1, [1000.0, 1500.0, 700.0])  # same CPU, different echo counts
    pts = figures.figures(_fake([p]))
    (only,) = pts.values()
    assert only.noisy and "hardware under this machine" in only.why[0]


def test_a_starved_server_is_told_apart_from_a_latency_bound_one():
    busy = _point("3.14", 1, [1000] * 3, server_cpu=0.3)
    for r in busy["repeats"]:
        r["others_cores"] = 1.5
    quiet = _point("3.14t", 1, [1000] * 3, server_cpu=0.3)
    pts = figures.figures(_fake([busy, quiet]))
    why = {p.build: " ".join(p.why) for p in pts.values()}
    assert "other processes used 1.50 cores" in why["3.14"]
    assert "latency-bound" in why["3.14t"]


# --------------------------------------------------------------------------- steadier


def test_bootstrap_interval_is_deterministic_and_holds_the_median():
    values = [10.0, 11.0, 9.5, 10.2, 30.0, 10.1, 9.9]
    s = stats.summary(values)
    assert s == stats.summary(values)  # seeded
    assert s["min"] == 9.5 and s["max"] == 30.0 and s["median"] == 10.1
    assert s["ci"][0] <= 10.1 <= s["ci"][1] < 30.0
    assert stats.summary([5.0])["ci"] == [5.0, 5.0]
    r = stats.ratio_of_medians([2.0, 2.2, 1.8], [1.0, 1.1, 0.9])
    assert r["median"] == pytest.approx(2.0) and r["ci"][0] <= 2.0 <= r["ci"][1]


def test_rounds_split_repeats_and_merge_keeps_every_repeat_paired():
    assert schedule.split(7, 3) == [3, 2, 2] and schedule.split(2, 3) == [1, 1]

    def run_(thr1, thr2):
        pts = [{"threads": n, "throughput": t, "cpu_share": [1.0] * len(t),
                "work_rate": t, "blocked_share": [0.0] * len(t),
                "waiting_share": [0.0] * len(t)} for n, t in ((1, thr1), (2, thr2))]
        return {"cores": 2, "gil_enabled": False, "seconds": 1.0,
                "series": [{"workload": "xor", "description": "", "frame_size": 64,
                            "batch": 1, "points": pts}]}

    merged = scaling.merge([run_([1.0, 1.0], [2.0, 1.0]), run_([2.0], [4.0])])
    p1, p2 = merged["series"][0]["points"]
    assert p2["speedup"] == [2.0, 1.0, 2.0]  # paired within each run, all kept
    assert p1["speedup"] == [1.0, 1.0, 1.0] and merged["runs"] == 2
    assert merged["repeats_per_series"] == {"xor 64": 3}
    assert p2["min_speedup"] == 1.0 and len(p2["ci_speedup"]) == 2
    assert schedule.noisy_series([run_([1.0, 1.0], [2.0, 1.0])]) == ["xor:64"]


def test_pinning_is_off_on_a_busy_machine_and_when_asked():
    if not machine.can_pin():
        assert machine.decide("on", 1.0)[0] is False
        return
    assert machine.decide("auto", 0.95)[0] is True
    pinned, why = machine.decide("auto", 0.3)
    assert pinned is False and "30%" in why
    assert machine.decide("off", 1.0)[0] is False and machine.decide("on", 0.0)[0] is True
    assert machine.should_pin(1, [0, 1]) and not machine.should_pin(3, [0, 1])


def test_a_failed_end_to_end_run_fails_the_bench_command(tmp_path, monkeypatch):
    """`nox -s bench` exits 1 when the echo benchmark failed, even if NVX's parts passed."""
    from nvx_ft.bench import driver

    def fake_run_all(variants, mode, out, venv_root, log=print, **kw):
        return {"kind": "nvx-ft-bench", "mode": mode.name, "started": "now", "seconds": 1.0,
                "machine": {"cores_usable": 2, "cpu": "test"}, "builds": {
                    "3.14t": figures.BuildResult("ok", python="x")},
                "echo": {**_fake([]), "status": "failed", "errors": ["wrong echo"],
                         "servers": {"s": {"info": {"free_threaded_build": True},
                                           "error": None}}}}

    monkeypatch.setattr(driver, "run_all", fake_run_all)
    assert driver.main(["--out", str(tmp_path), "--builds", "3.14t"]) == 1
    assert "**ERROR**: wrong echo" in (tmp_path / "summary.md").read_text()
