"""The mutant corpus: deliberate faults in NVX's C code, as data (``corpus.toml``).

A mutant is a patch (a list of :class:`nvx_ft.patches.Edit`) applied to autobahn's own
source by :func:`nvx_ft.build.build`, plus what it is, which suites are expected to kill
it and in which mode (default, tsan, asan) it is run. ``nox -s mutants`` /
``python -m nvx_ft.mutants.run`` builds each and writes the kill matrix. Users' corpora in
the same format run beside it or alone (``--corpus FILE``, :mod:`nvx_ft.mutants.corpora`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from nvx_ft.patches import Edit

MODES = ("default", "tsan", "asan")
CONTROL = "control"


@dataclass(frozen=True)
class Mutant:
    name: str
    category: str
    summary: str
    killers: tuple[str, ...]
    edits: tuple[Edit, ...]
    modes: tuple[str, ...] = ("default",)
    requires: str | None = None
    origin: str = "built-in"  # the corpus it comes from: "built-in" or a TOML file's path

    def applies(self, free_threaded: bool) -> bool:
        return self.requires != "free-threaded" or free_threaded


CONTROL_MUTANT = Mutant(CONTROL, "control", "autobahn's NVX source unchanged: must pass every "
                        "suite", (), (), MODES)


def _parse(data: dict, origin: str = "built-in") -> tuple[Mutant, ...]:
    out = []
    for m in data["mutant"]:
        unknown = set(m) - {"name", "category", "summary", "killers", "edit", "modes",
                            "requires"}
        if unknown:
            raise ValueError(f"mutant {m.get('name')}: unknown keys {sorted(unknown)}")
        modes = tuple(m.get("modes", ("default",)))
        if set(modes) - set(MODES):
            raise ValueError(f"mutant {m['name']}: unknown modes {modes}")
        try:
            out.append(Mutant(m["name"], m["category"], m["summary"], tuple(m["killers"]),
                              tuple(Edit(**e) for e in m["edit"]), modes, m.get("requires"),
                              origin))
        except KeyError as exc:
            raise ValueError(f"mutant {m.get('name')}: no {exc.args[0]!r}") from None
        except TypeError as exc:  # an [[mutant.edit]] with other keys than file/old/new/after
            raise ValueError(f"mutant {m.get('name')}: bad [[mutant.edit]]: {exc}") from None
    names = [m.name for m in out]
    if len(set(names)) != len(names) or CONTROL in names:
        raise ValueError(f"mutant names must be unique and not {CONTROL!r}: {names}")
    return tuple(out)


@lru_cache(maxsize=1)
def corpus() -> tuple[Mutant, ...]:
    text = resources.files(__package__).joinpath("corpus.toml").read_text()
    return _parse(tomllib.loads(text))


def get(name: str) -> Mutant:
    if name == CONTROL:
        return CONTROL_MUTANT
    for m in corpus():
        if m.name == name:
            return m
    raise KeyError(name)
