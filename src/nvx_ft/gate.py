"""``nvx-ft gate``: the release gate. A wheel, sdist or PyPI release in; a verdict out.

    nvx-ft gate [--wheel PATH | --sdist PATH | --pypi VERSION] [--python PATH|3.14t]

Default target: autobahn's latest release on PyPI; default interpreter: a discovered
free-threaded CPython 3.14 (``nvx_ft.interpreters``). Steps, in order:

1. **install**: a fresh venv of that interpreter (``uv`` when on PATH, else venv + pip,
   never a shared wheel cache, so a cached wheel of another build cannot stand in).
   An sdist or PyPI release is first turned into a wheel by that interpreter (``pip
   wheel``: PyPI's own wheel when one fits, else an sdist build), so every target is a
   wheel file. After installing it and nvx-ft's test dependencies, the venv imports
   ``_nvx_*`` and the file hashes are compared with the wheel's RECORD: what the tests
   import is the artefact under test.
2. **static**: ``nvx-ft inspect`` on that wheel.
3. **gil-guard**: ``nvx-ft gil-guard`` in the venv (NVX import keeps the GIL disabled).
4. **correctness**: this repo's ``tests/`` with the ``ci`` Hypothesis profile.
5. **stress**: this repo's ``stress/``, bounded by ``--stress-timeout``.
6. **benchmark-smoke**: this repo's ``benchmarks/`` once each, timing disabled.

Each suite runs contained (``nvx_ft.suites``): a crash or hang is a named failure with a
stack and the run goes on. A part that is not there (e.g. no ``gil-guard`` command yet)
is reported as **not-run**, never as passed; only a failed install stops the run early.

Reports in ``reports/gate/<UTC timestamp>/``: ``gate.json`` (schema ``nvx-ft.gate/1``,
below), ``gate.md`` (also appended to ``$GITHUB_STEP_SUMMARY``), ``gate.junit.xml``,
and each step's output in ``logs/``.

Exit codes: 0 every check passed; 1 a check failed (or crashed, or timed out);
2 blocked - no free-threaded interpreter (the message says how to get one), the package
index is unreachable, or a check could not run; 3 bad input (missing path, not a wheel,
corrupt archive, a wheel for another platform or interpreter - e.g. a cp314 wheel given
to a 3.14t gate -, a pure-Python wheel without NVX).

``gate.json`` (``nvx-ft.gate/1``, JSON Schema in ``schemas/gate-1.schema.json``): ``schema``, ``verdict`` (pass | fail | not-passed),
``exit_code``, ``started``/``finished`` (ISO 8601 UTC), ``duration_s``, ``target``
(``kind`` wheel|sdist|pypi, ``spec``, ``wheel``, ``wheel_sha256``, ``origin``),
``interpreter`` (``executable``, ``version``, ``free_threaded``, ``source``),
``installer``, ``nvx_ft`` (version, git commit), ``checks``: a list of {``name``,
``status`` (passed | failed | crashed | timeout | not-run), ``duration_s``, ``summary``,
``counts``, ``failures`` [{``nodeid``, ``message``}], ``details``, ``outputs``}.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
import traceback
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import packaging
from packaging.utils import (InvalidSdistFilename, parse_sdist_filename,
                             parse_wheel_filename)
from packaging.version import InvalidVersion, Version

from nvx_ft import interpreters, suites
from nvx_ft.paths import ROOT
from nvx_ft.release import fileset
from nvx_ft.release import inspect as wheel_inspect
from nvx_ft.errors import EXIT_BLOCKED, EXIT_FAIL, EXIT_PASS, Blocked, UsageError

SCHEMA = "nvx-ft.gate/1"
SCHEMA_FILE = Path(__file__).with_name("schemas") / "gate-1.schema.json"
PROJECT = "autobahn"
CHECKS = ("install", "static", "gil-guard", "correctness", "stress", "benchmark-smoke")
FAILING = ("failed", "crashed", "timeout")
# Child processes must see NVX as a user would: none of these may leak in from our shell.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHON_GIL", "AUTOBAHN_USE_NVX",
                 "PIP_FIND_LINKS", "VIRTUAL_ENV", "NVX_FT_TARGET")

# Runs in the gate venv: which files do `_nvx_*` import from, and what do they hash to?
_PROBE = r'''
import hashlib, importlib, importlib.metadata as md, json, sys, sysconfig
out = {"python": sys.version.split()[0], "executable": sys.executable,
       "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
       "modules": {}, "errors": []}
for name in ("_nvx_utf8validator", "_nvx_xormasker"):
    try:
        mod = importlib.import_module(name)
        data = open(mod.__file__, "rb").read()
        out["modules"][name] = {"file": mod.__file__, "sha256": hashlib.sha256(data).hexdigest()}
    except Exception as exc:
        out["errors"].append(f"import {name}: {type(exc).__name__}: {exc}")
try:
    dist = md.distribution("autobahn")
    out["autobahn"] = dist.version
    out["wheel_tags"] = [l.split(":", 1)[1].strip() for l in (dist.read_text("WHEEL") or "").splitlines()
                         if l.startswith("Tag:")]
    out["site"] = str(dist.locate_file(""))
except Exception as exc:
    out["errors"].append(f"autobahn metadata: {exc}")
print(json.dumps(out))
'''


_CLI = "import sys; from nvx_ft.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Check:
    name: str
    status: str = "not-run"
    duration_s: float = 0.0
    summary: str = ""
    counts: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    suite: suites.SuiteResult | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("suite")
        return d


# --------------------------------------------------------------------------- inputs


def resolve_python(spec: str | None) -> interpreters.Interpreter:
    """``--python``: a label (3.14t), a path, or nothing (discover a 3.14t)."""
    label = spec or "3.14t"
    if re.fullmatch(r"\d+\.\d+t?", label):
        try:
            found = interpreters.find(label)
        except LookupError as exc:
            raise UsageError(str(exc)) from None
        if found is None:
            raise Blocked(f"no free-threaded CPython {label} found; "
                          f"{interpreters.how_to_get(label)}" if label.endswith("t") else
                          f"no CPython {label} found; install it or name it with --python PATH")
        return found
    path = shutil.which(label) or label
    info = interpreters.probe(path)
    if not info or info.get("implementation") != "cpython":
        raise UsageError(f"--python {spec}: not a working CPython interpreter")
    minor = info["version"].rsplit(".", 1)[0]
    return interpreters.Interpreter(minor + ("t" if info["free_threaded"] else ""),
                                    info["executable"], info["version"],
                                    info["free_threaded"], "--python")


def interpreter_tags(python: str) -> list[str]:
    """The wheel tags ``python`` accepts, best first, computed by ``packaging`` in it."""
    pkg_parent = str(Path(packaging.__file__).resolve().parents[1])
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); from packaging import tags; "
            "print(json.dumps([str(t) for t in tags.sys_tags()]))")
    out = subprocess.run([python, "-S", "-c", code, pkg_parent], capture_output=True,
                         text=True, timeout=60)
    if out.returncode:
        raise Blocked(f"cannot ask {python} for its wheel tags: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def validate_wheel(path: str, interp: interpreters.Interpreter,
                   accepted: list[str] | None = None) -> wheel_inspect.WheelInfo:
    """Everything about a wheel that is bad input (exit 3) rather than a failed check."""
    info = wheel_inspect.inspect_wheel(path)
    name = Path(path).name
    if canon(info.name) != PROJECT:
        raise UsageError(f"{name}: a wheel of {info.name!r}, not of {PROJECT}")
    if info.pure:
        raise UsageError(f"{name}: pure-Python wheel ({info.tags[0]}): NVX missing, "
                         "nothing native to test; give a platform wheel")
    missing = [m for m, f in info.nvx_modules.items() if not f]
    if missing:
        raise UsageError(f"{name}: platform wheel without NVX ({', '.join(missing)} missing)")
    accepted = accepted if accepted is not None else interpreter_tags(interp.executable)
    if set(info.tags) & set(accepted):
        return info
    mine = accepted[0]  # e.g. cp314-cp314t-manylinux_2_41_x86_64
    _, tags = parse_wheel_filename(name)[2:]
    py, abi = f"cp{interp.label.rstrip('t').replace('.', '')}", mine.split("-")[1]
    wheel_abis = {t.abi for t in tags}
    if interp.free_threaded and py in wheel_abis:
        raise UsageError(f"{name}: a GIL ({py}) wheel given to a free-threaded gate "
                         f"({interp.executable}, {abi}); build or pick the {abi} wheel, or "
                         f"run the gate with --python 3.14 for GIL wheels")
    if not interp.free_threaded and py + "t" in wheel_abis:
        raise UsageError(f"{name}: a free-threaded ({py}t) wheel given to a GIL gate "
                         f"({interp.executable}); run the gate with --python 3.14t")
    plats = sorted({t.platform for t in tags})
    pairs = sorted({f"{t.interpreter}-{t.abi}" for t in tags})
    if not any(a.split("-", 2)[2] in plats for a in accepted):
        raise UsageError(f"{name}: a wheel for another platform ({', '.join(plats)}); "
                         f"{interp.executable} runs on {mine.split('-', 2)[2]}")
    raise UsageError(f"{name}: a wheel for another interpreter ({', '.join(pairs)}); "
                     f"{interp.executable} is {'-'.join(mine.split('-')[:2])}")


def validate_sdist(path: str) -> None:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{p}: no such file")
    if p.is_dir():
        raise UsageError(f"{p}: is a directory, not an sdist archive")
    try:
        proj, _ = parse_sdist_filename(p.name)
    except InvalidSdistFilename:
        raise UsageError(f"{p.name}: not an sdist file name (expected NAME-VERSION.tar.gz)") from None
    if canon(str(proj)) != PROJECT:
        raise UsageError(f"{p.name}: an sdist of {proj!r}, not of {PROJECT}")
    try:
        if p.name.endswith(".zip"):
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
        else:
            with tarfile.open(p) as tf:
                names = tf.getnames()
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UsageError(f"{p.name}: corrupt sdist ({' '.join(str(exc).split())})") from None
    if not any(n.count("/") == 1 and n.endswith("/PKG-INFO") for n in names):
        raise UsageError(f"{p.name}: corrupt sdist (no top-level PKG-INFO)")


def canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------- venv


class Venv:
    """A fresh venv of ``base``; installs with uv when on PATH, else pip, never cached."""

    def __init__(self, base: str, path: Path, log: Path, env: dict[str, str]):
        self.path, self.log, self.env = path, log, env
        self.uv = shutil.which("uv")
        self.installer = "uv" if self.uv else "pip"
        if self.uv:
            self._run([self.uv, "venv", "--python", base, "--no-project", str(path)])
        else:
            self._run([base, "-m", "venv", str(path)])
        bindir = path / ("Scripts" if os.name == "nt" else "bin")
        self.python = str(bindir / ("python.exe" if os.name == "nt" else "python"))

    def _run(self, cmd: list[str], timeout: float = 1800) -> str:
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(f"\n$ {' '.join(cmd)}\n")
            log.flush()
            try:
                out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=self.env, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise StepFailed(f"timed out after {timeout:.0f}s: {' '.join(cmd)}") from exc
            log.write(out.stdout)
        if out.returncode:
            tail = "\n".join(out.stdout.strip().splitlines()[-12:])
            raise StepFailed(f"`{' '.join(cmd[:4])} ...` exited {out.returncode}:\n{tail}")
        return out.stdout

    def pip(self, *args: str) -> str:
        if self.uv:
            return self._run([self.uv, "pip", args[0], "--python", self.python, "--no-cache",
                              *args[1:]])
        return self._run([self.python, "-m", "pip", args[0], "--no-cache-dir",
                          "--disable-pip-version-check", *args[1:]])

    def build_wheel(self, spec: str, outdir: Path) -> Path:
        """A wheel of ``spec`` (sdist path or ``autobahn==V``) for this venv's interpreter."""
        outdir.mkdir(parents=True, exist_ok=True)
        if self.uv and not spec.startswith(PROJECT + "=="):
            self._run([self.uv, "build", "--wheel", "--no-cache", "--python", self.python,
                       "-o", str(outdir), spec])
        else:
            self.pip("install", "pip>=24") if self.uv else None
            self._run([self.python, "-m", "pip", "wheel", "--no-cache-dir", "--no-deps",
                       "--disable-pip-version-check", "-w", str(outdir), spec])
        wheels = sorted(outdir.glob("*.whl"))
        if len(wheels) != 1:
            raise StepFailed(f"expected one wheel in {outdir}, found {len(wheels)}")
        return wheels[0]

    def python_run(self, code: str, *args: str, cwd: Path | None = None,
                   timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "-c", code, *args], capture_output=True,
                              text=True, env=self.env, cwd=cwd, timeout=timeout)


class StepFailed(Exception):
    """An install step failed: the check fails, the rest cannot run."""


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


# --------------------------------------------------------------------------- the run


class Display:
    """Progress on stderr while a step runs (a live line with elapsed time and test counts
    on a terminal, a line every 30 s otherwise); one line per finished step."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._last = 0.0
        self._tests = ""

    def start(self, i: int, n: int, name: str) -> None:
        self.prefix = f"[{i}/{n}] {name:<16}"
        self._t0, self._tests = time.monotonic(), ""
        self.write(f"{self.prefix} running", final=not self.tty)
        if self.tty:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self.write(f"{self.prefix} running  {self._tests}{time.monotonic() - self._t0:5.0f}s",
                       final=False)

    def progress(self, done: int, total: int, failed: int, elapsed: float) -> None:
        bad = f", {failed} failing" if failed else ""
        self._tests = f"{done}/{total or '?'} tests{bad}  "
        now = time.monotonic()
        if not self.tty and now - self._last >= 30:
            self._last = now
            self.write(f"{self.prefix} running  {self._tests}{elapsed:5.0f}s", final=True)

    def finish(self, check: Check) -> None:
        if self._ticker:
            self._stop.set()
            self._ticker.join()
            self._ticker = None
        self.write(f"{self.prefix} {check.status.upper():<8} {check.duration_s:6.1f}s  "
                   f"{check.summary}", final=True)

    def write(self, text: str, final: bool) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()


def run_gate(kind: str, spec: str, interp: interpreters.Interpreter, report_dir: Path, *,
             suite_timeout: float, stress_timeout: float, keep_venv: bool = False,
             display: Display | None = None,
             index_url: str = fileset.DEFAULT_INDEX, root: Path = ROOT,
             skip: tuple[str, ...] = (), test_timeout: float = 300) -> dict:
    display = display or Display()
    report_dir = Path(report_dir).resolve()  # the venv and every child use it from other cwds
    started = dt.datetime.now(dt.timezone.utc)
    logs = report_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env.update({"NVX_FT_GATE": "1", "NVX_FT_HYPOTHESIS_PROFILE": "ci",
                "PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1", "PIP_NO_INPUT": "1"})
    if index_url != fileset.DEFAULT_INDEX:
        env.setdefault("PIP_INDEX_URL", index_url)
    checks = [Check(name) for name in CHECKS]
    by = {c.name: c for c in checks}
    target = {"kind": kind, "spec": spec, "wheel": None, "wheel_sha256": None, "origin": None}
    state: dict = {"venv": None}

    def step(check: Check, fn: Callable[[Check], None]) -> None:
        i = CHECKS.index(check.name) + 1
        display.start(i, len(CHECKS), check.name)
        if check.name in skip:
            check.summary = "not run: skipped with --skip (the verdict cannot be a pass)"
            display.finish(check)
            return
        t0 = time.monotonic()
        try:
            fn(check)
        except StepFailed as exc:
            check.status, check.summary = "failed", str(exc).splitlines()[0]
            check.details.append(str(exc))
        except Exception as exc:  # a bug in a step must not lose the report
            check.status = "failed"
            check.summary = f"internal error: {type(exc).__name__}: {exc}"
            check.details.append(traceback.format_exc())
        check.duration_s = round(time.monotonic() - t0, 1)
        display.finish(check)

    # 1. install + verify --------------------------------------------------------------
    def verify(venv: Venv, wheel: Path) -> tuple[dict, list[str]]:
        zf, _, dist_info = wheel_inspect.open_wheel(wheel)
        with zf:
            record = wheel_inspect.record_hashes(zf, dist_info)
        tags = wheel_inspect.inspect_wheel(wheel).wheel_file_tags
        out = venv.python_run(_PROBE, cwd=report_dir)
        if out.returncode:
            raise StepFailed(f"probe failed in the venv: {out.stderr.strip()[-500:]}")
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        problems = verify_installed(probe, record, tags)
        if problems:
            raise StepFailed("the venv does not import the artefact under test: "
                             + "; ".join(problems))
        return probe, tags

    def install(check: Check) -> None:
        log = logs / "install.txt"
        check.outputs.append(str(log))
        venv = Venv(interp.executable, report_dir / "venv", log, env)
        state["venv"] = venv
        if kind == "wheel":
            wheel = Path(spec).resolve()
            target["origin"] = "wheel file"
        else:
            build_spec = str(Path(spec).resolve()) if kind == "sdist" else f"{PROJECT}=={spec}"
            wheel = venv.build_wheel(build_spec, report_dir / "dist")
        target["wheel"] = str(wheel)
        target["wheel_sha256"] = wheel_inspect.sha256_file(wheel)
        if kind != "wheel":
            target["origin"] = f"built from the sdist by {interp.label}"
        if kind == "pypi":
            # A wheel PyPI serves must be byte-identical to the index's file.
            published = {f["filename"]: f.get("hashes", {}).get("sha256")
                         for f in fileset.index_files(PROJECT, index_url)}
            if wheel.name in published:
                if published[wheel.name] != target["wheel_sha256"]:
                    raise StepFailed(f"{wheel.name} differs from the file on the index "
                                     f"(sha256 {target['wheel_sha256'][:12]} != "
                                     f"{str(published[wheel.name])[:12]})")
                target["origin"] = "PyPI wheel, sha256 equal to the index's"
        venv.pip("install", str(wheel))
        verify(venv, wheel)  # fail fast, before the test dependencies are installed
        req = [r for r in _bench_requirements(root) if "pytest-benchmark" in r]
        # Editable, as nox installs it: the suites and nvx_ft come from the same checkout.
        venv.pip("install", "-e", f"{root}[stress]", *req)
        venv.pip("install", "--no-deps", "--force-reinstall", str(wheel))  # nothing replaced it
        probe, tags = verify(venv, wheel)
        target["installed"] = probe
        check.status = "passed"
        check.summary = (f"{PROJECT} {probe.get('autobahn')} ({target['origin']}, "
                         f"{', '.join(tags)}) via {venv.installer}; _nvx_* sha256 match RECORD")
        check.details += [f"{n}: {m['file']} sha256 {m['sha256']}"
                          for n, m in probe["modules"].items()]

    step(by["install"], install)
    venv = state["venv"]
    if by["install"].status != "passed":
        for c in checks[1:]:
            c.summary = "not run: the target could not be installed"
            display.start(CHECKS.index(c.name) + 1, len(CHECKS), c.name)
            display.finish(c)
        return _report(checks, target, interp, venv, started, report_dir, keep_venv)

    # 2. static --------------------------------------------------------------------------
    def static(check: Check) -> None:
        info = wheel_inspect.inspect_wheel(target["wheel"])
        errors = [f for f in info.findings if f.severity == "error"]
        warnings = [f for f in info.findings if f.severity == "warning"]
        check.status = "failed" if errors else "passed"
        check.counts = {"ok": len(info.findings) - len(errors) - len(warnings),
                        "warning": len(warnings), "error": len(errors)}
        check.failures = [{"nodeid": f"inspect::{f.check}", "message": f.message} for f in errors]
        check.details = [f"{f.severity}: {f.check}: {f.message}" for f in info.findings]
        check.summary = (f"{check.counts['ok']} ok, {len(warnings)} warning(s), "
                         f"{len(errors)} error(s)"
                         + (f": {errors[0].message}" if errors else
                            f" ({warnings[0].check})" if warnings else ""))

    step(by["static"], static)

    # 3. GIL guard -----------------------------------------------------------------------
    def gil_guard(check: Check) -> None:
        has = venv.python_run("from nvx_ft.cli import COMMANDS; print('gil-guard' in COMMANDS)")
        if has.stdout.strip() != "True":
            check.summary = "not run: this nvx-ft has no gil-guard command (nvx_ft.gil_guard missing)"
            return
        log = logs / "gil-guard.txt"
        check.outputs.append(str(log))
        try:
            out = subprocess.run([venv.python, "-c", _CLI, "gil-guard", "--json"],
                                 capture_output=True, text=True, env=env, cwd=report_dir,
                                 timeout=suite_timeout)
        except subprocess.TimeoutExpired:
            check.status, check.summary = "timeout", f"no answer within {suite_timeout:.0f}s"
            return
        log.write_text(out.stdout + out.stderr, encoding="utf-8")
        gil_guard_outcome(check, out.returncode, out.stdout, out.stderr)

    step(by["gil-guard"], gil_guard)

    # 4-6. suites ------------------------------------------------------------------------
    def suite(check: Check, path: Path, timeout: float, args: list[str]) -> None:
        junit = logs / f"{check.name}.junit.xml"
        res = suites.run_suite(venv.python, path, env=env, timeout=timeout,
                               test_timeout=min(test_timeout, timeout),
                               extra_args=args, junit=junit, cwd=root, name=check.name,
                               output_dir=logs, progress=display.progress)
        check.suite = res
        check.status, check.counts = res.status, res.counts
        check.failures = [{"nodeid": n, "message": m} for n, m in res.failures]
        check.outputs += res.output + [str(junit)]
        check.summary = (res.summary() if res.status != "not-run"
                         else f"not run: {res.reason}")
        if res.failures:
            n, m = res.failures[0]
            check.summary += f"; first: {n}: {suites.headline(m)}"
        elif res.reason and res.status != "not-run":
            check.summary += f"; {res.reason}"

    profile = ["--hypothesis-profile=ci", "-p", "no:randomly"]
    # the target's correctness, not nvx-ft's own self-tests (tests marked harness)
    step(by["correctness"], lambda c: suite(c, root / "tests", suite_timeout,
                                            [*profile, "-m", "not harness"]))
    step(by["stress"], lambda c: suite(c, root / "stress", stress_timeout, profile))

    def bench(check: Check) -> None:
        has = venv.python_run("import pytest_benchmark")
        if has.returncode:
            check.summary = "not run: pytest-benchmark is not installed in the venv"
            return
        suite(check, root / "benchmarks", suite_timeout, ["--benchmark-disable"])

    step(by["benchmark-smoke"], bench)
    return _report(checks, target, interp, venv, started, report_dir, keep_venv)


def gil_guard_outcome(check: Check, returncode: int, stdout: str, stderr: str) -> None:
    """Fill ``check`` from ``nvx-ft gil-guard --json``: 0 kept off, 1 enabled, 2 n/a."""
    text = (stdout + stderr).strip()
    check.details.append(text[-4000:])
    try:
        entries = json.loads(stdout)
    except ValueError:
        entries = []
    bad = [e for e in entries if isinstance(e, dict) and e.get("status") in
           ("gil-enabled", "import-error")]
    if returncode == EXIT_PASS:
        check.status = "passed"
        check.summary = f"importing NVX keeps the GIL disabled ({len(entries)} modules)"
    elif returncode == EXIT_FAIL:
        check.status = "failed"
        check.failures = [{"nodeid": f"gil-guard::{e.get('module')}",
                           "message": "; ".join(str(e[k]) for k in ("status", "culprit",
                                                                    "culprit_file", "warning",
                                                                    "detail") if e.get(k))}
                          for e in bad] or [{"nodeid": "gil-guard", "message": text[-2000:]}]
        first = bad[0] if bad else {}
        check.summary = (f"{first.get('status', 'failed')} on import of {first.get('module')}"
                         + (f": the GIL was enabled by {first['culprit']}"
                            if first.get("culprit") else "")) if bad else \
            "gil-guard failed: " + (text.splitlines()[-1] if text else "no output")
    elif returncode == EXIT_BLOCKED:
        check.summary = "not run: " + (text.splitlines()[-1] if text else "not applicable")
    elif returncode < 0 or returncode > 3:
        check.status = "crashed"
        check.summary = f"gil-guard died ({suites._describe_exit(returncode)})"
        check.failures = [{"nodeid": "gil-guard", "message": text[-2000:]}]
    else:
        check.status = "failed"
        check.summary = f"gil-guard exited {returncode}: " + (text.splitlines()[-1] if text else "")


def _bench_requirements(root: Path) -> list[str]:
    try:
        import tomllib
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
        return list(data["project"]["optional-dependencies"].get("bench", []))
    except (OSError, KeyError, ValueError):
        return ["pytest-benchmark"]


def verdict_of(checks: list[Check]) -> tuple[str, int]:
    if any(c.status in FAILING for c in checks):
        return "fail", EXIT_FAIL
    if any(c.status != "passed" for c in checks):
        return "not-passed", EXIT_BLOCKED
    return "pass", EXIT_PASS


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except OSError:
        return None


def _report(checks, target, interp, venv, started, report_dir: Path, keep_venv: bool) -> dict:
    try:
        nvx_ft_version = importlib.metadata.version("nvx-ft")
    except importlib.metadata.PackageNotFoundError:
        nvx_ft_version = None
    verdict, code = verdict_of(checks)
    finished = dt.datetime.now(dt.timezone.utc)
    data = {
        "schema": SCHEMA, "verdict": verdict, "exit_code": code,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "target": target,
        "interpreter": {**interp.as_dict(), "realpath": os.path.realpath(interp.executable)},
        "installer": venv.installer if venv else None,
        "host": {"platform": platform.platform(), "machine": platform.machine(),
                 "cpus": os.cpu_count()},
        "nvx_ft": {"version": nvx_ft_version, "commit": _git_commit()},
        "checks": [c.as_dict() for c in checks],
    }
    (report_dir / "gate.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md = render_markdown(data)
    (report_dir / "gate.md").write_text(md, encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as f:
            f.write(md + "\n")
    junit = []
    for c in checks:
        junit.append(suites.junit_testsuite(c.suite) if c.suite else
                     suites.junit_testsuite(_as_suite_result(c)))
    suites.write_junit(report_dir / "gate.junit.xml", junit)
    if venv and not keep_venv:
        shutil.rmtree(venv.path, ignore_errors=True)
    return data


def _as_suite_result(c: Check) -> suites.SuiteResult:
    """A one-test suite for a check that is not a pytest run (install, static, gil-guard)."""
    outcome = {"passed": "passed", "failed": "failed", "crashed": "crashed",
               "timeout": "timeout"}.get(c.status)
    tests = [suites.TestOutcome(c.name, outcome, c.duration_s,
                                "\n".join([c.summary] + c.details))] if outcome else []
    counts = {k: sum(1 for t in tests if t.outcome == k) for k in suites.OUTCOMES}
    return suites.SuiteResult(c.name, c.status, counts, c.duration_s,
                              [(f["nodeid"], f["message"]) for f in c.failures],
                              reason=c.summary, tests=tests)


def render_table(data: dict) -> str:
    rows = [("#", "check", "status", "time", "summary")]
    for i, c in enumerate(data["checks"], 1):
        t = f"{c['duration_s']:.1f}s" if c["duration_s"] else ""
        rows.append((str(i), c["name"], c["status"].upper(), t, c["summary"][:150]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = lambda r: "| " + " | ".join(x.ljust(w) for x, w in zip(r, widths)) + " |"  # noqa: E731
    out = [line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows[1:]]
    return "\n".join(out)


def _verdict_line(data: dict) -> str:
    counts: dict[str, int] = {}
    for c in data["checks"]:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    detail = ", ".join(f"{n} {s}" for s, n in counts.items())
    return f"VERDICT: {data['verdict'].upper()} ({detail}) -> exit {data['exit_code']}"


def render_markdown(data: dict) -> str:
    t, i = data["target"], data["interpreter"]
    lines = [f"# nvx-ft release gate: {data['verdict'].upper()}", "",
             f"- target: {t['kind']} `{t['spec']}` -> `{Path(t['wheel']).name if t['wheel'] else '-'}`"
             f" ({t.get('origin') or '-'}), sha256 `{(t.get('wheel_sha256') or '-')[:16]}`",
             f"- interpreter: `{i['executable']}` (`{i.get('realpath', '?')}`) CPython {i['version']} "
             f"{'free-threaded' if i['free_threaded'] else 'GIL'} ({i['source']})",
             f"- nvx-ft {data['nvx_ft']['version']} @ {(data['nvx_ft']['commit'] or '?')[:12]}, "
             f"{data['host']['platform']}, {data['duration_s']}s", "",
             render_table(data), "", f"**{_verdict_line(data)}**", ""]
    for c in data["checks"]:
        if c["failures"]:
            lines.append(f"## {c['name']}: {len(c['failures'])} failure(s)")
            for f in c["failures"][:20]:
                lines += ["", f"### `{f['nodeid']}`", "", "```", f["message"][:3000], "```"]
            lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--wheel", metavar="PATH", help="a built autobahn wheel")
    what.add_argument("--sdist", metavar="PATH", help="an autobahn sdist (.tar.gz)")
    what.add_argument("--pypi", metavar="VERSION",
                      help="a release on PyPI (default: the latest)")
    parser.add_argument("--python", metavar="PATH|LABEL",
                        help="interpreter to gate on (default: a discovered 3.14t)")
    parser.add_argument("--reports", metavar="DIR", default="reports/gate",
                        help="where the run's report folder goes (default: reports/gate)")
    parser.add_argument("--suite-timeout", type=float, default=900,
                        help="hard bound in seconds for correctness and benchmark smoke")
    parser.add_argument("--stress-timeout", type=float, default=600,
                        help="hard bound in seconds for the stress suite (default: 600)")
    parser.add_argument("--test-timeout", type=float, default=300,
                        help="hard bound in seconds for one test: a hang beyond it is a "
                             "named failure with every thread's stack, and the suite goes on")
    parser.add_argument("--index-url", default=fileset.DEFAULT_INDEX,
                        help="package index (PEP 691) for --pypi")
    parser.add_argument("--keep-venv", action="store_true", help="keep the gate's venv")
    parser.add_argument("--skip", action="append", default=[], choices=CHECKS[1:],
                        metavar="CHECK", help="leave a check out (reported as not run, so "
                        f"the verdict cannot pass); one of {', '.join(CHECKS[1:])}")
    parser.add_argument("--checkout", metavar="DIR", default=str(ROOT),
                        help="nvx-ft checkout whose tests/, stress/, benchmarks/ run "
                             "(default: the one this nvx-ft runs from)")


def run(args) -> int:
    # Bad input first (exit 3), then the interpreter (exit 2), then the network.
    if args.wheel:
        wheel_inspect.open_wheel(args.wheel)  # missing / not a wheel / corrupt
    elif args.sdist:
        validate_sdist(args.sdist)
    elif args.pypi:
        try:
            Version(args.pypi)
        except InvalidVersion:
            raise UsageError(f"--pypi {args.pypi}: not a version") from None
    root = Path(args.checkout).resolve()
    if not ((root / "pyproject.toml").is_file() and (root / "tests").is_dir()):
        raise UsageError(f"--checkout {root}: not an nvx-ft checkout (no pyproject.toml and "
                         "tests/); the gate runs the suites of a clone of nvx-ft")
    interp = resolve_python(args.python)
    if args.wheel:
        kind, spec = "wheel", args.wheel
        validate_wheel(args.wheel, interp)
    elif args.sdist:
        kind, spec = "sdist", args.sdist
    else:
        kind = "pypi"
        spec = args.pypi or fileset.latest_version(PROJECT, args.index_url)
        fileset.names_from_index(PROJECT, spec, args.index_url)  # exists on the index?
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report_dir = Path(args.reports) / stamp
    n = 1
    while report_dir.exists():
        n += 1
        report_dir = Path(args.reports) / f"{stamp}-{n}"
    report_dir.mkdir(parents=True)
    where = interp.executable + (f" -> {os.path.realpath(interp.executable)}"
                                 if os.path.realpath(interp.executable) != interp.executable else "")
    print(f"nvx-ft gate: {PROJECT} {kind} {spec} on {where} (CPython "
          f"{interp.version}, {'free-threaded' if interp.free_threaded else 'GIL'}, "
          f"{interp.source}); reports in {report_dir}", file=sys.stderr, flush=True)
    data = run_gate(kind, spec, interp, report_dir, suite_timeout=args.suite_timeout,
                    stress_timeout=args.stress_timeout, keep_venv=args.keep_venv,
                    index_url=args.index_url, root=root,
                    skip=tuple(args.skip), test_timeout=args.test_timeout)
    print(render_table(data))
    print(_verdict_line(data))
    print(f"reports: {report_dir / 'gate.json'}, {report_dir / 'gate.md'}, "
          f"{report_dir / 'gate.junit.xml'}")
    return data["exit_code"]
