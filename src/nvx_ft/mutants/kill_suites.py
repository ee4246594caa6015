"""The suites that kill mutants, and one contained run of a suite against a build.

Each (mutant, suite) runs in its own pytest subprocess with the build first on
``PYTHONPATH``, ``-x`` and a small Hypothesis profile, contained by
``nvx_ft.suites.run_suite``: a crash (signal) or a hang (per-test faulthandler watchdog,
then a bound on the whole process) is a named failure with its faulthandler stack. Only a
test's failure, a crash, a hang, or a sanitizer report with NVX frames kills.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nvx_ft import sanitizers, suites
from nvx_ft.errors import UsageError
from nvx_ft.paths import ROOT
from nvx_ft.stress_settings import INTENSITIES

SEED = 20251124  # one fixed seed: a matrix is reproducible run to run
#: how nvx_ft.suites names a test stopped by the whole run's bound (not its own)
SUITE_BOUND = "hung: no result within the suite timeout"

# Pytest options every suite run gets: stop at the first failure (time to kill); per run
# also fixed seeds. Containment (per-test watchdog, crash/hang naming) is run_suite's.
COMMON_ARGS = ("-x",)


#: what the interpreter running the suites must import: pytest, Hypothesis, nvx-ft itself
#: (its pytest plugin, references and strategies) and autobahn (the wrappers and modules
#: around the mutated NVX: without it every cell, the control's too, is TARGET-UNAVAILABLE);
#: NVX's builder finds its own cffi and setuptools (``nvx_ft.build``)
SUITE_MODULES = ("pytest", "hypothesis", "nvx_ft", "autobahn")


def require_suite_modules(python: str) -> None:
    """One clear error (``UsageError``: exit 3) before anything is built when ``python``
    cannot run the suites, instead of every cell of the matrix failing on its import."""
    probe = subprocess.run(
        [python, "-c", "import importlib.util as u, sys; "
                       "print(' '.join(m for m in sys.argv[1:] if u.find_spec(m) is None))",
         *SUITE_MODULES], capture_output=True, text=True, timeout=120)
    missing = probe.stdout.split() if probe.returncode == 0 else list(SUITE_MODULES)
    if missing:
        raise UsageError(
            f"--python {python} cannot run the suites: no {', '.join(missing)} there. Give "
            f"it a venv with nvx-ft's test dependencies (`{python} -m venv V && "
            f"V/bin/pip install -e '{ROOT}[target,stress]'`, then --python V/bin/python), or "
            f"run `nox -s mutants-<label>`, which makes one")


@dataclass(frozen=True)
class Suite:
    """One suite as run against a mutant: pytest paths (files or folders, no ``::``),
    narrowed to the mutated module.

    ``paths`` maps an NVX module kind ("utf8", "xor") to the pytest paths that exercise
    it ("all" = every kind); ``keyword`` is a ``-k`` expression with ``{kind}`` filled in
    for a mutant of one module, and ``base_keyword`` is used for the control / unknown.
    """

    name: str
    paths: dict
    args: tuple = ()
    keyword: str | None = None
    base_keyword: str | None = None
    test_timeout: float = 10.0  # one test; a hang in C is stopped by faulthandler's watchdog
    timeout: float = 180.0  # whole process; then SIGABRT (faulthandler dump), SIGKILL
    modes: tuple = ("default",)
    sanitizer: str | None = None
    #: a suite whose kill is a matter of chance (thread interleavings) is run up to this
    #: many times with different seeds until it kills; the control runs every round
    rounds: int = 1

    def pytest_args(self, kind: str | None) -> list[str]:
        if kind and kind in self.paths:
            paths = list(self.paths[kind])
        else:
            paths = sorted({t for ts in self.paths.values() for t in ts})
        if kind and self.keyword:
            return [*paths, "-k", self.keyword.format(kind=kind)]
        if self.base_keyword:
            return [*paths, "-k", self.base_keyword]
        return paths


_DIFF = {"utf8": ("tests/test_utf8_differential.py", "tests/test_known_divergences.py",
                  "tests/test_wrapper_vs_lib.py"),
         "xor": ("tests/test_xor_differential.py", "tests/test_wrapper_vs_lib.py")}
_STRESS = {"all": ("stress",)}
# stress/ minus the GIL guard (its own suite) and the harness self-tests (they test
# nvx-ft with injected bad targets, not the build under test)
_NOT_STRESS = "not gil and not selftest and not test_hammer"

SUITES: dict[str, Suite] = {
    # tests/: Hypothesis differential against the references, dev profile (its example
    # count: nvx_ft.pytest_plugin.PROFILES)
    "differential": Suite("differential", _DIFF, ("--hypothesis-profile=dev",)),
    # stress/: the thread hammer (default intensity), without the GIL guard
    # (per-test bound: the stress intensity's own, 90 s: a race check may spend its
    # overlap budget after a first round bounded by half its 60 s hang bound; the 10 s
    # bound named the control "hung" beside one busy loop per CPU - a false kill)
    "stress": Suite("stress", _STRESS, keyword="{kind} and " + _NOT_STRESS,
                    base_keyword=_NOT_STRESS, rounds=6,
                    test_timeout=INTENSITIES["default"].test_timeout, timeout=600),
    # the GIL guard: the GIL must stay disabled after importing and using NVX
    "gil": Suite("gil", {"all": ("stress/test_gil_guard.py", "stress/test_gil_after_stress.py")},
                 base_keyword="nvx_imports_keep_the_gil_disabled or gil_still_disabled"),
    # stress/ under ThreadSanitizer: killed by a race report with NVX frames
    # (without the unsupported shared-object-without-lock experiment: it races by design)
    "tsan": Suite("tsan", _STRESS, keyword="{kind} and " + _NOT_STRESS + " and not without_lock",
                  base_keyword=_NOT_STRESS + " and not without_lock", test_timeout=300,
                  timeout=900, modes=("tsan",), sanitizer="tsan"),
    # the differential suite under AddressSanitizer: killed by a report with NVX frames
    "asan": Suite("asan", _DIFF, ("--hypothesis-profile=dev",), test_timeout=60,
                  timeout=300, modes=("asan",), sanitizer="asan"),
}


@dataclass
class SuiteRun:
    """One suite run against one build (the control or a mutant), judged: killed or not.
    (:class:`nvx_ft.suites.SuiteResult` is the pytest run it is judged from.)"""

    suite: str
    #: passed | failed | crashed | hung | sanitizer | inconclusive | error | not-run
    #: (inconclusive: a race check's threads did not overlap enough - never a kill,
    #: never a pass)
    status: str
    seconds: float
    test: str | None = None  # the failing / crashing / hanging test id
    detail: str = ""  # minimal example, faulthandler stack, sanitizer frames
    command: str = ""
    log: str | None = None
    rounds: int = 1

    @property
    def killed(self) -> bool:
        return self.status in ("failed", "crashed", "hung", "sanitizer")


def _excerpt(text: str, start_pat: str, lines: int = 14) -> str:
    m = re.search(start_pat, text, re.M)
    return "\n".join(text[m.start():].splitlines()[:lines]) if m else ""


def _is_test_failure(nodeid: str) -> bool:
    """A failure of a test (kills), not of pytest itself or of collecting (an error)."""
    return "::" in nodeid


def classify(res, out: str, sanitizer: str | None,
             own_test_bound: bool = False) -> tuple[str, str | None, str]:
    """(status, test, detail) from a :func:`nvx_ft.suites.run_suite` result and the output.

    Only a test's failure, a crash, a hang, or a sanitizer report with NVX frames kills a
    mutant; pytest's own errors (usage, collection) are "error", never a kill. With
    ``own_test_bound`` (each test had a shorter bound than the run), a run stopped by the
    run's bound is "inconclusive": no test hung, the machine was slow.
    """
    first = next(((n, m) for n, m in res.failures if _is_test_failure(n)), (None, ""))
    if sanitizer:
        parse = sanitizers.parse_tsan if sanitizer == "tsan" else sanitizers.parse_asan
        nvx = [r for r in parse(out) if r.touches_nvx]
        if nvx:
            return "sanitizer", first[0], sanitizers.summarize(nvx)
    if res.status == "passed":
        return "passed", None, ""
    if res.status == "inconclusive":
        first = next(o for o in res.tests if o.outcome == "inconclusive")
        return "inconclusive", first.nodeid, first.message[:1500]
    if own_test_bound and res.status == "timeout" and first[1].startswith(SUITE_BOUND):
        # the whole run's bound ran out, no test's: a slow machine, not a hang (a test
        # that hangs meets its own, shorter bound first) - no evidence, never a kill
        return "inconclusive", first[0], first[1][:1500]
    if res.status in ("crashed", "timeout") and first[0]:
        return ("hung" if res.status == "timeout" else "crashed"), first[0], first[1]
    if res.status == "failed" and first[0]:
        example = _excerpt(first[1], r"^(Falsifying example|E\s)") or first[1][-1500:]
        return "failed", first[0], example
    reason = res.reason or "; ".join(m[:300] for _, m in res.failures[:2])
    if sanitizer:  # a report without NVX frames, or the sanitizer runtime failing
        reason += "\n" + _excerpt(out, r"WARNING: ThreadSanitizer|ERROR: AddressSanitizer", 30)
    return "error", first[0], reason


def run_contained(python: str, args: list[str], env: dict, timeout: float, cwd: Path,
                  test_timeout: float | None = None, log_path: Path | None = None,
                  sanitizer: str | None = None, suite: str = "") -> SuiteRun:
    """``python -m pytest *args`` contained by :func:`nvx_ft.suites.run_suite` (the gate's
    runner: a crash or hang is a named failure with its faulthandler stack), without
    restarts (the first failure is the kill). With a sanitizer, its reports go to files
    (``log_path=``) that are parsed: a report with NVX frames is a kill.
    """
    with tempfile.TemporaryDirectory() as san_dir, tempfile.TemporaryDirectory() as out_dir:
        if sanitizer:
            env = sanitizers.env_for(sanitizer, env, san_dir)
        first = Path(args[0]) if Path(args[0]).is_absolute() else Path(cwd) / args[0]
        res = suites.run_suite(python, first, env=env, timeout=timeout,
                               test_timeout=test_timeout, extra_args=args[1:], cwd=cwd,
                               name=suite or "suite", output_dir=out_dir, max_restarts=0)
        out = "\n".join(Path(p).read_text(errors="replace") for p in res.output
                        if Path(p).exists())
        if sanitizer:
            out += "\n" + sanitizers.collect_logs(san_dir)
    if log_path:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(out)
    status, test, detail = classify(res, out, sanitizer, own_test_bound=bool(
        test_timeout and test_timeout < timeout))
    return SuiteRun(suite, status, round(res.duration, 2), test, detail,
                       " ".join(res.command), str(log_path) if log_path else None)
