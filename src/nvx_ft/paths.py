"""Where nvx-ft's files are: the checkout, the build cache, the reports.

Ground floor: no nvx_ft imports.
"""

from __future__ import annotations

from pathlib import Path


def _checkout() -> Path:
    """The nvx-ft checkout this package runs from (nox and CI install it editable, so it
    is the clone itself); from a non-editable install, the current directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


#: The nvx-ft checkout: tests/, stress/, protocol/, benchmarks/, pyproject.toml.
ROOT = _checkout()

#: Each command's report folder lives below this one, relative to the working directory.
REPORTS = Path("reports")


def nvx_ft_version() -> str | None:
    """This nvx-ft's installed version (None when run from a bare checkout)."""
    import importlib.metadata
    try:
        return importlib.metadata.version("nvx-ft")
    except importlib.metadata.PackageNotFoundError:
        return None
