"""Users' mutant corpora: ``nvx-ft mutants --corpus FILE`` (repeatable), beside the
built-in corpus or alone (``--no-builtin``).

A corpus file has the built-in's format (``corpus.toml``: ``[[mutant]]`` with ``name``,
``category``, ``summary``, ``killers``, optional ``modes``/``requires``, and one or more
``[[mutant.edit]]`` with ``file``, ``old``, ``new``, optional ``after``) and the same rules:
every killer is a known suite that runs in one of the mutant's modes, names are unique
across every corpus of the run (and never ``control``), and every snippet occurs exactly
once in autobahn's source - checked on a copy before anything is built, so a missing or
ambiguous snippet is one clear error naming the mutant and the file (exit 3).
"""

from __future__ import annotations

import shutil
import tempfile
import tomllib
from pathlib import Path

from nvx_ft import mutants as corpus_mod
from nvx_ft.errors import UsageError
from nvx_ft.mutants.kill_suites import SUITES
from nvx_ft.patches import apply_edits
from nvx_ft.sources import NVX_FILES, BuildError


class CorpusError(UsageError):
    """A corpus file that cannot be run: one line naming the file (and the mutant), exit 3."""


def load(path: str | Path) -> tuple[corpus_mod.Mutant, ...]:
    """The mutants of one corpus file, checked like the built-in ones (but the snippets:
    :func:`check_snippets` needs autobahn's source)."""
    p = Path(path)
    if not p.is_file():
        raise CorpusError(f"corpus {p}: no such file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corpus {p}: not TOML: {exc}") from None
    if not isinstance(data.get("mutant"), list) or not data["mutant"]:
        raise CorpusError(f"corpus {p}: no [[mutant]] tables")
    try:
        found = corpus_mod._parse(data, origin=str(p))
    except (ValueError, TypeError, AttributeError) as exc:
        raise CorpusError(f"corpus {p}: {exc}") from None
    for m in found:
        _check_killers(m)
    return found


def _check_killers(m: corpus_mod.Mutant) -> None:
    where = f"corpus {m.origin}: mutant {m.name}"
    if not m.killers:
        raise CorpusError(f"{where}: killers is empty (name the suites expected to kill it: "
                          f"{', '.join(SUITES)})")
    unknown = [k for k in m.killers if k not in SUITES]
    if unknown:
        raise CorpusError(f"{where}: unknown killers {unknown} (suites: {', '.join(SUITES)})")
    idle = [k for k in m.killers if not set(SUITES[k].modes) & set(m.modes)]
    if idle:
        raise CorpusError(f"{where}: killers {idle} do not run in its modes {list(m.modes)}")
    if not m.edits:
        raise CorpusError(f"{where}: no [[mutant.edit]]")


def select(files: list[str] | tuple[str, ...] = (), builtin: bool = True
           ) -> tuple[corpus_mod.Mutant, ...]:
    """The mutants a run chooses from: the built-in corpus (unless ``builtin`` is false)
    then each file's, names unique across all of them."""
    if not builtin and not files:
        raise CorpusError("--no-builtin needs at least one --corpus FILE")
    chosen = list(corpus_mod.corpus()) if builtin else []
    for f in files:
        chosen += load(f)
    seen: dict[str, str] = {}
    for m in chosen:
        if m.name in seen:
            raise CorpusError(f"corpus {m.origin}: mutant {m.name}: the name is taken by "
                              f"{'the built-in corpus' if seen[m.name] == 'built-in' else seen[m.name]}")
        seen[m.name] = m.origin
    return tuple(chosen)


def check_snippets(mutants, nvx_source: Path) -> None:
    """Apply each user mutant's edits to a copy of NVX's source: a snippet (or ``after``
    anchor) that is missing or occurs more than once is a :class:`CorpusError` naming the
    mutant and its corpus file. Built-in mutants are checked by nvx-ft's self-tests."""
    users = [m for m in mutants if m.origin != "built-in"]
    if not users:
        return
    with tempfile.TemporaryDirectory() as tmp:
        for m in users:
            work = Path(tmp) / m.name
            work.mkdir()
            for f in NVX_FILES:
                if (Path(nvx_source) / f).is_file():
                    shutil.copy2(Path(nvx_source) / f, work / f)
            try:
                apply_edits(work, m.edits)
            except BuildError as exc:
                head, _, snippet = str(exc).partition("\n")
                raise CorpusError(f"corpus {m.origin}: mutant {m.name}: {head}"
                                  + (f" {snippet!r}" if snippet else "")) from None
