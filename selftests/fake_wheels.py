"""Build small autobahn-like wheels for the inspect/gate self-tests (no compiler needed).

``make_wheel(dir, tag)`` writes ``autobahn-26.10.2-<tag>.whl`` with the two NVX modules
named with ``tag``'s extension suffix - tiny binaries of the tag's platform format
(``fake_binaries.py``) compiled, by their symbols or DLL imports, for the tag's build -
a METADATA requiring ``cffi>=2.0.0`` and a correct RECORD; keyword arguments break one
thing at a time (``build="GIL"`` in a cp314t wheel, ``module_bytes=...``).
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from packaging.tags import parse_tag

from fake_binaries import module_for
from nvx_ft.release.inspect import NVX_MODULES, expected_suffixes

VERSION = "26.10.2"


def make_wheel(directory: Path, tag: str = "cp314-cp314t-manylinux_2_28_x86_64", *,
               wheel_tags: list[str] | None = None, suffix: str | None = None,
               nvx: tuple[str, ...] = NVX_MODULES, requires: tuple[str, ...] = ("cffi>=2.0.0",),
               classifiers: tuple[str, ...] = (), extra_files: dict[str, bytes] | None = None,
               project: str = "autobahn", build: str | None = None,
               module_bytes: bytes | None = None) -> Path:
    tags = sorted(str(t) for t in parse_tag(tag))
    pure = all(t.endswith("-any") for t in tags)
    if suffix is None and not pure:
        suffix = sorted(expected_suffixes(next(iter(parse_tag(tag)))))[0]
    files: dict[str, bytes] = {f"{project}/__init__.py": b"__version__ = '26.10.2'\n"}
    if not pure:
        binary = (module_bytes if module_bytes is not None
                  else module_for(next(iter(parse_tag(tag))), build))
        for mod in nvx:
            files[f"{mod}{suffix}"] = binary
    files.update(extra_files or {})
    dist_info = f"{project}-{VERSION}.dist-info"
    wheel_txt = ("Wheel-Version: 1.0\nGenerator: nvx-ft-tests\nRoot-Is-Purelib: "
                 f"{'true' if pure else 'false'}\n"
                 + "".join(f"Tag: {t}\n" for t in (wheel_tags if wheel_tags is not None else tags)))
    meta = (f"Metadata-Version: 2.4\nName: {project}\nVersion: {VERSION}\n"
            + "".join(f"Classifier: {c}\n" for c in classifiers)
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
            + "\nA description mentioning cffi<2 that must not be read as metadata.\n")
    files[f"{dist_info}/WHEEL"] = wheel_txt.encode()
    files[f"{dist_info}/METADATA"] = meta.encode()
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = Path(directory) / f"{project}-{VERSION}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path
