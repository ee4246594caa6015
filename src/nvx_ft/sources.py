"""Where NVX's C source comes from: autobahn's sdist (from PyPI by version, or a local
file) or a checkout, reduced to the files that make NVX's two CFFI modules.

The bottom of the build family (:mod:`nvx_ft.patches`, :mod:`nvx_ft.build`): it defines
their shared error, :class:`BuildError`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from nvx_ft import settings

#: the files of ``src/autobahn/nvx`` that make the two modules (the builder scripts,
#: the C they read and the flag helper they import)
NVX_FILES = ("_utf8validator.py", "_utf8validator.c", "_xormasker.py", "_xormasker.c",
             "_compile_args.py")


class BuildError(RuntimeError):
    """NVX could not be built: its source could not be had, a patch did not apply, or the
    compile failed (the message has the log tail)."""


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


def _pip() -> list[str]:
    """This interpreter's pip, else the first on PATH: a venv made by uv (nox's default
    backend here) has none, and downloading an sdist does not depend on the interpreter."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    found = shutil.which("pip3") or shutil.which("pip")
    if found is None:
        raise BuildError("no pip to download autobahn's sdist with: install pip here (a venv "
                         "made by uv has none) or give the sdist with --source PATH")
    return [found]


def download_sdist(version: str) -> Path:
    """autobahn's sdist for ``version`` from the package index (pip download), cached."""
    dest_dir = settings.cache_root() / "sdists"
    dest_dir.mkdir(parents=True, exist_ok=True)
    for existing in dest_dir.glob(f"autobahn-{version}.tar.gz"):
        return existing
    with tempfile.TemporaryDirectory(dir=dest_dir) as tmp:
        cmd = [*_pip(), "download", "--no-deps", "--no-binary", ":all:",
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
    dest = settings.cache_root() / "sources" / f"{sdist.name.removesuffix('.tar.gz')}-{digest}"
    if _nvx_dir_of(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    return _extract_nvx(sdist, dest)


def source_hash(nvx_dir: Path) -> str:
    h = hashlib.sha256()
    for name in NVX_FILES:
        h.update(name.encode() + b"\0" + (nvx_dir / name).read_bytes() + b"\0")
    return h.hexdigest()


def installed_autobahn_version() -> str | None:
    try:
        return importlib.metadata.version("autobahn")
    except importlib.metadata.PackageNotFoundError:
        return None


def add_source_arguments(parser) -> None:
    """--autobahn VERSION | --source PATH: where NVX's C source comes from (every command
    that builds NVX takes these)."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--autobahn", metavar="VERSION",
                     help="download this autobahn sdist from PyPI (default: the installed "
                          "autobahn's version)")
    src.add_argument("--source", metavar="PATH",
                     help="a local autobahn sdist (.tar.gz), unpacked sdist or checkout")
