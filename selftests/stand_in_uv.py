"""A stand-in ``uv`` for the self-tests: plays ``uv python install`` / ``uv python find``
so provisioning (``nvx_ft.interpreters.provision_with_uv``) is exercised without ever
downloading anything; every other uv command goes to a real uv when one is given.

    folder = write(tmp_path / "bin", "offline")   # folder/uv, calls logged in folder/uv.log
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

#: what the real uv 0.13 prints offline (seen here, shortened)
OFFLINE = """\
error: Failed to install cpython-3.14.10+freethreaded-linux-x86_64-gnu
  cause: Request failed after 1 retries in 1.6s
  cause: error sending request for url (https://github.com/astral-sh/python-build-standalone/...)
  cause: dns error
  cause: failed to lookup address information: Name or service not known
"""


def write(folder: Path, mode: str, provides: str = sys.executable,
          real_uv: str | None = None) -> Path:
    """``folder/uv``. ``ok``: ``python install`` succeeds and ``python find`` then prints
    ``provides``; ``offline``: install fails as the real uv does without network; ``hang``:
    install never returns. Other commands: ``real_uv``, else exit 2."""
    folder.mkdir(parents=True, exist_ok=True)
    uv = folder / "uv"
    uv.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import os, sys, time
        from pathlib import Path
        here = Path(__file__).parent
        args = sys.argv[1:]
        with open(here / "uv.log", "a") as log:
            log.write(" ".join(args) + "\\n")
        if args[:2] == ["python", "install"]:
            if {mode!r} == "offline":
                sys.stderr.write({OFFLINE!r})
                sys.exit(1)
            if {mode!r} == "hang":
                time.sleep(120)
            (here / "installed").write_text("yes")
            sys.exit(0)
        if args[:2] == ["python", "find"]:
            if (here / "installed").exists():
                print({provides!r})
                sys.exit(0)
            sys.stderr.write("error: No interpreter found for " + args[-1] + "\\n")
            sys.exit(2)
        if {real_uv!r}:
            os.execv({real_uv!r}, [{real_uv!r}, *args])
        sys.stderr.write("stand-in uv: not played: " + " ".join(args) + "\\n")
        sys.exit(2)
        """))
    uv.chmod(0o755)
    return folder


def calls(folder: Path) -> list[str]:
    log = folder / "uv.log"
    return log.read_text().splitlines() if log.exists() else []
