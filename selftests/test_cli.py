"""The command line: one-line errors with the documented exit codes, however it is started."""

import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs subprocesses"),
]


@pytest.mark.parametrize("module", ["nvx_ft", "nvx_ft.cli"])
def test_bad_input_is_one_line_and_exit_3(module, tmp_path):
    run = subprocess.run([sys.executable, "-m", module, "inspect", str(tmp_path / "nope.whl")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 3, run.stderr
    assert "Traceback" not in run.stderr and run.stderr.strip().count("\n") == 0


def test_no_command_is_usage(tmp_path):
    run = subprocess.run([sys.executable, "-m", "nvx_ft"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 3 and "COMMAND" in run.stdout


def test_info_describes_the_target():
    run = subprocess.run([sys.executable, "-m", "nvx_ft", "info"], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "nvx-ft target: autobahn-nvx" in run.stdout and "3.14t" in run.stdout
