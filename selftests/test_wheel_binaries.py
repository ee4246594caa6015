"""``nvx-ft inspect``'s module-build and build-intermediates checks: a wheel right by every
name whose modules were compiled for the other build fails, naming module and evidence.

The modules are tiny binaries written by ``fake_binaries.py`` (checked with binutils'
``nm``/``objdump`` and ``file`` when written) and, where ``cc``/``clang`` exist, real shared
objects and Mach-O objects built at test time.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import types
from pathlib import Path

import pytest
from fake_binaries import elf_module, macho_module, pe_module
from fake_wheels import make_wheel

from nvx_ft import cli, errors, interpreters
from nvx_ft.gate.context import Check
from nvx_ft.gate.steps.static import Static
from nvx_ft.gate.wheel import GateWheel
from nvx_ft.release.binaries import read_module
from nvx_ft.release.inspect import inspect_wheel

pytestmark = pytest.mark.harness

FT_WIN = "cp314-cp314t-win_amd64"
FT_LINUX = "cp314-cp314t-manylinux_2_28_x86_64"
FT_MAC = "cp314-cp314t-macosx_11_0_arm64"


def module_build(info):
    found = [f for f in info.findings if f.check == "module-build"]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("dll", ["python3.dll", "python314.dll"])
def test_cp314t_windows_wheel_whose_pyd_imports_a_gil_dll_fails(tmp_path, dll, capsys):
    wheel = make_wheel(tmp_path, FT_WIN, module_bytes=pe_module(
        {dll: ["PyModule_Create2", "_Py_Dealloc"], "KERNEL32.dll": ["GetLastError"]}))
    f = module_build(inspect_wheel(wheel))
    assert f.severity == "error"
    assert f"_nvx_xormasker.cp314t-win_amd64.pyd (PE) imports {dll}" in f.message
    assert "must import python314t.dll" in f.message and "GIL" in f.message
    assert cli.main(["inspect", str(wheel)]) == errors.EXIT_FAIL
    assert "FAIL module-build" in capsys.readouterr().out


def test_cp314t_linux_wheel_with_a_gil_module_renamed_314t_fails(tmp_path):
    wheel = make_wheel(tmp_path, FT_LINUX, build="GIL")
    info = inspect_wheel(wheel)
    # every name is right: only the binary gives it away
    assert {f.check: f.severity for f in info.findings}["extension-suffix"] == "ok"
    f = module_build(info)
    assert f.severity == "error"
    assert ("_nvx_utf8validator.cpython-314t-x86_64-linux-gnu.so (ELF): compiled for the "
            "GIL build, not the free-threaded build") in f.message
    assert "references _Py_Dealloc and none of _Py_DecRefShared" in f.message


@pytest.mark.parametrize("tag", [FT_WIN, FT_LINUX, FT_MAC, "cp314-cp314t-win_arm64",
                                 "cp314-cp314t-musllinux_1_2_aarch64"])
def test_right_free_threaded_modules_pass(tmp_path, tag):
    f = module_build(inspect_wheel(make_wheel(tmp_path, tag)))
    assert f.severity == "ok" and f.message.count(": free-threaded (") == 2


@pytest.mark.parametrize("tag,build", [("cp314-cp314-win_amd64", "limited API"),
                                       ("cp314-cp314-win_amd64", "GIL"),
                                       ("cp314-cp314-manylinux_2_28_aarch64", "GIL"),
                                       ("cp314-cp314-macosx_15_0_arm64", "GIL"),
                                       ("cp311-abi3-win_amd64", "limited API")])
def test_right_gil_modules_pass_including_windows_limited_api(tmp_path, tag, build):
    # autobahn's own cp314 .pyd files import python3.dll (CFFI's limited API on Windows)
    f = module_build(inspect_wheel(make_wheel(tmp_path, tag, build=build)))
    assert f.severity == "ok", f.message


@pytest.mark.parametrize("tag,evidence", [
    ("cp314-cp314-win_amd64", "imports python314t.dll"),
    ("cp314-cp314-manylinux_2_28_x86_64", "references _Py_DecRefShared"),
    ("cp314-cp314-macosx_15_0_arm64", "references _Py_DecRefShared"),
])
def test_free_threaded_modules_in_a_gil_wheel_fail(tmp_path, tag, evidence):
    f = module_build(inspect_wheel(make_wheel(tmp_path, tag, build="free-threaded")))
    assert f.severity == "error" and evidence in f.message and "free-threaded" in f.message


def test_gil_macho_in_a_cp314t_wheel_fails_and_other_builds_in_a_cp314_wheel(tmp_path):
    f = module_build(inspect_wheel(make_wheel(tmp_path, FT_MAC, build="GIL")))
    assert f.severity == "error" and "(Mach-O): compiled for the GIL build" in f.message
    f = module_build(inspect_wheel(make_wheel(tmp_path, FT_LINUX, build="limited API")))
    assert f.severity == "error" and "limited API" in f.message and "_Py_DecRef" in f.message
    wrong_version = make_wheel(tmp_path, "cp314-cp314-win_amd64", module_bytes=pe_module(
        {"python313.dll": ["_Py_Dealloc"]}))
    f = module_build(inspect_wheel(wrong_version))
    assert f.severity == "error" and "imports python313.dll" in f.message


@pytest.mark.parametrize("module,says", [
    (elf_module(["malloc", "free"]), "no evidence - 2 undefined symbol(s), none of"),
    (pe_module({"KERNEL32.dll": ["GetLastError"]}), "no evidence - imports no python DLL"),
    (macho_module([]), "no evidence - 0 undefined symbol(s)"),
    (b"not a binary at all", "unreadable - not an ELF, PE or Mach-O file"),
    (b"\x7fELF" + b"\0" * 12, "unreadable - ELF parser failed"),
])
def test_a_module_that_says_nothing_is_no_evidence_a_warning_never_a_pass(tmp_path, module,
                                                                         says):
    info = inspect_wheel(make_wheel(tmp_path, FT_LINUX, module_bytes=module))
    f = module_build(info)
    assert f.severity == "warning" and says in f.message, f.message
    assert not info.errors  # no evidence is not a failure either


def test_build_intermediates_are_a_warning_listing_them(tmp_path, capsys):
    release = {f"autobahn/nvx/Release/_nvx_{m}{ext}": b"\0" * 4096
               for m in ("utf8validator", "xormasker")
               for ext in (".obj", ".cp314-win_amd64.exp", ".cp314-win_amd64.lib")}
    wheel = make_wheel(tmp_path, "cp314-cp314-win_amd64", build="limited API",
                       extra_files=release)
    info = inspect_wheel(wheel)
    f = {f.check: f for f in info.findings}["build-intermediates"]
    assert f.severity == "warning" and f.message.startswith("6 build intermediate(s), 24 KiB")
    assert "autobahn/nvx/Release/_nvx_xormasker.obj" in f.message
    assert not info.errors and cli.main(["inspect", str(wheel)]) == errors.EXIT_PASS
    assert "WARN build-intermediates" in capsys.readouterr().out


def run_static(wheel) -> Check:
    check = Check("static")
    ctx = types.SimpleNamespace(target=types.SimpleNamespace(wheel=GateWheel.read(wheel)))
    Static().run(ctx, check)
    return check


def test_the_gate_static_step_fails_on_a_gil_module_in_a_cp314t_wheel(tmp_path):
    bad = run_static(make_wheel(tmp_path, FT_WIN, build="limited API"))
    assert bad.status == "failed"
    assert [f["nodeid"] for f in bad.failures] == ["inspect::module-build"]
    assert "imports python3.dll" in bad.summary
    (tmp_path / "good").mkdir()
    assert run_static(make_wheel(tmp_path / "good", FT_WIN)).status == "passed"


CC = shutil.which("cc")


def _c_calling(tmp_path, name: str, symbols: list[str]):
    """A C file calling ``symbols``, declared extern as no Python header is needed."""
    src = tmp_path / f"{name}.c"
    src.write_text("".join(f"extern void {s}(void *);\n" for s in symbols)
                   + "void touch(void *o) {" + "".join(f" {s}(o);" for s in symbols) + " }\n")
    return src


def _linked(tmp_path, name: str, symbols: list[str]) -> bytes:
    """A real shared object from the system's compiler and linker that calls
    ``symbols`` (resolved at load time, as an extension's are)."""
    src = _c_calling(tmp_path, name, symbols)
    out = tmp_path / f"{name}.so"
    subprocess.run([CC, "-shared", "-fPIC", "-O1", "-o", str(out), str(src)], check=True,
                   timeout=120)
    return out.read_bytes()


@pytest.mark.skipif(CC is None, reason="NOT RUN: no C compiler (cc) on PATH")
def test_real_linked_shared_objects_are_read_the_same(tmp_path):
    ft = _linked(tmp_path, "ft", ["_Py_DecRefShared", "_Py_MergeZeroLocalRefcount"])
    gil = _linked(tmp_path, "gil", ["_Py_Dealloc"])
    assert read_module("ft.so", ft).build == "free-threaded"
    assert read_module("gil.so", gil).build == "GIL"
    assert module_build(inspect_wheel(make_wheel(tmp_path, FT_LINUX, module_bytes=ft))
                        ).severity == "ok"
    (tmp_path / "bad").mkdir()
    f = module_build(inspect_wheel(make_wheel(tmp_path / "bad", FT_LINUX, module_bytes=gil)))
    assert f.severity == "error" and "references _Py_Dealloc" in f.message


def _clang() -> str | None:
    found = shutil.which("clang")
    if found:
        return found
    versioned = sorted(glob.glob("/usr/bin/clang-[0-9]*"))
    return versioned[-1] if versioned else None


CLANG = _clang()


@pytest.mark.skipif(CLANG is None, reason="NOT RUN: no clang to emit a Mach-O object")
def test_real_macho_objects_from_clang_are_read_the_same(tmp_path):
    """clang writes Mach-O for macOS without an SDK; with no ld64 here these are objects
    (MH_OBJECT), not linked bundles, but their symbol tables are the same kind."""
    built = {}
    for name, symbols in (("ft", ["_Py_DecRefShared", "_Py_MergeZeroLocalRefcount"]),
                          ("gil", ["_Py_Dealloc"])):
        src = _c_calling(tmp_path, name, symbols)
        out = tmp_path / f"{name}.o"
        subprocess.run([CLANG, "-target", "arm64-apple-macos11", "-c", "-o", str(out),
                        str(src)], check=True, timeout=120)
        built[name] = out.read_bytes()
    assert read_module("ft.o", built["ft"]).build == "free-threaded"
    gil = read_module("gil.o", built["gil"])
    assert (gil.format, gil.build) == ("Mach-O", "GIL")
    f = module_build(inspect_wheel(make_wheel(tmp_path, FT_MAC, module_bytes=built["gil"])))
    assert f.severity == "error" and "(Mach-O): compiled for the GIL build" in f.message


def _interpreter(label: str):
    found = interpreters.current() if label == "current" else interpreters.find(label)
    if found is None:
        pytest.skip(f"NOT RUN: no python{label} here - " + interpreters.how_to_get(label))
    return found


def _include_dir(exe: str) -> Path:
    out = subprocess.run([exe, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                         capture_output=True, text=True, check=True, timeout=60)
    include = Path(out.stdout.strip())
    if not (include / "Python.h").is_file():
        pytest.skip(f"NOT RUN: {exe} has no Python.h ({include})")
    return include


@pytest.mark.skipif(CC is None, reason="NOT RUN: no C compiler (cc) on PATH")
@pytest.mark.parametrize("label", ["current", "3.14", "3.14t"])
def test_the_markers_are_what_each_interpreters_own_headers_produce(tmp_path, label):
    """A module whose only Python call is ``Py_DECREF``, compiled against the headers of
    each interpreter here: free-threaded headers give the free-threaded markers, GIL
    headers ``_Py_Dealloc`` - so the evidence tracks CPython's headers, not our guess."""
    interp = _interpreter(label)
    src = tmp_path / "drop.c"
    src.write_text("#include <Python.h>\nvoid drop(PyObject *o) { Py_DECREF(o); }\n")
    out = tmp_path / "drop.so"
    subprocess.run([CC, "-shared", "-fPIC", "-O2", f"-I{_include_dir(interp.executable)}",
                    "-o", str(out), str(src)], check=True, timeout=120)
    mod = read_module("drop.so", out.read_bytes())
    assert mod.build == ("free-threaded" if interp.free_threaded else "GIL"), mod.evidence


@pytest.mark.skipif(CC is None, reason="NOT RUN: no C compiler (cc) on PATH")
def test_limited_api_headers_give_the_stable_abi_calls_and_refuse_free_threading(tmp_path):
    src = tmp_path / "drop.c"
    src.write_text("#define Py_LIMITED_API 0x030c0000\n#include <Python.h>\n"
                   "void drop(PyObject *o) { Py_DECREF(o); }\n")
    gil = _interpreter("3.14")
    out = tmp_path / "drop.so"
    subprocess.run([CC, "-shared", "-fPIC", f"-I{_include_dir(gil.executable)}", "-o",
                    str(out), str(src)], check=True, timeout=120)
    assert read_module("drop.so", out.read_bytes()).build == "limited API"
    ft = _interpreter("3.14t")
    refused = subprocess.run([CC, "-shared", "-fPIC", f"-I{_include_dir(ft.executable)}",
                              "-o", str(tmp_path / "ft.so"), str(src)], capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0
    assert "limited API is not currently supported in the free-threaded build" in refused.stderr


PE_DATA = Path(__file__).parent / "data" / "pe"


@pytest.mark.parametrize("fixture,tag,severity", [
    ("m_python314t.pyd", FT_WIN, "ok"),
    ("m_python3.pyd", FT_WIN, "error"),
    ("m_python314.pyd", FT_WIN, "error"),
    ("m_python314.pyd", "cp314-cp314-win_amd64", "ok"),
    ("m_python3.pyd", "cp314-cp314-win_amd64", "ok"),
    ("m_python314t.pyd", "cp314-cp314-win_amd64", "error"),
])
def test_real_linked_pe_modules(tmp_path, fixture, tag, severity):
    """Real linker output (``data/pe/README.md``), not only our own PE writer."""
    f = module_build(inspect_wheel(make_wheel(
        tmp_path, tag, module_bytes=(PE_DATA / fixture).read_bytes())))
    assert f.severity == severity, f.message
    if severity == "error":
        assert f"imports {fixture[2:-4]}.dll" in f.message and "_nvx_xormasker" in f.message
