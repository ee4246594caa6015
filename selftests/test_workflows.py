"""The GitHub workflows, validated offline: check-jsonschema's bundled GitHub-workflow
schema (from PyPI, ``nvx-ft[dev]``), plus what the schema cannot know (matrix, time
bounds, nox sessions that exist, reports uploaded even on failure)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nvx_ft import settings

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(reason="runs check-jsonschema in a subprocess"),
]

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NIGHTLY = WORKFLOWS / "nightly-free-threaded.yml"
RELEASE = WORKFLOWS / "release-gate.yml"
PLATFORMS = {"ubuntu-24.04", "ubuntu-24.04-arm", "macos-15", "windows-2025"}
#: GitHub runners giving runtime evidence: the four above and Windows arm64
RUNNERS = PLATFORMS | {"windows-11-arm"}
#: musllinux: an Alpine container on the native x86_64 and aarch64 runners
MUSL = {("ubuntu-24.04", "x86_64"), ("ubuntu-24.04-arm", "aarch64")}

try:
    import check_jsonschema  # noqa: F401
    from ruamel.yaml import YAML
except ImportError:
    if settings.under_gate():  # the release gate's venv holds only test deps
        pytest.skip("workflow linting is a dev check (nvx-ft[dev]); not part of the gate",
                    allow_module_level=True)
    raise


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def validate(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_both_workflows_match_the_github_workflow_schema():
    out = validate(NIGHTLY, RELEASE)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(NIGHTLY.read_text().replace("runs-on: ${{ matrix.os }}",
                                                  "runs_on: ${{ matrix.os }}", 1)
                      .replace("timeout-minutes: 120", "timeout-minutes: [soon]", 1))
    out = validate(broken)
    assert out.returncode == 1 and "runs_on" in out.stdout + out.stderr


def _every_job(workflow: dict):
    return workflow["jobs"].items()


@pytest.mark.parametrize("path", [NIGHTLY, RELEASE], ids=lambda p: p.name)
def test_every_job_is_time_bounded_and_uploads_reports_even_on_failure(path):
    for name, job in _every_job(load(path)):
        assert isinstance(job.get("timeout-minutes"), int), name
        uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith(
            "actions/upload-artifact@")]
        assert uploads and all(s.get("if") == "always()" for s in uploads), name


def test_nightly_covers_every_platform_on_314t_and_the_314_baseline():
    wf = load(NIGHTLY)
    triggers = wf["on"]
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    matrix = wf["jobs"]["suites"]["strategy"]["matrix"]
    assert set(matrix["os"]) == RUNNERS and set(matrix["python"]) == {"3.14t", "3.14"}
    assert set(wf["jobs"]["scaling"]["strategy"]["matrix"]["os"]) == PLATFORMS
    uses = [s.get("uses", "") for job in wf["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    assert any(u.startswith("astral-sh/setup-uv@") for u in uses)


def test_workflows_only_run_nox_sessions_that_exist():
    sessions = set(re.findall(r"^@nox\.session.*\n(?:@.*\n)*def (\w+)\(",
                              (ROOT / "noxfile.py").read_text(), re.M))
    text = NIGHTLY.read_text()
    used = {m.split("-")[0] for m in re.findall(r'nox -s "?([\w.-]+)', text)}
    assert used and used <= sessions, used - sessions


def test_release_gate_is_callable_with_the_wheels_artifact_and_gates_per_platform():
    wf = load(RELEASE)
    inputs = wf["on"]["workflow_call"]["inputs"]
    assert inputs["wheels-artifact"]["required"] is True
    steps = " ".join(str(s.get("run", "")) for job in wf["jobs"].values() for s in job["steps"])
    assert "nvx-ft fileset dist" in steps and "nvx-ft inspect dist/*.whl" in steps
    assert "nvx-ft gate --wheel" in steps
    gate = wf["jobs"]["gate"]
    assert {e["os"] for e in gate["strategy"]["matrix"]["include"]} == RUNNERS
    assert gate["strategy"]["fail-fast"] is False
    # no step may swallow a failure: a failed check must fail the release
    assert not any(s.get("continue-on-error") for job in wf["jobs"].values()
                   for s in job["steps"])


@pytest.mark.parametrize("path", [NIGHTLY, RELEASE], ids=lambda p: p.name)
def test_piped_commands_keep_their_exit_code(path):
    """GitHub's default shell is ``bash -e`` without pipefail: ``nvx-ft fileset | tee``
    would pass whatever nvx-ft said. An explicit ``shell: bash`` adds ``-o pipefail``."""
    wf = load(path)
    for name, job in _every_job(wf):
        job_shell = (job.get("defaults") or wf.get("defaults") or {}).get("run", {}).get("shell")
        for step in job["steps"]:
            if "|" in str(step.get("run", "")).replace("||", ""):
                assert step.get("shell", job_shell) == "bash", (name, step.get("name"))


def test_nightly_runs_nvx_under_threadsanitizer_in_a_tsan_image():
    job = load(NIGHTLY)["jobs"]["tsan"]
    assert job["container"]["image"].startswith("ghcr.io/nascheme/cpython-tsan:3.14")
    runs = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "nvx-ft sanitize tsan" in runs  # stress/ under TSan, instrumentation checked
    assert "--parallel-threads=4" in runs and '"tests"' in runs  # tests/ in 4 threads
    assert "nvx_ft.parallel_floor" in runs  # ... really in threads
    assert "require_instrumented" in runs  # an uninstrumented build never reports "clean"
    assert "tsan-suppressions.txt" in runs  # the suppressions used go with the reports
    assert job["env"]["PIP_NO_CACHE_DIR"] == "1"


def _musl_jobs_run_in_alpine_on_both_arches(job: dict) -> str:
    include = job["strategy"]["matrix"]["include"]
    assert {(e["runner"], e["arch"]) for e in include} == MUSL
    assert job["env"]["ALPINE_IMAGE"].startswith("ghcr.io/astral-sh/uv:alpine")
    # JavaScript actions cannot run in an Alpine job container on arm64: no `container:`
    assert "container" not in job
    runs = "\n".join(str(s.get("run", "")) for s in job["steps"])
    assert "uv python install" in runs and "$ALPINE_IMAGE" in runs
    return runs


def test_nightly_gives_runtime_evidence_on_all_seven_platforms():
    wf = load(NIGHTLY)
    assert "windows-11-arm" in wf["jobs"]["suites"]["strategy"]["matrix"]["os"]
    musl = wf["jobs"]["musllinux"]
    runs = _musl_jobs_run_in_alpine_on_both_arches(musl)
    pythons = {e["python"] for e in musl["strategy"]["matrix"]["include"]}
    assert pythons == {"3.14t", "3.14"}
    for session in ("tests-", "stress-", "protocol-", "gate"):
        assert f"nox -s {session}" in runs or f'nox -s "{session}' in runs, session
    tsan = "\n".join(str(s.get("run", "")) for s in wf["jobs"]["tsan"]["steps"])
    assert "--report-json reports/tsan/sanitize.json" in tsan  # evidence for nvx-ft decide


def test_release_gate_gates_musllinux_runs_tsan_and_ends_with_the_decision():
    wf = load(RELEASE)
    jobs = wf["jobs"]
    runs = _musl_jobs_run_in_alpine_on_both_arches(jobs["gate-musllinux"])
    assert "nvx-ft gate --wheel" in runs and "uv python find 3.14t" in runs
    tsan = jobs["tsan"]
    assert tsan["container"]["image"].startswith("ghcr.io/nascheme/cpython-tsan:3.14")
    tsan_runs = "\n".join(str(s.get("run", "")) for s in tsan["steps"])
    assert "nvx-ft sanitize tsan --source" in tsan_runs and "sanitize.json" in tsan_runs
    fileset_runs = "\n".join(str(s.get("run", "")) for s in jobs["fileset"]["steps"])
    assert "--json-out reports/fileset.json" in fileset_runs
    decide = jobs["decide"]
    assert set(decide["needs"]) == {"fileset", "gate", "gate-musllinux", "tsan"}
    assert decide["if"] == "${{ !cancelled() }}"  # a failed gate is evidence too
    downloads = [s["with"] for s in decide["steps"]
                 if str(s.get("uses", "")).startswith("actions/download-artifact@")]
    assert {"pattern": "release-gate-*", "path": "evidence"} in downloads
    decide_runs = "\n".join(str(s.get("run", "")) for s in decide["steps"])
    assert "nvx-ft decide evidence" in decide_runs and "--dist dist" in decide_runs
    # every job's uploaded artifact is one decide downloads
    names = [s["with"]["name"] for name, job in jobs.items() if name != "decide"
             for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
    assert names and all(n.startswith("release-gate-") for n in names)
    inputs = wf["on"]["workflow_call"]["inputs"]
    assert inputs["contract"]["default"] == "" and inputs["require"]["default"] == "unstable"
