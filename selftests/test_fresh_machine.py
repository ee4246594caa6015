"""A newcomer on a fresh machine: a ``git clone`` of this checkout's HEAD into a temporary
folder, a new venv with nothing but ``pip install nox`` in it, PATH without any
free-threaded interpreter, and a stand-in ``uv`` that fails ``uv python install`` as the
real one does offline. Then the README's commands, as written there:

* ``nox -s gate``: provisioning is tried (once), then exit 2 with uv's error and the
  manual ways - the main job's path on a machine without 3.14t;
* ``nox --list``: the noxfile imports with nox alone installed (no other package);
* ``nox -s tests-<this python> -- <one fast test file>`` (nightly tier: it installs
  ``.[target,stress,dev,bench]`` into a fresh session venv, a minute or more): the
  install step and the plugin work from a clean clone.

What a missing install step breaks (a noxfile import of a third-party package, a
dependency left out of an extra, a file not committed) fails here first. The full
``nox -s tests harness`` is not nested here: it would double the CI run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import stand_in_uv as stand_in
from nvx_ft import errors, interpreters, paths

pytestmark = [
    pytest.mark.harness,
    pytest.mark.skipif(os.name == "nt", reason="the stand-in uv is a script run through its shebang"),
    pytest.mark.thread_unsafe(reason="clones the repository and runs nox in subprocesses"),
]

CURRENT = interpreters.current()
BIN = "Scripts" if os.name == "nt" else "bin"


def _real_uv() -> str | None:
    """A real uv for everything the stand-in does not play (nox's venvs), if there is one."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory):
    """(clone, env, uv folder): the README's first line done - ``pip install nox``."""
    git = shutil.which("git")
    if not git or not (paths.ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of nvx-ft")
    home = tmp_path_factory.mktemp("newcomer")
    clone = home / "nvx-ft"
    subprocess.run([git, "clone", "--quiet", str(paths.ROOT), str(clone)], check=True,
                   capture_output=True, timeout=120)
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                   capture_output=True, timeout=120)
    installed = subprocess.run([str(venv / BIN / "python"), "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", "nox"],
                               capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        pytest.skip(f"pip install nox failed here (no package index?): "
                    f"{installed.stderr[-500:]}")
    uv_dir = stand_in.write(home / "uv", "offline", real_uv=_real_uv())
    # the machine's own settings (proxy, certificates, package index) stay; what belongs
    # to this run (its venv, nvx-ft's variables, pytest's) goes
    env = {k: v for k, v in os.environ.items()
           if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHON_GIL", "UV")
           and not k.startswith(("NVX_FT_", "PYTEST_", "NOX_"))}
    if "NVX_FT_CACHE" in os.environ:
        env["NVX_FT_CACHE"] = os.environ["NVX_FT_CACHE"]
    env.update(PATH=os.pathsep.join([str(venv / BIN), str(uv_dir), "/usr/bin", "/bin"]),
               PYENV_ROOT=str(home / "no-pyenv"), CI="true")
    return clone, env, uv_dir


def _nox(newcomer, *args: str, timeout: float = 300) -> tuple[int, str, float]:
    clone, env, _ = newcomer
    started = time.monotonic()
    out = subprocess.run(["nox", *args], cwd=clone, env=env, capture_output=True, text=True,
                         timeout=timeout)
    return out.returncode, out.stdout + out.stderr, time.monotonic() - started


def test_readme_main_job_without_314t_tries_uv_once_then_exits_2(newcomer):
    if any(Path(d, "python3.14t").exists() for d in ("/usr/bin", "/bin")):
        pytest.skip("a python3.14t is installed system-wide: not a fresh machine")
    code, out, seconds = _nox(newcomer, "-s", "gate")
    assert code == errors.EXIT_BLOCKED, out[-3000:]
    assert "provisioning it: uv python install 3.14t" in out
    assert "uv could not provide one" in out and "dns error" in out
    assert "NVX_FT_PYTHON_3_14T" in out and "actions/setup-python" in out
    installs = [c for c in stand_in.calls(newcomer[2]) if c.startswith("python install")]
    assert installs == ["python install 3.14t"], installs
    assert seconds < 120, seconds


def test_noxfile_loads_with_nox_alone(newcomer):
    code, out, _ = _nox(newcomer, "--list")
    assert code == 0, out[-3000:]
    for session in ("gate", "tests", "harness", "stress", "protocol", "parallel", "bench"):
        assert f"{session}" in out


@pytest.mark.nightly
def test_readme_tests_command_installs_and_runs_from_a_clean_clone(newcomer):
    code, out, seconds = _nox(
        newcomer, "-s", f"tests-{CURRENT.label}", "--",
        "tests/test_reference_oracle.py", "-x", "-q", "-p", "no:cacheprovider", timeout=1200)
    assert code == 0, out[-4000:]
    assert "nvx-ft target:" in out and "passed" in out
    print(f"fresh-machine tests-{CURRENT.label}: {seconds:.0f}s")
