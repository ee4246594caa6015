"""The gate's command line and its input checks: everything that is bad input (exit 3)
is found before anything runs, then the interpreter (exit 2), then the package index."""

from __future__ import annotations

import re
import tarfile
import zipfile
from pathlib import Path

from packaging.utils import InvalidSdistFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from nvx_ft import interpreters
from nvx_ft.errors import Blocked, UsageError
from nvx_ft.gate.context import PROJECT, Budgets, Target
from nvx_ft.gate.steps import CHECKS
from nvx_ft.gate.wheel import GateWheel
from nvx_ft.paths import ROOT
from nvx_ft.release import release_files

_DEFAULT = Budgets()


def add_arguments(parser) -> None:
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--wheel", metavar="PATH", help="a built autobahn wheel")
    what.add_argument("--sdist", metavar="PATH", help="an autobahn sdist (.tar.gz)")
    what.add_argument("--pypi", metavar="VERSION",
                      help="a release on PyPI (default: the latest)")
    parser.add_argument("--python", metavar="PATH|LABEL",
                        help="interpreter to gate on (default: a discovered 3.14t, else "
                             "one provisioned with `uv python install 3.14t`)")
    parser.add_argument("--no-provision", action="store_true",
                        help="never ask uv to install a missing 3.14t: exit 2 with how to get "
                             "one (also $NVX_FT_PROVISION=off)")
    parser.add_argument("--reports", metavar="DIR", default="reports/gate",
                        help="where the run's report folder goes (default: reports/gate)")
    parser.add_argument("--report-path-file", metavar="FILE",
                        help="once the reports are written, write the path of this run's "
                             "gate.json to FILE (for scripts: action.yml reads it; nothing is "
                             "written when the gate stops before running)")
    parser.add_argument("--suite-timeout", type=float, default=_DEFAULT.suite,
                        help="hard bound in seconds for correctness and benchmark smoke")
    parser.add_argument("--stress-timeout", type=float, default=_DEFAULT.stress,
                        help=f"hard bound in seconds for the stress suite "
                             f"(default: {_DEFAULT.stress:.0f})")
    parser.add_argument("--protocol-timeout", type=float, default=_DEFAULT.protocol,
                        help=f"hard bound in seconds for the protocol suite "
                             f"(default: {_DEFAULT.protocol:.0f})")
    parser.add_argument("--test-timeout", type=float, default=_DEFAULT.test,
                        help="hard bound in seconds for one test: a hang beyond it is a "
                             "named failure with every thread's stack, and the suite goes on")
    parser.add_argument("--index-url", default=release_files.DEFAULT_INDEX,
                        help="package index (PEP 691) for --pypi")
    parser.add_argument("--keep-venv", action="store_true", help="keep the gate's venv")
    parser.add_argument("--skip", action="append", default=[], choices=CHECKS[1:],
                        metavar="CHECK", help="leave a check out (reported as not run, so "
                        f"the verdict cannot pass); one of {', '.join(CHECKS[1:])}")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="gate the same artefact N times and show the verdicts side by "
                             "side with each run's worst margin (stability.md); exit 1 when "
                             "they differ")
    parser.add_argument("--checkout", metavar="DIR", default=str(ROOT),
                        help="nvx-ft checkout whose tests/, stress/, protocol/, benchmarks/ "
                             "run (default: the one this nvx-ft runs from)")


def budgets(args) -> Budgets:
    return Budgets(suite=args.suite_timeout, stress=args.stress_timeout,
                   protocol=args.protocol_timeout, test=args.test_timeout)


def read_inputs(args) -> tuple[Target, interpreters.Interpreter, Path]:
    """The target, the interpreter and the checkout, or the one-line reason why not."""
    wheel = GateWheel.read(args.wheel) if args.wheel else None  # missing / not a wheel / corrupt
    if args.sdist:
        validate_sdist(args.sdist)
    elif args.pypi:
        try:
            Version(args.pypi)
        except InvalidVersion:
            raise UsageError(f"--pypi {args.pypi}: not a version") from None
    checkout = Path(args.checkout).resolve()
    if not ((checkout / "pyproject.toml").is_file() and (checkout / "tests").is_dir()):
        raise UsageError(f"--checkout {checkout}: not an nvx-ft checkout (no pyproject.toml "
                         "and tests/); the gate runs the suites of a clone of nvx-ft")
    interp = interpreters.resolve(args.python, default="3.14t",
                                  provision=False if getattr(args, "no_provision", False) else None)
    if wheel:
        return Target("wheel", args.wheel, validate_wheel(wheel, interp), "wheel file"), \
            interp, checkout
    if args.sdist:
        return Target("sdist", args.sdist), interp, checkout
    version = args.pypi or release_files.latest_version(PROJECT, args.index_url)
    release_files.names_from_index(PROJECT, version, args.index_url)  # exists on the index?
    return Target("pypi", version), interp, checkout


def accepted_tags(interp: interpreters.Interpreter) -> list[str]:
    """The wheel tags ``interp`` accepts, best first: from the probe that resolved it
    (the gate probes its interpreter once)."""
    if not interp.wheel_tags:
        raise Blocked(f"cannot ask {interp.executable} for its wheel tags")
    return list(interp.wheel_tags)


def validate_wheel(wheel: GateWheel, interp: interpreters.Interpreter,
                   accepted: list[str] | None = None) -> GateWheel:
    """Everything about a wheel that is bad input (exit 3) rather than a failed check."""
    info, name = wheel.info, wheel.path.name
    if canon(info.name) != PROJECT:
        raise UsageError(f"{name}: a wheel of {info.name!r}, not of {PROJECT}")
    if info.pure:
        raise UsageError(f"{name}: pure-Python wheel ({info.tags[0]}): NVX missing, "
                         "nothing native to test; give a platform wheel")
    missing = [m for m, f in info.nvx_modules.items() if not f]
    if missing:
        raise UsageError(f"{name}: platform wheel without NVX ({', '.join(missing)} missing)")
    accepted = accepted if accepted is not None else accepted_tags(interp)
    if set(info.tags) & set(accepted):
        return wheel
    raise UsageError(_mismatch(name, interp, accepted))


def _mismatch(name: str, interp: interpreters.Interpreter, accepted: list[str]) -> str:
    """Why a wheel's tags do not fit ``interp``, most specific reason first."""
    mine = accepted[0]  # e.g. cp314-cp314t-manylinux_2_41_x86_64
    _, tags = parse_wheel_filename(name)[2:]
    py, abi = f"cp{interp.label.rstrip('t').replace('.', '')}", mine.split("-")[1]
    wheel_abis = {t.abi for t in tags}
    if interp.free_threaded and py in wheel_abis:
        return (f"{name}: a GIL ({py}) wheel given to a free-threaded gate "
                f"({interp.executable}, {abi}); build or pick the {abi} wheel, or "
                f"run the gate with --python 3.14 for GIL wheels")
    if not interp.free_threaded and py + "t" in wheel_abis:
        return (f"{name}: a free-threaded ({py}t) wheel given to a GIL gate "
                f"({interp.executable}); run the gate with --python 3.14t")
    plats = sorted({t.platform for t in tags})
    if not any(a.split("-", 2)[2] in plats for a in accepted):
        return (f"{name}: a wheel for another platform ({', '.join(plats)}); "
                f"{interp.executable} runs on {mine.split('-', 2)[2]}")
    pairs = sorted({f"{t.interpreter}-{t.abi}" for t in tags})
    return (f"{name}: a wheel for another interpreter ({', '.join(pairs)}); "
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
