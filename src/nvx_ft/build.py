"""Build NVX's two CFFI modules from autobahn's source, for any interpreter and flags.

``build(...)`` compiles only ``_nvx_utf8validator`` and ``_nvx_xormasker`` from an
autobahn source (:mod:`nvx_ft.sources`: an sdist downloaded from PyPI by version, a local
sdist file, or a checkout/unpacked sdist folder), optionally after applying a patch
(:mod:`nvx_ft.patches`: exact snippet replacements, which is what the mutant corpus is
made of), with extra compiler flags, for a given interpreter. The result is a folder
holding just the two extension modules; putting it first on ``PYTHONPATH`` makes
``import _nvx_utf8validator`` (which ``autobahn.nvx`` does) load this build instead of
the installed wheel's, and the pytest header (``nvx_ft.target.describe``) shows the
module paths, i.e. which build is under test.

The compile is done by autobahn's own CFFI builder scripts (``src/autobahn/nvx/
_utf8validator.py`` / ``_xormasker.py`` from the source given), run by the target
interpreter: nothing of autobahn's is copied into nvx-ft. Extra flags travel the way
``extra_compile_args``/``extra_link_args`` appended to the ones autobahn's script passes,
so autobahn's own flags still apply and the interpreter's sysconfig flags (e.g.
``-fsanitize=thread`` of a TSan CPython) are inherited; ``CFLAGS`` & co. from the
environment are not used (newer setuptools lets ``CFLAGS`` replace the interpreter's).

Builds are cached under ``$NVX_FT_CACHE`` (default ``~/.cache/nvx-ft``) by the hash of
(NVX source files, interpreter identity, flags, patch); a cached build is reused only if
its record says exactly that.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvx_ft import interpreters, settings, venvs
from nvx_ft.childenv import COMPILER, TSAN_QUIET, child_env
from nvx_ft.patches import apply_edits, patch_text
from nvx_ft.sources import NVX_FILES, BuildError, source_hash

BUILDERS = ("_utf8validator.py", "_xormasker.py")
MODULES = ("_nvx_utf8validator", "_nvx_xormasker")
RECORD = "nvx-build.json"
#: part of every cache key: bump when the way a build is made changes
RECIPE = 2
BUILD_TIMEOUT = 300

# Run by the *target* interpreter: load one of autobahn's builder scripts from the
# (possibly patched) source folder and compile its ``ffi`` into the output folder.
# ``autobahn`` is blocked so the script takes its own ``_compile_args.py`` from the
# source folder (its documented fallback) instead of an installed autobahn's copy.
# Extra flags are appended to the script's own set_source() arguments: CFLAGS in the
# environment would not do, because setuptools versions differ on whether it is added to
# or *replaces* the interpreter's flags (which would drop a TSan build's -fsanitize=thread).
_DRIVER = r"""
import importlib.util, json, os, sys
import cffi
nvx_dir, out_dir, script, flags = sys.argv[1:5]
extra_c, extra_ld = json.loads(flags)
_set_source = cffi.FFI.set_source
def set_source(self, module_name, source, **kw):
    kw["extra_compile_args"] = [*kw.get("extra_compile_args", ()), *extra_c]
    kw["extra_link_args"] = [*kw.get("extra_link_args", ()), *extra_ld]
    return _set_source(self, module_name, source, **kw)
cffi.FFI.set_source = set_source
sys.modules["autobahn"] = None
spec = importlib.util.spec_from_file_location("_nvx_ft_builder", os.path.join(nvx_dir, script))
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print("nvx-ft build: compiling", script, "extra flags", extra_c, extra_ld, flush=True)
mod.ffi.compile(tmpdir=out_dir, verbose=True)
"""


@dataclass
class Build:
    """A finished build: ``path`` goes first on PYTHONPATH."""

    path: Path
    key: str
    source: str
    python: str
    cflags: list[str]
    ldflags: list[str]
    patch: str | None
    modules: dict[str, str] = field(default_factory=dict)
    interpreter: dict = field(default_factory=dict)
    seconds: float = 0.0
    cached: bool = False

    def env(self, base: dict | None = None) -> dict:
        """An environment whose Python imports this build's modules first."""
        return child_env(base=base, pythonpath_first=[self.path])

    def as_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


# ----------------------------------------------------------------------------- interpreters


def identity(python: str) -> dict:
    """:func:`nvx_ft.interpreters.probe` of the interpreter that builds: it must run."""
    info = interpreters.probe(python, timeout=60)
    if info is None:
        raise BuildError(f"{python} does not run (or is not a Python interpreter)")
    return info


def build_python(python: str, ident: dict | None = None, no_cache: bool = False) -> str:
    """An interpreter that can run the builder scripts (cffi + setuptools): ``python``
    itself when it has them, else a venv of its base interpreter under the cache with
    both installed. ``no_cache`` keeps pip's wheel cache out (sanitizer interpreters: see
    README)."""
    ident = ident or identity(python)
    if ident["cffi"] and ident["setuptools"]:
        return python
    base = ident["base_executable"]
    key = hashlib.sha256((base + ident["sys_version"]).encode()).hexdigest()[:16]
    try:
        return venvs.provisioned(base, settings.cache_root() / "buildenv" / key,
                                 ["cffi>=2", "setuptools"], cache=not no_cache,
                                 env=child_env(set=TSAN_QUIET), timeout=900)
    except venvs.CommandFailed as exc:
        raise BuildError(f"could not make a build env for {python}: {exc}") from None


# ----------------------------------------------------------------------------- build


def build(source: Path, python: str | None = None, cflags=(), ldflags=(), edits=(),
          patch_name: str | None = None, force: bool = False) -> Build:
    """Compile the two modules; returns the (possibly cached) :class:`Build`.

    ``source`` is a folder from :func:`nvx_source`. ``edits`` (a patch) are applied
    to a private copy, never to ``source``.
    """
    python = python or sys.executable
    cflags, ldflags, edits = list(cflags), list(ldflags), tuple(edits)
    ident = identity(python)
    key = cache_key(source, ident, cflags, ldflags, edits)
    dest = settings.cache_root() / "builds" / key
    if not force and (cached := _cached(dest)):
        return cached
    sanitized = any("sanitize" in f for f in cflags) or "sanitize" in (ident["cflags"] or "")
    bpy = build_python(python, ident, no_cache=sanitized)
    started = time.monotonic()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=dest.parent))
    try:
        nvx = work / "src"
        nvx.mkdir()
        for name in NVX_FILES:
            shutil.copy2(source / name, nvx / name)
        apply_edits(nvx, edits)
        out_dir = work / "out"
        out_dir.mkdir()
        log = _compile(bpy, nvx, out_dir, ident, cflags, ldflags, python)
        final = work / "final"
        final.mkdir()
        modules = _collect(out_dir, final, dest, ident["ext_suffix"], log)
        (final / "build.log").write_text("\n".join(log))
        result = Build(path=dest, key=key, source=str(source), python=python, cflags=cflags,
                       ldflags=ldflags, patch=patch_name or (patch_text(edits) if edits else None),
                       modules=modules,
                       interpreter={k: v for k, v in ident.items() if k != "wheel_tags"},
                       seconds=round(time.monotonic() - started, 2))
        _publish(result, final, dest, force)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cache_key(source: Path, ident: dict, cflags: list, ldflags: list, edits: tuple) -> str:
    """The build's identity: NVX's source, the interpreter, flags and patch."""
    # cffi's version too: the generated module must match the runtime's _cffi_backend
    ident_for_key = {k: ident[k] for k in ("base_executable", "sys_version", "ext_suffix", "cc",
                                            "cflags", "ldshared", "config_args", "cffi")}
    key_material = json.dumps({"recipe": RECIPE, "source": source_hash(source),
                               "interpreter": ident_for_key, "cflags": cflags,
                               "ldflags": ldflags, "patch": patch_text(edits)}, sort_keys=True)
    return hashlib.sha256(key_material.encode()).hexdigest()[:20]


def _cached(dest: Path) -> Build | None:
    """The build in ``dest`` when its record and both modules are there."""
    record = dest / RECORD
    if not record.is_file():
        return None
    data = json.loads(record.read_text())
    if not all((dest / Path(p).name).is_file() for p in data["modules"].values()):
        return None
    return Build(**{**data, "path": dest, "cached": True})


def _compile(bpy: str, nvx: Path, out_dir: Path, ident: dict, cflags: list, ldflags: list,
             python: str) -> list[str]:
    """Run autobahn's two builder scripts with ``bpy``; their logs."""
    tsan = "sanitize=thread" in (ident["cflags"] or "")
    # PYTHONPATH: the builders must not see another build's modules
    env = child_env(scrub=(*COMPILER, "PYTHONPATH"), set=TSAN_QUIET if tsan else {})
    flags = json.dumps([cflags, ldflags])  # on the command line, as everything else here
    log = []
    for script in BUILDERS:
        out = subprocess.run([bpy, "-c", _DRIVER, str(nvx), str(out_dir), script, flags],
                             capture_output=True, text=True, env=env, cwd=out_dir.parent,
                             timeout=BUILD_TIMEOUT)
        log.append(out.stdout + out.stderr)
        if out.returncode != 0:
            raise BuildError(f"compiling {script} for {python} failed "
                             f"(extra flags {cflags} {ldflags}):\n{log[-1][-3000:]}")
    return log


def _collect(out_dir: Path, final: Path, dest: Path, ext_suffix: str,
             log: list[str]) -> dict[str, str]:
    """Copy the two modules (and the generated C, which sanitizer frames cite) into
    ``final``; module -> its path once ``final`` is ``dest``."""
    modules = {}
    for mod in MODULES:
        built = [p for p in out_dir.iterdir()
                 if p.name.startswith(mod + ".") and p.name.endswith(ext_suffix)]
        if len(built) != 1:
            raise BuildError(f"the builder for {mod} made {[p.name for p in built]}, "
                             f"expected one {mod}{ext_suffix}:\n{log[-1][-2000:]}")
        shutil.copy2(built[0], final / built[0].name)
        modules[mod] = str(dest / built[0].name)
    for c in out_dir.glob("_nvx_*.c"):
        shutil.copy2(c, final / c.name)
    return modules


def _publish(result: Build, final: Path, dest: Path, force: bool) -> None:
    """Write the record and move ``final`` to ``dest`` in one rename."""
    data = result.as_dict()
    data.pop("cached")
    (final / RECORD).write_text(json.dumps(data, indent=2))
    if dest.exists() and force:
        shutil.rmtree(dest, ignore_errors=True)
    try:
        final.rename(dest)
    except OSError:  # a concurrent build of the same key finished first: use it
        if not (dest / RECORD).is_file():
            raise
