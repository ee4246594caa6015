"""The mutant corpus and its runner: coverage of the fault classes, patches that apply,
containment of crashes and hangs, and one small kill matrix end to end.

The full matrix (every mutant x its suites) is ``nox -s mutants``, not this file.
"""

import os
import shutil
import sys
import textwrap

import pytest

from nvx_ft import mutants, patches, sources
from nvx_ft.mutants import kill_suites, matrix

pytestmark = pytest.mark.harness

CORPUS = mutants.corpus()


def test_corpus_covers_every_fault_class_the_harness_must_catch():
    assert len(CORPUS) >= 10
    categories = {m.category for m in CORPUS}
    for required in ("logic / scalar", "logic / SSE2 head", "logic / SSE2 body",
                     "logic / SSE2 tail", "contract / pointer()", "contract / indices",
                     "global state / wrong single-threaded",
                     "data race / visible under concurrency", "data race / sanitizer-only",
                     "free-threading / GIL re-enabled", "crash / segfault",
                     "hang / endless loop"):
        assert required in categories, f"no mutant of class {required!r}"


@pytest.mark.parametrize("mutant", CORPUS, ids=[m.name for m in CORPUS])
def test_mutant_is_well_formed(mutant):
    assert mutant.killers and set(mutant.killers) <= set(kill_suites.SUITES), mutant.killers
    assert set(mutant.modes) <= set(mutants.MODES)
    # every expected killer runs in one of the mutant's modes
    for k in mutant.killers:
        assert set(kill_suites.SUITES[k].modes) & set(mutant.modes), (k, mutant.modes)
    sanitizer_only = "sanitizer-only" in mutant.category
    assert sanitizer_only == ("default" not in mutant.modes), mutant.category


@pytest.fixture(scope="module")
def source():
    return sources.nvx_source(version=sources.installed_autobahn_version())


@pytest.mark.parametrize("mutant", CORPUS, ids=[m.name for m in CORPUS])
def test_mutant_applies_to_autobahns_source_and_changes_it(mutant, source, tmp_path):
    work = tmp_path / "nvx"
    shutil.copytree(source, work)
    patches.apply_edits(work, mutant.edits)
    changed = [f for f in sources.NVX_FILES if (work / f).read_text() != (source / f).read_text()]
    assert changed == sorted({e.file for e in mutant.edits}, key=sources.NVX_FILES.index)


# ----------------------------------------------------------------------------- containment

_CONTAINED = {
    "passes": "def test_ok():\n    assert 1 + 1 == 2\n",
    "fails": "def test_wrong():\n    assert 1 + 1 == 3\n",
    "crashes": textwrap.dedent("""
        import ctypes
        def test_before():
            pass
        def test_segfault_in_c():
            ctypes.string_at(0)  # reads address 0 in C: SIGSEGV
        """),
    "hangs": textwrap.dedent("""
        import ctypes
        def test_stuck_in_c():
            ctypes.CDLL(None).pause()  # blocks in C forever, no Python frame to interrupt
        """),
}


_SUBPROCESSES = pytest.mark.thread_unsafe(reason="runs pytest subprocesses bounded in time")


@_SUBPROCESSES
@pytest.mark.parametrize("case,status", [("passes", "passed"), ("fails", "failed"),
                                         ("crashes", "crashed"), ("hangs", "hung")])
def test_crash_and_hang_become_named_failures_with_a_stack(case, status, tmp_path):
    f = tmp_path / f"test_{case}.py"
    f.write_text(_CONTAINED[case])
    # The per-test bound is armed from the child's start-up (a hang while collecting is
    # caught too), so it must cover pytest and nvx-ft's plugin starting on a loaded 2-core
    # machine: 3 s did not (load 7-13 made even "passes" time out).
    r = kill_suites.run_contained(sys.executable, [str(f), *kill_suites.COMMON_ARGS],
                                  dict(os.environ), 60, tmp_path, test_timeout=12,
                                  log_path=tmp_path / "log.txt", suite=case)
    assert r.status == status, (r, (tmp_path / "log.txt").read_text()[-3000:])
    assert r.killed == (status != "passed")
    if case == "crashes":
        assert r.test.endswith("::test_segfault_in_c"), r
        assert "SIGSEGV" in r.detail and "Fatal Python error" in r.detail
        assert "test_segfault_in_c" in r.detail  # the faulthandler stack
    if case == "hangs":
        assert r.test.endswith("::test_stuck_in_c") and "test_stuck_in_c" in r.detail, r
    if case == "fails":
        assert r.test.endswith("::test_wrong") and "assert (1 + 1) == 3" in r.detail, r


@_SUBPROCESSES
def test_an_error_of_pytest_itself_is_not_a_kill(tmp_path):
    r = kill_suites.run_contained(sys.executable, [str(tmp_path / "test_missing.py"),
                                                   "--no-such-option"],
                                  dict(os.environ), 60, tmp_path)
    assert r.status == "error" and not r.killed, r


@_SUBPROCESSES
def test_whole_suite_bound_is_a_hang_with_stacks(tmp_path):
    f = tmp_path / "test_forever.py"
    f.write_text(_CONTAINED["hangs"])
    r = kill_suites.run_contained(sys.executable, [str(f)], dict(os.environ), 5, tmp_path)
    assert r.status == "hung" and r.test.endswith("::test_stuck_in_c"), r
    assert "test_stuck_in_c" in r.detail


# ----------------------------------------------------------------------------- end to end

#: one Hypothesis test of the XOR differential suite: kills crash and hang mutants, and
#: cannot see a fault that only shows from the second chunk on (a deliberate survivor)
MINI = {"one-shot": kill_suites.Suite(
    "one-shot", {"xor": ("tests/test_xor_differential.py",)}, ("--hypothesis-profile=dev",),
    keyword="test_one_shot", base_keyword="test_one_shot", test_timeout=5, timeout=120)}


@_SUBPROCESSES
def test_small_matrix_contains_crash_and_hang_and_fails_on_a_survivor(tmp_path):
    names = ["xor-sse2-assumes-aligned", "xor-scalar-narrow-counter",
             "xor-scalar-phase-restarts"]
    rep = matrix.run_matrix("default", names, all_suites=True, out_dir=tmp_path,
                          log=lambda s: None, suites=MINI)
    by = {m["name"]: m for m in rep["mutants"]}
    assert by["control"]["results"]["one-shot"]["status"] == "passed"
    crash = by["xor-sse2-assumes-aligned"]["results"]["one-shot"]
    assert crash["status"] == "crashed" and "test_one_shot[" in crash["test"], crash
    assert "Fatal Python error" in crash["detail"]
    hang = by["xor-scalar-narrow-counter"]["results"]["one-shot"]
    assert hang["status"] == "hung" and "test_one_shot[" in hang["test"], hang
    assert "hung" in hang["detail"] and "Thread" in hang["detail"]
    # the survivor: a one-shot test cannot see a mask phase lost between chunks
    assert by["xor-scalar-phase-restarts"]["results"]["one-shot"]["status"] == "passed"
    assert not rep["ok"] and rep["problems"] == ["survivors: xor-scalar-phase-restarts"]
    md = (tmp_path / f"{rep['label']}.md").read_text()
    assert "KILLED (crash)" in md and "KILLED (hang)" in md and "SURVIVED" in md
    assert (tmp_path / f"{rep['label']}.json").is_file()


def test_a_python_without_the_suites_dependencies_is_one_error_at_once(tmp_path, capsys):
    """A bare interpreter (no pytest, Hypothesis, nvx-ft): exit 3 with what to do, before
    anything is downloaded or built - not a matrix of 'No module named pytest' cells."""
    import subprocess

    from nvx_ft import cli, errors

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True, timeout=120)
    bare = tmp_path / "bare" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    rc = cli.main(["mutants", "--python", str(bare), "--mutant", mutants.corpus()[0].name,
                   "--out", str(tmp_path / "reports")])
    err = capsys.readouterr().err.strip()
    assert rc == errors.EXIT_USAGE, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"--python {bare} cannot run the suites: no pytest, hypothesis, nvx_ft, autobahn" in err
    assert "pip install -e" in err and "nox -s mutants-" in err
    assert not (tmp_path / "reports").exists()  # nothing built, nothing reported


def test_a_run_stopped_by_its_whole_bound_is_inconclusive_a_test_past_its_own_is_hung():
    """A slow machine can exhaust the suite's bound (issue 19: the control named "hung"
    beside one busy loop per CPU); only a test past its own, shorter bound is a hang."""
    from nvx_ft import suites as suites_mod
    from nvx_ft.mutants.kill_suites import SUITE_BOUND, classify

    def timed_out(message):
        return suites_mod.SuiteResult("stress", "timeout", {"timeout": 1}, 600.0,
                                      [("stress/test_x.py::test_y", message)])

    slow = classify(timed_out(f"{SUITE_BOUND} (600s)\nstack..."), "", None, own_test_bound=True)
    hung = classify(timed_out("hung: no result within the test timeout (90s)\nstack"), "", None,
                    own_test_bound=True)
    only = classify(timed_out(f"{SUITE_BOUND} (5s)\nstack..."), "", None)  # no shorter bound
    assert slow[0] == "inconclusive" and hung[0] == "hung" and only[0] == "hung"
    assert not kill_suites.SuiteRun("stress", slow[0], 1.0).killed


@pytest.mark.parametrize("argv", [["mutants"], ["mutants", "--mode", "tsan"],
                                  ["sanitize", "tsan"]], ids=" ".join)
def test_no_autobahn_and_no_source_is_one_error_not_a_traceback(argv, tmp_path, capsys,
                                                                monkeypatch):
    """Where autobahn is not installed and neither --autobahn nor --source is given there
    is nothing to build NVX from: exit 3 saying so (it was a ValueError traceback), and in
    tsan mode before a TSan venv is made (minutes of work for nothing)."""
    from nvx_ft import cli, errors, interpreters, sanitizers

    def no_venv(*args, **kwargs):
        raise AssertionError("a TSan venv was made before the missing autobahn was named")

    monkeypatch.setattr(matrix, "installed_autobahn_version", lambda: None)
    monkeypatch.setattr(interpreters, "find_tsan", lambda: sys.executable)
    monkeypatch.setattr(sanitizers, "suite_python", no_venv)
    rc = cli.main([*argv, *(["--mutant", mutants.corpus()[0].name] if argv == ["mutants"]
                            else []), "--out", str(tmp_path / "reports")])
    err = capsys.readouterr().err.strip()
    assert rc == errors.EXIT_USAGE, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "--autobahn VERSION or --source PATH" in err
    assert not (tmp_path / "reports").exists()
