"""Import GIL guard: does importing NVX (or anything else) turn the GIL back on?

On a free-threaded CPython, importing an extension module that has not declared
``Py_mod_gil = Py_MOD_GIL_NOT_USED`` (or called ``PyUnstable_Module_SetGIL``) silently
re-enables the GIL for the whole process, with only a RuntimeWarning. This guard
imports each module of a list in a *fresh* process of the interpreter under test
(nothing imported before can hide or cause the flip), with warnings recorded and
every extension module load watched, and reports the GIL state before and after. When
the GIL got enabled it names the extension whose load flipped it (not just the
top-level module asked for), with its file and the warning text.

CLI: ``nvx-ft gil-guard [--python 3.14t|PATH] [--module NAME ...] [--json]``; exit 0
when the GIL stayed disabled for every module, 1 when a module enabled it (or failed
to import), 2 when not applicable (a GIL build: there is no GIL to keep disabled).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field

from nvx_ft import errors, interpreters
from nvx_ft.childenv import GIL_FORCED_OFF, child_env

#: Modules whose import must keep the GIL disabled.
DEFAULT_MODULES = (
    "_nvx_xormasker",
    "_nvx_utf8validator",
    "autobahn.nvx",
    "autobahn.nvx._xormasker",
    "autobahn.websocket.utf8validator",
    "autobahn.websocket.xormasker",
    "autobahn.websocket.protocol",
)
#: Checked where importable (their frameworks are optional dependencies of autobahn).
OPTIONAL_MODULES = ("autobahn.asyncio.websocket", "autobahn.twisted.websocket")

OK, GIL_ENABLED, IMPORT_ERROR, NOT_IMPORTABLE, NOT_APPLICABLE = (
    "ok", "gil-enabled", "import-error", "not-importable", "not-applicable")

# Runs in the fresh interpreter: watch every extension module load, record warnings.
_CHILD = r'''
import importlib, importlib.abc, importlib.machinery, json, sys, sysconfig, warnings

def gil():
    return getattr(sys, "_is_gil_enabled", lambda: True)()

name = sys.argv[1]
report = {"free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
          "gil_before": gil(), "loads": [], "warnings": [], "error": None}

class Watched:
    """Wraps an extension module's loader: GIL state around create and exec."""
    def __init__(self, inner):
        self.inner = inner
    def _step(self, what, spec_name, origin, fn, *args):
        before = gil()
        try:
            return fn(*args)
        finally:
            report["loads"].append({"module": spec_name, "file": origin, "step": what,
                                    "before": before, "after": gil()})
    def create_module(self, spec):
        return self._step("create", spec.name, spec.origin, self.inner.create_module, spec)
    def exec_module(self, module):
        spec = module.__spec__
        return self._step("exec", spec.name, spec.origin, self.inner.exec_module, module)

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
                    spec.loader = Watched(spec.loader)
                return spec
        return None

sys.meta_path.insert(0, Watch())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        importlib.import_module(name)
    except BaseException as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
        report["missing"] = getattr(exc, "name", None)
report["warnings"] = [{"category": w.category.__name__, "message": str(w.message),
                       "filename": w.filename} for w in caught]
report["gil_after"] = gil()
print("NVX-FT-GIL-REPORT " + json.dumps(report))
'''

_GIL_WARNING = "The global interpreter lock (GIL) has been enabled to load module '"


@dataclass
class ImportCheck:
    module: str
    status: str
    python: str
    gil_before: bool | None = None
    gil_after: bool | None = None
    #: the extension module whose load enabled the GIL, and its file
    culprit: str | None = None
    culprit_file: str | None = None
    warning: str | None = None
    detail: str = ""
    #: (name, file) of every extension module the import loaded
    extensions: list = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status in (GIL_ENABLED, IMPORT_ERROR)

    def line(self) -> str:
        head = f"{self.module}: {self.status}"
        if self.status == OK:
            return f"{head} (GIL disabled before and after; {len(self.extensions)} extension " \
                   f"module(s) loaded)"
        if self.status == GIL_ENABLED:
            who = (f"enabled by extension module {self.culprit} ({self.culprit_file})"
                   if self.culprit else self.detail)
            return f"{head}: GIL {who}" + (f"\n    warning: {self.warning}" if self.warning else "")
        return f"{head}: {self.detail}"


def check_import(module: str, python: str | None = None, optional: bool = False,
                 env: dict | None = None, timeout: float = 120.0) -> ImportCheck:
    """Import ``module`` in a fresh ``python`` process and judge what the GIL did."""
    python = python or sys.executable
    try:
        proc = subprocess.run([python, "-c", _CHILD, module], capture_output=True, text=True,
                              timeout=timeout,
                              env=env if env is not None else child_env(scrub=GIL_FORCED_OFF))
    except subprocess.TimeoutExpired:
        return ImportCheck(module, IMPORT_ERROR, python,
                           detail=f"import did not finish within {timeout:.0f} s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("NVX-FT-GIL-REPORT ")]
    if not lines:
        return ImportCheck(module, IMPORT_ERROR, python,
                           detail=f"the importing process died (exit {proc.returncode}): "
                                  f"{proc.stderr.strip()[-2000:]}")
    rep = json.loads(lines[-1].split(" ", 1)[1])
    check = ImportCheck(module, OK, python, rep["gil_before"], rep["gil_after"])
    seen = {}
    for load in rep["loads"]:
        seen.setdefault(load["module"], load["file"])
    check.extensions = sorted(seen.items())
    gil_warnings = [w["message"] for w in rep["warnings"] if _GIL_WARNING in w["message"]]
    check.warning = gil_warnings[0] if gil_warnings else None

    if not rep["free_threaded"]:
        check.status = NOT_APPLICABLE
        check.detail = (f"not applicable: {python} is a GIL build (the GIL is always "
                        f"enabled; run the guard with a free-threaded interpreter, e.g. "
                        f"--python 3.14t)")
        return check
    if rep["error"]:
        missing = rep.get("missing") or ""
        # optional framework absent (twisted, ...): not our module failing
        if optional and missing and not missing.startswith(("autobahn", "_nvx")):
            check.status, check.detail = NOT_IMPORTABLE, f"skipped, not importable: {rep['error']}"
        else:
            check.status, check.detail = IMPORT_ERROR, f"import failed: {rep['error']}"
    if rep["gil_before"]:
        check.status = GIL_ENABLED
        check.detail = ("enabled before any import: the interpreter started with the GIL "
                        "enabled (PYTHON_GIL=1 or -X gil=1)")
        return check
    if rep["gil_after"]:
        # CPython enables the GIL only to load an undeclared extension, and warns then
        check.status = GIL_ENABLED
        flip = next((ld for ld in rep["loads"] if not ld["before"] and ld["after"]), None)
        if flip:
            check.culprit, check.culprit_file = flip["module"], flip["file"]
        else:  # loaded past our finder (e.g. importlib.util.module_from_spec): no file
            check.culprit = check.warning[len(_GIL_WARNING):].split("'", 1)[0]
            check.culprit_file = "?"
    return check


def guard(modules=None, python: str | None = None, optional=None) -> list[ImportCheck]:
    """Check each module (default: NVX and the autobahn modules that use it)."""
    if modules is None:
        modules, optional = DEFAULT_MODULES, OPTIONAL_MODULES if optional is None else optional
    optional = tuple(optional or ())
    checks = []
    for m, opt in [(m, False) for m in modules] + [(m, True) for m in optional]:
        checks.append(check_import(m, python, optional=opt))
        if checks[0].status == NOT_APPLICABLE:
            break  # a GIL build: one answer is the answer for every module
    return checks


def extension_modules(names) -> list[str]:
    """Of the named modules loaded in *this* process, the compiled extensions, with files."""
    from importlib.machinery import EXTENSION_SUFFIXES

    out = []
    for name in sorted(names):
        f = getattr(sys.modules.get(name), "__file__", None) or ""
        if f.endswith(tuple(EXTENSION_SUFFIXES)):
            out.append(f"{name} ({f})")
    return out


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    parser.add_argument("--python", default=None,
                        help="interpreter under test: a label (3.14t) or a path "
                             "(default: this interpreter)")
    parser.add_argument("--module", action="append", dest="modules", metavar="NAME",
                        help="module to check (repeatable; default: NVX and the autobahn "
                             "modules using it)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    python = interpreters.resolve(args.python).executable
    checks = guard(args.modules, python)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        print(f"nvx-ft gil-guard: {python}")
        for c in checks:
            print("  " + c.line())
    if all(c.status == NOT_APPLICABLE for c in checks):
        raise errors.Blocked(checks[0].detail)
    return errors.EXIT_FAIL if any(c.failed for c in checks) else errors.EXIT_PASS
