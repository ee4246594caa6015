"""Provisioning a missing free-threaded interpreter with uv (``nvx_ft.interpreters``):
``uv python install`` then ``uv python find``; uv's own error and the manual ways when it
cannot (offline, no uv, a hang); ``--no-provision`` / ``$NVX_FT_PROVISION=off`` turn it
off. A stand-in ``uv`` on PATH plays uv: nothing is ever downloaded here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import stand_in_uv as stand_in
from nvx_ft import errors, interpreters, paths, settings

pytestmark = [
    pytest.mark.harness,
    pytest.mark.skipif(os.name == "nt", reason="the stand-in uv is a script run through its shebang"),
    pytest.mark.thread_unsafe(reason="changes os.environ and PATH, runs subprocesses"),
]

CURRENT = interpreters.current()


def stand_in_uv(folder: Path, mode: str) -> Path:
    return stand_in.write(folder, mode)


def calls(folder: Path) -> list[str]:
    return stand_in.calls(folder)


@pytest.fixture
def fresh_machine(monkeypatch, tmp_path):
    """Nothing to find but a stand-in uv (set up by the test) in ``tmp_path/bin``;
    provisioning on, no earlier failure remembered."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    for label in interpreters.LABELS:
        monkeypatch.delenv(interpreters.env_var_for(label), raising=False)
    for name in (interpreters.PROVISION_ENV, settings.CHILD):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "bin"


def test_uv_installs_then_finds_the_interpreter(fresh_machine):
    stand_in_uv(fresh_machine, "ok")
    got = interpreters.provision_with_uv(CURRENT.label, log=lambda m: None)
    assert got.source == "uv install" and got.label == CURRENT.label
    assert os.path.realpath(got.executable) == os.path.realpath(sys.executable)
    assert calls(fresh_machine) == [f"python install {CURRENT.label}",
                                    f"python find --no-project {CURRENT.label}"]


def test_offline_uv_is_blocked_with_uvs_error_and_the_manual_ways(fresh_machine):
    stand_in_uv(fresh_machine, "offline")
    with pytest.raises(errors.Blocked) as exc:
        interpreters.provision_with_uv("3.14t", log=lambda m: None)
    msg = str(exc.value)
    assert "`uv python install 3.14t` failed: error: Failed to install" in msg
    assert "dns error" in msg and "\n" not in msg
    assert "actions/setup-python" in msg and "NVX_FT_PYTHON_3_14T" in msg
    # remembered: a run started from this one (nox in nox) does not try again
    with pytest.raises(errors.Blocked, match="tried earlier in this run: .*dns error"):
        interpreters.provision_with_uv("3.14t", log=lambda m: None)
    assert calls(fresh_machine) == ["python install 3.14t"]


def test_no_uv_is_blocked_with_the_manual_ways(fresh_machine):
    fresh_machine.mkdir()
    with pytest.raises(errors.Blocked, match="uv is not on PATH.*uv python install 3.14t"):
        interpreters.provision_with_uv("3.14t", log=lambda m: None)


def test_a_hanging_uv_is_bounded(fresh_machine, monkeypatch):
    stand_in_uv(fresh_machine, "hang")
    monkeypatch.setenv(interpreters.PROVISION_ENV, "1")  # seconds
    started = time.monotonic()
    with pytest.raises(errors.Blocked, match="did not finish within 1s"):
        interpreters.provision_with_uv("3.14t", log=lambda m: None)
    assert time.monotonic() - started < 15


def test_resolve_provisions_only_what_is_missing_and_only_when_on(fresh_machine,
                                                                  monkeypatch):
    stand_in_uv(fresh_machine, "ok")
    monkeypatch.setattr(interpreters, "PROVISIONED", (CURRENT.label,))
    monkeypatch.setattr(interpreters, "find", lambda label: None)
    with pytest.raises(errors.Blocked, match="provisioning with uv is off: --no-provision"):
        interpreters.resolve(CURRENT.label, provision=False)
    monkeypatch.setenv(interpreters.PROVISION_ENV, "off")
    with pytest.raises(errors.Blocked, match=interpreters.PROVISION_ENV):
        interpreters.resolve(CURRENT.label)
    assert calls(fresh_machine) == []  # off means uv is never asked
    monkeypatch.setenv(interpreters.PROVISION_ENV, "60")  # on, bounded
    assert interpreters.resolve(CURRENT.label).source == "uv install"
    other = CURRENT.label[:-1] if CURRENT.free_threaded else CURRENT.label + "t"
    with pytest.raises(errors.Blocked, match=f"no .*CPython {other} found; get"):
        interpreters.resolve(other)  # not a provisioned label: only looked for


def _run(fresh_machine: Path, *args: str, **env_extra: str) -> tuple[int, str, float]:
    env = {k: v for k, v in os.environ.items()
           if k not in (interpreters.PROVISION_ENV, settings.CHILD,
                        "VIRTUAL_ENV", "PYTHONPATH")
           and not k.startswith("NVX_FT_PYTHON_")}
    env.update(PATH=str(fresh_machine), PYENV_ROOT=str(fresh_machine.parent / "no-pyenv"),
               **env_extra)
    started = time.monotonic()
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                         timeout=300, env=env, cwd=paths.ROOT)
    return out.returncode, out.stdout + out.stderr, time.monotonic() - started


def test_gate_on_a_machine_without_314t_tries_uv_then_exits_2(fresh_machine):
    stand_in_uv(fresh_machine, "offline")
    rc, out, seconds = _run(fresh_machine, "-m", "nvx_ft.cli", "gate", "--pypi", "26.10.2")
    assert rc == errors.EXIT_BLOCKED, out
    assert "provisioning it: uv python install 3.14t" in out
    assert "blocked: no free-threaded CPython 3.14t found and uv could not provide one" in out
    assert "dns error" in out and "NVX_FT_PYTHON_3_14T" in out
    assert calls(fresh_machine) == ["python find --no-project 3.14t", "python install 3.14t"]
    assert seconds < 60, seconds


def test_gate_no_provision_never_asks_uv(fresh_machine):
    stand_in_uv(fresh_machine, "ok")
    rc, out, _ = _run(fresh_machine, "-m", "nvx_ft.cli", "gate", "--pypi", "26.10.2",
                      "--no-provision")
    assert rc == errors.EXIT_BLOCKED, out
    assert "provisioning with uv is off: --no-provision" in out
    assert "python install" not in "\n".join(calls(fresh_machine))


def test_nox_gate_provisions_once_and_keeps_exit_2(fresh_machine):
    """The README's main job on a fresh offline machine: the gate asks uv once (the
    noxfile looks for nothing itself) and keeps its exit 2, with uv's error."""
    pytest.importorskip("nox", reason="nox is not installed in this environment")
    stand_in_uv(fresh_machine, "offline")
    rc, out, seconds = _run(fresh_machine, "-m", "nox", "-f", str(paths.ROOT / "noxfile.py"),
                            "-s", "gate", "--", "--pypi", "26.10.2")
    assert rc == errors.EXIT_BLOCKED, out[-3000:]
    assert "uv could not provide one" in out and "dns error" in out
    assert [c for c in calls(fresh_machine) if c.startswith("python install")] == \
        ["python install 3.14t"]
    assert seconds < 120, seconds


def test_a_named_314t_session_provisions_lazily_then_errors_with_uvs_error(fresh_machine):
    """``nox -s stress-3.14t`` on a fresh offline machine: its interpreter(3.14t) session
    asks uv once, and - the session being named - the run fails (never a silent skip);
    the session itself never starts."""
    pytest.importorskip("nox", reason="nox is not installed in this environment")
    stand_in_uv(fresh_machine, "offline")
    rc, out, _ = _run(fresh_machine, "-m", "nox", "-f", str(paths.ROOT / "noxfile.py"),
                      "-s", "stress-3.14t")
    assert rc != 0, out[-3000:]
    assert "python3.14t NOT FOUND" in out and "dns error" in out, out[-3000:]
    assert "stress-3.14t: aborted" in out, out[-3000:]
    assert [c for c in calls(fresh_machine) if c.startswith("python install")] == \
        ["python install 3.14t"]


def test_the_default_run_skips_a_missing_314t_loudly_after_asking_uv(fresh_machine):
    """``nox -s tests -p 3.14t`` (the default run's 3.14t part), offline: uv asked once,
    then skipped NOT RUN with uv's error and how to get it, and the run passes."""
    pytest.importorskip("nox", reason="nox is not installed in this environment")
    stand_in_uv(fresh_machine, "offline")
    rc, out, _ = _run(fresh_machine, "-m", "nox", "-f", str(paths.ROOT / "noxfile.py"),
                      "-s", "tests", "-p", "3.14t", CI="true")
    assert rc == 0, out[-3000:]
    assert "interpreter(3.14t) skipped: python3.14t NOT FOUND" in out, out[-3000:]
    assert "dns error" in out and "NVX_FT_PYTHON_3_14T" in out
    assert "tests-3.14t: skipped" in out
    assert [c for c in calls(fresh_machine) if c.startswith("python install")] == \
        ["python install 3.14t"]


@pytest.mark.parametrize("args", [["--list"], ["-s", "harness", "--list"],
                                  ["-s", "tests-3.11", "--list"]])
def test_nox_listing_never_provisions(fresh_machine, args):
    pytest.importorskip("nox", reason="nox is not installed in this environment")
    stand_in_uv(fresh_machine, "ok")
    rc, out, _ = _run(fresh_machine, "-m", "nox", "-f", str(paths.ROOT / "noxfile.py"), *args)
    assert rc == 0, out[-3000:]
    assert "python install" not in "\n".join(calls(fresh_machine))
