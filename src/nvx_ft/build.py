"""Build NVX's two CFFI modules from autobahn's source, for any interpreter and flags.

``build(...)`` compiles only ``_nvx_utf8validator`` and ``_nvx_xormasker`` from an
autobahn source (an sdist downloaded from PyPI by version, a local sdist file, or a
checkout/unpacked sdist folder), optionally after applying a patch (a list of exact
snippet replacements, which is what the mutant corpus is made of), with extra compiler
flags, for a given interpreter. The result is a folder holding just the two extension
modules; putting it first on ``PYTHONPATH`` makes ``import _nvx_utf8validator`` (which
``autobahn.nvx`` does) load this build instead of the installed wheel's, and the pytest
header (``nvx_ft.target.describe``) shows the module paths, i.e. which build is under test.

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
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvx_ft import errors, interpreters, paths, venvs
from nvx_ft.childenv import COMPILER, TSAN_QUIET, child_env

#: the files of ``src/autobahn/nvx`` that make the two modules (the builder scripts,
#: the C they read and the flag helper they import)
NVX_FILES = ("_utf8validator.py", "_utf8validator.c", "_xormasker.py", "_xormasker.c",
             "_compile_args.py")
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
nvx_dir, out_dir, script = sys.argv[1:4]
extra_c, extra_ld = json.loads(os.environ["NVX_FT_EXTRA_FLAGS"])
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

class BuildError(RuntimeError):
    """The source could not be obtained or the compile failed (message has the log tail)."""


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` in ``file`` (a name in src/autobahn/nvx) by ``new``.

    ``old`` must occur exactly once, or, with ``after``, ``after`` must occur exactly
    once and the first ``old`` behind it is replaced (for code repeated in several
    functions, ``after`` names the function).
    """

    file: str
    old: str
    new: str
    after: str = ""


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


# ----------------------------------------------------------------------------- sources


def _nvx_dir_of(root: Path) -> Path | None:
    for cand in (root / "src" / "autobahn" / "nvx", root / "autobahn" / "nvx", root):
        if all((cand / f).is_file() for f in NVX_FILES):
            return cand
    return None


def _extract_nvx(sdist: Path, dest: Path) -> Path:
    """Unpack only src/autobahn/nvx/<NVX_FILES> of an sdist into ``dest``."""
    tmp = Path(tempfile.mkdtemp(prefix=".nvx-src-", dir=dest.parent))
    try:
        with tarfile.open(sdist) as tf:
            wanted = [m for m in tf.getmembers()
                      if m.isfile() and "/src/autobahn/nvx/" in m.name
                      and m.name.rsplit("/", 1)[-1] in NVX_FILES
                      and m.name.count("/") == 4]
            for m in wanted:
                with tf.extractfile(m) as fh:
                    (tmp / m.name.rsplit("/", 1)[-1]).write_bytes(fh.read())
        if not _nvx_dir_of(tmp):
            raise BuildError(f"{sdist} has no src/autobahn/nvx with {', '.join(NVX_FILES)}")
        try:
            tmp.rename(dest)
        except OSError:  # another process unpacked it meanwhile
            shutil.rmtree(tmp)
        return dest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def download_sdist(version: str) -> Path:
    """autobahn's sdist for ``version`` from the package index (pip download), cached."""
    dest_dir = paths.cache_root() / "sdists"
    dest_dir.mkdir(parents=True, exist_ok=True)
    for existing in dest_dir.glob(f"autobahn-{version}.tar.gz"):
        return existing
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--disable-pip-version-check", "-d", tmp, f"autobahn=={version}"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        files = list(Path(tmp).glob("autobahn-*.tar.gz"))
        if out.returncode != 0 or not files:
            raise BuildError(f"could not download the autobahn {version} sdist "
                             f"({' '.join(cmd)}):\n{(out.stdout + out.stderr)[-2000:]}")
        final = dest_dir / files[0].name
        os.replace(files[0], final)
        return final


def nvx_source(version: str | None = None, path: str | os.PathLike | None = None) -> Path:
    """The folder with autobahn's NVX files: from PyPI by ``version``, or a local ``path``
    (an sdist ``.tar.gz``, an unpacked sdist, a checkout, or the nvx folder itself)."""
    if (version is None) == (path is None):
        raise ValueError("give exactly one of version= or path=")
    if path is not None:
        p = Path(path).expanduser().resolve()
        if p.is_file() and p.name.endswith((".tar.gz", ".tgz")):
            sdist = p
        elif p.is_dir():
            found = _nvx_dir_of(p)
            if not found:
                raise BuildError(f"{p} has no src/autobahn/nvx with {', '.join(NVX_FILES)}")
            return found
        else:
            raise BuildError(f"{p} is neither an autobahn sdist (.tar.gz) nor a source folder")
    else:
        sdist = download_sdist(version)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()[:16]
    dest = paths.cache_root() / "sources" / f"{sdist.name.removesuffix('.tar.gz')}-{digest}"
    if _nvx_dir_of(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    return _extract_nvx(sdist, dest)


def source_hash(nvx_dir: Path) -> str:
    h = hashlib.sha256()
    for name in NVX_FILES:
        h.update(name.encode() + b"\0" + (nvx_dir / name).read_bytes() + b"\0")
    return h.hexdigest()


# ----------------------------------------------------------------------------- patches


def apply_edits(nvx_dir: Path, edits: list[Edit] | tuple[Edit, ...]) -> None:
    """Apply ``edits`` in place; each ``old`` must occur exactly once (a moved or already
    fixed upstream snippet must fail loudly, not build an unmutated "mutant")."""
    for e in edits:
        f = nvx_dir / e.file
        if e.file not in NVX_FILES or not f.is_file():
            raise BuildError(f"patch edits {e.file!r}, not one of {', '.join(NVX_FILES)}")
        text = f.read_text()
        start = 0
        if e.after:
            if text.count(e.after) != 1:
                raise BuildError(f"patch anchor occurs {text.count(e.after)} times in "
                                 f"{e.file}, expected once: {e.after!r}")
            start = text.index(e.after)
            at = text.find(e.old, start)
            n = 0 if at < 0 else 1
        else:
            n = text.count(e.old)
            at = text.find(e.old)
        if n != 1:
            raise BuildError(f"patch snippet occurs {n} times in {e.file}"
                             f"{' after ' + repr(e.after) if e.after else ''}, expected once:\n"
                             f"{e.old}")
        f.write_text(text[:at] + e.new + text[at + len(e.old):])


def patch_text(edits) -> str:
    return json.dumps([asdict(e) for e in edits], sort_keys=True)


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
        return venvs.provisioned(base, paths.cache_root() / "buildenv" / key,
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
    # cffi's version too: the generated module must match the runtime's _cffi_backend
    ident_for_key = {k: ident[k] for k in ("base_executable", "sys_version", "ext_suffix", "cc",
                                            "cflags", "ldshared", "config_args", "cffi")}
    key_material = json.dumps({"recipe": RECIPE, "source": source_hash(source), "interpreter": ident_for_key,
                               "cflags": cflags, "ldflags": ldflags,
                               "patch": patch_text(edits)}, sort_keys=True)
    key = hashlib.sha256(key_material.encode()).hexdigest()[:20]
    dest = paths.cache_root() / "builds" / key
    record = dest / RECORD
    if record.is_file() and not force:
        data = json.loads(record.read_text())
        if all((dest / Path(p).name).is_file() for p in data["modules"].values()):
            data["path"] = dest
            data["cached"] = True
            return Build(**data)
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
        tsan = "sanitize=thread" in (ident["cflags"] or "")
        # PYTHONPATH: the builders must not see another build's modules
        env = child_env(scrub=(*COMPILER, "PYTHONPATH"),
                        set={"NVX_FT_EXTRA_FLAGS": json.dumps([cflags, ldflags]),
                             **(TSAN_QUIET if tsan else {})})
        log = []
        for script in BUILDERS:
            out = subprocess.run([bpy, "-c", _DRIVER, str(nvx), str(out_dir), script],
                                 capture_output=True, text=True, env=env, cwd=work,
                                 timeout=BUILD_TIMEOUT)
            log.append(out.stdout + out.stderr)
            if out.returncode != 0:
                raise BuildError(f"compiling {script} for {python} failed "
                                 f"(extra flags {cflags} {ldflags}):\n{log[-1][-3000:]}")
        final = work / "final"
        final.mkdir()
        modules = {}
        for mod in MODULES:
            built = [p for p in out_dir.iterdir()
                     if p.name.startswith(mod + ".") and p.name.endswith(ident["ext_suffix"])]
            if len(built) != 1:
                raise BuildError(f"the builder for {mod} made {[p.name for p in built]}, "
                                 f"expected one {mod}{ident['ext_suffix']}:\n{log[-1][-2000:]}")
            shutil.copy2(built[0], final / built[0].name)
            modules[mod] = str(dest / built[0].name)
        (final / "build.log").write_text("\n".join(log))
        for c in out_dir.glob("_nvx_*.c"):  # the generated C: what sanitizer frames cite
            shutil.copy2(c, final / c.name)
        result = Build(path=dest, key=key, source=str(source), python=python, cflags=cflags,
                       ldflags=ldflags, patch=patch_name or (patch_text(edits) if edits else None),
                       modules=modules,
                       interpreter={k: v for k, v in ident.items() if k != "wheel_tags"},
                       seconds=round(time.monotonic() - started, 2))
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
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def load_edits(spec: str) -> tuple[str, tuple[Edit, ...]]:
    """``--patch``: a mutant name from the corpus, or a TOML file with [[edit]] tables."""
    from nvx_ft import mutants

    p = Path(spec)
    if p.is_file():
        import tomllib

        data = tomllib.loads(p.read_text())
        return p.stem, tuple(Edit(**e) for e in data.get("edit", []))
    try:
        return spec, mutants.get(spec).edits
    except KeyError:
        raise BuildError(f"--patch {spec!r}: not a file and not a mutant "
                         f"({', '.join(m.name for m in mutants.corpus())})") from None


# ----------------------------------------------------------------------------- CLI


def add_source_arguments(parser) -> None:
    """--autobahn VERSION | --source PATH: where NVX's C source comes from (every command
    that builds NVX takes these)."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--autobahn", metavar="VERSION",
                     help="download this autobahn sdist from PyPI (default: the installed "
                          "autobahn's version)")
    src.add_argument("--source", metavar="PATH",
                     help="a local autobahn sdist (.tar.gz), unpacked sdist or checkout")


def add_arguments(parser) -> None:
    add_source_arguments(parser)
    parser.add_argument("--python", default=None,
                        help="interpreter to build for: a path or a label like 3.14t "
                             "(default: this one)")
    parser.add_argument("--cflags", default="", help="extra compiler flags, written with '=' "
                        "since they start with '-': --cflags='-fsanitize=address -g'")
    parser.add_argument("--ldflags", default="", help="extra linker flags (--ldflags='...')")
    parser.add_argument("--patch", default=None,
                        help="a mutant name (nvx-ft mutants --list) or a TOML file of [[edit]] "
                             "file/old/new tables")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--json", action="store_true", help="print the build record as JSON")


def installed_autobahn_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("autobahn")
    except importlib.metadata.PackageNotFoundError:
        return None


def run(args) -> int:
    python = interpreters.resolve(args.python).executable
    version = args.autobahn
    if not args.source and not version:
        version = installed_autobahn_version()
        if not version:
            raise errors.UsageError("autobahn is not installed here: pass --autobahn VERSION "
                                    "or --source PATH")
    try:
        src = nvx_source(version=version if not args.source else None, path=args.source)
        name, edits = load_edits(args.patch) if args.patch else (None, ())
        b = build(src, python, args.cflags.split(), args.ldflags.split(), edits, name,
                  force=args.force)
    except BuildError as exc:
        print(f"nvx-ft build: FAILED: {exc}", file=sys.stderr)
        return errors.EXIT_FAIL
    if args.json:
        print(json.dumps(b.as_dict(), indent=2))
    else:
        print(f"nvx-ft build: {'cached' if b.cached else 'built'} {b.path}")
        for mod, path in b.modules.items():
            print(f"  {mod}: {path}")
        print(f"  source: {b.source}\n  python: {b.python}\n  cflags: {' '.join(b.cflags)}"
              f"\n  patch: {b.patch or '-'}")
        print(f"use it: PYTHONPATH={b.path} {b.python} -m pytest ...")
    return errors.EXIT_PASS
