"""Users' mutant corpora (``nvx-ft mutants --corpus FILE``): a corpus file written outside
the project runs beside the built-in corpus or alone and lands in the kill matrix; a
broken one is one clear error naming the mutant and the file, before anything is built."""

from __future__ import annotations

import textwrap

import pytest

from nvx_ft import cli, errors, mutants
from nvx_ft.mutants import corpora, kill_suites, matrix
from nvx_ft.mutants import run as mrun

pytestmark = pytest.mark.harness

#: the README's worked example: the scalar XOR masker starts one mask byte late
EXAMPLE = '''
[[mutant]]
name = "my-xor-scalar-mask-off-by-one"
category = "regression / scalar"
summary = "scalar masker XORs with the next mask byte: every frame masked wrong"
killers = ["differential"]
[[mutant.edit]]
file = "_xormasker.c"
after = "void _nvx_xormask_process_simple"
old = "        data[i] ^= masker->mask[ptr & 3];"
new = "        data[i] ^= masker->mask[(ptr + 1) & 3];"
'''

#: one Hypothesis test of the XOR differential suite, small and quick
ONE_SHOT = {"one-shot": kill_suites.Suite(
    "one-shot", {"xor": ("tests/test_xor_differential.py",)}, ("--hypothesis-profile=dev",),
    keyword="test_one_shot", base_keyword="test_one_shot", test_timeout=30, timeout=180)}


def corpus_file(tmp_path, text=EXAMPLE, name="my_corpus.toml"):
    path = tmp_path / "elsewhere" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.thread_unsafe(reason="builds NVX and runs pytest subprocesses")
def test_a_corpus_written_outside_the_project_runs_alone_and_is_reported(tmp_path):
    """Builds NVX from source twice (control and one mutant; cached afterwards)."""
    path = corpus_file(tmp_path)
    corpus = corpora.select([str(path)], builtin=False)
    assert [m.name for m in corpus] == ["my-xor-scalar-mask-off-by-one"]
    rep = matrix.run_matrix("default", all_suites=True, out_dir=tmp_path / "out",
                            log=lambda s: None, suites=ONE_SHOT, corpus=corpus)
    by = {m["name"]: m for m in rep["mutants"]}
    assert list(by) == ["control", "my-xor-scalar-mask-off-by-one"]
    assert by["control"]["results"]["one-shot"]["status"] == "passed"
    mine = by["my-xor-scalar-mask-off-by-one"]
    assert mine["results"]["one-shot"]["status"] == "failed" and mine["killed_by"] == ["one-shot"]
    assert mine["origin"] == str(path) and rep["corpora"] == [str(path)]
    assert rep["ok"], rep["problems"]
    md = (tmp_path / "out" / f"{rep['label']}.md").read_text()
    assert f"Corpora: {path}." in md
    assert f"| `my-xor-scalar-mask-off-by-one` (from {path}) | regression / scalar |" in md


def test_beside_the_builtin_corpus_and_listed_with_its_file(tmp_path, capsys):
    path = corpus_file(tmp_path)
    both = corpora.select([str(path)])
    assert len(both) == len(mutants.corpus()) + 1 and both[-1].origin == str(path)
    assert cli.main(["mutants", "--list", "--corpus", str(path)]) == errors.EXIT_PASS
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(both)
    assert lines[-1].startswith("my-xor-scalar-mask-off-by-one") and f"from={path}" in lines[-1]
    assert cli.main(["mutants", "--list", "--corpus", str(path), "--no-builtin"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


SNIPPET_ERRORS = {
    "missing snippet": (EXAMPLE.replace("mask[ptr & 3];\"", "mask[ptr % 4];\""),
                        "patch snippet occurs 0 times in _xormasker.c"),
    "ambiguous snippet": (EXAMPLE.replace('after = "void _nvx_xormask_process_simple"\n', "")
                          .replace('old = "        data[i] ^= masker->mask[ptr & 3];"',
                                   'old = "masker->ptr"'),
                          "patch snippet occurs"),
    "missing anchor": (EXAMPLE.replace("void _nvx_xormask_process_simple", "void nope"),
                       "patch anchor occurs 0 times in _xormasker.c"),
}


@pytest.mark.parametrize("case", list(SNIPPET_ERRORS))
def test_a_missing_or_ambiguous_snippet_is_one_error_naming_mutant_and_file(tmp_path, capsys,
                                                                            case):
    text, needle = SNIPPET_ERRORS[case]
    path = corpus_file(tmp_path, text)
    rc = cli.main(["mutants", "--corpus", str(path), "--no-builtin",
                   "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == errors.EXIT_USAGE, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"corpus {path}: mutant my-xor-scalar-mask-off-by-one: {needle}" in err
    if case == "ambiguous snippet":
        assert "expected once" in err and "times in _xormasker.c" in err
        assert "occurs 1 times" not in err and "occurs 0 times" not in err
    assert not (tmp_path / "out").exists()  # nothing was built or run


@pytest.mark.parametrize("text, needle", [
    ("not = [toml", "not TOML"),
    ("title = 'no mutants'\n", "no [[mutant]] tables"),
    (EXAMPLE.replace('killers = ["differential"]', 'killers = ["differentail"]'),
     "mutant my-xor-scalar-mask-off-by-one: unknown killers ['differentail']"),
    (EXAMPLE.replace('killers = ["differential"]', 'killers = ["tsan"]'),
     "killers ['tsan'] do not run in its modes ['default']"),
    (EXAMPLE.replace('summary = "scalar masker XORs with the next mask byte: every frame '
                     'masked wrong"\n', ""),
     "mutant my-xor-scalar-mask-off-by-one: no 'summary'"),
    (EXAMPLE.replace('file = "_xormasker.c"', 'fil = "_xormasker.c"'),
     "mutant my-xor-scalar-mask-off-by-one: bad [[mutant.edit]]"),
    (EXAMPLE.replace("my-xor-scalar-mask-off-by-one", "xor-scalar-phase-restarts"),
     "mutant xor-scalar-phase-restarts: the name is taken by the built-in corpus"),
    (EXAMPLE.replace("my-xor-scalar-mask-off-by-one", "control"), "not 'control'"),
])
def test_a_broken_corpus_is_one_line_exit_3(tmp_path, capsys, text, needle):
    path = corpus_file(tmp_path, text)
    assert cli.main(["mutants", "--list", "--corpus", str(path)]) == errors.EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err and str(path) in err, err


def test_usage_errors_of_the_module_entry_point(tmp_path, capsys):
    """``python -m nvx_ft.mutants.run`` (what ``nox -s mutants`` runs) says the same."""
    assert mrun.main(["--no-builtin"]) == errors.EXIT_USAGE
    assert "--no-builtin needs at least one --corpus FILE" in capsys.readouterr().err
    assert mrun.main(["--corpus", str(tmp_path / "nope.toml")]) == errors.EXIT_USAGE
    assert "no such file" in capsys.readouterr().err
    dup = corpus_file(tmp_path)
    assert mrun.main(["--list", "--no-builtin", "--corpus", str(dup), "--corpus",
                      str(dup)]) == errors.EXIT_USAGE
    assert f"the name is taken by {dup}" in capsys.readouterr().err
