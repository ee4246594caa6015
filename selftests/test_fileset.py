"""``nvx-ft fileset``: exact (python, ABI, platform) cells, on autobahn's real releases.

The recorded lists are the file names PyPI serves for autobahn 26.6.1, 26.10.2 (every
file was downloaded once with pip to confirm them) and 26.11.1 (from the index), so
these run offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nvx_ft import cli, errors
from nvx_ft.release.fileset import check
from nvx_ft.release.manifest import load_manifest, normalise_platform
from nvx_ft.release.release_files import names_from_file

pytestmark = pytest.mark.harness

DATA = Path(__file__).parent / "data" / "fileset"
TODAY_CPYTHON_PLATFORMS = ("macos-arm64", "linux-x86_64", "linux-aarch64", "musllinux-x86_64",
                           "musllinux-aarch64", "windows-amd64", "windows-arm64")
CP314T_CELLS = {f"cp314t/{p}" for p in TODAY_CPYTHON_PLATFORMS}
PLAT_TAG = {"macos-arm64": "macosx_15_0_arm64",
            "linux-x86_64": "manylinux_2_24_x86_64.manylinux_2_28_x86_64",
            "linux-aarch64": "manylinux_2_24_aarch64.manylinux_2_28_aarch64",
            "musllinux-x86_64": "musllinux_1_2_x86_64",
            "musllinux-aarch64": "musllinux_1_2_aarch64",
            "windows-amd64": "win_amd64", "windows-arm64": "win_arm64"}
FT_BETA = "Programming Language :: Python :: Free Threading :: 2 - Beta"


def recorded(version: str) -> list[str]:
    return names_from_file(DATA / f"autobahn-{version}.txt")


def cells(report):
    return {c.id: c for c in report.cells}


def complete_release(manifest, version: str = "27.1.1") -> list[str]:
    """One wheel per cell of the release line holding ``version`` (free-threaded cells
    included), named as autobahn names them, plus the sdist."""
    line = manifest.line_for(version)
    return ([f"autobahn-{version}-{i.python}-{i.abi}-{PLAT_TAG[p]}.whl"
             for i, p, _ in manifest.cells(line)] + [f"autobahn-{version}.tar.gz"])


def test_26_6_1_fails_the_linux_aarch64_cp314_cell_with_wrong_abi_cp314t():
    report = check(recorded("26.6.1"), load_manifest(), "recorded 26.6.1")
    assert report.line["name"] == "25.9-26.6" and report.line["selected"] == "by version"
    cell = cells(report)["cp314/linux-aarch64"]
    assert cell.status == "wrong-abi" and cell.required and not cell.ok
    assert cell.detail == "wrong ABI: cp314t"
    assert cell.files == ["autobahn-26.6.1-cp314-cp314t-manylinux_2_24_aarch64."
                          "manylinux_2_28_aarch64.whl"]
    # the stray cp314t wheel is still a real cp314t wheel for its own cell
    assert cells(report)["cp314t/linux-aarch64"].status == "present"
    assert [c.id for c in report.cells if not c.ok] == ["cp314/linux-aarch64"]
    assert not report.passed and not report.free_threading["claimed"]
    assert any("1 of 4 free-threaded cells" in n for n in report.notes)
    # claiming free-threading adds the three cp314t cells the release never built
    claimed = check(recorded("26.6.1"), load_manifest(), claims_free_threading=True)
    assert {c.id for c in claimed.cells if not c.ok} == {
        "cp314/linux-aarch64", "cp314t/macos-arm64", "cp314t/linux-x86_64",
        "cp314t/windows-amd64"}


@pytest.mark.parametrize("version", ["26.10.2", "26.11.1"])
def test_26_10_and_26_11_match_todays_matrix_with_no_cp314t_anywhere(version):
    report = check(recorded(version), load_manifest(), f"recorded {version}")
    assert report.line["name"] == "26.10+"
    assert report.platforms == list(TODAY_CPYTHON_PLATFORMS)
    # musllinux and win_arm64 are part of today's matrix: no extras, every GIL cell present
    assert report.extras == [] and report.sdist["ok"]
    missing = {c.id for c in report.cells if c.status != "present"}
    assert missing == CP314T_CELLS
    # PyPy only where autobahn builds it
    assert {c.platform for c in report.cells if c.interpreter == "pp311"} == {
        "macos-arm64", "linux-x86_64", "linux-aarch64", "windows-amd64"}
    # not claimed: the cp314t cells are reported, not required
    assert report.passed and not report.free_threading["claimed"]
    assert all(not cells(report)[cid].required for cid in CP314T_CELLS)
    # a release that claims free-threading must ship all seven
    claimed = check(recorded(version), load_manifest(), claims_free_threading=True)
    assert set(claimed.as_dict()["failing_cells"]) == CP314T_CELLS and not claimed.passed


def test_older_line_is_chosen_by_version_and_forced_by_name(capsys):
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.10.2.txt"),
                   "--line", "25.9-26.6"])
    out = capsys.readouterr().out
    # the four-platform line: musllinux and win_arm64 wheels become extras again
    assert rc == errors.EXIT_PASS and "line 25.9-26.6 (<26.7, chosen by --line)" in out
    assert out.count("unexpected extra:") == 12
    assert "platform not in this release line" in out
    assert load_manifest().line_for("26.7.1").name == "26.7"
    assert cli.main(["fileset", "--names", str(DATA / "autobahn-26.10.2.txt"),
                     "--line", "nonesuch"]) == errors.EXIT_USAGE
    assert "has no line 'nonesuch'" in capsys.readouterr().err


def test_cli_prints_manifest_line_and_table_and_fails_on_required_cells(capsys):
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.6.1.txt")])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_FAIL
    assert "manifest: nvx_ft/release/manifests/autobahn.toml, line 25.9-26.6" in out
    assert "free-threading: not claimed" in out
    row = next(line for line in out.splitlines() if line.startswith("| cp314 "))
    assert "wrong ABI: cp314t" in row
    assert "FAIL" in out.splitlines()[-1] and "cp314/linux-aarch64" in out.splitlines()[-1]


def test_cli_json_report(tmp_path, capsys):
    out_file = tmp_path / "fileset.json"
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.11.1.txt"), "--json",
                   "--json-out", str(out_file), "--claims-free-threading"])
    data = json.loads(capsys.readouterr().out)
    assert rc == errors.EXIT_FAIL and data == json.loads(out_file.read_text())
    assert data["schema"] == "nvx-ft.fileset/1" and data["verdict"] == "fail"
    assert set(data["failing_cells"]) == CP314T_CELLS
    assert data["manifest"] == "nvx_ft/release/manifests/autobahn.toml"
    assert data["line"]["name"] == "26.10+" and data["line"]["versions"] == ">=26.10"
    assert data["free_threading"]["claimed"] and data["free_threading"]["by"] == "flag"


def test_a_complete_release_passes_from_a_directory(tmp_path, capsys):
    for name in complete_release(load_manifest()):
        (tmp_path / name).write_bytes(b"")
    assert cli.main(["fileset", str(tmp_path)]) == errors.EXIT_PASS
    assert capsys.readouterr().out.splitlines()[-1] == "verdict: PASS"


def test_a_classifier_in_metadata_claims_free_threading(tmp_path, capsys):
    """A release directory whose wheel declares a Free Threading classifier claims
    free-threading: its cp314t cells become required."""
    from fake_wheels import VERSION, make_wheel

    names = [n for n in complete_release(load_manifest(), VERSION) if "cp314t" not in n]
    for name in names:
        (tmp_path / name).write_bytes(b"")  # unreadable as zips: claim nothing
    (tmp_path / names[0]).unlink()
    make_wheel(tmp_path, names[0].split(f"{VERSION}-", 1)[1][:-len(".whl")],
               classifiers=(FT_BETA,))
    assert cli.main(["fileset", str(tmp_path)]) == errors.EXIT_FAIL
    out = capsys.readouterr().out
    assert "free-threading: CLAIMED (METADATA declares '" + FT_BETA + "' (1 wheel(s)))" in out
    assert out.splitlines()[-1].startswith("verdict: FAIL - 7 required cell(s)")
    # the flag overrides the METADATA, and says so
    assert cli.main(["fileset", str(tmp_path), "--no-claims-free-threading"]) == errors.EXIT_PASS
    assert "overridden by --no-claims-free-threading" in capsys.readouterr().out


def test_cp314t_never_fills_the_cp314_cell_even_as_the_only_314_wheel():
    # the incident's fileset check matched the ABI by substring; this one must not
    names = [n for n in complete_release(load_manifest())
             if "-cp314-cp314-" not in n]
    report = check(names, load_manifest())
    assert {c.id for c in report.cells if not c.ok} == {
        f"cp314/{p}" for p in TODAY_CPYTHON_PLATFORMS}


def test_missing_sdist_fails_when_required():
    names = [n for n in complete_release(load_manifest()) if not n.endswith(".tar.gz")]
    report = check(names, load_manifest())
    assert all(c.ok for c in report.cells) and not report.sdist["ok"] and not report.passed


@pytest.mark.parametrize("legacy, canonical", [
    ("manylinux2014_aarch64", "manylinux_2_17_aarch64"),
    ("manylinux2010_x86_64", "manylinux_2_12_x86_64"),
    ("manylinux1_x86_64", "manylinux_2_5_x86_64"),
    ("manylinux_2_28_x86_64", "manylinux_2_28_x86_64"),
    ("win_amd64", "win_amd64"),
])
def test_legacy_manylinux_aliases_are_normalised(legacy, canonical):
    assert normalise_platform(legacy) == canonical


def test_compressed_tag_sets_and_aliases_fill_their_cell():
    names = [n for n in complete_release(load_manifest()) if "cp312-cp312-manylinux" not in n]
    names += ["autobahn-27.1.1-cp312-cp312-manylinux2014_aarch64.manylinux_2_17_aarch64.whl",
              "autobahn-27.1.1-cp312-cp312-manylinux1_x86_64.whl"]
    report = check(names, load_manifest())
    assert report.passed, [c.id for c in report.cells if not c.ok]


ABI3T_MANIFEST = """
name = "future"
[interpreters]
cp314  = { python = "cp314", abi = "cp314" }
cp314t = { python = "cp314", abi = "cp314t" }
cp315  = { python = "cp315", abi = "cp315" }
cp315t = { python = "cp315", abi = "cp315t" }
cp316  = { python = "cp316", abi = "cp316" }
cp316t = { python = "cp316", abi = "cp316t" }
[platforms]
linux-x86_64 = ["manylinux_*_x86_64"]
windows-amd64 = ["win_amd64"]
[[line]]
name = "future"
[[line.cells]]
interpreters = ["cp314", "cp315", "cp316"]
platforms = ["linux-x86_64", "windows-amd64"]
[[line.cells]]
interpreters = ["cp314t", "cp315t", "cp316t"]
platforms = ["linux-x86_64", "windows-amd64"]
required = "if-claimed"
"""


def test_abi3t_wheels_fill_the_free_threaded_cells_of_every_cpython_they_support(tmp_path):
    """PEP 803: ``cp315-abi3.abi3t`` serves CPython >= 3.15, GIL (abi3) and free-threaded
    (abi3t); no 3.14t interpreter loads abi3t, so the cp314t cell stays missing."""
    manifest = tmp_path / "future.toml"
    manifest.write_text(ABI3T_MANIFEST)
    m = load_manifest(str(manifest))
    names = ["pkg-1.0-cp315-abi3.abi3t-manylinux_2_28_x86_64.whl",
             "pkg-1.0-cp315-abi3.abi3t-win_amd64.whl",
             "pkg-1.0-cp314-cp314-manylinux_2_28_x86_64.whl", "pkg-1.0-cp314-cp314-win_amd64.whl",
             "pkg-1.0.tar.gz"]
    report = check(names, m, claims_free_threading=True)
    got = {c.id: c.status for c in report.cells}
    for plat, wheel in (("linux-x86_64", names[0]), ("windows-amd64", names[1])):
        for interp in ("cp315", "cp316", "cp315t", "cp316t"):
            assert got[f"{interp}/{plat}"] == "present", (interp, plat)
            assert cells(report)[f"{interp}/{plat}"].files == [wheel]
        assert got[f"cp314t/{plat}"] == "missing"
        assert "starts with CPython 3.15" in cells(report)[f"cp314t/{plat}"].detail
    assert report.free_threading["present"] == 4 and report.extras == []
    assert {c.id for c in report.cells if not c.ok} == {"cp314t/linux-x86_64",
                                                         "cp314t/windows-amd64"}
    # abi3 alone never fills a free-threaded cell; abi3t alone never a GIL cell
    gil_only = check(["pkg-1.0-cp315-abi3-win_amd64.whl", "pkg-1.0.tar.gz"], m)
    assert {c.id for c in gil_only.cells if c.status == "present"} == {
        "cp315/windows-amd64", "cp316/windows-amd64"}
    ft_only = check(["pkg-1.0-cp316-abi3t-win_amd64.whl", "pkg-1.0.tar.gz"], m)
    assert {c.id for c in ft_only.cells if c.status == "present"} == {"cp316t/windows-amd64"}


def test_optional_cells_and_a_manifest_without_lines(tmp_path):
    """A manifest without [[line]]: every interpreter x platform, required unless a
    [cells] optional pattern names it."""
    manifest = tmp_path / "m.toml"
    plats = "\n".join(f'{p} = ["{PLAT_TAG[p].split(".")[-1].replace("2_28", "*")}"]'
                      for p in TODAY_CPYTHON_PLATFORMS)
    manifest.write_text(
        'name = "flat"\n[interpreters]\n'
        + "\n".join(f'{i} = {{ python = "{i}", abi = "{i}" }}'
                    for i in ("cp311", "cp312", "cp313", "cp314"))
        + '\ncp314t = { python = "cp314", abi = "cp314t" }\n'
        + f"[platforms]\n{plats}\n[cells]\noptional = [\"cp314t/*\"]\n")
    report = check(recorded("26.11.1"), load_manifest(str(manifest)))
    assert report.line["name"] == "all" and report.passed
    assert {c.id for c in report.cells if c.status == "missing"} == CP314T_CELLS
    assert all(c.requirement == "optional" for c in report.cells if c.interpreter == "cp314t")
    assert len(report.extras) == 4  # the PyPy wheels: not in this manifest


def _shipped_manifest_text() -> str:
    from importlib import resources
    return (resources.files("nvx_ft.release") / "manifests" / "autobahn.toml").read_text()


@pytest.mark.parametrize("args, message", [
    (["/nonexistent/dist"], "no such directory"),
    (["--names", "/nonexistent/names.txt"], "no such file"),
    (["--manifest", "/nonexistent/m.toml", "--names", str(DATA / "autobahn-26.6.1.txt")],
     "no such file"),
    (["--manifest", "nonesuch", "--names", str(DATA / "autobahn-26.6.1.txt")],
     "unknown manifest"),
])
def test_bad_input_is_one_line_exit_3(capsys, args, message):
    assert cli.main(["fileset", *args]) == errors.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_mixed_releases_and_empty_inputs_are_bad_input(tmp_path, capsys):
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("\n".join(recorded("26.6.1") + recorded("26.10.2")))
    assert cli.main(["fileset", "--names", str(mixed)]) == errors.EXIT_USAGE
    assert "mixes releases" in capsys.readouterr().err
    (tmp_path / "README.txt").write_text("no wheels here")
    assert cli.main(["fileset", str(tmp_path)]) == errors.EXIT_USAGE
    assert "no wheel or sdist" in capsys.readouterr().err


def test_malformed_manifest_is_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[interpreters]\ncp311 = { python = "cp311" }\n')
    assert cli.main(["fileset", "--manifest", str(bad), "--names",
                     str(DATA / "autobahn-26.6.1.txt")]) == errors.EXIT_USAGE
    assert "malformed" in capsys.readouterr().err
    text = _shipped_manifest_text()
    for broken, says in [(text.replace('"pp311"]', '"pp399"]', 1), "pp399"),
                         (text.replace('required = "if-claimed"', 'required = "maybe"', 1),
                          "required must be one of"),
                         (text.replace('versions = ">=26.10"', 'versions = "26.10+"'),
                          "InvalidSpecifier")]:
        bad.write_text(broken)
        assert cli.main(["fileset", "--manifest", str(bad), "--names",
                         str(DATA / "autobahn-26.6.1.txt")]) == errors.EXIT_USAGE
        err = capsys.readouterr().err
        assert "malformed" in err and says in err, err


# --------------------------------------------------------------------------- --pypi, offline


@pytest.fixture
def index(monkeypatch):
    """A PEP 691 JSON simple index on localhost serving the two recorded releases, a
    yanked wheel and a pre-release (no network needed)."""
    import http.server
    import threading

    files = [{"filename": n, "hashes": {}} for n in recorded("26.6.1") + recorded("26.10.2")]
    files.append({"filename": "autobahn-26.10.2-cp314-cp314t-win_amd64.whl", "yanked": True,
                  "hashes": {}})
    files.append({"filename": "autobahn-27.0.0rc1.tar.gz", "hashes": {}})
    body = json.dumps({"meta": {"api-version": "1.1"}, "name": "autobahn",
                       "files": files}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            ok = self.path == "/simple/autobahn/"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    for var in ("no_proxy", "NO_PROXY"):  # never send localhost through a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    server.shutdown()


def test_pypi_release_names_come_from_the_index_without_yanked_files(index, capsys):
    from nvx_ft.release.release_files import latest_version, names_from_index

    assert names_from_index("autobahn", "26.10.2", index) == sorted(recorded("26.10.2"))
    assert latest_version("autobahn", index) == "26.10.2"  # 27.0.0rc1 is a pre-release
    rc = cli.main(["fileset", "--pypi", "26.6.1", "--index-url", index])
    assert rc == errors.EXIT_FAIL and "wrong ABI: cp314t" in capsys.readouterr().out


def test_pypi_unknown_project_or_version_is_bad_input_and_no_index_is_blocked(index, capsys):
    assert cli.main(["fileset", "--pypi", "1.0", "--index-url", index]) == errors.EXIT_USAGE
    assert "autobahn 1.0 has no files" in capsys.readouterr().err
    assert cli.main(["fileset", "--pypi", "1.0", "--project", "nope",
                     "--index-url", index]) == errors.EXIT_USAGE
    assert "not on" in capsys.readouterr().err
    assert cli.main(["fileset", "--pypi", "26.10.2",
                     "--index-url", "http://127.0.0.1:9/simple"]) == errors.EXIT_BLOCKED
    assert "cannot read the package index" in capsys.readouterr().err
