"""``nvx-ft inspect``: each static check passes a good wheel and fails the wheel that
breaks exactly it; bad input is a one-line exit 3."""

from __future__ import annotations

import zipfile

import pytest
from fake_wheels import make_wheel
from packaging.tags import Tag

from nvx_ft import cli, errors
from nvx_ft.release.inspect import BadWheel, expected_suffixes, inspect_wheel

pytestmark = pytest.mark.harness

FT_CLASSIFIER = "Programming Language :: Python :: Free Threading :: 2 - Beta"


def by_check(info):
    return {f.check: f for f in info.findings}


def test_good_free_threaded_wheel_passes_every_check(tmp_path):
    info = inspect_wheel(make_wheel(tmp_path, classifiers=(FT_CLASSIFIER,)))
    assert [f for f in info.findings if f.severity != "ok"] == []
    assert set(by_check(info)) == {"wheel-tags", "extension-suffix", "nvx-modules",
                                   "cffi-requirement", "free-threading-classifier",
                                   "module-build", "build-intermediates"}
    assert info.free_threaded and "2 - Beta" in by_check(info)["free-threading-classifier"].message


def test_free_threaded_wheel_without_classifier_is_a_warning(tmp_path):
    f = by_check(inspect_wheel(make_wheel(tmp_path)))["free-threading-classifier"]
    assert f.severity == "warning" and "Free Threading" in f.message


def test_wheel_file_tags_must_equal_the_file_name(tmp_path):
    # The 26.6.1 failure mode seen from inside: name and WHEEL disagree on the ABI.
    wheel = make_wheel(tmp_path, wheel_tags=["cp314-cp314-manylinux_2_28_x86_64"])
    f = by_check(inspect_wheel(wheel))["wheel-tags"]
    assert f.severity == "error"
    assert "cp314-cp314-manylinux_2_28_x86_64" in f.message and "cp314t" in f.message


def test_gil_module_inside_a_free_threaded_wheel_is_an_error(tmp_path):
    wheel = make_wheel(tmp_path, suffix=".cpython-314-x86_64-linux-gnu.so")
    f = by_check(inspect_wheel(wheel))["extension-suffix"]
    assert f.severity == "error"
    assert "_nvx_xormasker.cpython-314-x86_64-linux-gnu.so" in f.message
    assert ".cpython-314t-x86_64-linux-gnu.so" in f.message


def test_grafted_shared_libraries_are_not_extension_modules(tmp_path):
    wheel = make_wheel(tmp_path, "cp311-cp311-musllinux_1_2_x86_64",
                       extra_files={"autobahn.libs/libgcc_s-0cd532bd.so.1": b"x",
                                    "autobahn.libs/libstdc++-5d72f927.so": b"x"})
    assert by_check(inspect_wheel(wheel))["extension-suffix"].severity == "ok"


def test_platform_wheel_without_nvx_is_an_error(tmp_path):
    wheel = make_wheel(tmp_path, nvx=("_nvx_utf8validator",))
    f = by_check(inspect_wheel(wheel))["nvx-modules"]
    assert f.severity == "error" and "_nvx_xormasker missing" in f.message


def test_pure_python_wheel_is_an_error(tmp_path):
    info = inspect_wheel(make_wheel(tmp_path, "py3-none-any"))
    f = by_check(info)["nvx-modules"]
    assert info.pure and f.severity == "error" and "pure-Python wheel" in f.message


@pytest.mark.parametrize("requires, ok", [
    (("cffi>=2.0.0",), True),
    (("cffi>=2; platform_python_implementation == 'CPython'",), True),
    (("cffi>=1.17.1",), False),  # admits cffi 1.x: GIL back on under 3.14t
    (("cffi",), False),
    (("cffi>=2; platform_python_implementation == 'PyPy'",), False),  # not for CPython
    (("cffi>=2; extra == 'nvx'",), False),  # only with an extra: a plain install lacks it
    (("txaio>=21.2.1",), False),
])
def test_cffi_requirement_must_exclude_cffi_1(tmp_path, requires, ok):
    f = by_check(inspect_wheel(make_wheel(tmp_path, requires=requires)))["cffi-requirement"]
    assert (f.severity == "ok") is ok, f.message


def test_pypy_wheel_needs_no_cffi_requirement(tmp_path):
    wheel = make_wheel(tmp_path, "pp311-pypy311_pp73-manylinux_2_28_x86_64", requires=())
    assert by_check(inspect_wheel(wheel))["cffi-requirement"].severity == "ok"


@pytest.mark.parametrize("tag, suffix", [
    ("cp314-cp314t-manylinux_2_28_x86_64", ".cpython-314t-x86_64-linux-gnu.so"),
    ("cp314-cp314-manylinux2014_aarch64", ".cpython-314-aarch64-linux-gnu.so"),
    ("cp314-cp314t-macosx_15_0_arm64", ".cpython-314t-darwin.so"),
    ("cp314-cp314t-win_amd64", ".cp314t-win_amd64.pyd"),
    ("cp311-cp311-musllinux_1_2_aarch64", ".cpython-311-aarch64-linux-musl.so"),
    ("pp311-pypy311_pp73-manylinux_2_28_x86_64", ".pypy311-pp73-x86_64-linux-gnu.so"),
    ("pp311-pypy311_pp73-win_amd64", ".pypy311-pp73-win_amd64.pyd"),
    ("cp314-cp314t-linux_x86_64", ".cpython-314t-x86_64-linux-gnu.so"),  # a local sdist build
])
def test_expected_suffix_per_abi_and_platform(tag, suffix):
    interp, abi, plat = tag.split("-")
    assert expected_suffixes(Tag(interp, abi, plat)) == {suffix}


def _corrupt(tmp_path, how):
    good = make_wheel(tmp_path)
    data = good.read_bytes()
    if how == "junk":
        good.write_bytes(b"this is not a zip file at all" * 10)
    elif how == "truncated":
        good.write_bytes(data[: len(data) // 2])
    elif how == "no-dist-info":
        good.unlink()
        with zipfile.ZipFile(good, "w") as zf:
            zf.writestr("_nvx_xormasker.cpython-314t-x86_64-linux-gnu.so", b"x")
    elif how == "crc":
        # flip one byte of a stored member's payload; the zip directory stays intact
        good.unlink()
        with zipfile.ZipFile(good, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("autobahn-26.10.2.dist-info/WHEEL", b"Tag: x\n" * 20)
        raw = bytearray(good.read_bytes())
        raw[raw.index(b"Tag: x") + 2] ^= 0xFF
        good.write_bytes(bytes(raw))
    return good


@pytest.mark.parametrize("how", ["junk", "truncated", "no-dist-info", "crc"])
def test_corrupt_wheels_are_bad_input(tmp_path, how):
    with pytest.raises(BadWheel, match="corrupt wheel"):
        inspect_wheel(_corrupt(tmp_path, how))


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "autobahn-26.10.2-cp314-cp314t-win_amd64.whl", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "notes.txt").write_text("x") and p / "notes.txt", "not a wheel file name"),
    (lambda p: _corrupt(p, "junk"), "corrupt wheel"),
])
def test_cli_bad_input_is_one_line_exit_3(tmp_path, capsys, make, message):
    rc = cli.main(["inspect", str(make(tmp_path))])
    err = capsys.readouterr().err
    assert rc == errors.EXIT_USAGE
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_exit_codes_follow_the_findings(tmp_path, capsys):
    good = make_wheel(tmp_path / "", classifiers=(FT_CLASSIFIER,))
    assert cli.main(["inspect", str(good)]) == errors.EXIT_PASS
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    bad = make_wheel(bad_dir, requires=("cffi>=1.15",))
    assert cli.main(["inspect", str(good), str(bad)]) == errors.EXIT_FAIL
    out = capsys.readouterr().out
    assert "FAIL cffi-requirement" in out and "admits cffi<2" in out
