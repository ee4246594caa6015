"""Every KNOWN_DIVERGENCES entry is pinned: still reproducible, and modelled exactly.

If autobahn fixes a divergence, ``test_divergence_still_reproduces`` fails: delete the
entry (the differential suite then holds the target to the plain reference). The model
may differ from the reference only in the documented situation, which
``test_model_equals_reference_outside_its_situation`` checks for the UTF-8 models.
"""

import shlex
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from nvx_ft.compare import replay
from nvx_ft.divergences import KNOWN_DIVERGENCES, applicable
from nvx_ft.reference import Utf8Reference, XorReference
from nvx_ft.strategies import chunked, utf8_inputs, valid_utf8


def _entry_id(d):
    return d.id


@pytest.mark.parametrize("divergence", KNOWN_DIVERGENCES, ids=_entry_id)
def test_divergence_still_reproduces(nvx_target, divergence):
    if nvx_target.name not in divergence.targets:
        pytest.skip(f"{divergence.id} concerns {divergence.targets}, "
                    f"the target under test is {nvx_target.name}")
    if divergence.kind == "api":
        observed, contract = divergence.probe(nvx_target)
        assert observed != contract, (
            f"{divergence.id} no longer reproduces: remove it from KNOWN_DIVERGENCES")
        return
    impls = [i for i in getattr(nvx_target, divergence.kind)
             if divergence in applicable(nvx_target.name, divergence.kind, i.name)]
    assert impls, f"{divergence.id}: no implementation of {nvx_target.name} it applies to"
    reference = Utf8Reference if divergence.kind == "utf8" else XorReference
    ops = [("validate", c) for c in divergence.reproducer]
    for impl in impls:
        got = replay(impl.new(), divergence.kind, ops)
        assert got != replay(reference(), divergence.kind, ops), (
            f"{divergence.id} no longer reproduces on {impl.name}: autobahn fixed it? "
            f"Remove the entry from KNOWN_DIVERGENCES.")
        assert got == replay(divergence.model(), divergence.kind, ops), (
            f"{divergence.id}: {divergence.model.__name__} does not describe what "
            f"{impl.name} does: {got}")


@pytest.mark.parametrize("divergence", [d for d in KNOWN_DIVERGENCES if d.kind == "utf8"],
                         ids=_entry_id)
@given(st.data())
def test_model_equals_reference_outside_its_situation(divergence, data):
    """Both known UTF-8 models only differ after a rejection: never on valid streams."""
    payload = data.draw(valid_utf8)
    ops = [("validate", c) for c in data.draw(chunked(payload))] + [("reset",)]
    ops += [("validate", data.draw(utf8_inputs))]
    assert replay(divergence.model(), "utf8", ops) == replay(Utf8Reference(), "utf8", ops)


@pytest.mark.parametrize("divergence", [d for d in KNOWN_DIVERGENCES if d.reproduce],
                         ids=_entry_id)
def test_the_reproduce_command_shows_it(nvx_target, divergence):
    """The command the gate's Findings hand to users prints what the entry says."""
    if nvx_target.name not in divergence.targets:
        pytest.skip(f"{divergence.id} concerns {divergence.targets}")
    argv = shlex.split(divergence.reproduce)
    assert argv[0] == "python", divergence.reproduce
    out = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == divergence.reproduce_shows, (
        f"{divergence.id}: `{divergence.reproduce}` printed {out.stdout.strip()!r} "
        f"{out.stderr[-500:]!r}, not {divergence.reproduce_shows!r}: fixed upstream? "
        f"Update or remove the entry.")


def test_every_entry_is_documented():
    for d in KNOWN_DIVERGENCES:
        assert d.status in ("accepted", "bug"), d.id
        assert d.summary and d.why and d.targets, d.id
        if "autobahn-nvx" in d.targets:  # the gate's Findings show these to users
            assert d.impact and d.fix and d.reproduce and d.reproduce_shows, d.id
        assert (d.probe is not None) if d.kind == "api" else (d.reproducer and d.model), d.id
