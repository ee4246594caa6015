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
        fname = Path(mod["file"]).name
        expected = next((h for p, h in wheel_record.items() if p == fname), None)
        if expected is None:
            problems.append(f"{name} imported from {mod['file']}, which is not a file of the wheel")
        elif expected != mod["sha256"]:
            problems.append(f"{name} imported from {mod['file']} differs from the wheel's "
                            f"(sha256 {mod['sha256'][:12]} != RECORD {expected[:12]})")
        elif probe.get("site") and not Path(mod["file"]).resolve().is_relative_to(
                Path(probe["site"]).resolve()):
            problems.append(f"{name} imported from {mod['file']}, outside the venv's "
                            f"site-packages {probe['site']}")
    if sorted(probe.get("wheel_tags") or []) != sorted(wheel_tags):
        problems.append(f"installed autobahn says tags {probe.get('wheel_tags')}, the wheel "
                        f"{wheel_tags}: another build got installed")
    return problems
