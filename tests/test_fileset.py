"""``nvx-ft fileset``: exact (python, ABI, platform) cells, on autobahn's real releases.

The two recorded lists are the file names PyPI serves for autobahn 26.6.1 and 26.10.2
(every file was downloaded once with pip to confirm them), so these run offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nvx_ft import cli, errors
from nvx_ft.release.fileset import check, load_manifest, names_from_file, normalise_platform

pytestmark = pytest.mark.harness

DATA = Path(__file__).parent / "data" / "fileset"
CP314T_CELLS = {f"cp314t/{p}" for p in ("macos-arm64", "linux-x86_64", "linux-aarch64",
                                        "windows-amd64")}


def recorded(version: str) -> list[str]:
    return names_from_file(DATA / f"autobahn-{version}.txt")


def cells(report):
    return {c.id: c for c in report.cells}


def complete_release(manifest) -> list[str]:
    """One wheel per cell, named as autobahn names them, plus the sdist."""
    plat_tag = {"macos-arm64": "macosx_15_0_arm64",
                "linux-x86_64": "manylinux_2_24_x86_64.manylinux_2_28_x86_64",
                "linux-aarch64": "manylinux_2_24_aarch64.manylinux_2_28_aarch64",
                "windows-amd64": "win_amd64"}
    return ([f"autobahn-27.1.1-{i.python}-{i.abi}-{plat_tag[p]}.whl" for i, p in manifest.cells()]
            + ["autobahn-27.1.1.tar.gz"])


def test_26_6_1_fails_the_linux_aarch64_cp314_cell_with_wrong_abi_cp314t():
    report = check(recorded("26.6.1"), load_manifest(), "recorded 26.6.1")
    cell = cells(report)["cp314/linux-aarch64"]
    assert cell.status == "wrong-abi" and cell.required and not cell.ok
    assert cell.detail == "wrong ABI: cp314t"
    assert cell.files == ["autobahn-26.6.1-cp314-cp314t-manylinux_2_24_aarch64."
                          "manylinux_2_28_aarch64.whl"]
    # the stray cp314t wheel is still a real cp314t wheel for its own cell
    assert cells(report)["cp314t/linux-aarch64"].status == "present"
    assert not report.passed


def test_26_10_2_reports_the_four_cp314t_cells_missing_and_nothing_else():
    report = check(recorded("26.10.2"), load_manifest(), "recorded 26.10.2")
    failing = {c.id: c.status for c in report.cells if not c.ok}
    assert failing == {cid: "missing" for cid in CP314T_CELLS}
    assert report.sdist["ok"] and not report.passed
    # musllinux and Windows arm64 wheels are outside autobahn's matrix: reported extras
    assert len(report.extras) == 12
    assert all("platform not in the manifest" in e["reason"] for e in report.extras)


def test_cli_prints_the_table_and_fails_on_required_cells(capsys):
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.6.1.txt")])
    out = capsys.readouterr().out
    assert rc == errors.EXIT_FAIL
    row = next(line for line in out.splitlines() if line.startswith("| cp314 "))
    assert "wrong ABI: cp314t" in row
    assert "FAIL" in out.splitlines()[-1] and "cp314/linux-aarch64" in out.splitlines()[-1]


def test_cli_json_report(tmp_path, capsys):
    out_file = tmp_path / "fileset.json"
    rc = cli.main(["fileset", "--names", str(DATA / "autobahn-26.10.2.txt"), "--json",
                   "--json-out", str(out_file)])
    data = json.loads(capsys.readouterr().out)
    assert rc == errors.EXIT_FAIL and data == json.loads(out_file.read_text())
    assert data["schema"] == "nvx-ft.fileset/1" and data["verdict"] == "fail"
    assert set(data["failing_cells"]) == CP314T_CELLS


def test_a_complete_release_passes_from_a_directory(tmp_path, capsys):
    for name in complete_release(load_manifest()):
        (tmp_path / name).write_bytes(b"")
    assert cli.main(["fileset", str(tmp_path)]) == errors.EXIT_PASS
    assert capsys.readouterr().out.splitlines()[-1] == "verdict: PASS"


def test_cp314t_never_fills_the_cp314_cell_even_as_the_only_314_wheel():
    # the incident's fileset check matched the ABI by substring; this one must not
    names = [n for n in complete_release(load_manifest())
             if "-cp314-cp314-" not in n]
    report = check(names, load_manifest())
    assert {c.id for c in report.cells if not c.ok} == {
        f"cp314/{p}" for p in ("macos-arm64", "linux-x86_64", "linux-aarch64", "windows-amd64")}


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


def test_optional_cells_are_reported_but_do_not_fail(tmp_path):
    manifest = tmp_path / "m.toml"
    manifest.write_text(_shipped_manifest_text().replace("optional = []",
                                                         'optional = ["cp314t/*"]'))
    report = check(recorded("26.10.2"), load_manifest(str(manifest)))
    assert report.passed
    assert {c.id for c in report.cells if c.status == "missing"} == CP314T_CELLS


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
    from nvx_ft.release.fileset import latest_version, names_from_index

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
