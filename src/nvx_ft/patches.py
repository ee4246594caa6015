"""Patches to NVX's source: exact snippet replacements, as data.

A patch is a list of :class:`Edit`; the mutant corpus (``mutants/corpus.toml``) is made of
them, and ``nvx-ft build --patch FILE`` reads one from a TOML file of ``[[edit]]`` tables
(``file``, ``old``, ``new``, optional ``after``).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from nvx_ft.sources import NVX_FILES, BuildError


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` in ``file`` (a name in src/autobahn/nvx) by ``new``.

    ``old`` must occur exactly once, or, with ``after``, ``after`` must occur exactly
    once and the first ``old`` behind it is replaced (for code repeated in several
    functions, ``after`` names the function).
    """

    file: str
    old: str
    new: str
    after: str = ""


def apply_edits(nvx_dir: Path, edits: list[Edit] | tuple[Edit, ...]) -> None:
    """Apply ``edits`` in place; each ``old`` must occur exactly once (a moved or already
    fixed upstream snippet must fail loudly, not build an unmutated "mutant")."""
    for e in edits:
        f = nvx_dir / e.file
        if e.file not in NVX_FILES or not f.is_file():
            raise BuildError(f"patch edits {e.file!r}, not one of {', '.join(NVX_FILES)}")
        text = f.read_text()
        start = 0
        if e.after:
            if text.count(e.after) != 1:
                raise BuildError(f"patch anchor occurs {text.count(e.after)} times in "
                                 f"{e.file}, expected once: {e.after!r}")
            start = text.index(e.after)
            at = text.find(e.old, start)
            n = 0 if at < 0 else 1
        else:
            n = text.count(e.old)
            at = text.find(e.old)
        if n != 1:
            raise BuildError(f"patch snippet occurs {n} times in {e.file}"
                             f"{' after ' + repr(e.after) if e.after else ''}, expected once:\n"
                             f"{e.old}")
        f.write_text(text[:at] + e.new + text[at + len(e.old):])


def patch_text(edits) -> str:
    return json.dumps([asdict(e) for e in edits], sort_keys=True)


def read_edits(path: Path) -> tuple[Edit, ...]:
    """The ``[[edit]]`` tables of a TOML file."""
    return tuple(Edit(**e) for e in tomllib.loads(Path(path).read_text()).get("edit", []))
