"""Sanitizer modes: NVX under ThreadSanitizer (free-threaded) and AddressSanitizer.

TSan: a ThreadSanitizer-built free-threaded CPython (configure ``--with-thread-sanitizer
--disable-gil``; the project never builds one - see README), named by
``$NVX_FT_PYTHON_TSAN`` or found among the free-threaded interpreters
(``nvx_ft.interpreters``) by its ``CONFIG_ARGS``. NVX is built by *that* interpreter, so
it inherits ``-fsanitize=thread`` from its sysconfig, and every module under test is
checked for ``__tsan_*`` symbols first: an uninstrumented NVX (built by another
interpreter, or an uninstrumented wheel from a cache) shows no race at all, so this
mode refuses to report "no races" for it. The stress suite runs with our suppressions
(``tsan-suppressions.txt``: CPython and cffi internals only, never NVX), reports are
parsed, and races whose stacks touch NVX frames fail with their top frames.

ASan: NVX built with ``-fsanitize=address`` by a regular interpreter, run with gcc's
``libasan`` preloaded and ``PYTHONMALLOC=malloc`` (so small buffers are real heap blocks
with redzones): out-of-bounds reads/writes in SIMD heads and tails become reports.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from nvx_ft import build as build_mod
from nvx_ft import errors, settings, venvs
from nvx_ft.childenv import TSAN_QUIET, child_env

SUPPRESSIONS = Path(__file__).with_name("tsan-suppressions.txt")
ASAN_CFLAGS = ("-fsanitize=address", "-fno-omit-frame-pointer", "-g")
#: frames that are NVX's own code (function names of both C files, and module paths)
NVX_FRAME = re.compile(r"\b_?nvx_\w+|_nvx_(utf8validator|xormasker)\b")


class SanitizerUnavailable(errors.Blocked):
    """The sanitizer mode cannot run here (no libasan, an uninstrumented build): blocked."""


# ----------------------------------------------------------------------------- venvs


def suite_python(base: str, root: Path, autobahn: str | None = None) -> str:
    """A venv of ``base`` with this checkout of nvx-ft ([target,stress]) installed, under
    the cache; pip's wheel cache is never used (it could hand an uninstrumented build of
    autobahn to a sanitizer interpreter)."""
    ident = build_mod.identity(base)
    key = hashlib.sha256(f"{ident['base_executable']}|{ident['sys_version']}|{root}".encode())
    reqs = [f"-e{root}[target,stress]", "setuptools",
            *([f"autobahn=={autobahn}"] if autobahn else [])]
    try:
        return venvs.provisioned(base, settings.cache_root() / "venvs" / key.hexdigest()[:16],
                                 reqs, env=child_env(set=TSAN_QUIET), timeout=3600)
    except venvs.CommandFailed as exc:
        raise SanitizerUnavailable(f"could not install nvx-ft into a venv of {base}:\n"
                                   f"{exc}") from None


# ----------------------------------------------------------------------------- instrumentation


def instrumented(path: str | os.PathLike, sanitizer: str = "tsan") -> bool:
    """Does this shared object call the sanitizer runtime (``__tsan_*`` / ``__asan_*``)?"""
    marker = {"tsan": b"__tsan_func_entry", "asan": b"__asan_"}[sanitizer]
    nm = shutil.which("nm")
    if nm:
        out = subprocess.run([nm, "-D", "--undefined-only", str(path)], capture_output=True)
        if out.returncode == 0:
            return marker in out.stdout
    return marker in Path(path).read_bytes()


def require_instrumented(modules: dict[str, str], sanitizer: str) -> None:
    bad = [f"{m} ({p})" for m, p in modules.items() if not instrumented(p, sanitizer)]
    if bad:
        raise SanitizerUnavailable(
            f"refusing to report: {', '.join(bad)} carry no {sanitizer.upper()} "
            "instrumentation, so no report could ever appear (built by another interpreter "
            "or taken from a cache?)")


def libasan() -> str:
    for cc in ("gcc", "cc"):
        if shutil.which(cc):
            out = subprocess.run([cc, "-print-file-name=libasan.so"], capture_output=True,
                                 text=True)
            p = out.stdout.strip()
            if out.returncode == 0 and os.path.isabs(p) and os.path.exists(p):
                return os.path.realpath(p)
    raise SanitizerUnavailable("gcc's libasan.so not found (install gcc / libasan8)")


# ----------------------------------------------------------------------------- environments


def tsan_env(base: dict | None = None, log_dir: str | None = None) -> dict:
    """Reports go to files in ``log_dir`` (pytest's fd capture would swallow stderr)."""
    # halt at the first report: the test running then is the one named (pytest -v prints
    # it before it runs), and the rest of the suite's time is not spent
    opts = [f"suppressions={SUPPRESSIONS}", "halt_on_error=1", "exitcode=66",
            "second_deadlock_stack=1", "report_signal_unsafe=0"]
    if log_dir:
        opts.append(f"log_path={Path(log_dir) / 'tsan'}")
    # PYTHON_GIL=0: a re-enabled GIL would hide races; the gil suite checks that
    return child_env(base=base, set={"TSAN_OPTIONS": " ".join(opts), "PYTHON_GIL": "0"})


def asan_env(base: dict | None = None, log_dir: str | None = None) -> dict:
    preload = (base if base is not None else os.environ).get("LD_PRELOAD", "")
    opts = ["detect_leaks=0", "halt_on_error=1", "exitcode=67"]
    if log_dir:
        opts.append(f"log_path={Path(log_dir) / 'asan'}")
    # PYTHONMALLOC=malloc: real heap blocks with redzones, not pymalloc arenas
    return child_env(base=base, set={
        "LD_PRELOAD": " ".join(p for p in (libasan(), preload) if p),
        "PYTHONMALLOC": "malloc", "ASAN_OPTIONS": ":".join(opts)})


def env_for(sanitizer: str | None, base: dict | None = None, log_dir: str | None = None) -> dict:
    if sanitizer == "tsan":
        return tsan_env(base, log_dir)
    if sanitizer == "asan":
        return asan_env(base, log_dir)
    return child_env(base=base)


# ----------------------------------------------------------------------------- reports


@dataclass
class Report:
    kind: str  # e.g. "data race", "heap-buffer-overflow"
    text: str
    #: (header, frames) per stack of the report, e.g. ("Write of size 8 ... by thread T1", [...])
    stacks: list = field(default_factory=list)

    @property
    def frames(self) -> list[str]:
        return [f for _, frames in self.stacks for f in frames]

    @property
    def touches_nvx(self) -> bool:
        return any(NVX_FRAME.search(f.split(" ", 1)[0]) for f in self.frames)

    def top_frames(self, per_stack: int = 4, stacks: int = 2) -> list[str]:
        """Each stack's headline and innermost frames, as ``function file.c:line``."""
        out = []
        for header, frames in self.stacks[:stacks]:
            out.append(header)
            out += [f"  {_short(f)}" for f in frames[:per_stack]]
        return out


def _short(frame: str) -> str:
    """``nvx_xormask_process /long/path/_nvx_xormasker.c:768:33 (x.so+0x4194)`` ->
    ``nvx_xormask_process _nvx_xormasker.c:768:33``."""
    frame = re.sub(r"\s+\([^()]*\+0x[0-9a-f]+\)$", "", frame)
    func, _, where = frame.partition(" ")
    return f"{func} {where.rsplit('/', 1)[-1]}".strip()


_FRAME = re.compile(r"^\s*#\d+\s+(?:0x[0-9a-f]+\s+)?(?:in\s+)?(.*?)\s*(?:\(BuildId: \w+\))?$")


def _stacks(body: str) -> list[tuple[str, list[str]]]:
    """The stacks of a sanitizer report: blank-line separated sections with #N frames."""
    out = []
    for section in re.split(r"\n\s*\n", body):
        lines = section.strip("\n").splitlines()
        frames = [m.group(1) for ln in lines if (m := _FRAME.match(ln))]
        if frames:
            first = next(i for i, ln in enumerate(lines) if _FRAME.match(ln))
            header = lines[first - 1].strip() if first else ""  # e.g. "READ of size 16 at ..."
            out.append((header.rstrip(":"), frames))
    return out


def parse_tsan(text: str) -> list[Report]:
    reports = []
    for m in re.finditer(r"WARNING: ThreadSanitizer: (.*?) \(pid=\d+\)\n(.*?)\n={10,}",
                         text, re.S):
        reports.append(Report(m.group(1), m.group(0), _stacks(m.group(2))))
    return reports


def parse_asan(text: str) -> list[Report]:
    reports = []
    for m in re.finditer(r"ERROR: AddressSanitizer: (\S+)(.*?)(?:\n={10,}|\Z)", text, re.S):
        body = m.group(2).split("SUMMARY: AddressSanitizer")[0]
        reports.append(Report(m.group(1), m.group(0)[:6000], _stacks(body)))
    return reports


def summarize(reports: list[Report], most: int = 3) -> str:
    """Distinct reports (same kind and innermost frames count once), top frames each."""
    lines, seen = [], set()
    for r in reports:
        key = (r.kind, tuple(frames[0] for _, frames in r.stacks))
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > most:
            lines.append(f"... and more: {len(reports)} reports in all")
            break
        lines.append(f"{r.kind}{' touching NVX' if r.touches_nvx else ''}:")
        lines += [f"  {f}" for f in r.top_frames()]
    return "\n".join(lines)


def collect_logs(log_dir: str | os.PathLike) -> str:
    """The text of every sanitizer log file (``log_path=<dir>/<name>``) in ``log_dir``."""
    texts = []
    for f in sorted(Path(log_dir).glob("*")):
        if f.is_file():
            texts.append(f.read_text(errors="replace"))
    return "\n".join(texts)
