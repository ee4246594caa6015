"""The wheel under test, read once (findings, RECORD, sha256) and shared by every step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nvx_ft.release import inspect


@dataclass(frozen=True)
class GateWheel:
    path: Path
    info: inspect.WheelInfo
    record: dict[str, str]  # file in the wheel -> sha256 hex, from its RECORD
    sha256: str  # of the wheel file

    @classmethod
    def read(cls, path: str | Path) -> GateWheel:
        """Bad input (missing, not a wheel, corrupt) raises ``BadWheel``: exit 3."""
        info, record, sha256 = inspect.read_wheel(path)
        return cls(Path(path).resolve(), info, record, sha256)

    @property
    def tags(self) -> list[str]:
        """The tags its ``*.dist-info/WHEEL`` declares."""
        return self.info.wheel_file_tags


def verify_installed(probe: dict, wheel_record: dict[str, str], wheel_tags: list[str]) -> list[str]:
    """Problems found comparing what the venv imports with the wheel (empty = verified)."""
    problems = list(probe.get("errors", []))
    for name, mod in probe.get("modules", {}).items():
        problem = module_problem(name, mod["file"], mod["sha256"], wheel_record, probe.get("site"))
        if problem:
            problems.append(problem)
    if sorted(probe.get("wheel_tags") or []) != sorted(wheel_tags):
        problems.append(f"installed autobahn says tags {probe.get('wheel_tags')}, the wheel "
                        f"{wheel_tags}: another build got installed")
    return problems


def module_problem(name: str, file: str, sha256: str, wheel_record: dict[str, str],
                   site: str | None) -> str | None:
    """Why the module ``name`` loaded from ``file`` is not the wheel's own (None: it is):
    a file the wheel does not have, other bytes than its RECORD says, or outside the
    venv's ``site`` (the same build lying elsewhere on ``sys.path``)."""
    expected = wheel_record.get(Path(file).name)
    if expected is None:
        return f"{name} imported from {file}, which is not a file of the wheel"
    if expected != sha256:
        return (f"{name} imported from {file} differs from the wheel's "
                f"(sha256 {sha256[:12]} != RECORD {expected[:12]})")
    if site and not Path(file).resolve().is_relative_to(Path(site).resolve()):
        return f"{name} imported from {file}, outside the venv's site-packages {site}"
    return None
