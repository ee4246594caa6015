"""Exhaustive short inputs: every 1- and 2-byte message by default, every 3-byte message
starting with a non-ASCII byte in the nightly tier. No sampling can miss a table cell."""

import itertools

import pytest

from nvx_ft.divergences import expected_model


def _all_messages(length, first=range(256)):
    for head in first:
        for rest in itertools.product(range(256), repeat=length - 1):
            yield bytes((head, *rest))


def _check_all(nvx_target, utf8_impl, messages):
    model_cls = expected_model(nvx_target.name, "utf8", utf8_impl.name)
    vld, bad = utf8_impl.new(), []
    for msg in messages:
        vld.reset()
        got, want = vld.validate(msg), model_cls().validate(msg)
        if got != want:
            bad.append((msg, got, want))
    assert not bad, (f"{utf8_impl.name}: {len(bad)} messages differ from {model_cls.__name__}, "
                     f"first: {bad[:5]}")


def test_every_one_and_two_byte_message(nvx_target, utf8_impl):
    _check_all(nvx_target, utf8_impl,
               itertools.chain(_all_messages(1), _all_messages(2)))


@pytest.mark.nightly
def test_every_three_byte_message_with_a_non_ascii_lead(nvx_target, utf8_impl):
    _check_all(nvx_target, utf8_impl, _all_messages(3, first=range(0x80, 0x100)))
