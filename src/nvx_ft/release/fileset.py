"""``nvx-ft fileset``: does a release contain exactly the wheels its manifest expects?

Input is a directory of release files, a recorded list of file names (one per line),
or a released version on PyPI (file names from the package index, nothing
downloaded). The manifest (TOML; the shipped default is autobahn's matrix, see
``manifests/autobahn.toml``) lists interpreters as (python tag, ABI tag), platforms as
platform-tag patterns, and release lines: a version range with its groups of cells
(interpreters x platforms), each ``always`` required, required ``if-claimed`` (when the
release claims free-threading) or ``optional``. A release is checked against the first
line whose version range holds its version (``--line`` picks one by name); a manifest
without lines is one line of every interpreter x platform, all required.

Matching is exact on (python tag, ABI tag, platform), with tags parsed by
``packaging`` (compressed tag sets expanded, legacy manylinux aliases normalised):
``cp314`` and ``cp314t`` are different cells, so the free-threaded wheel that autobahn
26.6.1 shipped in place of the GIL one cannot satisfy the GIL cell. Stable-ABI tags fill
a range of cells: ``cpXY-abi3`` the GIL cells of CPython >= X.Y, and PEP 803's
``cpXY-abi3t`` (CPython 3.15+, usually as ``cp315-abi3.abi3t-...``) the free-threaded
cells of CPython >= max(X.Y, 3.15) - no 3.14t interpreter loads an ``abi3t`` module.

A release *claims* free-threading when ``--claims-free-threading`` is given or, by
default, when a wheel in a release directory declares a ``Programming Language :: Python
:: Free Threading :: N - ...`` classifier in its METADATA (file names alone, from
``--names`` or ``--pypi``, claim nothing: pass the flag). ``--no-claims-free-threading``
overrides the METADATA.

Each cell is ``present``, ``missing`` or ``wrong-abi`` (missing, and the platform has
a wheel for the same Python built for a different ABI that the rest of the release
does not build - the cell's build produced the wrong interpreter's wheel). Wheels
that fill no cell are reported as unexpected extras (reported, not fatal). Exit 1 when
a required cell is not present.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from email.parser import HeaderParser
from importlib import resources
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11 is not supported
    tomllib = None

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename,
                             canonicalize_name, parse_sdist_filename,
                             parse_wheel_filename)
from packaging.version import InvalidVersion, Version

from nvx_ft.errors import EXIT_FAIL, EXIT_PASS, Blocked, UsageError

SCHEMA = "nvx-ft.fileset/1"
DEFAULT_MANIFEST = "autobahn"
DEFAULT_INDEX = "https://pypi.org/simple"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
FREE_THREADING_CLASSIFIER = "Programming Language :: Python :: Free Threading ::"
#: PEP 803: the free-threaded stable ABI starts with CPython 3.15.
ABI3T_FIRST = (3, 15)
REQUIREMENTS = ("always", "if-claimed", "optional")

#: PEP 600: the legacy manylinux names are aliases of these glibc versions.
_MANYLINUX_ALIASES = {"manylinux1": "manylinux_2_5", "manylinux2010": "manylinux_2_12",
                      "manylinux2014": "manylinux_2_17"}
_CP_TAG = re.compile(r"cp(\d)(\d+)")


def cpython_version(python_tag: str) -> tuple[int, int] | None:
    """``cp314`` -> (3, 14); None for other implementations."""
    m = _CP_TAG.fullmatch(python_tag)
    return (int(m.group(1)), int(m.group(2))) if m else None


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Interp:
    id: str
    python: str
    abi: str

    @property
    def free_threaded(self) -> bool:
        return cpython_version(self.python) is not None and self.abi == self.python + "t"

    def filled_by(self, tag: Tag) -> bool:
        """Does a wheel tag (platform aside) serve this interpreter?"""
        if tag.interpreter == self.python and tag.abi == self.abi:
            return True
        mine, theirs = cpython_version(self.python), cpython_version(tag.interpreter)
        if mine is None or theirs is None:
            return False
        if tag.abi == "abi3":
            return self.abi == self.python and mine >= theirs
        if tag.abi == "abi3t":
            return self.free_threaded and mine >= max(theirs, ABI3T_FIRST)
        return False


@dataclass(frozen=True)
class CellGroup:
    interpreters: tuple[str, ...]
    platforms: tuple[str, ...]
    required: str = "always"  # always | if-claimed | optional


@dataclass(frozen=True)
class Line:
    name: str
    versions: str  # PEP 440 specifier set, "" = any version
    groups: tuple[CellGroup, ...]
    optional: tuple[str, ...] = ()  # "interpreter/platform" patterns
    origin: str = ""  # where the matrix comes from

    def contains(self, version: str) -> bool:
        try:
            return SpecifierSet(self.versions).contains(Version(version), prereleases=True)
        except InvalidVersion:
            return not self.versions

    def requirement(self, interp: str, plat: str) -> str | None:
        """The requirement of cell (interp, plat), None when the line has no such cell."""
        found = None
        for g in self.groups:
            if interp in g.interpreters and plat in g.platforms:
                found = g.required  # a later group overrides an earlier one
        if found is not None and any(fnmatch.fnmatchcase(f"{interp}/{plat}", p)
                                     for p in self.optional):
            found = "optional"
        return found


@dataclass(frozen=True)
class Manifest:
    name: str
    interpreters: tuple[Interp, ...]
    platforms: dict[str, tuple[str, ...]]
    lines: tuple[Line, ...]
    sdist: str = "required"
    source: str = ""

    def interp(self, iid: str) -> Interp:
        return next(i for i in self.interpreters if i.id == iid)

    def line_for(self, version: str | None, name: str | None = None) -> Line:
        if name is not None:
            for line in self.lines:
                if line.name == name:
                    return line
            raise UsageError(f"manifest {self.source or self.name} has no line {name!r} "
                             f"(lines: {', '.join(ln.name for ln in self.lines)})")
        for line in self.lines:
            if version is None or line.contains(version):
                return line
        raise UsageError(f"manifest {self.source or self.name}: no release line holds "
                         f"version {version} (lines: " + ", ".join(
                             f"{ln.name} {ln.versions!r}" for ln in self.lines)
                         + "); give --line NAME")

    def cells(self, line: Line):
        """(interpreter, platform, requirement) of the line, in manifest order."""
        for interp in self.interpreters:
            for plat in self.platforms:
                req = line.requirement(interp.id, plat)
                if req is not None:
                    yield interp, plat, req

    def platform_of(self, platform_tag: str) -> str | None:
        norm = normalise_platform(platform_tag)
        for name, patterns in self.platforms.items():
            if any(fnmatch.fnmatchcase(norm, p) for p in patterns):
                return name
        return None


def normalise_platform(platform_tag: str) -> str:
    """``manylinux2014_aarch64`` -> ``manylinux_2_17_aarch64``; others unchanged."""
    for alias, canonical in _MANYLINUX_ALIASES.items():
        if platform_tag.startswith(alias + "_"):
            return canonical + platform_tag[len(alias):]
    return platform_tag


def load_manifest(spec: str | None = None) -> Manifest:
    """A manifest by shipped name (``autobahn``) or by path to a TOML file."""
    spec = spec or DEFAULT_MANIFEST
    path = Path(spec)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise UsageError(f"manifest {spec}: no such file")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        res = resources.files("nvx_ft.release") / "manifests" / f"{spec}.toml"
        if not res.is_file():
            raise UsageError(f"unknown manifest {spec!r}: give a shipped name "
                             f"({DEFAULT_MANIFEST}) or a path to a .toml file")
        text, source = res.read_text(encoding="utf-8"), f"nvx_ft/release/manifests/{spec}.toml"
    try:
        data = tomllib.loads(text)
        interps = tuple(Interp(k, v["python"], v["abi"])
                        for k, v in data["interpreters"].items())
        platforms = {k: tuple(v) for k, v in data["platforms"].items()}
        sdist = data.get("sdist", "required")
        name = data["name"]
        if "line" in data:
            lines = tuple(_line(raw, interps, platforms) for raw in data["line"])
        else:  # one line: every interpreter x platform required, [cells] optional patterns
            lines = (Line("all", "", (CellGroup(tuple(i.id for i in interps),
                                                tuple(platforms), "always"),),
                          tuple(data.get("cells", {}).get("optional", []))),)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError, ValueError,
            InvalidSpecifier) as exc:
        raise UsageError(f"manifest {source} is malformed: {exc!r}") from exc
    if sdist not in ("required", "optional", "absent-ok"):
        raise UsageError(f"manifest {source}: sdist must be required/optional/absent-ok")
    if not lines:
        raise UsageError(f"manifest {source} is malformed: no [[line]]")
    return Manifest(name, interps, platforms, lines, sdist, source)


def _line(raw: dict, interps: tuple[Interp, ...], platforms: dict) -> Line:
    name = raw["name"]
    versions = raw.get("versions", "")
    SpecifierSet(versions)  # InvalidSpecifier -> malformed
    groups = []
    known_i, known_p = {i.id for i in interps}, set(platforms)
    for g in raw["cells"]:
        group = CellGroup(tuple(g["interpreters"]), tuple(g["platforms"]),
                          g.get("required", "always"))
        unknown = ([i for i in group.interpreters if i not in known_i]
                   + [p for p in group.platforms if p not in known_p])
        if unknown:
            raise ValueError(f"line {name!r} names unknown interpreter/platform "
                             f"{', '.join(unknown)}")
        if group.required not in REQUIREMENTS:
            raise ValueError(f"line {name!r}: required must be one of {', '.join(REQUIREMENTS)}")
        groups.append(group)
    return Line(name, versions, tuple(groups), tuple(raw.get("optional", [])),
                " ".join(raw.get("from", "").split()))


# --------------------------------------------------------------------------- inputs


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


# --------------------------------------------------------------------------- matching


@dataclass
class CellResult:
    id: str
    interpreter: str
    platform: str
    required: bool
    status: str  # present | missing | wrong-abi
    files: list[str] = field(default_factory=list)
    detail: str = ""
    requirement: str = "always"  # the line's: always | if-claimed | optional

    @property
    def ok(self) -> bool:
        return self.status == "present" or not self.required


@dataclass
class FilesetReport:
    manifest: str
    project: str
    version: str | None
    source: str
    cells: list[CellResult]
    platforms: list[str]
    interpreters: list[str]
    sdist: dict
    extras: list[dict]
    ignored: list[str]
    line: dict = field(default_factory=dict)
    free_threading: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.cells) and self.sdist["ok"]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["schema"] = SCHEMA
        d["verdict"] = "pass" if self.passed else "fail"
        d["failing_cells"] = [c.id for c in self.cells if not c.ok]
        return d


def check(names: list[str], manifest: Manifest, source: str = "", *,
          claims_free_threading: bool | None = None,
          classifiers: dict[str, list[str]] | None = None,
          line: str | None = None) -> FilesetReport:
    """Check one release's file names against ``manifest``.

    ``claims_free_threading``: True/False decides; None = claimed when ``classifiers``
    (Free Threading classifier -> wheels declaring it, from the release's METADATA) is
    non-empty. ``line``: a line name, else the line holding the release's version.
    """
    wheels: dict[str, frozenset[Tag]] = {}
    sdists, ignored, versions, projects = [], [], set(), set()
    for name in names:
        if name.endswith(".whl"):
            try:
                proj, ver, _, tags = parse_wheel_filename(name)
            except InvalidWheelFilename:
                ignored.append(name)
                continue
            wheels[name] = tags
        else:
            try:
                proj, ver = parse_sdist_filename(name)
            except InvalidSdistFilename:
                ignored.append(name)
                continue
            sdists.append(name)
        versions.add(str(ver))
        projects.add(str(proj))
    if not wheels and not sdists:
        raise UsageError(f"no wheel or sdist file names in {source or 'the input'}")
    if len(versions) > 1 or len(projects) > 1:
        raise UsageError(f"the input mixes releases ({', '.join(sorted(projects))} "
                         f"{', '.join(sorted(versions))}): check one release at a time")
    version = next(iter(versions))
    chosen = manifest.line_for(version, line)
    claimed, claim = _claim(claims_free_threading, classifiers or {})
    cells_of_line = list(manifest.cells(chosen))
    line_platforms = [p for p in manifest.platforms if any(p == c[1] for c in cells_of_line)]
    line_interps = [i.id for i in manifest.interpreters
                    if any(i.id == c[0].id for c in cells_of_line)]

    # (python, abi, platform name) -> wheels with exactly such a tag (for the diagnosis)
    slots: dict[tuple[str, str, str], list[str]] = {}
    for name, tags in wheels.items():
        for tag in tags:
            plat = manifest.platform_of(tag.platform)
            if plat is not None:
                files = slots.setdefault((tag.interpreter, tag.abi, plat), [])
                if name not in files:
                    files.append(name)

    def filling(interp: Interp, plat: str) -> list[str]:
        return [name for name, tags in wheels.items()
                if any(interp.filled_by(t) and manifest.platform_of(t.platform) == plat
                       for t in tags)]

    def platforms_built(python: str, abi: str) -> int:
        return sum(1 for plat in line_platforms if (python, abi, plat) in slots)

    cells, used = [], set()
    for interp, plat, req in cells_of_line:
        cid = f"{interp.id}/{plat}"
        required = req == "always" or (req == "if-claimed" and claimed)
        files = filling(interp, plat)
        if files:
            used.update(files)
            detail = "" if len(files) == 1 else f"{len(files)} wheels fill this cell"
            cells.append(CellResult(cid, interp.id, plat, required, "present", files, detail,
                                    req))
            continue
        # Missing. Diagnose a wrong-ABI build: a wheel for the same Python and platform
        # with another ABI that the release builds on fewer platforms than this cell's.
        mine = platforms_built(interp.python, interp.abi)
        strays = sorted({abi for (py, abi, p) in slots
                         if py == interp.python and p == plat and abi != interp.abi
                         and abi not in ("abi3", "abi3t", "none")
                         and platforms_built(py, abi) < mine})
        if strays:
            stray_files = sorted({f for abi in strays for f in slots[(interp.python, abi, plat)]})
            cells.append(CellResult(cid, interp.id, plat, required, "wrong-abi", stray_files,
                                    f"wrong ABI: {', '.join(strays)}", req))
        else:
            detail = ""
            v = cpython_version(interp.python)
            if interp.free_threaded and v is not None and v < ABI3T_FIRST and any(
                    t.abi == "abi3t" and manifest.platform_of(t.platform) == plat
                    for tags in wheels.values() for t in tags):
                detail = ("an abi3t wheel does not serve it: the free-threaded stable ABI "
                          "starts with CPython 3.15 (PEP 803)")
            cells.append(CellResult(cid, interp.id, plat, required, "missing", [], detail, req))

    extras = []
    for name, tags in sorted(wheels.items()):
        if name not in used:
            extras.append({"file": name, "tags": sorted(str(t) for t in tags),
                           "reason": _why_extra(tags, manifest, line_platforms)})
    sdist_ok = bool(sdists) or manifest.sdist != "required"
    sdist = {"files": sorted(sdists), "expected": manifest.sdist, "ok": sdist_ok}

    notes = []
    ft = [c for c in cells if c.requirement == "if-claimed"]
    ft_present = [c for c in ft if c.status == "present"]
    if not claimed and ft_present:
        notes.append(f"free-threaded wheels ship for {len(ft_present)} of {len(ft)} "
                     "free-threaded cells, but the release does not claim free-threading: "
                     "the other cells are not required")
    if claim["by"] == "metadata" and len(claim["classifiers"]) > 1:
        notes.append("the wheels declare different Free Threading classifiers: "
                     + "; ".join(claim["classifiers"]))
    if claims_free_threading is False and classifiers:
        notes.append("METADATA declares " + "; ".join(classifiers)
                     + " (overridden by --no-claims-free-threading)")
    return FilesetReport(
        manifest=manifest.source or manifest.name,
        project=next(iter(projects)), version=version, source=source,
        cells=cells, platforms=line_platforms, interpreters=line_interps,
        sdist=sdist, extras=extras, ignored=sorted(ignored),
        line={"name": chosen.name, "versions": chosen.versions,
              "selected": "by --line" if line is not None else "by version",
              "from": chosen.origin},
        free_threading={"claimed": claimed, **claim,
                        "cells": len(ft), "present": len(ft_present)},
        notes=notes)


def _claim(flag: bool | None, classifiers: dict[str, list[str]]) -> tuple[bool, dict]:
    if flag is not None:
        how = ("--claims-free-threading" if flag else "--no-claims-free-threading")
        return flag, {"by": "flag" if flag else "none", "how": how, "classifiers": {}}
    if classifiers:
        first = next(iter(classifiers))
        return True, {"by": "metadata", "classifiers": classifiers,
                      "how": f"METADATA declares '{first}' ({len(classifiers[first])} wheel(s))"}
    return False, {"by": "none", "classifiers": {},
                   "how": "no wheel declares a Free Threading classifier and no "
                          "--claims-free-threading"}


def _why_extra(tags: frozenset[Tag], manifest: Manifest, line_platforms: list[str]) -> str:
    plats = {manifest.platform_of(t.platform) for t in tags}
    if plats == {None}:
        return "platform not in the manifest: " + ", ".join(sorted({t.platform for t in tags}))
    if not plats & set(line_platforms):
        return "platform not in this release line: " + ", ".join(sorted(p for p in plats if p))
    pairs = sorted({f"{t.interpreter}-{t.abi}" for t in tags})
    return "interpreter/ABI not in this release line for its platform: " + ", ".join(pairs)


# --------------------------------------------------------------------------- output


def _cell_text(cell: CellResult) -> str:
    if cell.status == "present":
        return "ok"
    text = "MISSING" if cell.status == "missing" else cell.detail  # "wrong ABI: cp314t"
    if cell.required:
        return text
    return f"{text.lower() if cell.status == 'missing' else text} (" + (
        "not claimed" if cell.requirement == "if-claimed" else "optional") + ")"


def render_table(report: FilesetReport) -> str:
    by_id = {c.id: c for c in report.cells}
    header = ["interpreter"] + report.platforms
    rows = [[interp] + [_cell_text(by_id[f"{interp}/{plat}"]) if f"{interp}/{plat}" in by_id
                        else "-" for plat in report.platforms]
            for interp in report.interpreters]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    ln, ft = report.line, report.free_threading
    out = [f"fileset: {report.project} {report.version} ({report.source})",
           f"manifest: {report.manifest}, line {ln['name']} "
           f"({ln['versions'] or 'any version'}, chosen {ln['selected']})"]
    if ln.get("from"):
        out.append(f"  line from: {ln['from']}")
    out.append(f"free-threading: {'CLAIMED' if ft['claimed'] else 'not claimed'} "
               f"({ft['how']}); {ft['present']} of {ft['cells']} free-threaded cells present"
               + (", required" if ft["claimed"] else ", not required"))
    out += [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    sd = report.sdist
    out.append(f"sdist: {', '.join(sd['files']) if sd['files'] else 'MISSING'} "
               f"({sd['expected']})")
    for c in report.cells:
        if c.status == "wrong-abi":
            out.append(f"{c.id}: {c.detail} - {', '.join(c.files)}")
        elif c.status == "missing" and c.detail:
            out.append(f"{c.id}: {c.detail}")
    for e in report.extras:
        out.append(f"unexpected extra: {e['file']} ({e['reason']})")
    for name in report.ignored:
        out.append(f"ignored (not a wheel or sdist name): {name}")
    for note in report.notes:
        out.append(f"note: {note}")
    failing = [c.id for c in report.cells if not c.ok] + ([] if sd["ok"] else ["sdist"])
    out.append("verdict: " + ("PASS" if report.passed else
                              f"FAIL - {len(failing)} required cell(s) not present: "
                              + ", ".join(failing)))
    return "\n".join(out)


def add_arguments(parser) -> None:
    import argparse

    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("directory", nargs="?", help="directory holding the release's files")
    src.add_argument("--names", metavar="FILE",
                     help="file listing the release's file names, one per line")
    src.add_argument("--pypi", metavar="VERSION",
                     help="a released version: file names from the package index")
    parser.add_argument("--project", default="autobahn", help="project on the index (--pypi)")
    parser.add_argument("--index-url", default=DEFAULT_INDEX, help="PEP 691 simple index")
    parser.add_argument("--manifest", default=DEFAULT_MANIFEST,
                        help="shipped manifest name or path to a TOML manifest")
    parser.add_argument("--line", metavar="NAME",
                        help="check against this release line of the manifest "
                             "(default: the line whose version range holds the release)")
    parser.add_argument("--claims-free-threading", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="the release claims free-threading, so its free-threaded cells "
                             "are required (default: claimed when a wheel's METADATA in DIR "
                             "declares a Free Threading classifier)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON report here")


def run(args) -> int:
    manifest = load_manifest(args.manifest)
    classifiers = {}
    if args.pypi:
        names = names_from_index(args.project, args.pypi, args.index_url)
        source = f"{args.project} {args.pypi} on {args.index_url}"
    elif args.names:
        names, source = names_from_file(Path(args.names)), args.names
    else:
        names, source = names_from_directory(Path(args.directory)), args.directory
        classifiers = classifiers_from_directory(Path(args.directory))
    report = check(names, manifest, source, claims_free_threading=args.claims_free_threading,
                   classifiers=classifiers, line=args.line)
    data = report.as_dict()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=2) if args.json else render_table(report))
    sys.stdout.flush()
    return EXIT_PASS if report.passed else EXIT_FAIL
