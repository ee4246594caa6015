"""``nvx-ft fileset``: does a release contain exactly the wheels its manifest expects?

Input is a directory of release files, a recorded list of file names (one per line),
or a released version on PyPI (file names from the package index, nothing
downloaded). The manifest (TOML; the shipped default is autobahn's matrix, see
``manifests/autobahn.toml``) lists interpreters as (python tag, ABI tag) and platforms
as platform-tag patterns; every pair is a cell.

Matching is exact on (python tag, ABI tag, platform), with tags parsed by
``packaging`` (compressed tag sets expanded, legacy manylinux aliases normalised):
``cp314`` and ``cp314t`` are different cells, so the free-threaded wheel that autobahn
26.6.1 shipped in place of the GIL one cannot satisfy the GIL cell.

Each cell is ``present``, ``missing`` or ``wrong-abi`` (missing, and the platform has
a wheel for the same Python built for a different ABI that the rest of the release
does not build - the cell's build produced the wrong interpreter's wheel). Wheels
that fill no cell are reported as unexpected extras (reported, not fatal). Exit 1 when
a required cell is not present.
"""

from __future__ import annotations

import fnmatch
import json
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11 is not supported
    tomllib = None

from packaging.tags import Tag
from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename,
                             canonicalize_name, parse_sdist_filename,
                             parse_wheel_filename)

from nvx_ft.errors import EXIT_FAIL, EXIT_PASS, Blocked, UsageError

SCHEMA = "nvx-ft.fileset/1"
DEFAULT_MANIFEST = "autobahn"
DEFAULT_INDEX = "https://pypi.org/simple"
_SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"

#: PEP 600: the legacy manylinux names are aliases of these glibc versions.
_MANYLINUX_ALIASES = {"manylinux1": "manylinux_2_5", "manylinux2010": "manylinux_2_12",
                      "manylinux2014": "manylinux_2_17"}


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class Interp:
    id: str
    python: str
    abi: str


@dataclass(frozen=True)
class Manifest:
    name: str
    interpreters: tuple[Interp, ...]
    platforms: dict[str, tuple[str, ...]]
    optional: tuple[str, ...] = ()
    sdist: str = "required"
    source: str = ""

    def cells(self):
        for interp in self.interpreters:
            for plat in self.platforms:
                yield interp, plat

    def is_optional(self, cell_id: str) -> bool:
        return any(fnmatch.fnmatchcase(cell_id, pat) for pat in self.optional)

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
        optional = tuple(data.get("cells", {}).get("optional", []))
        sdist = data.get("sdist", "required")
        name = data["name"]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"manifest {source} is malformed: {exc!r}") from exc
    if sdist not in ("required", "optional", "absent-ok"):
        raise UsageError(f"manifest {source}: sdist must be required/optional/absent-ok")
    return Manifest(name, interps, platforms, optional, sdist, source)


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
    from packaging.version import InvalidVersion, Version

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

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.cells) and self.sdist["ok"]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["schema"] = SCHEMA
        d["verdict"] = "pass" if self.passed else "fail"
        d["failing_cells"] = [c.id for c in self.cells if not c.ok]
        return d


def check(names: list[str], manifest: Manifest, source: str = "") -> FilesetReport:
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

    # (python, abi, platform name) -> wheels with such a tag
    slots: dict[tuple[str, str, str], list[str]] = {}
    for name, tags in wheels.items():
        for tag in tags:
            plat = manifest.platform_of(tag.platform)
            if plat is not None:
                files = slots.setdefault((tag.interpreter, tag.abi, plat), [])
                if name not in files:
                    files.append(name)

    def platforms_built(python: str, abi: str) -> int:
        return sum(1 for plat in manifest.platforms if (python, abi, plat) in slots)

    cells, used = [], set()
    for interp, plat in manifest.cells():
        cid = f"{interp.id}/{plat}"
        required = not manifest.is_optional(cid)
        files = slots.get((interp.python, interp.abi, plat), [])
        if files:
            used.update(files)
            detail = "" if len(files) == 1 else f"{len(files)} wheels fill this cell"
            cells.append(CellResult(cid, interp.id, plat, required, "present", files, detail))
            continue
        # Missing. Diagnose a wrong-ABI build: a wheel for the same Python and platform
        # with another ABI that the release builds on fewer platforms than this cell's.
        mine = platforms_built(interp.python, interp.abi)
        strays = sorted({abi for (py, abi, p) in slots
                         if py == interp.python and p == plat and abi != interp.abi
                         and platforms_built(py, abi) < mine})
        if strays:
            stray_files = sorted({f for abi in strays for f in slots[(interp.python, abi, plat)]})
            cells.append(CellResult(cid, interp.id, plat, required, "wrong-abi", stray_files,
                                    f"wrong ABI: {', '.join(strays)}"))
        else:
            cells.append(CellResult(cid, interp.id, plat, required, "missing"))

    extras = []
    for name, tags in sorted(wheels.items()):
        if name not in used:
            extras.append({"file": name, "tags": sorted(str(t) for t in tags),
                           "reason": _why_extra(tags, manifest)})
    sdist_ok = bool(sdists) or manifest.sdist != "required"
    sdist = {"files": sorted(sdists), "expected": manifest.sdist, "ok": sdist_ok}
    return FilesetReport(
        manifest=manifest.source or manifest.name,
        project=next(iter(projects)), version=next(iter(versions)), source=source,
        cells=cells, platforms=list(manifest.platforms),
        interpreters=[i.id for i in manifest.interpreters],
        sdist=sdist, extras=extras, ignored=sorted(ignored))


def _why_extra(tags: frozenset[Tag], manifest: Manifest) -> str:
    plats = {manifest.platform_of(t.platform) for t in tags}
    if plats == {None}:
        return "platform not in the manifest: " + ", ".join(sorted({t.platform for t in tags}))
    pairs = sorted({f"{t.interpreter}-{t.abi}" for t in tags})
    return "interpreter/ABI not in the manifest: " + ", ".join(pairs)


# --------------------------------------------------------------------------- output


def _cell_text(cell: CellResult) -> str:
    if cell.status == "present":
        return "ok"
    text = "MISSING" if cell.status == "missing" else cell.detail  # "wrong ABI: cp314t"
    return f"{text} (optional)" if not cell.required else text


def render_table(report: FilesetReport) -> str:
    by_id = {c.id: c for c in report.cells}
    header = ["interpreter"] + report.platforms
    rows = [[interp] + [_cell_text(by_id[f"{interp}/{plat}"]) for plat in report.platforms]
            for interp in report.interpreters]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [f"fileset: {report.project} {report.version} ({report.source}) "
           f"against manifest {report.manifest}",
           line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    sd = report.sdist
    out.append(f"sdist: {', '.join(sd['files']) if sd['files'] else 'MISSING'} "
               f"({sd['expected']})")
    for c in report.cells:
        if c.status == "wrong-abi":
            out.append(f"{c.id}: {c.detail} - {', '.join(c.files)}")
    for e in report.extras:
        out.append(f"unexpected extra: {e['file']} ({e['reason']})")
    for name in report.ignored:
        out.append(f"ignored (not a wheel or sdist name): {name}")
    failing = [c.id for c in report.cells if not c.ok] + ([] if sd["ok"] else ["sdist"])
    out.append("verdict: " + ("PASS" if report.passed else
                              f"FAIL - {len(failing)} required cell(s) not present: "
                              + ", ".join(failing)))
    return "\n".join(out)


def add_arguments(parser) -> None:
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
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON report here")


def run(args) -> int:
    manifest = load_manifest(args.manifest)
    if args.pypi:
        names = names_from_index(args.project, args.pypi, args.index_url)
        source = f"{args.project} {args.pypi} on {args.index_url}"
    elif args.names:
        names, source = names_from_file(Path(args.names)), args.names
    else:
        names, source = names_from_directory(Path(args.directory)), args.directory
    report = check(names, manifest, source)
    data = report.as_dict()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=2) if args.json else render_table(report))
    sys.stdout.flush()
    return EXIT_PASS if report.passed else EXIT_FAIL
