"""A release's file names: from a directory, a recorded list, or a package index
(PEP 691 JSON, nothing downloaded); and the Free Threading classifiers its wheels declare."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename,
                             canonicalize_name, parse_sdist_filename,
                             parse_wheel_filename)
from packaging.version import InvalidVersion, Version

from nvx_ft.errors import Blocked, UsageError
from nvx_ft.release.inspect import FREE_THREADING_CLASSIFIER

DEFAULT_INDEX = "https://pypi.org/simple"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

def names_from_directory(path: Path) -> list[str]:
    if not path.is_dir():
        raise UsageError(f"{path}: no such directory")
    return sorted(p.name for p in path.iterdir() if p.is_file())


def names_from_file(path: Path) -> list[str]:
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def classifiers_from_directory(path: Path) -> dict[str, list[str]]:
    """Free Threading classifiers declared by the wheels of a release directory:
    ``classifier -> [wheel file names]``. Unreadable wheels are skipped (``nvx-ft
    inspect`` reports them)."""
    out: dict[str, list[str]] = {}
    for whl in sorted(path.glob("*.whl")):
        try:
            with zipfile.ZipFile(whl) as zf:
                meta = next(n for n in zf.namelist() if n.count("/") == 1
                            and n.endswith(".dist-info/METADATA"))
                headers = HeaderParser().parsestr(zf.read(meta).decode("utf-8"))
        except (zipfile.BadZipFile, OSError, StopIteration, UnicodeDecodeError, KeyError):
            continue
        for c in headers.get_all("Classifier") or []:
            if c.startswith(FREE_THREADING_CLASSIFIER):
                out.setdefault(" ".join(c.split()), []).append(whl.name)
    return out


def names_from_index(project: str, version: str, index: str = DEFAULT_INDEX) -> list[str]:
    """File names of one release from a PEP 691 (JSON) simple index; yanked ones dropped."""
    files = index_files(project, index)
    names = []
    for f in files:
        name = f["filename"]
        try:
            if name.endswith(".whl"):
                got = parse_wheel_filename(name)[1]
            else:
                got = parse_sdist_filename(name)[1]
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
        if str(got) == version and not f.get("yanked"):
            names.append(name)
    if not names:
        raise UsageError(f"{project} {version} has no files on {index}")
    return sorted(names)


def index_files(project: str, index: str = DEFAULT_INDEX) -> list[dict]:
    url = f"{index.rstrip('/')}/{canonicalize_name(project)}/"
    req = urllib.request.Request(url, headers={"Accept": _SIMPLE_JSON})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)["files"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise UsageError(f"{project}: not on {index}") from exc
        raise Blocked(f"package index {url} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise Blocked(f"cannot read the package index {url}: {exc}") from exc


def latest_version(project: str, index: str = DEFAULT_INDEX) -> str:
    """The newest non-pre-release version with at least one non-yanked file."""
    versions = set()
    for f in index_files(project, index):
        name = f["filename"]
        try:
            v = (parse_wheel_filename(name)[1] if name.endswith(".whl")
                 else parse_sdist_filename(name)[1])
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if not f.get("yanked") and not v.is_prerelease:
            versions.add(Version(str(v)))
    if not versions:
        raise UsageError(f"{project}: no released version on {index}")
    return str(max(versions))


