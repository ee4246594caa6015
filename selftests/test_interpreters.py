"""Interpreter discovery: an env var wins, broken or wrong binaries are never taken,
and a missing interpreter is skipped loudly by nox - an error only when named."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nvx_ft import interpreters

ROOT = Path(__file__).parent.parent
CURRENT = interpreters.current()
OTHER_BUILD = CURRENT.label[:-1] if CURRENT.free_threaded else CURRENT.label + "t"

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="changes os.environ / runs nox"),
]


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Nothing to find but what the test puts in ``tmp_path``."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "no-pyenv"))
    for label in interpreters.LABELS:
        monkeypatch.delenv(interpreters.env_var_for(label), raising=False)
    return tmp_path


def test_env_var_names_the_binary(isolated, monkeypatch):
    monkeypatch.setenv(interpreters.env_var_for(CURRENT.label), sys.executable)
    found = interpreters.find(CURRENT.label)
    assert found and found.source == "env" and found.free_threaded == CURRENT.free_threaded


def test_env_var_naming_a_wrong_build_is_an_error(isolated, monkeypatch):
    monkeypatch.setenv(interpreters.env_var_for(OTHER_BUILD), sys.executable)
    with pytest.raises(LookupError, match="is not a working CPython"):
        interpreters.find(OTHER_BUILD)


def test_a_shim_that_does_not_run_is_not_an_interpreter(isolated):
    shim = isolated / f"python{CURRENT.label}"
    shim.write_text("#!/bin/sh\necho 'pyenv: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    assert interpreters.find(CURRENT.label) is None


def test_a_binary_of_the_other_build_is_not_taken(isolated):
    """A python3.14t that is really a GIL build (or the reverse) is not that label."""
    (isolated / f"python{OTHER_BUILD}").symlink_to(sys.executable)
    assert interpreters.find(OTHER_BUILD) is None
    (isolated / f"python{CURRENT.label}").symlink_to(sys.executable)
    assert interpreters.find(CURRENT.label).source == "PATH"


def _nox(*args, env_extra=None):
    pytest.importorskip("nox", reason="nox is not installed in this environment")
    env = {**os.environ, **(env_extra or {})}
    env.pop("NVX_FT_PYTHON_3_15T", None)
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), *args], capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.fixture
def missing_label():
    for label in ("3.15t", "3.15"):
        if interpreters.find(label) is None:
            return label
    pytest.skip("every interpreter label is installed here")


def test_nox_skips_a_missing_interpreter_loudly(missing_label):
    run = _nox("-p", missing_label, env_extra={"CI": "true"})
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert f"python{missing_label} NOT FOUND" in out and "skipped" in out


def test_nox_fails_when_the_missing_interpreter_is_named(missing_label):
    run = _nox("-s", f"tests-{missing_label}")
    assert run.returncode != 0
    assert f"python{missing_label} NOT FOUND" in run.stderr + run.stdout


def test_nox_fails_when_the_missing_interpreter_is_required(missing_label):
    run = _nox("-p", missing_label, env_extra={"NVX_FT_REQUIRE_PYTHONS": missing_label})
    assert run.returncode != 0


def test_every_nox_run_links_the_real_interpreter_never_its_own_link():
    """From the second run on, the interpreter found on PATH is the noxfile's own link:
    ``interpreter(<label>)`` must link the binary behind it, not the link to itself (a loop
    nox then reports as "interpreter not found")."""
    link = ROOT / ".nox" / "_interpreters" / f"python{CURRENT.label}"
    # the links' folder first on PATH, as in a nox run inside a nox session
    path = os.pathsep.join([str(link.parent), os.environ.get("PATH", "")])
    for _ in range(2):
        run = _nox("-s", f"interpreter({CURRENT.label})", env_extra={"PATH": path})
        assert run.returncode == 0, run.stdout + run.stderr
    assert os.path.realpath(link) != str(link), f"{link} links to itself"
    assert interpreters.probe(str(link)) is not None, f"{link} does not run"
