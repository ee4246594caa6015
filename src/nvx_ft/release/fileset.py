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
that fill no cell are reported as unexpected extras (a warning, as autobahn's
check-release-fileset action treats them; ``--fail-on-extra`` makes them fail). Exit 1
when a required cell is not present.

``--targets FILE|-`` checks against a target list as autobahn's release workflow writes
it (``release/targets.py``) instead of a manifest: every target is a required cell,
matched by the same code.
"""


from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from packaging.tags import Tag
from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename,
                             parse_sdist_filename, parse_wheel_filename)

from nvx_ft.errors import EXIT_FAIL, EXIT_PASS, UsageError
from nvx_ft.release.release_files import (DEFAULT_INDEX, classifiers_from_directory,
                                          names_from_directory, names_from_file,
                                          names_from_index)
from nvx_ft.release.manifest import (ABI3T_FIRST, DEFAULT_MANIFEST, Interp, Manifest,
                                     cpython_version, load_manifest)
from nvx_ft.release.targets import load_targets

SCHEMA = "nvx-ft.fileset/1"


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
    kind: str = "manifest"  # or "targets": checked against a target list
    fail_on_extra: bool = False  # extras fail the release (else a warning)

    @property
    def passed(self) -> bool:
        return (all(c.ok for c in self.cells) and self.sdist["ok"]
                and not (self.fail_on_extra and self.extras))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["schema"] = SCHEMA
        d["verdict"] = "pass" if self.passed else "fail"
        d["failing_cells"] = [c.id for c in self.cells if not c.ok]
        d["failing_extras"] = [e["file"] for e in self.extras] if self.fail_on_extra else []
        return d


def check(names: list[str], manifest: Manifest, source: str = "", *,
          claims_free_threading: bool | None = None,
          classifiers: dict[str, list[str]] | None = None,
          line: str | None = None, fail_on_extra: bool = False) -> FilesetReport:
    """Check one release's file names against ``manifest``.

    ``claims_free_threading``: True/False decides; None = claimed when ``classifiers``
    (Free Threading classifier -> wheels declaring it, from the release's METADATA) is
    non-empty. ``line``: a line name, else the line holding the release's version.
    ``fail_on_extra``: wheels that fill no cell fail the release (default: a warning).
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
            for plat in manifest.platforms_of(tag.platform):
                files = slots.setdefault((tag.interpreter, tag.abi, plat), [])
                if name not in files:
                    files.append(name)

    def filling(interp: Interp, plat: str) -> list[str]:
        return [name for name, tags in wheels.items()
                if any(interp.filled_by(t) and plat in manifest.platforms_of(t.platform)
                       for t in tags)]

    def platforms_built(python: str, abi: str) -> int:
        return sum(1 for plat in line_platforms if (python, abi, plat) in slots)

    cells, used = [], set()
    for interp, plat, req in cells_of_line:
        cid = manifest.cell_id(interp.id, plat)
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
                    t.abi == "abi3t" and plat in manifest.platforms_of(t.platform)
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
                        "cells": len(ft), "present": len(ft_present),
                        "targets": sum(1 for c in cells if manifest.interp(c.interpreter)
                                       .free_threaded)},
        notes=notes, kind=manifest.kind, fail_on_extra=fail_on_extra)


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
    if manifest.kind == "targets":
        return "no target asks for " + ", ".join(sorted(str(t) for t in tags))
    plats = {p for t in tags for p in manifest.platforms_of(t.platform)}
    if not plats:
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
    by_cell = {(c.interpreter, c.platform): c for c in report.cells}
    header = ["interpreter"] + report.platforms
    rows = [[interp] + [_cell_text(by_cell[interp, plat]) if (interp, plat) in by_cell
                        else "-" for plat in report.platforms]
            for interp in report.interpreters]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    ln, ft = report.line, report.free_threading
    out = [f"fileset: {report.project} {report.version} ({report.source})"]
    if report.kind == "targets":
        out.append(f"targets: {ln['from']}")
    else:
        out.append(f"manifest: {report.manifest}, line {ln['name']} "
                   f"({ln['versions'] or 'any version'}, chosen {ln['selected']})")
        if ln.get("from"):
            out.append(f"  line from: {ln['from']}")
    if report.kind == "targets":  # every target is required as listed, claimed or not
        out.append(f"free-threading: {ft['targets']} free-threaded target(s) listed, "
                   "required as every target is")
    else:
        out.append(f"free-threading: {'CLAIMED' if ft['claimed'] else 'not claimed'} "
                   f"({ft['how']}); {ft['present']} of {ft['cells']} free-threaded cells "
                   "present" + (", required" if ft["claimed"] else ", not required"))
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
    level = "FAIL" if report.fail_on_extra else "warning"
    for e in report.extras:
        out.append(f"unexpected extra: {e['file']} ({e['reason']}) [{level}]")
    for name in report.ignored:
        out.append(f"ignored (not a wheel or sdist name): {name}")
    for note in report.notes:
        out.append(f"note: {note}")
    failing = [c.id for c in report.cells if not c.ok] + ([] if sd["ok"] else ["sdist"])
    why = []
    if failing:
        why.append(f"{len(failing)} required cell(s) not present: " + ", ".join(failing))
    if report.fail_on_extra and report.extras:
        why.append(f"{len(report.extras)} extra wheel(s) (--fail-on-extra)")
    passed = "PASS" + (f" ({len(report.extras)} extra wheel(s): a warning)"
                       if report.extras else "")
    out.append("verdict: " + (passed if report.passed else "FAIL - " + "; ".join(why)))
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
    parser.add_argument("--manifest", default=None,
                        help=f"shipped manifest name or path to a TOML manifest "
                             f"(default: {DEFAULT_MANIFEST})")
    parser.add_argument("--targets", metavar="FILE|-",
                        help="check against a target list as autobahn's release workflow "
                             "gives check-release-fileset (cpy314-linux-aarch64-manylinux_2_28"
                             " ... source; newline, comma or blank separated, # comments) "
                             "instead of a manifest; '-' reads it from stdin")
    parser.add_argument("--fail-on-extra", action="store_true",
                        help="wheels that fill no cell fail the check (default: a warning)")
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


def _manifest(args) -> Manifest:
    if args.targets is None:
        return load_manifest(args.manifest)
    if args.manifest is not None or args.line is not None:
        raise UsageError("--targets replaces the manifest: give no --manifest or --line")
    return load_targets(args.targets)


def run(args) -> int:
    manifest = _manifest(args)
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
                   classifiers=classifiers, line=args.line,
                   fail_on_extra=args.fail_on_extra)
    data = report.as_dict()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(data, indent=2) if args.json else render_table(report))
    sys.stdout.flush()
    return EXIT_PASS if report.passed else EXIT_FAIL
