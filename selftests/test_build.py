"""nvx_ft.build: NVX's two CFFI modules built from autobahn's own sdist, cached, shadowing.

The source is the installed autobahn's sdist from PyPI (downloaded once into the cache);
the builds run autobahn's builder scripts with this interpreter.
"""

import json
import subprocess
import sys

import pytest

from nvx_ft import build, cli, errors, patches, sanitizers, sources
from nvx_ft.patches import Edit
from nvx_ft.sources import BuildError

pytestmark = [
    pytest.mark.harness,
    pytest.mark.thread_unsafe(
        reason="compiles NVX and runs subprocesses; the build cache is shared by content"),
]


@pytest.fixture(scope="module")
def source():
    version = sources.installed_autobahn_version()
    assert version, "autobahn must be installed for nvx-ft's own tests ([target] extra)"
    return sources.nvx_source(version=version)


@pytest.fixture(scope="module")
def control(source):
    return build.build(source)


def test_source_is_autobahns_nvx_folder(source):
    assert sorted(p.name for p in source.iterdir()) == sorted(sources.NVX_FILES)
    assert "nvx_xormask_process" in (source / "_xormasker.c").read_text()


def test_build_has_both_modules_for_this_interpreter(control):
    ext = build.identity(sys.executable)["ext_suffix"]
    assert set(control.modules) == set(build.MODULES)
    for mod, path in control.modules.items():
        assert path.startswith(str(control.path)) and path.endswith(ext), (mod, path)
    record = json.loads((control.path / build.RECORD).read_text())
    # reused by every venv of this interpreter: the record names the one that built it
    here = build.identity(sys.executable)
    assert record["key"] == control.key
    assert record["interpreter"]["base_executable"] == here["base_executable"]


def test_suites_target_the_build_and_the_header_shows_it(control, pytester, monkeypatch):
    """PYTHONPATH first shadows the installed wheel's modules; the pytest header names them."""
    monkeypatch.setenv("PYTHONPATH", str(control.path))
    pytester.makepyfile(test_probe="""
        def test_modules_come_from_the_build(nvx_target):
            import _nvx_utf8validator, _nvx_xormasker
            print(_nvx_utf8validator.__file__, _nvx_xormasker.__file__)
            assert nvx_target.utf8 and nvx_target.xor
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    for mod in build.MODULES:
        result.stdout.fnmatch_lines([f"  {mod}: {control.path}/{mod}.*"])


def test_cache_key_covers_flags_and_patch(source, control):
    again = build.build(source)
    assert again.cached and again.key == control.key and again.path == control.path
    flagged = build.build(source, cflags=["-DNVX_FT_CACHE_KEY_PROBE=1"])
    patched = build.build(source, edits=[Edit("_xormasker.c", "#define XOR_MASKER_OPTIMAL 0",
                                              "#define XOR_MASKER_OPTIMAL 0 /* probe */")])
    assert len({control.key, flagged.key, patched.key}) == 3
    assert "-DNVX_FT_CACHE_KEY_PROBE=1" in flagged.cflags


def test_extra_flags_reach_the_compiler(source, control):
    """-fsanitize=address must instrument the modules; the plain build must not be."""
    asan = build.build(source, cflags=list(sanitizers.ASAN_CFLAGS))
    assert all(sanitizers.instrumented(p, "asan") for p in asan.modules.values())
    assert not any(sanitizers.instrumented(p, "asan") for p in control.modules.values())
    assert not any(sanitizers.instrumented(p, "tsan") for p in control.modules.values())


def test_environment_cflags_do_not_replace_the_interpreters(source, monkeypatch):
    """A CFLAGS in the environment is ignored (newer setuptools would let it *replace*
    the interpreter's flags, silently dropping e.g. a TSan build's -fsanitize=thread)."""
    monkeypatch.setenv("CFLAGS", "-fsanitize=address")
    # a flag of its own: a real compile, not the cached control
    b = build.build(source, cflags=["-DNVX_FT_ENV_CFLAGS_PROBE=1"])
    assert not any(sanitizers.instrumented(p, "asan") for p in b.modules.values())


def test_compile_error_is_a_build_error_with_the_log(source):
    bad = [Edit("_xormasker.c", "#define XOR_MASKER_OPTIMAL 0", "#error nvx-ft probe")]
    with pytest.raises(BuildError, match="nvx-ft probe"):
        build.build(source, edits=bad)


def test_patch_snippets_must_match_exactly_once(source, tmp_path):
    import shutil

    work = tmp_path / "nvx"
    shutil.copytree(source, work)
    with pytest.raises(BuildError, match="occurs 0 times"):
        patches.apply_edits(work, [Edit("_xormasker.c", "no such code", "x")])
    with pytest.raises(BuildError, match="occurs [2-9] times"):
        patches.apply_edits(work, [Edit("_xormasker.c", "masker->ptr", "x")])
    with pytest.raises(BuildError, match="not one of"):
        patches.apply_edits(work, [Edit("../setup.py", "a", "b")])
    # ``after`` picks the first occurrence behind a unique anchor
    patches.apply_edits(work, [Edit("_xormasker.c", "masker->ptr = ptr;", "masker->ptr = 0;",
                                  after="void _nvx_xormask_process_sse2")])
    text = (work / "_xormasker.c").read_text()
    assert text.count("masker->ptr = 0;") == 3  # reset, new, and the one replaced
    assert text.index("masker->ptr = 0;", text.index("_nvx_xormask_process_sse2")) > 0
    assert (source / "_xormasker.c").read_text().count("masker->ptr = 0;") == 2


def test_cli_build(control, capsys):
    assert cli.main(["build", "--json"]) == errors.EXIT_PASS
    record = json.loads(capsys.readouterr().out)
    assert record["path"] == str(control.path) and record["cached"]
    assert cli.main(["build", "--patch", "no-such-mutant"]) == errors.EXIT_FAIL
    assert "not a file and not a mutant" in capsys.readouterr().err
    assert cli.main(["build", "--python", "no-such-python-here"]) == errors.EXIT_USAGE
    assert cli.main(["build", "--python", "9.99t"]) == errors.EXIT_BLOCKED  # a label not found


def test_cli_build_of_a_local_checkout(source, control, tmp_path):
    """--source takes a checkout layout (src/autobahn/nvx); the cache key is the content,
    so the same NVX files as the sdist's reuse the sdist's build."""
    import shutil

    nvx = tmp_path / "checkout" / "src" / "autobahn" / "nvx"
    shutil.copytree(source, nvx)
    out = subprocess.run([sys.executable, "-c", "import sys; from nvx_ft.cli import main; "
                          "sys.exit(main())", "build", "--source", str(tmp_path / "checkout"),
                          "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["key"] == control.key


def test_sdist_download_finds_a_pip_where_the_venv_has_none(monkeypatch):
    """nox's uv-made venvs have no pip: the download takes the first pip on PATH, and
    without any says how to go on (it failed every build self-test in a fresh CI run)."""
    real_find_spec = sources.importlib.util.find_spec
    monkeypatch.setattr(sources.importlib.util, "find_spec",
                        lambda name: None if name == "pip" else real_find_spec(name))
    monkeypatch.setattr(sources.shutil, "which",
                        lambda name: "/somewhere/bin/pip3" if name == "pip3" else None)
    assert sources._pip() == ["/somewhere/bin/pip3"]
    monkeypatch.setattr(sources.shutil, "which", lambda name: None)
    with pytest.raises(sources.BuildError, match="--source PATH"):
        sources._pip()
