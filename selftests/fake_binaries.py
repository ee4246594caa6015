"""Tiny extension-module binaries for the module-build self-tests, written byte by byte.

Each is the smallest file the real parsers (pyelftools, pefile, macholib) read as a
module of its format that needs the given symbols or DLLs from the interpreter - a few
hundred bytes, no code. ``module_for(tag, build)`` picks the format from the wheel
tag's platform and the evidence of a ``"free-threaded"``, ``"GIL"``, ``"limited API"``
or ``"none"`` build as CPython 3.14's headers produce it (see
``nvx_ft/release/binaries.py``).
"""

from __future__ import annotations

import struct

from packaging.tags import Tag

FT_SYMBOLS = ["PyModule_Create2", "_Py_DecRefShared", "_Py_MergeZeroLocalRefcount"]
GIL_SYMBOLS = ["PyModule_Create2", "_Py_Dealloc"]
LIMITED_SYMBOLS = ["PyModule_Create2", "_Py_DecRef"]
NO_REFCOUNT_SYMBOLS = ["malloc", "free"]


def elf_module(undefined: list[str]) -> bytes:
    """An ELF64 little-endian shared object whose .dynsym lists ``undefined``."""
    dynstr = b"\0" + b"".join(n.encode() + b"\0" for n in undefined)
    syms = b"\0" * 24  # the null symbol
    offset = 1
    for n in undefined:
        # st_name, st_info (STB_GLOBAL << 4 | STT_FUNC), st_other, st_shndx (SHN_UNDEF)
        syms += struct.pack("<IBBHQQ", offset, 0x12, 0, 0, 0, 0)
        offset += len(n) + 1
    shstr = b"\0.dynstr\0.dynsym\0.shstrtab\0"
    body_at = 64
    dynstr_at, dynsym_at = body_at, body_at + len(dynstr)
    shstr_at = dynsym_at + len(syms)
    sh_at = (shstr_at + len(shstr) + 7) & ~7
    header = struct.pack("<4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0,
                         3, 0x3E, 1, 0, 0, sh_at, 0, 64, 0, 0, 64, 4, 3)
    sections = b"\0" * 64
    # name, type, flags, addr, offset, size, link, info, addralign, entsize
    sections += struct.pack("<IIQQQQIIQQ", 1, 3, 2, 0, dynstr_at, len(dynstr), 0, 0, 1, 0)
    sections += struct.pack("<IIQQQQIIQQ", 9, 11, 2, 0, dynsym_at, len(syms), 1, 1, 8, 24)
    sections += struct.pack("<IIQQQQIIQQ", 17, 3, 0, 0, shstr_at, len(shstr), 0, 0, 1, 0)
    body = dynstr + syms + shstr
    return header + body + b"\0" * (sh_at - body_at - len(body)) + sections


def macho_module(undefined: list[str], cputype: int = 0x0100000C) -> bytes:
    """A 64-bit Mach-O bundle (arm64 by default) whose symbol table needs
    ``undefined`` (C names; the Mach-O names get their leading ``_``)."""
    strtab = b" \0" + b"".join(b"_" + n.encode() + b"\0" for n in undefined)
    nlists, offset = b"", 2
    for n in undefined:
        nlists += struct.pack("<IBBHQ", offset, 0x01, 0, 0, 0)  # N_UNDF | N_EXT
        offset += len(n) + 2
    symoff = 32 + 24
    stroff = symoff + len(nlists)
    header = struct.pack("<IiiIIIII", 0xFEEDFACF, cputype, 0, 8, 1, 24, 0, 0)  # MH_BUNDLE
    symtab = struct.pack("<IIIIII", 2, 24, symoff, len(undefined), stroff, len(strtab))
    return header + symtab + nlists + strtab


def pe_module(imports: dict[str, list[str]], machine: int = 0x8664) -> bytes:
    """A PE32+ DLL whose import table imports ``{dll: [function, ...]}``."""
    rva0, raw0 = 0x1000, 0x200
    dlls = list(imports)
    desc_size = 20 * (len(dlls) + 1)
    # layout inside the one section: descriptors | per DLL: ILT, IAT | names, hint/names
    cursor = desc_size
    thunks = {}
    for dll in dlls:
        size = 8 * (len(imports[dll]) + 1)
        thunks[dll] = (cursor, cursor + size)
        cursor += 2 * size
    strings, names_at, hints_at = b"", {}, {}
    for dll in dlls:
        names_at[dll] = cursor + len(strings)
        strings += dll.encode() + b"\0"
        for fn in imports[dll]:
            if len(strings) % 2:
                strings += b"\0"
            hints_at[dll, fn] = cursor + len(strings)
            strings += b"\0\0" + fn.encode() + b"\0"
    data = bytearray(cursor + len(strings))
    for i, dll in enumerate(dlls):
        ilt, iat = thunks[dll]
        struct.pack_into("<IIIII", data, 20 * i, rva0 + ilt, 0, 0, rva0 + names_at[dll],
                         rva0 + iat)
        for j, fn in enumerate(imports[dll]):
            struct.pack_into("<Q", data, ilt + 8 * j, rva0 + hints_at[dll, fn])
            struct.pack_into("<Q", data, iat + 8 * j, rva0 + hints_at[dll, fn])
    data[cursor:] = strings
    raw_size = (len(data) + 0x1FF) & ~0x1FF
    data += b"\0" * (raw_size - len(data))

    dos = bytearray(64)
    dos[:2] = b"MZ"
    struct.pack_into("<I", dos, 60, 64)
    coff = struct.pack("<4sHHIIIHH", b"PE\0\0", machine, 1, 0, 0, 0, 240, 0x2022)
    opt = struct.pack("<HBBIIIIIQIIHHHHHHIIIIHHQQQQII", 0x20B, 14, 0, raw_size, 0, 0, 0,
                      rva0, 0x180000000, 0x1000, 0x200, 6, 0, 0, 0, 6, 0, 0,
                      rva0 + ((raw_size + 0xFFF) & ~0xFFF), 0x200, 0, 2, 0x160,
                      0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    dirs = bytearray(16 * 8)
    struct.pack_into("<II", dirs, 8, rva0, desc_size)  # IMAGE_DIRECTORY_ENTRY_IMPORT
    section = struct.pack("<8sIIIIIIHHI", b".idata", len(data), rva0, raw_size, raw0,
                          0, 0, 0, 0, 0xC0000040)
    headers = bytes(dos) + coff + opt + bytes(dirs) + section
    return headers + b"\0" * (raw0 - len(headers)) + bytes(data)


def _symbols(build: str) -> list[str]:
    return {"free-threaded": FT_SYMBOLS, "GIL": GIL_SYMBOLS, "limited API": LIMITED_SYMBOLS,
            "none": NO_REFCOUNT_SYMBOLS}[build]


def module_for(tag: Tag, build: str | None = None, dll: str | None = None) -> bytes:
    """A module binary for ``tag``'s platform; ``build`` defaults to the tag's own
    (free-threaded for an ABI ending in ``t``); ``dll`` overrides a PE's Python DLL."""
    free_threaded = tag.abi.startswith("cp") and tag.abi.endswith("t")
    build = build or ("free-threaded" if free_threaded else "GIL")
    plat = tag.platform
    if plat.startswith("win"):
        if dll is None:
            digits = tag.interpreter[2:] if tag.interpreter.startswith("cp") else "3"
            dll = {"free-threaded": f"python{digits}t.dll", "GIL": f"python{digits}.dll",
                   "limited API": "python3.dll", "none": None}[build]
        machine = 0xAA64 if plat.endswith("arm64") else 0x8664
        imports = {"KERNEL32.dll": ["GetLastError"]}
        if dll:
            imports[dll] = _symbols(build if build != "none" else "GIL")
        return pe_module(imports, machine)
    if plat.startswith("macosx"):
        return macho_module(_symbols(build),
                            0x01000007 if plat.endswith("x86_64") else 0x0100000C)
    return elf_module(_symbols(build))
