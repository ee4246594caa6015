"""``nvx-ft fileset --targets``: autobahn's own target lists, matched exactly.

The target lists are those of autobahn's release.yml (its check-release-fileset steps),
copied verbatim into ``data/fileset/targets-*.txt`` (the header of each names the
commit); the file names are the recorded releases of ``data/fileset/autobahn-*.txt``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nvx_ft import cli, errors
from nvx_ft.release.fileset import check
from nvx_ft.release.release_files import names_from_file
from nvx_ft.release.targets import manifest_from_targets, split_targets

pytestmark = pytest.mark.harness

DATA = Path(__file__).parent / "data" / "fileset"
TARGETS_26_6_1 = DATA / "targets-26.6.1.txt"      # release.yml at v26.6.1
TARGETS_NEWEST = DATA / "targets-e9eebbe.txt"     # release.yml at its newest commit
STRAY = "autobahn-26.6.1-cp314-cp314t-manylinux_2_24_aarch64.manylinux_2_28_aarch64.whl"


def names(version: str) -> list[str]:
    return names_from_file(DATA / f"autobahn-{version}.txt")


def targets(path: Path) -> list[str]:
    return split_targets(path.read_text(encoding="utf-8"))


def with_free_threaded(listed: list[str]) -> list[str]:
    """The list plus a ``cpy314t`` target beside every ``cpy314`` one."""
    return listed + [t.replace("cpy314-", "cpy314t-") for t in listed
                     if t.startswith("cpy314-")]


def test_the_recorded_target_lists_are_autobahns():
    old, new = targets(TARGETS_26_6_1), targets(TARGETS_NEWEST)
    assert len(old) == 21 and len(new) == 29 and old[-1] == new[-1] == "source"
    assert not any(t.startswith("cpy314t") or "win-arm64" in t for t in old + new)
    assert "cpy314-linux-aarch64-manylinux_2_28" in old
    assert "cpy311-linux-x86_64-musllinux_1_2" in new


def test_26_6_1_with_its_own_targets_reports_the_aarch64_cpy314_target_wrong_abi():
    report = check(names("26.6.1"), manifest_from_targets(targets(TARGETS_26_6_1)))
    by_id = {c.id: c for c in report.cells}
    assert len(report.cells) == 20
    cell = by_id["cpy314-linux-aarch64-manylinux_2_28"]
    assert (cell.status, cell.detail, cell.files) == ("wrong-abi", "wrong ABI: cp314t", [STRAY])
    assert [c.id for c in report.cells if not c.ok] == [cell.id] and not report.passed
    # the stray free-threaded wheel fills no target: an extra, not a cpy314 wheel
    assert [e["file"] for e in report.extras] == [STRAY]


def test_26_6_1_cli_names_the_wrong_cell_and_exits_1(capsys):
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.6.1.txt"),
                   "--targets", str(TARGETS_26_6_1)])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_FAIL
    assert f"cpy314-linux-aarch64-manylinux_2_28: wrong ABI: cp314t - {STRAY}" in out
    assert ("verdict: FAIL - 1 required cell(s) not present: "
            "cpy314-linux-aarch64-manylinux_2_28") in out


def test_26_11_1_passes_the_newest_targets_with_its_win_arm64_wheels_as_extras(capsys):
    report = check(names("26.11.1"), manifest_from_targets(targets(TARGETS_NEWEST)))
    assert report.passed and len(report.cells) == 28
    assert all(c.status == "present" for c in report.cells) and report.sdist["ok"]
    assert sorted(e["file"] for e in report.extras) == [
        f"autobahn-26.11.1-cp31{m}-cp31{m}-win_arm64.whl" for m in "1234"]
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"),
                   "--targets", str(TARGETS_NEWEST)])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_PASS and out.count("[warning]") == 4
    assert "verdict: PASS (4 extra wheel(s): a warning)" in out
    # --fail-on-extra: the same extras fail the release, by name
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"),
                   "--targets", str(TARGETS_NEWEST), "--fail-on-extra"])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_FAIL and out.count("[FAIL]") == 4
    assert "verdict: FAIL - 4 extra wheel(s) (--fail-on-extra)" in out
    assert "autobahn-26.11.1-cp314-cp314-win_arm64.whl" in out


def test_26_11_1_fails_once_cpy314t_targets_are_added_naming_each_missing_cell(
        capsys, monkeypatch):
    listed = with_free_threaded(targets(TARGETS_NEWEST))
    report = check(names("26.11.1"), manifest_from_targets(listed))
    wanted = ["cpy314t-macos-arm64", "cpy314t-linux-x86_64-manylinux_2_28",
              "cpy314t-linux-aarch64-manylinux_2_28", "cpy314t-linux-x86_64-musllinux_1_2",
              "cpy314t-linux-aarch64-musllinux_1_2", "cpy314t-win-amd64"]
    assert [c.id for c in report.cells if not c.ok] == wanted
    # the cp314 wheels next to them are no substitute: missing, not filled
    assert {c.status for c in report.cells if not c.ok} == {"missing"}
    monkeypatch.setattr("sys.stdin", io.StringIO(", ".join(listed)))
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"), "--targets", "-"])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_FAIL
    assert "free-threading: 6 free-threaded target(s) listed" in out
    assert "verdict: FAIL - 6 required cell(s) not present: " + ", ".join(wanted) in out


def release(*tags: str, version: str = "27.1.1") -> list[str]:
    return [f"autobahn-{version}-{t}.whl" for t in tags] + [f"autobahn-{version}.tar.gz"]


def test_cpy314_and_cpy314t_are_filled_only_by_their_own_abi():
    manifest = manifest_from_targets(["cpy314-linux-x86_64-manylinux_2_28",
                                      "cpy314t-linux-x86_64-manylinux_2_28", "source"])
    only_ft = check(release("cp314-cp314t-manylinux_2_28_x86_64"), manifest)
    assert {c.id: c.status for c in only_ft.cells} == {
        "cpy314-linux-x86_64-manylinux_2_28": "missing",
        "cpy314t-linux-x86_64-manylinux_2_28": "present"}
    only_gil = check(release("cp314-cp314-manylinux_2_28_x86_64"), manifest)
    assert {c.id: c.status for c in only_gil.cells} == {
        "cpy314-linux-x86_64-manylinux_2_28": "present",
        "cpy314t-linux-x86_64-manylinux_2_28": "missing"}
    both = check(release("cp314-cp314-manylinux_2_28_x86_64",
                         "cp314-cp314t-manylinux_2_28_x86_64"), manifest)
    assert both.passed and both.extras == []


def test_target_syntax_as_the_action_takes_it_plus_comments():
    text = ("# required\ncp311-linux-amd64-manylinux_2_28, pp311-linux-arm64-manylinux2014\n"
            "cpy312-macos-aarch64   cpy313-win-x86_64 # trailing comment\n"
            "cpy313-win-x86_64\ncpy314-linux-x86_64\nsdist\n")
    listed = split_targets(text)
    assert listed == ["cp311-linux-amd64-manylinux_2_28", "pp311-linux-arm64-manylinux2014",
                      "cpy312-macos-aarch64", "cpy313-win-x86_64", "cpy313-win-x86_64",
                      "cpy314-linux-x86_64", "sdist"]
    manifest = manifest_from_targets(listed)
    line = manifest.lines[0]
    cells = [manifest.cell_id(i.id, p) for i, p, _ in manifest.cells(line)]
    # canonical spelling, the duplicate counted once
    assert cells == ["cpy311-linux-x86_64-manylinux_2_28", "pypy311-linux-aarch64-manylinux_2_17",
                     "cpy312-macos-arm64", "cpy313-win-amd64", "cpy314-linux-x86_64"]
    assert manifest.sdist == "required"
    report = check(release("cp311-cp311-manylinux_2_28_x86_64",
                           "pp311-pypy311_pp73-manylinux2014_aarch64.manylinux_2_17_aarch64",
                           "cp312-cp312-macosx_11_0_universal2", "cp313-cp313-win_amd64",
                           "cp314-cp314-musllinux_1_2_x86_64"), manifest)
    assert report.passed and report.extras == []
    # an exact libc tag: a manylinux_2_17 wheel does not fill a manylinux_2_28 target
    exact = check(release("cp311-cp311-manylinux_2_17_x86_64"),
                  manifest_from_targets(["cpy311-linux-x86_64-manylinux_2_28"]))
    assert [c.status for c in exact.cells] == ["missing"] and len(exact.extras) == 1


def test_universal2_and_a_generic_linux_target_fill_every_platform_they_serve():
    manifest = manifest_from_targets(["cpy312-macos-arm64", "cpy312-macos-x86_64",
                                      "cpy312-linux-x86_64", "cpy312-linux-x86_64-musllinux_1_2",
                                      "py3-none-any"])
    report = check(release("cp312-cp312-macosx_11_0_universal2",
                           "cp312-cp312-musllinux_1_2_x86_64", "py3-none-any"), manifest)
    assert report.passed, [(c.id, c.status) for c in report.cells]
    assert {c.id for c in report.cells} >= {"py3-none-any", "cpy312-linux-x86_64"}


@pytest.mark.parametrize("text,message", [
    ("cpy314-linux-aarch64-manylinux_2_28\ncpython314-linux-x86_64", "'cpython314-linux-x86_64' is not a target"),
    ("cpy313-win-amd64-manylinux_2_28", "a libc tag (manylinux_2_28) only goes with linux"),
    ("pypy311t-linux-x86_64", "PyPy has no free-threaded build"),
    ("cpy313-linux-x86_64-glibc_2_28", "'glibc_2_28' is not a manylinux_X_Y"),
    ("# nothing\n", "no targets"),
])
def test_bad_target_lists_are_bad_input(tmp_path, capsys, text, message):
    listed = tmp_path / "targets.txt"
    listed.write_text(text)
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"),
                   "--targets", str(listed)])
    err = capsys.readouterr().err
    assert rc == errors.EXIT_USAGE and message in err and "Traceback" not in err


def test_targets_replace_the_manifest(capsys):
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"),
                   "--targets", str(TARGETS_NEWEST), "--line", "26.7"])
    assert rc == errors.EXIT_USAGE and "--targets replaces the manifest" in capsys.readouterr().err
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"),
                   "--targets", str(DATA / "no-such-targets.txt")])
    assert rc == errors.EXIT_USAGE and "no such file" in capsys.readouterr().err
