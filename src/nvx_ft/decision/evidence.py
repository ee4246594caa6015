"""The evidence of one release, read from folders (e.g. downloaded CI artifacts).

Files are found recursively by name: every ``gate.json`` (``nvx-ft gate``, schema
``nvx-ft.gate/1`` or ``/2``), ``fileset.json`` (``nvx-ft fileset --json-out``,
``nvx-ft.fileset/1``) and ``sanitize.json`` (``nvx-ft sanitize tsan --report-json``,
``nvx-ft.sanitize/1``). Only the fields named below are read, so other CI systems can
write them. A file of an unknown schema, or evidence of another project, version or wheel
than the release's, is refused (:class:`Refused`, exit 3): the decision never mixes
releases.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from nvx_ft.errors import UsageError
from nvx_ft.gate import recommend
from nvx_ft.release.manifest import Manifest

GATE_SCHEMAS = ("nvx-ft.gate/1", "nvx-ft.gate/2")
FILESET_SCHEMAS = ("nvx-ft.fileset/1",)
SANITIZE_SCHEMAS = ("nvx-ft.sanitize/1",)
NAMES = {"gate.json": GATE_SCHEMAS, "fileset.json": FILESET_SCHEMAS,
         "sanitize.json": SANITIZE_SCHEMAS}


class Refused(UsageError):
    """Evidence that is not of this release (or not readable): exit 3."""


@dataclass
class GateRun:
    """One gate.json: the cell it covers and what it recommends."""
    path: Path
    cell: str  # "cp314t/linux-x86_64"
    wheel: str
    wheel_sha256: str | None
    verdict: str
    free_threaded: bool
    level: int
    label: str
    reasons: list[str]
    checks: dict[str, str]  # name -> status
    schema: str


@dataclass
class Evidence:
    project: str
    version: str
    gates: list[GateRun] = field(default_factory=list)
    fileset: dict | None = None
    fileset_path: Path | None = None
    tsan: list[tuple[Path, dict]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find(dirs: list[Path]) -> dict[str, list[Path]]:
    """Every evidence file under ``dirs``, by file name (sorted: the same folders give
    the same order)."""
    found: dict[str, list[Path]] = {name: [] for name in NAMES}
    for d in dirs:
        if not d.exists():
            raise UsageError(f"{d}: no such file or folder")
        paths = [d] if d.is_file() else sorted(d.rglob("*.json"))
        for p in paths:
            if p.name in NAMES:
                found[p.name].append(p)
    return found


def load_json(path: Path, schemas: tuple[str, ...]) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"{path}: not readable JSON ({exc})") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema not in schemas:
        raise Refused(f"{path}: schema {schema!r} is not one this nvx-ft reads "
                      f"({', '.join(schemas)}): evidence of another nvx-ft?")
    return data


def read(dirs: list[Path], manifest: Manifest, *, version: str | None = None,
         project: str | None = None, dist: Path | None = None) -> Evidence:
    """Read and cross-check every evidence file: one project, one version, gates of the
    release's own wheels (by name, and by sha256 when ``dist`` holds the release)."""
    found = find(dirs)
    fileset = fileset_path = None
    filesets = [(p, load_json(p, FILESET_SCHEMAS)) for p in found["fileset.json"]]
    if filesets:
        fileset_path, fileset = filesets[0]
        for p, other in filesets[1:]:
            if (other.get("project"), other.get("version"), other.get("verdict")) != (
                    fileset.get("project"), fileset.get("version"), fileset.get("verdict")):
                raise Refused(f"{p} and {fileset_path}: two fileset reports that disagree")
    gates = [(p, load_json(p, GATE_SCHEMAS)) for p in found["gate.json"]]
    tsan = [(p, load_json(p, SANITIZE_SCHEMAS)) for p in found["sanitize.json"]]
    tsan = [(p, d) for p, d in tsan if d.get("mode") == "tsan"]

    project = project or (fileset or {}).get("project") or manifest.name
    claims = [(str(fileset_path), fileset.get("project"), fileset.get("version"))] if fileset else []
    parsed = []
    for p, data in gates:
        wheel = _wheel_name(p, data)
        try:
            name, ver, _, tags = parse_wheel_filename(wheel)
        except InvalidWheelFilename:
            raise Refused(f"{p}: the gate did not test a wheel file ({wheel!r}), so it is "
                          "no evidence about a cell of the release") from None
        claims.append((str(p), str(name), str(ver)))
        parsed.append((p, data, wheel, tags))
    version = version or next((v for _, _, v in claims if v), None)
    if version is None:
        raise UsageError("no fileset.json or gate.json found, and no --version: nothing "
                         "tells which release to decide")
    for where, proj, ver in claims:
        if canonicalize_name(proj or "") != canonicalize_name(project) or ver != version:
            raise Refused(f"{where}: evidence of {proj} {ver}, not of {project} {version}")
    for p, data in tsan:
        ver = (data.get("autobahn") or {}).get("version")
        if ver != version:
            raise Refused(f"{p}: ThreadSanitizer evidence of autobahn {ver or 'an unknown version'}, "
                          f"not of {version}")

    ev = Evidence(project, version, fileset=fileset, fileset_path=fileset_path, tsan=tsan)
    shipped = _fileset_files(fileset)
    for p, data, wheel, tags in parsed:
        run = _gate_run(p, data, wheel, tags, manifest)
        if shipped is not None and wheel not in shipped:
            raise Refused(f"{p}: gated {wheel}, which is not a file of the release the "
                          "fileset check saw: evidence of another wheel")
        if dist is not None:
            _check_sha256(p, run, dist)
        ev.gates.append(run)
    return ev


def _wheel_name(path: Path, data: dict) -> str:
    target = data.get("target") or {}
    wheel = target.get("wheel") or (target.get("spec") if target.get("kind") == "wheel" else None)
    if not wheel:
        raise Refused(f"{path}: the gate ran on no wheel ({target.get('kind')} "
                      f"{target.get('spec')!r} without a wheel): no evidence about a cell")
    return Path(wheel.replace("\\", "/")).name


def _gate_run(path: Path, data: dict, wheel: str, tags, manifest: Manifest) -> GateRun:
    interps = [i for i in manifest.interpreters if i.free_threaded]
    cells = sorted({f"{i.id}/{plat}" for t in tags for i in interps if i.filled_by(t)
                    for plat in manifest.platforms_of(t.platform)})
    if len(cells) != 1:
        raise Refused(f"{path}: {wheel} fills {'no' if not cells else len(cells)} free-threaded "
                      f"cell(s) of manifest {manifest.source or manifest.name}"
                      + (f" ({', '.join(cells)})" if cells else ""))
    checks = data.get("checks") or []
    free_threaded = bool((data.get("interpreter") or {}).get("free_threaded"))
    rec = data.get("recommendation")
    if not (isinstance(rec, dict) and isinstance(rec.get("level"), int)):
        rec = recommend.recommend(checks, free_threaded)  # a gate.json from before it
    level = min(rec["level"], 2)  # one gate run shows at most Beta; Stable is the release's
    return GateRun(path, cells[0], wheel, (data.get("target") or {}).get("wheel_sha256"),
                   data.get("verdict", "?"), free_threaded, level,
                   recommend.LABELS.get(level, "none"), list(rec.get("reasons") or []),
                   {c.get("name"): c.get("status") for c in checks}, data["schema"])


def _fileset_files(fileset: dict | None) -> set[str] | None:
    if fileset is None:
        return None
    files = {f for c in fileset.get("cells", []) for f in c.get("files", [])}
    files |= {e.get("file") for e in fileset.get("extras", [])}
    return files


def _check_sha256(path: Path, run: GateRun, dist: Path) -> None:
    local = dist / run.wheel
    if not local.is_file():
        raise Refused(f"{path}: gated {run.wheel}, which is not in {dist}")
    digest = hashlib.sha256(local.read_bytes()).hexdigest()
    if run.wheel_sha256 and digest != run.wheel_sha256:
        raise Refused(f"{path}: gated a {run.wheel} with sha256 {run.wheel_sha256[:16]}..., "
                      f"the release's file has {digest[:16]}...: evidence of another wheel")
