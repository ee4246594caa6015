"""``nvx_ft.settings``: every choice has one home. The command line wins over the
environment, which wins over the default; bad values name their variable; at most 8
public variables, all in the README's table; no other library module reads an
``NVX_FT_*`` variable; children hear from their parent through ``NVX_FT_CHILD`` only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nvx_ft import errors, paths, settings

pytestmark = pytest.mark.harness

SRC = Path(settings.__file__).parent


def test_defaults_environment_and_the_command_line_in_that_order():
    assert settings.from_environment({}) == settings.Settings(
        cache=settings.from_environment({}).cache)
    env = {settings.INTENSITY: "nightly", settings.TEST_TIMEOUT: "7",
           settings.INCONCLUSIVE: "fail", settings.HYPOTHESIS_PROFILE: "ci",
           settings.REQUIRE_PYTHONS: "3.14t, 3.14", settings.PROVISION: "30",
           settings.CACHE: "/c", "NVX_FT_PYTHON_3_14T": "/py/t", "NVX_FT_PYTHON_TSAN": "/py/ts"}
    got = settings.from_environment(env)
    assert (got.intensity, got.test_timeout, got.inconclusive, got.hypothesis_profile) == \
        ("nightly", 7.0, "fail", "ci")
    assert got.require_pythons == ("3.14t", "3.14")
    assert got.provision and got.provision_timeout == 30.0 and str(got.cache) == "/c"
    assert got.python("3.14t") == "/py/t" and got.python("tsan") == "/py/ts"
    assert got.python("3.14") is None
    given = got.with_options(intensity="default", test_timeout=None, inconclusive="skip")
    assert (given.intensity, given.test_timeout, given.inconclusive) == ("default", 7.0, "skip")


@pytest.mark.parametrize("value, on, timeout", [
    ("", True, settings.PROVISION_TIMEOUT), ("off", False, settings.PROVISION_TIMEOUT),
    ("0", False, settings.PROVISION_TIMEOUT), ("45", True, 45.0)])
def test_provision_is_one_variable_off_or_seconds(value, on, timeout):
    got = settings.from_environment({settings.PROVISION: value})
    assert (got.provision, got.provision_timeout) == (on, timeout)


@pytest.mark.parametrize("name, value", [
    (settings.INTENSITY, "loud"), (settings.TEST_TIMEOUT, "soon"),
    (settings.INCONCLUSIVE, "pass"), (settings.HYPOTHESIS_PROFILE, "fast"),
    (settings.PROVISION, "later"), (settings.CHILD, "gate")])
def test_a_bad_value_is_a_usage_error_naming_its_variable(name, value):
    with pytest.raises(errors.UsageError, match=re.escape(f"${name}={value!r}")):
        settings.from_environment({name: value})


def test_the_gate_flag_and_a_suite_travel_in_one_child_channel(monkeypatch):
    child = settings.Child(gate=True, suite={"events": "/e", "skip": "/s", "test_timeout": 5})
    assert settings.Child.decode(child.encode()) == child
    got = settings.from_environment(child.env())
    assert got.child.gate and got.inconclusive_mode() == "fail"
    assert settings.from_environment({**child.env(), settings.INCONCLUSIVE: "skip"}
                                     ).inconclusive_mode() == "skip"
    monkeypatch.setenv(settings.CHILD, child.encode())
    settings.remember_for_children(provision_failed={"3.14t": "offline"})
    again = settings.from_environment().child
    assert again.gate and again.suite == child.suite  # kept
    assert again.provision_failed == {"3.14t": "offline"}


def test_at_most_eight_public_variables_each_in_the_readme_table():
    assert len(settings.PUBLIC) <= 8
    readme = (paths.ROOT / "README.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(NVX_FT_[A-Z0-9_<>]+)` \|", readme, re.M))
    assert table == set(settings.PUBLIC), "README's Settings table and settings.PUBLIC differ"


def test_no_other_library_module_reads_an_nvx_ft_variable():
    """The one home: a string that is an ``NVX_FT_...`` variable's name anywhere else in
    the library's code is a second reader. suites.py's plugin part names the child
    channel itself: it runs where nvx_ft may not be installed."""
    readers = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and re.fullmatch(r"NVX_FT_[A-Z0-9_]+", node.value)):
                readers.append(f"{path.relative_to(SRC)}: {node.value}")
    assert readers == ["suites.py: NVX_FT_CHILD"], readers
    from nvx_ft import suites
    assert suites._CHILD_ENV == settings.CHILD
