"""The import GIL guard (``nvx_ft.gil_guard``, ``nvx-ft gil-guard``) can fail.

Two tiny C extensions compiled here with this interpreter's own compiler settings show
the guard catches an extension that does not declare free-threading support - naming
it, though it was imported through a pure-Python module - and passes one that declares
``Py_MOD_GIL_NOT_USED``; a build started with ``PYTHON_GIL=1`` is reported as
GIL-enabled; on a GIL build the guard answers "not applicable". The guard's check of
NVX itself is ``stress/test_gil_guard.py``.
"""

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig

import pytest

from nvx_ft import gil_guard

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED,
    reason=f"not applicable: Python {sys.version.split()[0]} is a GIL build, there is no "
           f"disabled GIL to guard (nox -s tests-3.14t runs selftests/per_interpreter/)")

_MODULE_C = """\
#include <Python.h>
static PyModuleDef_Slot slots[] = {
%s    {0, NULL}
};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "nvxft_probe.%s", NULL, 0, NULL, slots};
PyMODINIT_FUNC PyInit_%s(void) { return PyModuleDef_Init(&def); }
"""
_DECLARES = "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},\n"
#: ``nvx-ft`` as the console script runs it (``-m nvx_ft.cli`` would load cli twice)
NVX_FT = [sys.executable, "-c", "import sys; from nvx_ft.cli import main; sys.exit(main())"]

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="compiles extensions and runs subprocesses"),
]


@pytest.fixture(scope="session")
def probe_package(tmp_path_factory):
    """``nvxft_probe`` with two C extensions built now, plus pure-Python importers of each."""
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if not shutil.which(cc[0]):
        pytest.skip(f"no C compiler: {cc[0]} (this interpreter's CC) not found")
    root = tmp_path_factory.mktemp("gil-guard")
    pkg = root / "nvxft_probe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    for name, slots in (("_undeclared", ""), ("_declared", _DECLARES)):
        src = pkg / f"{name}.c"
        src.write_text(_MODULE_C % (slots, name, name))
        cmd = [*cc, *shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"), "-shared",
               f"-I{sysconfig.get_paths()['include']}", str(src), "-o", str(pkg / (name + suffix))]
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 0, f"compiling {src.name} failed: {shlex.join(cmd)}\n{out.stderr}"
        # the importer the guard is asked about: the culprit must be found one level down
        (pkg / f"uses{name}.py").write_text(f"from nvxft_probe import {name}  # noqa\n")
    return root


def _env(extra_path=None, **kw):
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path),
                                                         env.get("PYTHONPATH")]))
    env.update(kw)
    return env


@needs_free_threading
def test_python_gil_1_is_reported_as_gil_enabled():
    check = gil_guard.check_import("autobahn.nvx", env=_env(PYTHON_GIL="1"))
    assert check.status == gil_guard.GIL_ENABLED, check.line()
    assert "started with the GIL enabled" in check.detail


@needs_free_threading
def test_undeclared_extension_is_caught_and_named(probe_package):
    check = gil_guard.check_import("nvxft_probe.uses_undeclared", env=_env(probe_package))
    assert check.status == gil_guard.GIL_ENABLED, check.line()
    assert check.culprit == "nvxft_probe._undeclared", check.line()
    assert check.culprit_file and check.culprit_file.startswith(str(probe_package))
    assert "nvxft_probe._undeclared" in (check.warning or ""), check.line()


@needs_free_threading
def test_declared_extension_passes(probe_package):
    check = gil_guard.check_import("nvxft_probe.uses_declared", env=_env(probe_package))
    assert check.status == gil_guard.OK, check.line()
    assert [name for name, _ in check.extensions] == ["nvxft_probe._declared"]


@needs_free_threading
def test_cli_exit_codes_and_culprit(probe_package):
    def cli(*modules):
        args = [a for m in modules for a in ("--module", m)]
        return subprocess.run([*NVX_FT, "gil-guard", *args],
                              capture_output=True, text=True, env=_env(probe_package))

    bad = cli("nvxft_probe.uses_declared", "nvxft_probe.uses_undeclared")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "enabled by extension module nvxft_probe._undeclared" in bad.stdout
    good = cli("nvxft_probe.uses_declared")
    assert good.returncode == 0, good.stdout + good.stderr


def test_gil_build_is_not_applicable():
    if FREE_THREADED:
        from nvx_ft import interpreters

        found = next(filter(None, (interpreters.find(lab) for lab in ("3.14", "3.13", "3.11"))),
                     None)
        if found is None:
            pytest.skip("no GIL-build interpreter found to point the guard at")
        python = found.executable
    else:
        python = sys.executable
    checks = gil_guard.guard(python=python)
    assert [c.status for c in checks] == [gil_guard.NOT_APPLICABLE], [c.line() for c in checks]
    out = subprocess.run([*NVX_FT, "gil-guard", "--python", python],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "not applicable" in out.stderr, out.stdout + out.stderr
