"""The import GIL guard (``nvx_ft.gil_guard``, ``nvx-ft gil-guard``) on NVX.

On a free-threaded build, importing NVX and the autobahn modules that use it keeps the
GIL disabled. That the guard itself can fail (an undeclared extension, ``PYTHON_GIL=1``,
a GIL build) is checked in ``selftests/test_gil_guard_verdicts.py``.
"""

import sys
import sysconfig

import pytest

from nvx_ft import gil_guard

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED,
    reason=f"not applicable: Python {sys.version.split()[0]} is a GIL build, there is no "
           f"disabled GIL to guard (run stress/ with python3.14t)")


@needs_free_threading
def test_nvx_imports_keep_the_gil_disabled(nvx_target):
    checks = gil_guard.guard(gil_guard.DEFAULT_MODULES + nvx_target.extension_modules)
    report = "\n".join(c.line() for c in checks)
    assert not [c for c in checks if c.failed], report
    assert all(c.status == gil_guard.OK for c in checks), report
    # the NVX extensions themselves were loaded (and watched), not skipped somehow
    loaded = {name for c in checks for name, _ in c.extensions}
    assert set(nvx_target.extension_modules) <= loaded, report
