"""Payloads and one-call closures (each on its own objects: nothing shared between threads)
for the single-thread benchmarks and the scaling harness alike."""

from __future__ import annotations

import functools
from typing import Any, Callable

from nvx_ft.reference import Utf8Reference, XorReference
from nvx_ft.target import Impl, Target

#: A WebSocket masking key with all four bytes different, so a phase error would show.
MASK = bytes((0x5A, 0xC3, 0x0F, 0x96))

UTF8_KINDS = ("ascii", "multilingual", "invalid-early", "invalid-late")

KIB = 1024
MIB = 1024 * KIB
#: Single-thread sizes, 16 B .. 1 MiB
SIZES_QUICK = (16, 256, 4 * KIB, 64 * KIB, MIB)
SIZES_FULL = (16, 64, 256, KIB, 4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB)
#: Pure Python (fallback, reference; ~1000x slower than NVX) stops here in quick mode
PURE_PYTHON_MAX_SIZE_QUICK = 64 * KIB

Call = Callable[[], Any]


def _own(data: bytes) -> bytes:
    """A private copy: a shared object costs atomic reference counts on 3.14t (not NVX's)."""
    return bytes(bytearray(data))


def human_size(n: int) -> str:
    for unit, scale in (("MiB", MIB), ("KiB", KIB)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} B"


#: Text in several scripts: 1-, 2-, 3- and 4-byte UTF-8 sequences, as in chat messages.
_MULTILINGUAL = ("Grüße, 世界! Привет мир. こんにちは 🌍🚀 ¿Qué tal? Ελληνικά "
                 "हिन्दी 한국어 ✓ ").encode("utf-8")
_ASCII = b'{"type":"publish","topic":"com.example.ticker","args":[42,"hello world"]} '


def _repeat_to(unit: bytes, size: int) -> bytes:
    return (unit * (size // len(unit) + 1))[:size]


def utf8_payload(kind: str, size: int) -> bytes:
    """``size`` bytes of ASCII / multilingual text, or with 0xFF early or last (invalid)."""
    if size < 1:
        raise ValueError("size must be positive")
    if kind == "ascii":
        return _repeat_to(_ASCII, size)
    if kind == "multilingual":
        # cut at ``size``, drop a code point the cut split, pad with ASCII: still valid
        valid = _repeat_to(_MULTILINGUAL, size).decode("utf-8", "ignore").encode("utf-8")
        return valid + b"." * (size - len(valid))
    if kind == "invalid-early":
        data = bytearray(_repeat_to(_MULTILINGUAL, size))
        data[min(8, size - 1)] = 0xFF
        return bytes(data)
    if kind == "invalid-late":
        data = bytearray(utf8_payload("multilingual", size))
        data[-1] = 0xFF
        return bytes(data)
    raise ValueError(f"unknown UTF-8 payload kind {kind!r}; expected one of {UTF8_KINDS}")


def xor_payload(size: int) -> bytes:
    """``size`` bytes of a frame body (XOR does not care about content; varied anyway)."""
    return _repeat_to(bytes((i * 131 + 7) & 0xFF for i in range(251)), size)


def _lib_handles(obj, handle_attr: str, data: bytes):
    """(lib, C state, a C buffer of ``data``) of a ``nvx_ft.target`` lib-level object (its
    implementation id selected and verified)."""
    try:
        ffi, lib, state = obj._ffi, obj._lib, getattr(obj, handle_attr)
    except AttributeError as exc:  # target.py changed: fail loudly, do not measure wrong
        raise RuntimeError(f"{type(obj).__name__} no longer exposes its CFFI state "
                           f"({exc}); update nvx_ft.bench.workloads") from exc
    return lib, state, ffi.new("uint8_t[]", data)


def xor_call(impl: Impl, data: bytes) -> Call:
    """One masking of ``data`` (the masker's state continues, as over a frame's fragments)."""
    obj, data = impl.new(MASK), _own(data)
    if impl.level != "lib":
        process = obj.process
        return lambda: process(data)
    lib, state, buf = _lib_handles(obj, "_msk", data)  # buf: masked in place, again and again
    n, process = len(data), lib.nvx_xormask_process

    def call():
        process(state, buf, n)
    call.keepalive = obj  # the state is freed with obj
    return call


def utf8_call(impl: Impl, data: bytes) -> Call:
    """Validation of ``data`` as one whole message: reset, then validate."""
    obj, data = impl.new(), _own(data)
    if impl.level != "lib":
        reset, validate = obj.reset, obj.validate

        def call():
            reset()
            return validate(data)
        return call
    lib, state, buf = _lib_handles(obj, "_vld", data)
    n, reset, validate = len(data), lib.nvx_utf8vld_reset, lib.nvx_utf8vld_validate

    def call():
        reset(state)
        return validate(state, buf, n)
    call.keepalive = obj
    return call


#: Our RFC-derived references, as context for the pure-Python cost.
REFERENCE_XOR = Impl("reference/XorReference", lambda mask, align=0: XorReference(mask))
REFERENCE_UTF8 = Impl("reference/Utf8Reference", lambda align=0: Utf8Reference())


def utf8_verdict(result) -> bool:
    """Valid so far? From autobahn's tuple (wrappers, fallback, reference) or -1 / 0 / 1 (lib)."""
    return bool(result[0]) if isinstance(result, tuple) else result >= 0


def is_pure_python(impl: Impl) -> bool:
    return impl.level not in ("wrapper", "lib")


def default_utf8_impl(target: Target) -> Impl:
    """The wrapper-level validator with the implementation autobahn picks by default."""
    default_id = target.origin.get("utf8_default_impl")
    return next((impl for impl in target.utf8 if impl.level == "wrapper"
                 and impl.impl_id == default_id), target.utf8[0])


def autobahn_xor_call(target: Target, data: bytes) -> Call:
    """What autobahn does per frame: ``create_xor_masker(mask, len).process(frame)``."""
    if target.create_xor_masker is None:
        raise RuntimeError(f"target {target.name} has no create_xor_masker")
    process, data = target.create_xor_masker(MASK, len(data)).process, _own(data)
    return lambda: process(data)


def copy_call(data: bytes) -> Call:
    """libc ``memcpy`` through cffi (GIL released as in NVX): the bandwidth XOR can approach."""
    ffi, libc = _libc()
    src = ffi.new("uint8_t[]", data)
    dst = ffi.new("uint8_t[]", len(data))
    n, memcpy = len(data), libc.memcpy

    def call():
        memcpy(dst, src, n)
    return call


@functools.cache
def _libc():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("void *memcpy(void *dest, const void *src, size_t n);")
    return ffi, ffi.dlopen(None)  # the C library already in the process
