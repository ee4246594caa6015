"""What an extension module was compiled for, read from its binary without loading it.

A wheel can be right by every name (tag, suffix) and still hold modules compiled for
the other build: autobahn 26.6.1 shipped a free-threaded module under a GIL name; the
reverse - a GIL module renamed ``.cpython-314t-...`` - would crash or refuse to load on
3.14t. The evidence, from CPython 3.14's headers (``Include/refcount.h``,
``Include/object.h``, ``PCbuild/python.props``; tag v3.14.7):

* PE (Windows, ``pefile``): the import table names the interpreter DLL. A free-threaded
  build is ``python314t.dll`` (``python3t.dll`` its stable ABI); a GIL build is
  ``python314.dll``, or ``python3.dll`` for the limited API, which a free-threaded 3.14
  cannot use (``Python.h``: "The limited API is not currently supported in the
  free-threaded build"). Debug builds add ``_d``.
* ELF (Linux, ``pyelftools``: the dynamic symbols the loader must resolve) and Mach-O
  (macOS, ``macholib``: the undefined external symbols, less the leading ``_``): the
  inline ``Py_DECREF`` of a free-threaded build calls ``_Py_DecRefShared`` and
  ``_Py_MergeZeroLocalRefcount`` (``_Py_DecRefSharedDebug`` in debug builds), declared
  only when ``Py_GIL_DISABLED`` is set; ``_Py_ThreadId``'s portable fallback calls
  ``_Py_GetThreadLocal_Addr``, also free-threaded only. A GIL build's ``Py_DECREF``
  calls ``_Py_Dealloc``. The limited API (3.12+) calls ``_Py_DecRef``/``_Py_IncRef``
  instead of either.

A module whose symbols say neither (no reference counting through these paths, e.g. a
C library with no Python objects) is **no evidence**: reported as such, never as a
pass or a fail. Free-threaded markers decide over ``_Py_Dealloc`` (a free-threaded
module may still name ``_Py_Dealloc`` itself; a GIL build cannot name the markers).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

FREE_THREADED_SYMBOLS = ("_Py_DecRefShared", "_Py_DecRefSharedDebug",
                         "_Py_MergeZeroLocalRefcount", "_Py_GetThreadLocal_Addr")
GIL_SYMBOLS = ("_Py_Dealloc",)
LIMITED_API_SYMBOLS = ("_Py_DecRef", "_Py_IncRef")
_PYTHON_DLL = re.compile(r"python(3)(\d*)(t?)(?:_d)?\.dll", re.IGNORECASE)

#: builds a module can be compiled for
FREE_THREADED, GIL, LIMITED_API, NO_EVIDENCE, UNREADABLE = (
    "free-threaded", "GIL", "limited API", "no evidence", "unreadable")


@dataclass
class ModuleBuild:
    module: str       # member name in the wheel
    format: str       # ELF | PE | Mach-O | "" (not a binary we know)
    build: str        # one of the five above
    evidence: str     # what the binary says, in words
    dlls: tuple[str, ...] = ()  # PE: the Python DLLs imported (e.g. python3.dll)


def binary_format(data: bytes) -> str:
    if data[:4] == b"\x7fELF":
        return "ELF"
    if data[:2] == b"MZ":
        return "PE"
    if data[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf",
                    b"\xfe\xed\xfa\xce", b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
        return "Mach-O"
    return ""


def read_module(member: str, data: bytes) -> ModuleBuild:
    """The build ``data`` (an extension module's bytes) was compiled for."""
    fmt = binary_format(data)
    if not fmt:
        return ModuleBuild(member, "", UNREADABLE,
                           f"not an ELF, PE or Mach-O file (starts with {data[:8]!r})")
    try:
        if fmt == "PE":
            return _from_pe(member, data)
        names = _elf_undefined(data) if fmt == "ELF" else _macho_undefined(data)
    except Exception as exc:  # a parser's own error on a damaged file: no evidence read
        return ModuleBuild(member, fmt, UNREADABLE,
                           f"{fmt} parser failed: {type(exc).__name__}: {exc}")
    build, evidence = _from_symbols(names)
    return ModuleBuild(member, fmt, build, evidence)


def _from_symbols(names: set[str]) -> tuple[str, str]:
    ft = [s for s in FREE_THREADED_SYMBOLS if s in names]
    gil = [s for s in GIL_SYMBOLS if s in names]
    limited = [s for s in LIMITED_API_SYMBOLS if s in names]
    if ft:
        return FREE_THREADED, "references " + ", ".join(ft)
    if gil:
        return GIL, (f"references {', '.join(gil)} and none of "
                     "_Py_DecRefShared, _Py_MergeZeroLocalRefcount")
    if limited:
        return LIMITED_API, ("references only the stable ABI's " + ", ".join(limited))
    return NO_EVIDENCE, (f"{len(names)} undefined symbol(s), none of "
                         + ", ".join(FREE_THREADED_SYMBOLS + GIL_SYMBOLS + LIMITED_API_SYMBOLS))


def _elf_undefined(data: bytes) -> set[str]:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    elf = ELFFile(io.BytesIO(data))
    table = elf.get_section_by_name(".dynsym") or elf.get_section_by_name(".symtab")
    if not isinstance(table, SymbolTableSection):
        return set()
    return {s.name for s in table.iter_symbols()
            if s.name and s["st_shndx"] == "SHN_UNDEF"}


def _macho_undefined(data: bytes) -> set[str]:
    """Undefined external symbols of every architecture slice, C names (no leading _)."""
    from macholib.MachO import MachO
    from macholib.SymbolTable import SymbolTable

    macho = MachO.__new__(MachO)  # macholib reads files by name; this one is in memory
    macho.filename = macho.graphident = "<module>"
    macho.loader_path, macho.fat, macho.headers = "", None, []
    macho.allow_unknown_load_commands = True
    macho.load(io.BytesIO(data))
    names = set()
    for header in macho.headers:
        table = SymbolTable(macho, header, openfile=lambda *_: io.BytesIO(data))
        for entry, name in getattr(table, "nlists", []):
            # N_EXT set, N_TYPE == N_UNDF: a symbol the module needs from elsewhere
            if name and entry.n_type & 0x01 and entry.n_type & 0x0E == 0:
                text = name.decode("utf-8", "replace")
                names.add(text[1:] if text.startswith("_") else text)
    return names


def _from_pe(member: str, data: bytes) -> ModuleBuild:
    import pefile

    pe = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories(directories=[
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
        pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"]])
    entries = (getattr(pe, "DIRECTORY_ENTRY_IMPORT", [])
               + getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", []))
    dlls = tuple(sorted({e.dll.decode("ascii", "replace") for e in entries
                         if _PYTHON_DLL.fullmatch(e.dll.decode("ascii", "replace"))},
                        key=str.lower))
    if not dlls:
        return ModuleBuild(member, "PE", NO_EVIDENCE,
                           f"imports no python DLL ({len(entries)} DLL(s) imported)")
    kinds = {FREE_THREADED if _PYTHON_DLL.fullmatch(d)[3] else
             LIMITED_API if not _PYTHON_DLL.fullmatch(d)[2] else GIL for d in dlls}
    build = FREE_THREADED if FREE_THREADED in kinds else GIL if GIL in kinds else LIMITED_API
    if len(kinds) > 1:
        build = "mixed"
    return ModuleBuild(member, "PE", build, "imports " + ", ".join(dlls), dlls)


def expected_dlls(python: str, abi: str) -> set[str]:
    """Python DLL names (lower case) a module of this tag may import; empty: not CPython."""
    m = re.fullmatch(r"cp3(\d+)", python)
    if m is None:
        return set()
    minor = m.group(1)
    if abi == f"cp3{minor}t":
        return {f"python3{minor}t.dll"} | ({"python3t.dll"} if int(minor) >= 15 else set())
    if abi == f"cp3{minor}":
        return {f"python3{minor}.dll", "python3.dll"}
    if abi == "abi3":
        return {"python3.dll"}
    if abi == "abi3t":
        return {"python3t.dll"}
    return set()


def judge(mod: ModuleBuild, python: str, abi: str) -> tuple[str, str]:
    """(severity, message) of one module in a wheel tagged ``python``-``abi``:
    ``error`` when its binary says another build, ``warning`` when it says nothing."""
    free_threaded = abi.endswith("t")
    want = FREE_THREADED if free_threaded else GIL
    where = f"{mod.module} ({mod.format or 'unknown format'})"
    if mod.build in (NO_EVIDENCE, UNREADABLE):
        return "warning", f"{where}: {mod.build} - {mod.evidence}"
    if mod.format == "PE":
        allowed = expected_dlls(python, abi)
        wrong = [d for d in mod.dlls if d.lower() not in allowed]
        if wrong:
            need = " or ".join(sorted(allowed)) or "no python DLL"
            return "error", (f"{where} imports {', '.join(wrong)} but a {python}-{abi} "
                             f"module must import {need}: compiled for the "
                             f"{_build_of_dlls(wrong)} build")
        return "ok", f"{where}: {mod.build} ({mod.evidence})"
    if mod.build == LIMITED_API:
        if free_threaded:
            return "error", (f"{where}: compiled for the limited API ({mod.evidence}), which "
                             f"a free-threaded 3.14 does not support: a GIL build")
        return "ok", f"{where}: {mod.build} ({mod.evidence})"
    if mod.build != want:
        return "error", (f"{where}: compiled for the {mod.build} build, not the {want} "
                         f"build a {python}-{abi} wheel needs: {mod.evidence}")
    return "ok", f"{where}: {mod.build} ({mod.evidence})"


def _build_of_dlls(dlls: list[str]) -> str:
    kinds = sorted({"free-threaded" if _PYTHON_DLL.fullmatch(d)[3] else
                    "GIL (limited API)" if not _PYTHON_DLL.fullmatch(d)[2] else "GIL"
                    for d in dlls})
    return " and ".join(kinds)
