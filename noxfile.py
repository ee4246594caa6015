"""nox sessions, one per interpreter: ``nox -s tests`` runs every interpreter found.

Nothing is looked for while nox loads this file: each per-interpreter session (``tests-3.14t``,
``stress-3.14t``, ...) first runs ``interpreter(<label>)`` (nox's ``requires``), which finds
the interpreter with ``nvx_ft.interpreters`` (``$NVX_FT_PYTHON_3_14T``, PATH, ``uv python
find``, pyenv) and links it into a folder put first on PATH, so nox's venv for
``tests-3.14t`` uses exactly the binary the rest of nvx-ft reports. A missing free-threaded
3.14 is first provisioned with ``uv python install 3.14t`` (bounded; off with
``$NVX_FT_PROVISION=off``; the gate provisions for itself, ``-- --no-provision``). An
interpreter still missing is skipped with a loud reason and how to get it; it is an error
when a session of it is named on the command line (``nox -s tests-3.14t``) or its label is
listed in ``$NVX_FT_REQUIRE_PYTHONS`` (comma-separated labels, what the nightly workflow
sets).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "src"))
from nvx_ft.interpreters import LABELS  # noqa: E402  (a stdlib-only module; nothing runs)

nox.options.download_python = "never"  # offline machines; installs are the user's call
nox.options.sessions = ["tests", "harness"]
nox.options.default_venv_backend = "uv|virtualenv"  # uv when installed: much faster installs
# A missing interpreter is decided by its interpreter(<label>) session (skip, or error when
# named or required); CI=true alone (nox's own default) must not fail on an absent 3.15t.
nox.options.error_on_missing_interpreters = False
nox.needs_version = ">=2025.5.1"

#: what every per-interpreter session runs first: its interpreter found (or provisioned)
FIND_INTERPRETER = ["interpreter({python})"]
#: the GIL build that runs stress/ and protocol/ in ``nox -s tests`` (the free-threaded ones
#: all do): the baseline of the same version as 3.14t
GIL_BASELINE = "3.14"
#: self-tests whose verdict depends on the interpreter's build (free-threaded or not)
PER_INTERPRETER_SELFTESTS = "selftests/per_interpreter"


def _named_on_command_line(session: nox.Session, label: str) -> bool:
    """Is a session of ``label`` named with ``-s`` (``nox -s tests-3.14t``), as nox parsed it?

    nox has no public accessor for its parsed ``--sessions``; ``nox -s tests`` and the
    default run name only the group, ``-p 3.14t`` and ``-k`` no session at all."""
    config = getattr(getattr(session, "_runner", None), "global_config", None)
    return any(name.endswith(f"-{label}") for name in getattr(config, "sessions", None) or ())


@nox.session(venv_backend="none", default=False)
@nox.parametrize("label", LABELS, ids=LABELS)
def interpreter(session: nox.Session, label: str) -> None:
    """Find this label's interpreter (a missing free-threaded 3.14: uv installs it) for the sessions
    that run on it; they require this one. Missing: skipped loudly, an error when named."""
    from nvx_ft import interpreters
    from nvx_ft.errors import Blocked

    try:
        found = interpreters.find_or_provision(label)
    except LookupError as exc:  # $NVX_FT_PYTHON_<label> names something else
        session.error(str(exc))
    except Blocked as exc:  # uv's own error, or provisioning off, and how to get it
        from nvx_ft import settings

        required = set(settings.from_environment().require_pythons)
        why = f"python{label} NOT FOUND - its sessions will NOT RUN ({exc})"
        if label in required or _named_on_command_line(session, label):
            session.error(why)
        found = None
    # Resolved before the link is touched: the interpreter found on PATH can be this very
    # link (a second run, or nox inside a nox session), and a link to itself is a loop.
    target = os.path.realpath(found.executable) if found else None
    shim = ROOT / ".nox" / "_interpreters"
    shim.mkdir(parents=True, exist_ok=True)
    link = shim / f"python{label}"
    if link.is_symlink() or link.exists():  # a stale link must not stand in for a missing one
        link.unlink()
    if os.environ.get("PATH", "").split(os.pathsep)[0] != str(shim):
        os.environ["PATH"] = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"  # nox's lookup
    if found is None:
        session.skip(why)
    link.symlink_to(target)
    session.log(f"python{label}: {target} ({found.source}, CPython {found.version})")


def install_target(session: nox.Session) -> None:
    """nvx-ft plus autobahn from PyPI (a wheel, or an sdist build where none exists).

    ``bench`` too: selftests/test_benchmarks_smoke.py runs every benchmark once and draws the
    plot, so the benchmark code cannot rot (matplotlib has cp314t wheels); ``protocol``:
    the independent WebSocket peer (websockets) and Twisted.
    """
    session.install("-e", ".[target,stress,protocol,dev,bench]")


@nox.session(python=list(LABELS), requires=FIND_INTERPRETER)
def tests(session: nox.Session) -> None:
    """NVX on one interpreter: correctness (tests/) on every one; free-threading (stress/)
    and autobahn's WebSocket protocol over NVX (protocol/) on free-threaded interpreters
    and on one GIL build, :data:`GIL_BASELINE`.

    NVX's correctness as each interpreter's own build is tests/'s job. stress/ and
    protocol/ test the same C source and pure-Python protocol code on every GIL version,
    so one GIL run shows them with the GIL (the nightly runs stress-<label> and
    protocol-<label> on every platform's 3.14 and 3.14t; ``nox -s stress-3.12`` by hand).
    On free-threaded interpreters also the self-tests whose verdict depends on the build
    (selftests/per_interpreter/: the hammer, the GIL guard's verdicts, stress/ catching
    shared state with and without parallelism); ``nox -s harness`` runs them once on a GIL
    build, so both kinds of build are covered without repeating minutes of subprocess
    stress runs on every GIL interpreter (the nightly runs them on 3.14 and 3.14t).
    """
    install_target(session)
    session.run("nvx-ft", "info")
    default = ["tests"]
    free_threaded = session.python.endswith("t")
    if free_threaded or session.python == GIL_BASELINE:
        default += ["stress", "protocol"]
    if free_threaded:
        default.append(PER_INTERPRETER_SELFTESTS)
    session.run("pytest", *(session.posargs or default))


@nox.session
def harness(session: nox.Session) -> None:
    """Self-tests of nvx-ft itself, selftests/ (gate, fileset, inspect, suites, build,
    mutants, sanitizers, bench, CLI, interpreter discovery, workflows, protocol faults,
    the differential suite's ability to fail, and selftests/per_interpreter/ on nox's own
    interpreter), once: they drive other interpreters themselves where they need them."""
    install_target(session)
    # Stress without parallelism (pinned, loaded) is shown on free-threaded builds, where
    # it matters, by nox -s tests-3.14t; on GIL builds the nightly runs it (stress-X).
    session.run("pytest", "selftests", *(session.posargs or [
        f"--deselect={PER_INTERPRETER_SELFTESTS}/test_stress_without_parallelism.py"]))


@nox.session(reuse_venv=True, requires=["interpreter(3.14t)"])  # 3.14t provisioned when missing
def bench(session: nox.Session) -> None:
    """NVX throughput and scaling, and autobahn's echo server end to end: 3.14, 3.14t, 3.14t+GIL.

    Quick by default (about 4 3/4 minutes on 2 cores); ``nox -s bench -- --full`` for nightly.
    Each build runs in its own venv (.nox/bench-venvs/<label>, made once); the report goes
    to reports/bench/<UTC timestamp>/ (summary.md, scaling.png, echo.png, raw JSON). Method:
    benchmarks/README.md.
    """
    session.install("-e", ".[bench]")
    session.run("python", "-m", "nvx_ft.bench", *session.posargs)


@nox.session(python=list(LABELS), requires=FIND_INTERPRETER)
def stress(session: nox.Session) -> None:
    """Free-threading suite (stress/): thread hammer, shared-object contract, GIL guard.

    ``nox -s stress-3.14t -- --nvx-intensity=nightly`` scales threads, iterations and
    payloads up. On free-threaded interpreters the import GIL guard runs first.
    """
    install_target(session)
    session.run("nvx-ft", "info")
    if session.python.endswith("t"):
        session.run("nvx-ft", "gil-guard")
    session.run("pytest", "stress", *session.posargs)


@nox.session(python=list(LABELS), requires=FIND_INTERPRETER)
def protocol(session: nox.Session) -> None:
    """Protocol suite (protocol/): autobahn's WebSocket protocol over NVX, many threads.

    autobahn asyncio servers and clients in threads, the websockets peer in its own
    process, bad raw-socket peers, Twisted, the protocol import graphs' GIL guard.
    ``nox -s protocol-3.14t -- --nvx-intensity=nightly`` for more.
    """
    session.install("-e", ".[target,stress,protocol]")
    session.run("nvx-ft", "info")
    session.run("pytest", "protocol", *session.posargs)


@nox.session(python=list(LABELS), requires=FIND_INTERPRETER)
def parallel(session: nox.Session) -> None:
    """tests/ under pytest-run-parallel: every test in 4 threads at once, then in 'auto'.

    The floor (``nvx_ft.parallel_floor``): each run fails unless 2+ threads ran and every
    test ran in them, except those marked ``thread_unsafe(reason=...)``; the "nvx-ft
    parallel floor" section counts them."""
    install_target(session)
    for threads in ("4", "auto"):
        session.run("pytest", "tests", "-p", "nvx_ft.parallel_floor",
                    f"--parallel-threads={threads}", *session.posargs)


@nox.session(venv_backend="none")
def gate(session: nox.Session) -> None:
    """The release gate (README's main job): ``nvx-ft gate`` with its exit code.

    Default: autobahn's latest release on PyPI on a discovered python3.14t; ``nox -s gate
    -- --wheel dist/autobahn-...-cp314t-....whl`` (or ``--sdist``, ``--pypi VERSION``,
    ``--python``). Exit 0 pass, 1 a check failed, 2 blocked (no free-threaded interpreter:
    the message says how to get one), 3 bad input. Reports: reports/gate/<UTC timestamp>/.
    Runs in nox's own interpreter: the gate makes its own fresh venv for the target.
    """
    from nvx_ft import cli

    code = cli.main(["gate", *session.posargs])
    if code:
        # nox itself only knows pass/fail; the gate's documented exit codes must survive.
        sys.stdout.flush()
        raise SystemExit(code)


@nox.session(python=list(LABELS), requires=FIND_INTERPRETER)
def mutants(session: nox.Session) -> None:
    """Detection power: NVX built from autobahn's sdist once per mutant, kill matrix.

    Every mutant of src/nvx_ft/mutants/corpus.toml is compiled for this interpreter and
    its expected killer suites run against it (contained: crash/hang = named failure);
    the unmutated control must pass every suite, a surviving mutant fails the session.
    ``-- --mode asan`` (NVX built with -fsanitize=address, libasan preloaded), ``--all-suites``,
    ``--mutant NAME``. TSan: ``nox -s mutants_tsan``. Reports: reports/mutants/.
    """
    install_target(session)
    session.install("setuptools")  # cffi's compile needs it on Python >= 3.12
    session.run("python", "-m", "nvx_ft.mutants.run", *session.posargs)


@nox.session(python="3.11", requires=["interpreter(3.11)"])
def mutants_tsan(session: nox.Session) -> None:
    """The kill matrix in TSan mode: stress/ under a ThreadSanitizer free-threaded CPython.

    The interpreter comes from $NVX_FT_PYTHON_TSAN (or a discovered free-threaded one
    configured --with-thread-sanitizer; README says how to get one); nvx-ft is installed
    into a venv of it (pip cache off), NVX is built by it and checked for __tsan_ symbols.
    Exit 2 when no TSan interpreter is found.
    """
    install_target(session)
    session.run("python", "-m", "nvx_ft.mutants.run", "--mode", "tsan", *session.posargs)
