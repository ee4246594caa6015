"""Find Python interpreters the way users get them: an env var, PATH, uv, pyenv.

A label is "3.14" (GIL build) or "3.14t" (free-threaded build). Every candidate is
*run* and asked what it is, because a name on PATH proves nothing (pyenv shims
answer "command not found", a python3.14 may be free-threaded, and so on).

The one home of: ``--python`` resolution (:func:`resolve`), the interpreter probe
(:func:`probe`), how to get a missing interpreter (:func:`how_to_get`,
:data:`HOW_TO_GET_TSAN`), and getting it: a missing free-threaded 3.14 is provisioned
with ``uv python install 3.14t`` (:func:`find_or_provision`, :func:`provision_with_uv`;
off with ``$NVX_FT_PROVISION=off`` or the gate's ``--no-provision``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nvx_ft import settings
from nvx_ft.childenv import child_env
from nvx_ft.errors import Blocked, UsageError

#: Every interpreter the project knows how to test, oldest first.
LABELS = ("3.11", "3.12", "3.13", "3.14", "3.14t", "3.15", "3.15t")
_LABEL = re.compile(r"(\d+\.\d+)(t?)")

HOW_TO_GET = (
    "get {what} with `uv python install {label}`, "
    "actions/setup-python with python-version '{label}', or name the binary in "
    "${env} (e.g. {env}=/opt/python/bin/python{label})"
)

#: labels uv is asked to install when none is found: what the gate and the free-threaded
#: nox sessions need (the others are only looked for)
PROVISIONED = ("3.14t",)
#: ``off``, or the bound in seconds for ``uv python install`` (a download of about 35 MB;
#: offline it fails in about 2 s with one HTTP retry, but DNS or a proxy can hang)
PROVISION_ENV = settings.PROVISION
PROVISION_TIMEOUT = settings.PROVISION_TIMEOUT

#: names a ThreadSanitizer free-threaded CPython (nvx-ft never builds one)
TSAN_ENV = settings.python_variable("tsan")
HOW_TO_GET_TSAN = (
    "build CPython 3.14 yourself with `./configure --with-thread-sanitizer --disable-gil` "
    "(clang; see README 'ThreadSanitizer interpreter') or use a prebuilt TSan image, then "
    f"set ${TSAN_ENV}=/path/to/python3.14t"
)

# Runs in the interpreter asked about. Third-party packages are looked up, not imported
# (importing setuptools costs more than the rest). With a folder holding ``packaging`` as
# argument, the wheel tags are computed by that copy, not by whatever old one the
# interpreter may have (it might not know the free-threaded ABI tags).
_PROBE = r"""
import importlib.util, json, sys, sysconfig
from importlib import metadata
v = sysconfig.get_config_var

def version_of(name):
    if importlib.util.find_spec(name) is None:
        return None
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None

def wheel_tags(packaging_parent):
    for name in [m for m in sys.modules if m.split(".")[0] == "packaging"]:
        del sys.modules[name]
    sys.path.insert(0, packaging_parent)
    try:
        from packaging import tags
        return [str(t) for t in tags.sys_tags()]
    except Exception:
        return None
    finally:
        sys.path.remove(packaging_parent)

print(json.dumps({
    "implementation": sys.implementation.name,
    "executable": sys.executable,
    "base_executable": getattr(sys, "_base_executable", sys.executable),
    "version": "%d.%d.%d" % sys.version_info[:3],
    "sys_version": sys.version,
    "free_threaded": bool(v("Py_GIL_DISABLED")),
    "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
    "tsan": "--with-thread-sanitizer" in (v("CONFIG_ARGS") or ""),
    "ext_suffix": v("EXT_SUFFIX"),
    "cc": v("CC"), "cflags": v("CFLAGS"), "ldshared": v("LDSHARED"),
    "config_args": v("CONFIG_ARGS"),
    "cffi": version_of("cffi"), "setuptools": version_of("setuptools"),
    "wheel_tags": wheel_tags(sys.argv[1]) if len(sys.argv) > 1 else None,
}))
"""


@dataclass(frozen=True)
class Interpreter:
    label: str
    executable: str
    version: str
    free_threaded: bool
    source: str  # where it was found: env, PATH, uv, pyenv, --python, current
    #: the wheel tags it accepts, best first, from the probe that found it (None: unknown)
    wheel_tags: tuple[str, ...] | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "wheel_tags"}


def env_var_for(label: str) -> str:
    """``3.14t`` -> ``NVX_FT_PYTHON_3_14T``: the variable that names the binary."""
    return settings.python_variable(label)


def parse_label(label: str) -> tuple[str, bool]:
    m = _LABEL.fullmatch(label)
    if not m:
        raise ValueError(f"not an interpreter label: {label!r} (expected e.g. 3.14 or 3.14t)")
    return m.group(1), bool(m.group(2))


def _kind(label: str) -> str:
    """``3.14t`` -> "free-threaded CPython 3.14t", ``3.14`` -> "CPython 3.14"."""
    return f"{'free-threaded ' if parse_label(label)[1] else ''}CPython {label}"


def how_to_get(label: str) -> str:
    """The one "how to get it" message for a missing interpreter of ``label``."""
    what = "a free-threaded CPython" if parse_label(label)[1] else f"CPython {label}"
    return HOW_TO_GET.format(what=what, label=label, env=env_var_for(label))


def _packaging_parent() -> str | None:
    """The folder holding our ``packaging`` (found, not imported: noxfile imports this
    module before anything is installed)."""
    spec = importlib.util.find_spec("packaging")
    return str(Path(spec.origin).resolve().parents[1]) if spec and spec.origin else None


def probe(executable: str, timeout: float = 20.0) -> dict | None:
    """Run ``executable`` and return what it says it is, or None if it does not run.

    Keys: ``implementation``, ``executable``, ``base_executable``, ``version`` (x.y.z),
    ``sys_version`` (all of ``sys.version``), ``free_threaded``, ``gil_enabled``, ``tsan``
    (configured ``--with-thread-sanitizer``), the sysconfig of extension builds
    (``ext_suffix``, ``cc``, ``cflags``, ``ldshared``, ``config_args``), the versions of
    ``cffi`` and ``setuptools`` it can import (or None), and ``wheel_tags`` (the wheel tags
    it accepts, best first, or None).
    """
    packaging_parent = _packaging_parent()
    try:
        out = subprocess.run(
            [executable, "-c", _PROBE, *([packaging_parent] if packaging_parent else [])],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def _matches(info: dict | None, label: str) -> bool:
    if not info or info.get("implementation") != "cpython":
        return False
    minor, ft = parse_label(label)
    return info["version"].rsplit(".", 1)[0] == minor and info["free_threaded"] == ft


def _candidates(label: str):
    minor, ft = parse_label(label)
    env = settings.from_environment().python(label)
    if env:
        yield env, "env"
    names = [f"python{label}"] + ([] if ft else [f"python{minor}"])
    for name in names:  # every match on PATH: a venv's python3.14 may be the 3.14t one
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            path = shutil.which(name, path=folder) if folder else None
            if path:
                yield path, "PATH"
    uv = shutil.which("uv")
    if uv:
        try:
            out = subprocess.run(
                [uv, "python", "find", "--no-project", label],
                capture_output=True, text=True, timeout=30,
                env=child_env(set={"UV_PYTHON_DOWNLOADS": "never"}),
            )
            if out.returncode == 0 and out.stdout.strip():
                yield out.stdout.strip(), "uv"
        except (OSError, subprocess.TimeoutExpired):
            pass
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for bindir in sorted(pyenv_root.glob(f"versions/{minor}*/bin"), reverse=True):
        for name in names:
            if (bindir / name).exists():
                yield str(bindir / name), "pyenv"


def _interpreter(info: dict, source: str) -> Interpreter:
    """The :class:`Interpreter` a :func:`probe` answer describes, its wheel tags kept: no
    second probe needed for them."""
    minor = info["version"].rsplit(".", 1)[0]
    tags = info.get("wheel_tags")
    return Interpreter(minor + ("t" if info["free_threaded"] else ""), info["executable"],
                       info["version"], info["free_threaded"], source,
                       tuple(tags) if tags else None)


def find(label: str) -> Interpreter | None:
    """The first working interpreter for ``label``, or None.

    An env var that names a binary which is not that interpreter is an error, not a
    silent fallback: the user asked for it explicitly.
    """
    for path, source in _candidates(label):
        info = probe(path)
        if _matches(info, label):
            return _interpreter(info, source)
        if source == "env":
            raise LookupError(
                f"${env_var_for(label)}={path} is not a working CPython {label} "
                f"(it reported {info!r})"
            )
    return None


def find_all(labels=LABELS) -> dict[str, Interpreter | None]:
    return {label: find(label) for label in labels}


def current() -> Interpreter:
    import sysconfig

    ft = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    minor = "%d.%d" % sys.version_info[:2]
    try:  # here, not at the top: noxfile imports this module before packaging is there
        from packaging import tags
        accepted = tuple(str(t) for t in tags.sys_tags())
    except ImportError:
        accepted = None
    return Interpreter(minor + ("t" if ft else ""), sys.executable,
                       "%d.%d.%d" % sys.version_info[:3], ft, "current", accepted)


def provisioning_enabled() -> bool:
    """Off when ``$NVX_FT_PROVISION`` is ``off`` (or 0/no/false)."""
    return settings.from_environment().provision


def _one_line(text: str, most: int = 1200) -> str:
    """uv's multi-line error ("error: ... / cause: ...") as one line."""
    line = " <- ".join(x.strip() for x in text.strip().splitlines() if x.strip())
    return line if len(line) <= most else line[:most] + " ..."


def provision_with_uv(label: str, *, log=None) -> Interpreter:
    """``uv python install <label>`` (bounded by ``$NVX_FT_PROVISION`` seconds, default
    :data:`PROVISION_TIMEOUT`), then ``uv python find <label>``: the interpreter uv
    provides. :class:`Blocked` with uv's own error and the manual ways when it cannot
    (no uv, offline, a timeout); the failure is remembered for child processes (nox
    inside nox, the gate inside ``nox -s gate``: ``$NVX_FT_CHILD``), which report it
    instead of trying again."""
    kind = _kind(label)
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    resolved = settings.from_environment()
    earlier = resolved.child.provision_failed.get(label)
    if earlier:
        raise Blocked(f"no {kind} found and uv could not provide one (tried earlier in this "
                      f"run: {earlier}); {how_to_get(label)}")

    def failed(reason: str) -> Blocked:
        settings.remember_for_children(provision_failed={label: reason})
        return Blocked(f"no {kind} found and uv could not provide one ({reason}); "
                       f"{how_to_get(label)}")

    uv = shutil.which("uv")
    if not uv:
        raise failed("uv is not on PATH: https://docs.astral.sh/uv/ or `pip install uv`")
    timeout = resolved.provision_timeout
    log(f"nvx-ft: no {kind} found; provisioning it: uv python install {label} (at most "
        f"{timeout:.0f}s; ${PROVISION_ENV}=off or the gate's --no-provision turn this off)")
    # one HTTP retry, not uv's three: offline, the attempt then fails in about 2 s, not 11
    env = child_env(base={"UV_HTTP_RETRIES": "1", **os.environ},
                    set={"UV_PYTHON_DOWNLOADS": "automatic"})
    command = [uv, "python", "install", label]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                             env=env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        said = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        raise failed(f"`uv python install {label}` did not finish within {timeout:.0f}s "
                     f"(network? ${PROVISION_ENV}=SECONDS sets the bound)"
                     + (f": {_one_line(said)}" if said and said.strip() else "")) from None
    except OSError as exc:
        raise failed(f"cannot run {uv}: {exc}") from None
    if out.returncode != 0:
        raise failed(f"`uv python install {label}` failed: "
                     f"{_one_line(out.stderr or out.stdout) or f'exit {out.returncode}'}")
    try:
        found = subprocess.run([uv, "python", "find", "--no-project", label],
                               capture_output=True, text=True, timeout=60,
                               env=child_env(base=env, set={"UV_PYTHON_DOWNLOADS": "never"}))
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise failed(f"`uv python find {label}` after the install: {exc}") from None
    path = found.stdout.strip().splitlines()[-1] if found.stdout.strip() else ""
    info = probe(path) if path else None
    if found.returncode != 0 or not _matches(info, label):
        raise failed(f"`uv python find {label}` after the install gave "
                     f"{path or _one_line(found.stderr) or 'nothing'}, not a working {kind}")
    interp = _interpreter(info, "uv install")
    log(f"nvx-ft: provisioned {kind}: {interp.executable} (CPython {interp.version})")
    return interp


def find_or_provision(label: str, *, provision: bool | None = None) -> Interpreter:
    """:func:`find`, else - for a label of :data:`PROVISIONED`, provisioning being on
    (``provision``, default :func:`provisioning_enabled`) - :func:`provision_with_uv`;
    else :class:`Blocked` with how to get it."""
    found = find(label)
    if found is not None:
        return found
    if label in PROVISIONED:
        if provision is None:
            provision = provisioning_enabled()
        if provision:
            return provision_with_uv(label)
        raise Blocked(f"no {_kind(label)} found (provisioning with uv is off: "
                      f"--no-provision or ${PROVISION_ENV}=off); {how_to_get(label)}")
    raise Blocked(f"no {_kind(label)} found; {how_to_get(label)}")


def resolve(spec: str | None, *, default: str | None = None,
            provision: bool | None = None) -> Interpreter:
    """``--python``: a label (``3.14t``: found, else provisioned with uv - see
    :func:`find_or_provision` -, else :class:`Blocked` with how to get it), a path or a
    command on PATH (it must be a working CPython, else :class:`UsageError`), or nothing
    (the ``default`` label, else this interpreter)."""
    spec = spec or default
    if spec is None:
        return current()
    if _LABEL.fullmatch(spec):
        try:
            return find_or_provision(spec, provision=provision)
        except LookupError as exc:  # its env var names something else
            raise UsageError(str(exc)) from None
    info = probe(shutil.which(spec) or spec)
    if not info or info.get("implementation") != "cpython":
        raise UsageError(f"--python {spec}: not a working CPython interpreter")
    return _interpreter(info, "--python")


def is_tsan(info: dict | None) -> bool:
    """Does a :func:`probe` answer describe a ThreadSanitizer free-threaded CPython?"""
    return bool(info and info["tsan"] and info["free_threaded"])


def find_tsan() -> str:
    """``$NVX_FT_PYTHON_TSAN``, else a found free-threaded interpreter built with TSan;
    :class:`Blocked` with how to get one when there is none."""
    env = settings.from_environment().python("tsan")
    if env:
        if not is_tsan(probe(env, timeout=60)):
            raise Blocked(f"${TSAN_ENV}={env} is not a free-threaded CPython "
                          "configured --with-thread-sanitizer")
        return env
    for label in LABELS:
        if label.endswith("t"):
            interp = find(label)
            if interp and is_tsan(probe(interp.executable, timeout=60)):
                return interp.executable
    raise Blocked(f"no ThreadSanitizer free-threaded CPython found: {HOW_TO_GET_TSAN}")


if __name__ == "__main__":  # pragma: no cover - manual check
    for lab, interp in find_all().items():
        print(f"{lab:6} {interp.executable + ' (' + interp.source + ')' if interp else 'NOT FOUND'}")
