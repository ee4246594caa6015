"""The release manifest: which (interpreter, platform) cells a release line must fill.

A manifest (TOML; the shipped default is ``manifests/autobahn.toml``) lists interpreters
as (python tag, ABI tag), platforms as platform-tag patterns, and release lines: a
version range with its groups of cells, each ``always`` required, required
``if-claimed`` (when the release claims free-threading) or ``optional``. A manifest
without lines is one line of every interpreter x platform, all required.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.version import InvalidVersion, Version

from nvx_ft.errors import UsageError

DEFAULT_MANIFEST = "autobahn"
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
    #: "manifest" (a TOML manifest) or "targets" (a target list, ``release/targets.py``,
    #: whose cells are named as the targets are: ``cpy314-linux-aarch64-manylinux_2_28``)
    kind: str = "manifest"

    def cell_id(self, interp: str, plat: str) -> str:
        return f"{interp}-{plat}" if self.kind == "targets" else f"{interp}/{plat}"

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

    def platforms_of(self, platform_tag: str) -> list[str]:
        """Every platform whose patterns match the tag (a target list may hold both
        ``linux-x86_64`` and ``linux-x86_64-musllinux_1_2``; ``universal2`` serves both
        macOS architectures)."""
        norm = normalise_platform(platform_tag)
        return [name for name, patterns in self.platforms.items()
                if any(fnmatch.fnmatchcase(norm, p) for p in patterns)]


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


