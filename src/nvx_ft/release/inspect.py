"""``nvx-ft inspect WHEEL...``: static checks of a built wheel, without installing it.

* ``wheel-tags``: the tags in ``*.dist-info/WHEEL`` equal the file name's (expanded).
* ``extension-suffix``: every compiled module carries the extension suffix of the
  wheel's ABI and platform (``.cpython-314t-x86_64-linux-gnu.so``, ``.cp314t-win_amd64.pyd``,
  ``.cpython-314t-darwin.so``, ``.pypy311-pp73-...``): a GIL module in a cp314t wheel (or
  the reverse) is loaded by the wrong interpreter or not at all.
* ``nvx-modules``: both ``_nvx_utf8validator`` and ``_nvx_xormasker`` ship (a platform
  wheel without NVX silently falls back to pure Python).
* ``cffi-requirement``: ``Requires-Dist`` pins ``cffi>=2`` for CPython (older cffi
  re-enables the GIL on 3.14t; PyPy bundles its own cffi).
* ``free-threading-classifier``: the ``Programming Language :: Python :: Free Threading``
  classifier (if any) is reported, and a free-threaded wheel without one is a warning.
* ``module-build``: what each compiled module was built for, read from the binary
  (``binaries.py``: a PE module's Python DLL, an ELF or Mach-O module's refcount
  symbols): a GIL build in a cp314t wheel, or a free-threaded one in a cp314 wheel, is an
  error naming the module and the evidence; a module whose binary says neither is a
  warning ("no evidence"), never a pass. PyPy wheels are not read.
* ``build-intermediates``: object files, import libraries, export files and debug
  databases (``*.obj``, ``*.o``, ``*.lib``, ``*.exp``, ``*.pdb``, ``*.ilk``) shipped in
  the wheel: a warning - no interpreter loads them, so they change nothing that runs,
  but they are dead weight, leak build paths and show an unfiltered build directory
  packaged (``.lib``/``.pdb`` are sometimes shipped on purpose).

Bad input (missing file, not a wheel name, corrupt zip, no dist-info) raises
:class:`BadWheel`, a one-line usage error (exit 3).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from nvx_ft.errors import EXIT_FAIL, EXIT_PASS, UsageError
from nvx_ft.release.binaries import judge, read_module

SCHEMA = "nvx-ft.inspect/1"
NVX_MODULES = ("_nvx_utf8validator", "_nvx_xormasker")
FREE_THREADING_CLASSIFIER = "Programming Language :: Python :: Free Threading ::"
MIN_CFFI = Version("2")

#: platform-tag machine -> the multiarch triplet part of a Linux extension suffix
_LINUX_MULTIARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "i686": "i386",
                    "armv7l": "arm", "ppc64le": "powerpc64le", "s390x": "s390x",
                    "riscv64": "riscv64"}
_COMPILED = re.compile(r"\.(so|pyd|dylib)$")
_INTERMEDIATE = re.compile(r"\.(obj|o|lib|exp|pdb|ilk)$", re.IGNORECASE)


class BadWheel(UsageError):
    """Not something we can inspect: a one-line error, exit 3."""


@dataclass
class Finding:
    check: str
    severity: str  # ok | warning | error
    message: str


@dataclass
class WheelInfo:
    path: str
    name: str
    version: str
    tags: list[str]
    wheel_file_tags: list[str]
    pure: bool
    free_threaded: bool
    compiled: list[str]
    nvx_modules: dict[str, str]
    requires_cffi: list[str]
    classifiers: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["schema"] = SCHEMA
        d["verdict"] = "fail" if self.errors else "pass"
        return d


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def open_wheel(path: str | Path, content: bytes | None = None
               ) -> tuple[zipfile.ZipFile, tuple, str]:
    """Open a wheel for reading: (zip, parsed file name, dist-info dir) or :class:`BadWheel`.
    ``content``: the file's bytes, already read, so the file is not opened again."""
    p = Path(path)
    if not p.exists():
        raise BadWheel(f"{p}: no such file")
    if p.is_dir():
        raise BadWheel(f"{p}: is a directory, not a wheel file")
    try:
        parsed = parse_wheel_filename(p.name)
    except InvalidWheelFilename as exc:
        raise BadWheel(f"{p.name}: not a wheel file name ({_one_line(exc)})") from None
    try:
        zf = zipfile.ZipFile(p if content is None else io.BytesIO(content))
        bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BadWheel(f"{p.name}: corrupt wheel (not a readable zip: {_one_line(exc)})") from None
    except Exception as exc:  # zlib.error and friends from a damaged member
        raise BadWheel(f"{p.name}: corrupt wheel ({type(exc).__name__}: {_one_line(exc)})") from None
    if bad is not None:
        raise BadWheel(f"{p.name}: corrupt wheel (member {bad} fails its CRC)")
    dist_info = sorted({n.split("/", 1)[0] for n in zf.namelist()
                        if n.split("/", 1)[0].endswith(".dist-info")})
    if len(dist_info) != 1:
        raise BadWheel(f"{p.name}: corrupt wheel ({len(dist_info)} .dist-info directories)")
    for required in ("WHEEL", "METADATA", "RECORD"):
        if f"{dist_info[0]}/{required}" not in zf.namelist():
            raise BadWheel(f"{p.name}: corrupt wheel (no {dist_info[0]}/{required})")
    return zf, parsed, dist_info[0]


def record_hashes(zf: zipfile.ZipFile, dist_info: str) -> dict[str, str]:
    """``path -> sha256 hex`` from the wheel's RECORD (entries without a hash skipped)."""
    out = {}
    for line in zf.read(f"{dist_info}/RECORD").decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            digest = base64.urlsafe_b64decode(parts[1][7:] + "=" * (-len(parts[1][7:]) % 4))
            out[parts[0]] = digest.hex()
    return out


def expected_suffixes(tag: Tag) -> set[str]:
    """Extension-module suffixes an interpreter matching ``tag`` imports, e.g.
    ``cp314-cp314t-manylinux_2_28_x86_64`` -> ``{.cpython-314t-x86_64-linux-gnu.so}``."""
    abi, plat = tag.abi, tag.platform
    if abi == "abi3":
        return {".pyd"} if plat.startswith("win") else {".abi3.so"}
    if abi.startswith("cp"):
        stem, win_stem = f"cpython-{abi[2:]}", f"cp{abi[2:]}"
    elif abi.startswith("pypy"):  # pypy311_pp73 -> pypy311-pp73
        stem = win_stem = abi.replace("_", "-")
    else:
        return set()
    if plat.startswith("win"):
        return {f".{win_stem}-{plat}.pyd"}
    if plat.startswith("macosx"):
        return {f".{stem}-darwin.so"}
    m = re.fullmatch(r"(many|musl)?linux(?:_\d+_\d+|1|2010|2014)?_(\w+)", plat)
    if m:
        arch = m.group(2)
        libc = "musl" if m.group(1) == "musl" else ("gnueabihf" if arch == "armv7l" else "gnu")
        return {f".{stem}-{_LINUX_MULTIARCH.get(arch, arch)}-linux-{libc}.so"}
    return set()


def _marker_env(tag: Tag) -> dict[str, str]:
    impl = "CPython" if tag.interpreter.startswith("cp") else "PyPy"
    digits = tag.interpreter[2:]
    return {"platform_python_implementation": impl, "implementation_name": impl.lower(),
            "python_version": f"{digits[0]}.{digits[1:]}",
            "python_full_version": f"{digits[0]}.{digits[1:]}.0", "extra": ""}


def _cffi_requirements(requires: list[str], tag: Tag) -> list[Requirement]:
    """The ``cffi`` requirements that apply to a plain install on ``tag``'s interpreter."""
    out = []
    for text in requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.name.lower() != "cffi":
            continue
        if req.marker is None or Marker(str(req.marker)).evaluate(_marker_env(tag)):
            out.append(req)
    return out


def _excludes_old_cffi(req: Requirement) -> bool:
    """True when no version below 2 satisfies ``req`` (a lower bound of at least 2)."""
    for spec in req.specifier:
        if spec.operator in (">=", ">", "==", "~=", "==="):
            try:
                if Version(spec.version.rstrip(".*")) >= MIN_CFFI:
                    return True
            except ValueError:
                continue
    return False


def read_wheel(path: str | Path) -> tuple[WheelInfo, dict[str, str], str]:
    """The wheel's findings, its RECORD hashes and its own sha256, reading the file once."""
    p = Path(path)
    content = p.read_bytes() if p.is_file() else None  # else open_wheel says what is wrong
    zf, parsed, dist_info = open_wheel(p, content)
    with zf:
        info = _inspect_archive(path, zf, parsed, dist_info)
        record = record_hashes(zf, dist_info)
    return info, record, hashlib.sha256(content).hexdigest()


def inspect_wheel(path: str | Path) -> WheelInfo:
    zf, parsed, dist_info = open_wheel(path)
    with zf:
        return _inspect_archive(path, zf, parsed, dist_info)


def _inspect_archive(path: str | Path, zf: zipfile.ZipFile, parsed: tuple,
                     dist_info: str) -> WheelInfo:
    name, version, _build, tags = parsed
    wheel_meta = HeaderParser().parsestr(zf.read(f"{dist_info}/WHEEL").decode("utf-8"))
    meta = HeaderParser().parsestr(zf.read(f"{dist_info}/METADATA").decode("utf-8"))
    members = zf.namelist()
    wheel_tags = sorted(wheel_meta.get_all("Tag") or [])
    file_tags = sorted(str(t) for t in tags)
    pure = all(t.platform == "any" for t in tags)
    free_threaded = any(t.abi.startswith("cp") and t.abi.endswith("t") for t in tags)
    # auditwheel/delocate/delvewheel graft shared libraries into <pkg>.libs/ or .dylibs/:
    # those are not Python extension modules and carry no ABI suffix.
    compiled = sorted(m for m in members if _COMPILED.search(m)
                      and not re.search(r"(^|/)[^/]*(\.libs|\.dylibs)/", m))
    nvx = {mod: next((m for m in compiled if m.split("/")[-1].split(".")[0] == mod
                      and "/" not in m), "")
           for mod in NVX_MODULES}
    requires = meta.get_all("Requires-Dist") or []
    classifiers = [c for c in (meta.get_all("Classifier") or [])
                   if c.startswith(FREE_THREADING_CLASSIFIER)]
    info = WheelInfo(str(path), str(name), str(version), file_tags, wheel_tags, pure,
                     free_threaded, compiled, nvx, [], classifiers)
    add = info.findings.append

    if wheel_tags == file_tags:
        add(Finding("wheel-tags", "ok", f"WHEEL tags equal the file name's: {', '.join(file_tags)}"))
    else:
        add(Finding("wheel-tags", "error",
                    f"WHEEL says {', '.join(wheel_tags) or 'no Tag'} but the file name says "
                    f"{', '.join(file_tags)}"))

    if pure:
        add(Finding("nvx-modules", "error",
                    f"pure-Python wheel ({file_tags[0]}): NVX missing, autobahn would fall "
                    "back to its pure-Python implementation"))
    else:
        suffixes = set().union(*(expected_suffixes(t) for t in tags))
        wrong = [m for m in compiled if not any(m.endswith(s) for s in suffixes)]
        if not suffixes:
            add(Finding("extension-suffix", "warning",
                        f"no known extension suffix for {', '.join(file_tags)}"))
        elif wrong:
            add(Finding("extension-suffix", "error",
                        f"{len(wrong)} compiled module(s) lack the ABI's suffix "
                        f"({' or '.join(sorted(suffixes))}): {', '.join(wrong)}"))
        else:
            add(Finding("extension-suffix", "ok",
                        f"{len(compiled)} compiled module(s), all {' or '.join(sorted(suffixes))}"))
        _module_builds(zf, compiled, tags, add)
        missing = [m for m, f in nvx.items() if not f]
        if missing:
            add(Finding("nvx-modules", "error",
                        f"platform wheel without NVX: {', '.join(missing)} missing"))
        else:
            add(Finding("nvx-modules", "ok", "both NVX modules ship: " + ", ".join(nvx.values())))

        cpython = [t for t in tags if t.interpreter.startswith("cp")]
        if cpython:
            reqs = _cffi_requirements(requires, cpython[0])
            info.requires_cffi = [str(r) for r in reqs]
            if not reqs:
                add(Finding("cffi-requirement", "error",
                            "Requires-Dist has no cffi requirement for CPython (cffi>=2 needed: "
                            "older cffi re-enables the GIL on 3.14t)"))
            elif not any(_excludes_old_cffi(r) for r in reqs):
                add(Finding("cffi-requirement", "error",
                            f"Requires-Dist {', '.join(map(str, reqs))} admits cffi<2, which "
                            "re-enables the GIL on 3.14t"))
            else:
                add(Finding("cffi-requirement", "ok", f"Requires-Dist {reqs[0]}"))
        else:
            add(Finding("cffi-requirement", "ok", "PyPy wheel: PyPy bundles cffi"))

    intermediates = [i for i in zf.infolist() if _INTERMEDIATE.search(i.filename)]
    if intermediates:
        add(Finding("build-intermediates", "warning",
                    f"{len(intermediates)} build intermediate(s), "
                    f"{sum(i.file_size for i in intermediates) // 1024} KiB, ship in the "
                    "wheel (no interpreter loads them): "
                    + ", ".join(i.filename for i in intermediates)))
    else:
        add(Finding("build-intermediates", "ok", "no object files, import libraries or "
                    "debug databases shipped"))

    if classifiers:
        add(Finding("free-threading-classifier", "ok", "claims " + "; ".join(
            c[len(FREE_THREADING_CLASSIFIER):].strip() for c in classifiers)))
    elif free_threaded:
        add(Finding("free-threading-classifier", "warning",
                    "a free-threaded wheel ships, but METADATA has no "
                    f"'{FREE_THREADING_CLASSIFIER} N - ...' classifier"))
    else:
        add(Finding("free-threading-classifier", "ok", "no Free Threading classifier (GIL wheel)"))
    return info


def _module_builds(zf: zipfile.ZipFile, compiled: list[str], tags, add) -> None:
    """The ``module-build`` finding: each compiled module's binary against the wheel's
    CPython tag (see ``binaries.py``)."""
    cpython = sorted((t for t in tags if t.interpreter.startswith("cp")), key=str)
    if not cpython:
        add(Finding("module-build", "ok", "not a CPython wheel: module builds not read"))
        return
    if not compiled:
        return  # nvx-modules says what is missing
    tag = cpython[0]
    judged = [judge(read_module(m, zf.read(m)), tag.interpreter, tag.abi) for m in compiled]
    errors = [msg for sev, msg in judged if sev == "error"]
    unsure = [msg for sev, msg in judged if sev == "warning"]
    if errors:
        add(Finding("module-build", "error", "; ".join(errors)))
    if unsure:
        add(Finding("module-build", "warning", "; ".join(unsure)))
    if not errors and not unsure:
        add(Finding("module-build", "ok", f"{tag.interpreter}-{tag.abi}: "
                    + "; ".join(msg for _, msg in judged)))


def render(info: WheelInfo) -> str:
    marks = {"ok": "ok  ", "warning": "WARN", "error": "FAIL"}
    lines = [f"{Path(info.path).name}:"]
    lines += [f"  {marks[f.severity]} {f.check}: {f.message}" for f in info.findings]
    return "\n".join(lines)


def add_arguments(parser) -> None:
    parser.add_argument("wheels", nargs="+", metavar="WHEEL", help="wheel file(s) to inspect")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args) -> int:
    infos = [inspect_wheel(w) for w in args.wheels]
    if args.json:
        print(json.dumps([i.as_dict() for i in infos], indent=2))
    else:
        print("\n".join(render(i) for i in infos))
    return EXIT_FAIL if any(i.errors for i in infos) else EXIT_PASS
