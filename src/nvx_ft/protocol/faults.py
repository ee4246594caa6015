"""Faults injected into autobahn's protocol for the self-tests (never an edit of autobahn).

``pytest protocol --protocol-fault=<name>`` makes ``protocol/``'s conftest call :func:`apply`, which
monkeypatches the names ``autobahn.websocket.protocol`` looks up at run time, in the
process that runs the autobahn servers and clients (the ``websockets`` peer process is
never touched: it is the independent judge). Each fault is a bug that has shipped
somewhere in some form; the self-tests require the suite to FAIL under each.
"""

from __future__ import annotations

#: the pytest option that names the fault (protocol/conftest.py)
OPTION = "--protocol-fault"
_active: str | None = None  # set by apply() for the session, in this process only


def _shared_validator(proto) -> None:
    """Every connection (and close-reason check) gets the same Utf8Validator object."""
    one = proto.Utf8Validator()
    proto.Utf8Validator = lambda: one


def _wrong_client_mask(proto) -> None:
    """Mask with the frame's key rotated by one byte - on both ends, so autobahn talking
    to autobahn unmasks what it masked and sees nothing wrong."""
    real = proto.create_xor_masker

    def rotated(mask, length=None):
        mask = bytes(mask)
        return real(mask[1:] + mask[:1], length)

    proto.create_xor_masker = rotated


def _nvx_shared_state(proto) -> None:
    """NVX replaced by implementations with module-level scratch state (bad_targets)."""
    from nvx_ft.bad_targets import SharedPositionXorMasker, SharedScratchUtf8Validator

    proto.Utf8Validator = SharedScratchUtf8Validator
    proto.create_xor_masker = lambda mask, length=None: SharedPositionXorMasker(mask)


def _no_utf8_validation(proto) -> None:
    """Nothing to patch in autobahn: the factories' option is switched off
    (see :func:`protocol_options`)."""


FAULTS = {
    "shared-validator": _shared_validator,
    "wrong-client-mask": _wrong_client_mask,
    "nvx-shared-state": _nvx_shared_state,
    "no-utf8-validation": _no_utf8_validation,
}


def active() -> str | None:
    return _active


def protocol_options(options: dict) -> dict:
    """Protocol options for autobahn's server and client factories, with the active
    fault applied."""
    options = dict(options)
    if active() == "no-utf8-validation":
        options["utf8validateIncoming"] = False
    return options


def apply(name: str | None):
    """Make ``name`` (if any) the active fault; returns a function that undoes it."""
    global _active
    if name is None:
        return lambda: None
    if name not in FAULTS:
        raise ValueError(f"{OPTION}={name!r}: unknown fault (known: {sorted(FAULTS)})")
    import autobahn.websocket.protocol as proto

    saved = {k: getattr(proto, k) for k in ("Utf8Validator", "create_xor_masker")}
    FAULTS[name](proto)
    _active = name

    def undo() -> None:
        global _active
        for k, v in saved.items():
            setattr(proto, k, v)
        _active = None

    return undo
