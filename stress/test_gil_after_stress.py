"""After everything else in the run: the GIL is still disabled in this very process.

Imports done lazily while the suites used NVX count too. Runs last (``run_last``,
ordered by stress/conftest.py), so it sees the whole session.
"""

import sys
import sysconfig

import pytest

from nvx_ft.gil_guard import extension_modules


@pytest.mark.run_last
def test_gil_still_disabled_after_the_run(nvx_target):
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip(f"not applicable: Python {sys.version.split()[0]} is a GIL build")
    # the target's extensions really are in this process: the check covers them
    missing = [m for m in nvx_target.extension_modules if m not in sys.modules]
    assert not missing, f"{missing} not loaded in this process"
    assert not sys._is_gil_enabled(), (
        "the GIL got enabled in this process during the run; compiled extension modules "
        f"loaded: {extension_modules(sys.modules)}")
