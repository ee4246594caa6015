"""Target lists as autobahn's release workflow writes them, turned into fileset cells.

autobahn's ``release.yml`` gives wamp-cicd's ``check-release-fileset`` action the files a
release must hold as targets ``{impl}{version}-{os}-{arch}[-{libc tag}]``:
``cpy314-linux-aarch64-manylinux_2_28``, ``cpy311-linux-x86_64-musllinux_1_2``,
``cpy313-win-amd64``, ``cpy312-macos-arm64``, ``pypy311-linux-aarch64-manylinux_2_17``,
``cpy314t-...`` (free-threaded), ``py3-none-any`` and the keyword ``source`` (or
``sdist``). The action's syntax (its README and action.yml): impl ``cp``/``cpy`` or
``pp``/``pypy``; os ``linux``/``macos``/``win``; arch ``x86_64``/``amd64`` and
``aarch64``/``arm64`` are synonyms; targets separated by newlines or commas. Here also
by blanks, and ``#`` starts a comment.

A target list becomes a :class:`~nvx_ft.release.manifest.Manifest` of one line in which
every target is one required cell, so ``fileset.check`` matches it as it matches the TOML
manifest: exactly on (python tag, ABI tag, platform). Unlike the action (which compares
the python tag only, so a ``cp314-cp314t`` wheel satisfied ``cpy314`` in autobahn 26.6.1
and no wheel can ever satisfy ``cpy314t``, whose python tag is ``cp314``), ``cpy314`` is
filled only by ABI ``cp314`` and ``cpy314t`` only by ABI ``cp314t``. A libc tag names the
platform tag exactly (``manylinux_2_28`` is ``manylinux_2_28_<arch>``; legacy aliases
such as ``manylinux2014`` are normalised); without one, any manylinux or musllinux tag of
the arch fills the cell. macOS targets accept ``universal2``. PyPy's ABI is
``pypy<version>_pp73``. A string that is not a target is bad input (the action only warns
and skips it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from nvx_ft.errors import UsageError
from nvx_ft.release.manifest import CellGroup, Interp, Line, Manifest, normalise_platform

SOURCE_KEYWORDS = ("source", "sdist")
PURE = "py3-none-any"
_TARGET = re.compile(r"(?P<impl>cpy|cp|pypy|pp)(?P<ver>\d{2,3})(?P<ft>t?)"
                     r"-(?P<os>linux|macos|win)-(?P<arch>[a-z0-9_]+?)"
                     r"(?:-(?P<libc>[a-z0-9_]+))?")
_LIBC = re.compile(r"(?:manylinux|musllinux)_\d+_\d+|manylinux(?:1|2010|2014)")
#: the action's arch synonyms, per os: spelled as the platform tags spell them
_ARCH = {"linux": {"amd64": "x86_64", "arm64": "aarch64"},
         "macos": {"amd64": "x86_64", "aarch64": "arm64"},
         "win": {"x86_64": "amd64", "aarch64": "arm64"}}


def split_targets(text: str) -> list[str]:
    """Target strings from a list: newline, comma or blank separated, ``#`` comments."""
    out = []
    for line in text.splitlines():
        out += [t for t in re.split(r"[\s,]+", line.split("#", 1)[0]) if t]
    return out


def _interp(m: re.Match) -> Interp:
    ver = m["ver"]
    if m["impl"] in ("cp", "cpy"):
        return Interp(f"cpy{ver}{m['ft']}", f"cp{ver}", f"cp{ver}{m['ft']}")
    if m["ft"]:
        raise UsageError(f"target {m[0]!r}: PyPy has no free-threaded build")
    return Interp(f"pypy{ver}", f"pp{ver}", f"pypy{ver}_pp73")


def _platform(m: re.Match) -> tuple[str, tuple[str, ...]]:
    """(platform name, platform-tag patterns) of a target."""
    os_, libc = m["os"], m["libc"]
    arch = _ARCH[os_].get(m["arch"], m["arch"])
    if os_ != "linux" and libc:
        raise UsageError(f"target {m[0]!r}: a libc tag ({libc}) only goes with linux")
    if os_ == "macos":
        return f"macos-{arch}", (f"macosx_*_{arch}", "macosx_*_universal2")
    if os_ == "win":
        return f"win-{arch}", (f"win_{arch}",)
    if not libc:
        return f"linux-{arch}", (f"manylinux_*_{arch}", f"musllinux_*_{arch}")
    if not _LIBC.fullmatch(libc):
        raise UsageError(f"target {m[0]!r}: {libc!r} is not a manylinux_X_Y or "
                         "musllinux_X_Y tag")
    tag = normalise_platform(f"{libc}_{arch}")
    return f"linux-{arch}-{tag[:-len(arch) - 1]}", (tag,)


def manifest_from_targets(targets: list[str], source: str = "targets") -> Manifest:
    """One line, every target a required cell named as the target (canonical spelling:
    ``cpy``/``pypy``, the platform tags' arch names)."""
    interps: dict[str, Interp] = {}
    platforms: dict[str, tuple[str, ...]] = {}
    cells: list[tuple[str, str]] = []
    sdist = "optional"
    for target in targets:
        if target in SOURCE_KEYWORDS:
            sdist = "required"
            continue
        if target == PURE:
            interp, (plat, patterns) = Interp("py3-none", "py3", "none"), ("any", ("any",))
        else:
            m = _TARGET.fullmatch(target)
            if m is None:
                raise UsageError(f"{source}: {target!r} is not a target "
                                 "({impl}{version}-{os}-{arch}[-{libc tag}], e.g. "
                                 "cpy314-linux-aarch64-manylinux_2_28, or source)")
            interp, (plat, patterns) = _interp(m), _platform(m)
        interps.setdefault(interp.id, interp)
        platforms.setdefault(plat, patterns)
        if (interp.id, plat) not in cells:  # a target listed twice is one cell
            cells.append((interp.id, plat))
    if not cells and sdist == "optional":
        raise UsageError(f"{source}: no targets")
    groups = tuple(CellGroup((i,), (p,), "always") for i, p in cells)
    line = Line("targets", "", groups, (), f"{len(cells)} wheel target(s)"
                + (" + source" if sdist == "required" else "") + f" from {source}")
    return Manifest("targets", tuple(interps.values()), platforms, (line,), sdist,
                    source, kind="targets")


def load_targets(spec: str) -> Manifest:
    """The manifest of a target list in file ``spec`` (``-``: standard input)."""
    if spec == "-":
        return manifest_from_targets(split_targets(sys.stdin.read()), "stdin")
    path = Path(spec)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    return manifest_from_targets(split_targets(path.read_text(encoding="utf-8")), str(path))
