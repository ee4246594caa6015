"""``install``: the target into a fresh venv, then proof that the venv imports it.

An sdist or PyPI release is first turned into a wheel by the gate's interpreter (``pip
wheel``: PyPI's own wheel when one fits, else an sdist build), so every target is a wheel
file. After installing it and the checkout's test dependencies, the venv imports
``_nvx_*`` and the file hashes are compared with the wheel's RECORD: what the tests
import is the artefact under test.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from nvx_ft.gate.context import PROJECT, Check, GateContext, StepFailed
from nvx_ft.gate.wheel import GateWheel, verify_installed
from nvx_ft.release import release_files
from nvx_ft.venvs import Venv

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


class Install:
    name = "install"

    def run(self, ctx: GateContext, check: Check) -> None:
        log = ctx.logs / "install.txt"
        check.outputs.append(str(log))
        venv = ctx.venv = Venv(ctx.interp.executable, ctx.report_dir / "venv", log, ctx.env)
        wheel = ctx.target.wheel or _wheel_of_release(ctx, venv)
        venv.pip("install", str(wheel.path))
        _verify(ctx, venv, wheel)  # fail fast, before the test dependencies are installed
        # Editable, as nox installs it: the suites and nvx_ft come from the same checkout.
        venv.pip("install", *suite_requirements(ctx.checkout))
        venv.pip("install", "--no-deps", "--force-reinstall", str(wheel.path))  # nothing replaced it
        probe = ctx.target.installed = _verify(ctx, venv, wheel)
        check.status = "passed"
        check.summary = (f"{PROJECT} {probe.get('autobahn')} ({ctx.target.origin}, "
                         f"{', '.join(wheel.tags)}) via {venv.installer}; "
                         "_nvx_* sha256 match RECORD")
        check.details += [f"{n}: {m['file']} sha256 {m['sha256']}"
                          for n, m in probe["modules"].items()]


def _wheel_of_release(ctx: GateContext, venv: Venv) -> GateWheel:
    """The wheel of an sdist or PyPI release for the gate's interpreter; one from PyPI
    must be byte-identical to the index's file."""
    target = ctx.target
    build_spec = (str(Path(target.spec).resolve()) if target.kind == "sdist"
                  else f"{PROJECT}=={target.spec}")
    wheel = target.wheel = GateWheel.read(venv.build_wheel(build_spec, ctx.report_dir / "dist"))
    target.origin = f"built from the sdist by {ctx.interp.label}"
    if target.kind == "pypi":
        published = {f["filename"]: f.get("hashes", {}).get("sha256")
                     for f in release_files.index_files(PROJECT, ctx.index_url)}
        if wheel.path.name in published:
            if published[wheel.path.name] != wheel.sha256:
                raise StepFailed(f"{wheel.path.name} differs from the file on the index "
                                 f"(sha256 {wheel.sha256[:12]} != "
                                 f"{str(published[wheel.path.name])[:12]})")
            target.origin = "PyPI wheel, sha256 equal to the index's"
    return wheel


def _verify(ctx: GateContext, venv: Venv, wheel: GateWheel) -> dict:
    """The venv's probe, once it shows the venv imports ``wheel``'s own NVX modules."""
    out = venv.python_run(_PROBE, cwd=ctx.report_dir)
    if out.returncode:
        raise StepFailed(f"probe failed in the venv: {out.stderr.strip()[-500:]}")
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    problems = verify_installed(probe, wheel.record, wheel.tags)
    if problems:
        raise StepFailed("the venv does not import the artefact under test: "
                         + "; ".join(problems))
    return probe


def suite_requirements(checkout: Path) -> list[str]:
    """``pip install`` arguments for what the suites need, as the checkout declares it:
    nvx-ft editable with its stress and protocol extras, and the bench extra's
    pytest-benchmark (the smoke run draws no plots)."""
    extras = _optional_dependencies(checkout)
    wanted = ",".join(e for e in ("stress", "protocol") if e in extras)
    bench = [r for r in extras.get("bench", []) if "pytest-benchmark" in r]
    return ["-e", f"{checkout}[{wanted}]" if wanted else str(checkout), *bench]


def _optional_dependencies(checkout: Path) -> dict[str, list[str]]:
    try:
        data = tomllib.loads((checkout / "pyproject.toml").read_text(encoding="utf-8"))
        return dict(data["project"]["optional-dependencies"])
    except (OSError, KeyError, ValueError):
        return {}
