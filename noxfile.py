"""nox sessions, one per interpreter: ``nox -s tests`` runs every interpreter found.

Interpreters are found by ``nvx_ft.interpreters`` (``$NVX_FT_PYTHON_3_14T``, PATH,
``uv python find``, pyenv) and handed to nox through a folder of links put first on
PATH, so ``tests-3.14t`` uses exactly the binary the rest of nvx-ft reports. A missing
interpreter is skipped with a loud reason; it is an error when its session is named
on the command line (``nox -s tests-3.14t``) or listed in ``$NVX_FT_REQUIRE_PYTHONS``
(comma-separated labels, what the nightly workflow sets). A missing 3.14t is first
provisioned with ``uv python install 3.14t`` when a session that uses it is asked for
(bounded; off with ``$NVX_FT_PROVISION=off`` or ``nox -s gate -- --no-provision``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT / "src"))
from nvx_ft import interpreters, settings  # noqa: E402  (stdlib-only modules)
from nvx_ft.errors import Blocked  # noqa: E402

nox.options.download_python = "never"  # offline machines; installs are the user's call
nox.options.sessions = ["tests", "harness"]
nox.options.default_venv_backend = "uv|virtualenv"  # uv when installed: much faster installs
nox.needs_version = ">=2025.5.1"

FOUND = interpreters.find_all()
#: sessions that run on a free-threaded interpreter (or, for gate and bench, use one)
_USES_FREE_THREADED = {"tests", "stress", "protocol", "parallel", "mutants", "bench", "gate"}


def _wants_provisioning(argv: list[str]) -> bool:
    """Does this nox run use a provisioned label? Not for ``--list``, ``harness`` alone,
    a GIL label, or ``-- --no-provision``."""
    if "--" in argv:
        argv, posargs = argv[:argv.index("--")], argv[argv.index("--") + 1:]
        if "--no-provision" in posargs or any(  # the gate told which interpreter to use
                a == "--python" or a.startswith("--python=") for a in posargs):
            return False
    if {"-l", "--list", "--list-sessions", "--json", "-h", "--help", "--version",
            "--usage"} & set(argv):
        return False
    names, pythons, keywords = [], [], False
    for i, arg in enumerate(argv):
        key, eq, value = arg.partition("=")
        if key in ("-s", "--session", "--sessions", "-e", "-p", "--python", "--pythons"):
            values = [value] if eq else []
            if not eq:
                for more in argv[i + 1:]:
                    if more.startswith("-"):
                        break
                    values.append(more)
            (pythons if key.startswith(("-p", "--python")) else names).extend(values)
        keywords = keywords or key in ("-k", "--keywords", "-t", "--tags")
    if pythons:
        return any(p in interpreters.PROVISIONED for p in pythons)
    if keywords or not names:  # no names: the default sessions, tests-3.14t among them
        return True
    for name in names:
        base, _, label = name.partition("-")
        if (label in interpreters.PROVISIONED) if label else base in _USES_FREE_THREADED:
            return True
    return False


if interpreters.provisioning_enabled() and _wants_provisioning(sys.argv[1:]):
    for _label in interpreters.PROVISIONED:
        if FOUND.get(_label) is None:
            try:
                FOUND[_label] = interpreters.provision_with_uv(_label)
            except Blocked as exc:  # reported NOT RUN below, with uv's own error here
                print(f"nvx-ft: {exc}", file=sys.stderr)
FREE_THREADED = [label for label in interpreters.LABELS if label.endswith("t")]
#: self-tests whose verdict depends on the interpreter's build (free-threaded or not)
PER_INTERPRETER_SELFTESTS = "selftests/per_interpreter"


def _link_found_interpreters() -> None:
    shim = ROOT / ".nox" / "_interpreters"
    shim.mkdir(parents=True, exist_ok=True)
    for label, interp in FOUND.items():
        link = shim / f"python{label}"
        # Resolve before touching the link: in a nox run inside a nox session the
        # interpreter found on PATH can be this very link (or a venv python pointing at
        # it), and linking to that path would make a loop.
        target = os.path.realpath(interp.executable) if interp else None
        if link.is_symlink() or link.exists():
            link.unlink()
        if target:
            link.symlink_to(target)
    os.environ["PATH"] = f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"


def _explicitly_requested() -> set[str]:
    wanted = set(settings.from_environment().require_pythons)
    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        names = []
        if arg in ("-s", "--session", "--sessions", "-e") and i + 1 < len(argv):
            names = argv[i + 1:]
        elif arg.startswith("--session=") or arg.startswith("--sessions="):
            names = [arg.split("=", 1)[1]]
        for name in names:
            if name.startswith("-"):
                break
            base, _, label = name.partition("-")
            if label in FOUND:
                wanted.add(label)
    return wanted


_link_found_interpreters()
_REQUIRED_MISSING = sorted(lab for lab in _explicitly_requested() if not FOUND.get(lab))
# Only what was asked for by name may fail the run for being missing; CI=true alone
# (nox's own default) must not turn an absent 3.15t into a failure.
nox.options.error_on_missing_interpreters = bool(_REQUIRED_MISSING)

for _label in interpreters.LABELS:
    if not FOUND[_label]:
        print(f"nvx-ft: python{_label} NOT FOUND - its sessions will NOT RUN "
              f"({interpreters.how_to_get(_label)})", file=sys.stderr)


def install_target(session: nox.Session) -> None:
    """nvx-ft plus autobahn from PyPI (a wheel, or an sdist build where none exists).

    ``bench`` too: selftests/test_benchmarks_smoke.py runs every benchmark once and draws the
    plot, so the benchmark code cannot rot (matplotlib has cp314t wheels); ``protocol``:
    the independent WebSocket peer (websockets) and Twisted.
    """
    session.install("-e", ".[target,stress,protocol,dev,bench]")


@nox.session(python=list(interpreters.LABELS))
def tests(session: nox.Session) -> None:
    """NVX on one interpreter: correctness (tests/), free-threading (stress/) and
    autobahn's WebSocket protocol over NVX (protocol/).

    On free-threaded interpreters also the self-tests whose verdict depends on the build
    (selftests/per_interpreter/: the hammer, the GIL guard's verdicts, stress/ catching
    shared state with and without parallelism); ``nox -s harness`` runs them once on a GIL
    build, so both kinds of build are covered without repeating minutes of subprocess
    stress runs on every GIL interpreter (the nightly runs them on every one).
    """
    install_target(session)
    session.run("nvx-ft", "info")
    default = ["tests", "stress", "protocol"]
    if session.python.endswith("t"):
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


@nox.session(reuse_venv=True)
def bench(session: nox.Session) -> None:
    """NVX throughput and scaling, and autobahn's echo server end to end: 3.14, 3.14t, 3.14t+GIL.

    Quick by default (about 4 3/4 minutes on 2 cores); ``nox -s bench -- --full`` for nightly.
    Each build runs in its own venv (.nox/bench-venvs/<label>, made once); the report goes
    to reports/bench/<UTC timestamp>/ (summary.md, scaling.png, echo.png, raw JSON). Method:
    benchmarks/README.md.
    """
    session.install("-e", ".[bench]")
    session.run("python", "-m", "nvx_ft.bench", *session.posargs)


@nox.session(python=list(interpreters.LABELS))
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


@nox.session(python=list(interpreters.LABELS))
def protocol(session: nox.Session) -> None:
    """Protocol suite (protocol/): autobahn's WebSocket protocol over NVX, many threads.

    autobahn asyncio servers and clients in threads, the websockets peer in its own
    process, bad raw-socket peers, Twisted, the protocol import graphs' GIL guard.
    ``nox -s protocol-3.14t -- --nvx-intensity=nightly`` for more.
    """
    session.install("-e", ".[target,stress,protocol]")
    session.run("nvx-ft", "info")
    session.run("pytest", "protocol", *session.posargs)


@nox.session(python=list(interpreters.LABELS))
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


@nox.session(python=list(interpreters.LABELS))
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


@nox.session(python="3.11")
def mutants_tsan(session: nox.Session) -> None:
    """The kill matrix in TSan mode: stress/ under a ThreadSanitizer free-threaded CPython.

    The interpreter comes from $NVX_FT_PYTHON_TSAN (or a discovered free-threaded one
    configured --with-thread-sanitizer; README says how to get one); nvx-ft is installed
    into a venv of it (pip cache off), NVX is built by it and checked for __tsan_ symbols.
    Exit 2 when no TSan interpreter is found.
    """
    install_target(session)
    session.run("python", "-m", "nvx_ft.mutants.run", "--mode", "tsan", *session.posargs)
