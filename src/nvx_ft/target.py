"""The target under test: autobahn's NVX as installed, every implementation it really has.

A :class:`Target` is a list of UTF-8 validator implementations and XOR masker
implementations, each with a name that failure messages use, and a factory. The
default target is autobahn's NVX found in the running environment; tests can also
name autobahn's pure-Python fallback (``fallback``) or inject any object
(``package.module:function``), which is how the self-tests feed the suites a
deliberately broken implementation.

Two levels are exercised for NVX:

* ``wrapper``: ``autobahn.nvx.Utf8Validator`` / ``autobahn.nvx._xormasker`` classes, with
  the C implementation selected through ``set_impl`` on the object they own;
* ``lib``: the raw CFFI functions, fed through an aligned scratch buffer at a chosen
  offset (0-15) with canary bytes around it, so SIMD heads and tails are driven on
  purpose and out-of-bounds writes are caught.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import sysconfig
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

DEFAULT_TARGET = "autobahn"
FALLBACK_TARGET = "fallback"

UTF8_IMPL_NAMES = {1: "table-dfa", 2: "unrolled-dfa", 3: "sse2-dfa", 4: "sse41-dfa"}
XOR_IMPL_NAMES = {1: "scalar", 2: "sse2"}
_CANDIDATE_IMPL_IDS = range(1, 9)  # probe beyond the documented ids: a build may add one
_CANARY = 0xA5
_GUARD = 64  # bytes of canary on each side of a lib-level buffer


class TargetUnavailable(RuntimeError):
    """The requested target cannot be tested: a FAILURE, never a skip."""


class XorLike(Protocol):
    def process(self, data: bytes) -> bytes: ...
    def pointer(self) -> int: ...
    def reset(self) -> None: ...


@dataclass(frozen=True)
class Impl:
    """One implementation under test. ``new(*args, align=0)`` makes a fresh object.

    For XOR, ``args`` is the 4-byte mask. ``align`` only matters where
    ``aligned`` is true (lib level); elsewhere it is ignored.
    """

    name: str
    new: Callable[..., Any]
    level: str = "python"
    impl_id: int | None = None
    aligned: bool = False

    def __str__(self) -> str:
        return self.name

    def _repr_pretty_(self, p, cycle) -> None:  # how Hypothesis prints a failing example
        p.text(f"<{self.level} impl {self.name}>")


@dataclass
class Target:
    name: str
    utf8: list[Impl]
    xor: list[Impl]
    #: ``create_xor_masker(mask, length)`` if the target has one.
    create_xor_masker: Callable[..., XorLike] | None = None
    origin: dict[str, Any] = field(default_factory=dict)
    #: Modules whose import the GIL guard checks first (extension modules).
    extension_modules: tuple[str, ...] = ()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(f"<target {self.name}>")

    def impl(self, kind: str, name: str) -> Impl:
        for impl in getattr(self, kind):
            if impl.name == name:
                return impl
        raise KeyError(f"{self.name} has no {kind} implementation {name!r}")


# --------------------------------------------------------------------------- lib level


class _GuardedBuffer:
    """``data`` placed at ``offset`` from a 64-byte boundary inside a larger bytearray,
    handed to C with ``ffi.from_buffer`` (zero-copy, as a caller with its own buffer
    would), canary bytes all around.

    ``check()`` raises if anything outside the payload changed: an out-of-bounds
    write by a SIMD head or tail is a failure like a wrong byte.
    """

    def __init__(self, ffi, data: bytes, offset: int):
        self.n = len(data)
        self._mem = bytearray([_CANARY]) * (self.n + 3 * _GUARD)
        whole = ffi.from_buffer("uint8_t[]", self._mem, require_writable=True)
        base = int(ffi.cast("uintptr_t", whole))
        self.start = (-base) % _GUARD + _GUARD + offset
        self._mem[self.start:self.start + self.n] = data
        self.ptr = whole + self.start
        self._keepalive = whole

    def payload(self) -> bytes:
        return bytes(self._mem[self.start:self.start + self.n])

    def check(self, what: str) -> None:
        outside = self._mem[: self.start] + self._mem[self.start + self.n:]
        if outside.count(_CANARY) != len(outside):
            bad = next(i for i, b in enumerate(self._mem)
                       if b != _CANARY and not self.start <= i < self.start + self.n)
            raise AssertionError(
                f"{what}: out-of-bounds write at byte {bad - self.start:+d} relative to "
                f"a {self.n}-byte payload at alignment offset {self.start % 16}"
            )


class LibUtf8Validator:
    """The raw ``nvx_utf8vld_*`` API with autobahn's result contract."""

    def __init__(self, ffi, lib, impl_id: int | None, align: int = 0):
        self._ffi, self._lib, self.align = ffi, lib, align
        self._vld = ffi.gc(lib.nvx_utf8vld_new(), lib.nvx_utf8vld_free)
        if impl_id is not None:
            got = lib.nvx_utf8vld_set_impl(self._vld, impl_id)
            if got != impl_id:
                raise AssertionError(f"nvx_utf8vld_set_impl({impl_id}) returned {got}")

    def validate(self, data: bytes) -> tuple[bool, bool, int, int]:
        buf = _GuardedBuffer(self._ffi, data, self.align)
        res = self._lib.nvx_utf8vld_validate(self._vld, buf.ptr, len(data))
        buf.check("nvx_utf8vld_validate")
        if buf.payload() != bytes(data):
            raise AssertionError("nvx_utf8vld_validate wrote to its const input")
        if res not in (-1, 0, 1):
            raise AssertionError(f"nvx_utf8vld_validate returned {res}, not -1/0/1")
        return (res >= 0, res == 0,
                self._lib.nvx_utf8vld_get_current_index(self._vld),
                self._lib.nvx_utf8vld_get_total_index(self._vld))

    def reset(self) -> None:
        self._lib.nvx_utf8vld_reset(self._vld)


class LibXorMasker:
    """The raw ``nvx_xormask_*`` API, processing in place in a guarded buffer."""

    def __init__(self, ffi, lib, mask: bytes, impl_id: int | None, align: int = 0):
        assert len(mask) == 4
        self._ffi, self._lib, self.align = ffi, lib, align
        self._mask = ffi.new("uint8_t[4]", bytes(mask))
        self._msk = ffi.gc(lib.nvx_xormask_new(self._mask), lib.nvx_xormask_free)
        if impl_id is not None:
            got = lib.nvx_xormask_set_impl(self._msk, impl_id)
            if got != impl_id:
                raise AssertionError(f"nvx_xormask_set_impl({impl_id}) returned {got}")

    def process(self, data: bytes) -> bytes:
        buf = _GuardedBuffer(self._ffi, data, self.align)
        self._lib.nvx_xormask_process(self._msk, buf.ptr, len(data))
        buf.check("nvx_xormask_process")
        return buf.payload()

    def pointer(self) -> int:
        return self._lib.nvx_xormask_pointer(self._msk)

    def reset(self) -> None:
        self._lib.nvx_xormask_reset(self._msk)


# --------------------------------------------------------------------------- discovery


def _accepted_ids(ffi, lib, new, set_impl, get_impl, free) -> list[int]:
    """The impl ids this build accepts: set_impl(k) then get_impl() == k."""
    accepted = []
    for k in _CANDIDATE_IMPL_IDS:
        obj = new()
        try:
            set_impl(obj, k)
            if get_impl(obj) == k:
                accepted.append(k)
        finally:
            free(obj)
    return accepted


def _autobahn_dist_info() -> dict[str, Any]:
    info: dict[str, Any] = {}
    try:
        dist = importlib.metadata.distribution("autobahn")
    except importlib.metadata.PackageNotFoundError:
        return {"autobahn": None}
    info["autobahn"] = dist.version
    wheel = dist.read_text("WHEEL") or ""
    info["wheel_tags"] = [ln.split(":", 1)[1].strip() for ln in wheel.splitlines()
                          if ln.startswith("Tag:")]
    info["installed_from"] = (dist.read_text("direct_url.json") or "").strip() or "index"
    return info


def interpreter_info() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "build": "free-threaded" if sysconfig.get_config_var("Py_GIL_DISABLED") else "GIL",
        "gil_enabled_now": getattr(sys, "_is_gil_enabled", lambda: True)(),
    }


def _nvx_target() -> Target:
    if os.environ.get("AUTOBAHN_USE_NVX", "").strip().lower() in ("0", "false", "no", "off"):
        raise TargetUnavailable(
            "AUTOBAHN_USE_NVX=0 is set: autobahn uses its pure-Python fallback, so NVX is "
            "not what would be tested. Unset it, or pass --nvx-target=fallback to test the "
            "fallback on purpose."
        )
    try:
        u = importlib.import_module("_nvx_utf8validator")
        x = importlib.import_module("_nvx_xormasker")
        wrap_u = importlib.import_module("autobahn.nvx")
        wrap_x = importlib.import_module("autobahn.nvx._xormasker")
    except ImportError as exc:
        raise TargetUnavailable(
            f"NVX is missing from this environment ({exc}). autobahn was installed without "
            "its CFFI modules (a pure-Python wheel, or an sdist build whose optional C build "
            "failed). Install a platform wheel, or build the sdist with AUTOBAHN_USE_NVX=1 "
            "so a failed compile is an error."
        ) from exc
    ul, uf = u.lib, u.ffi
    xl, xf = x.lib, x.ffi
    utf8_ids = _accepted_ids(uf, ul, ul.nvx_utf8vld_new, ul.nvx_utf8vld_set_impl,
                             ul.nvx_utf8vld_get_impl, ul.nvx_utf8vld_free)
    mask0 = xf.new("uint8_t[4]")
    xor_ids = _accepted_ids(xf, xl, lambda: xl.nvx_xormask_new(mask0), xl.nvx_xormask_set_impl,
                            xl.nvx_xormask_get_impl, xl.nvx_xormask_free)
    probe = ul.nvx_utf8vld_new()
    default_utf8 = ul.nvx_utf8vld_get_impl(probe)
    ul.nvx_utf8vld_free(probe)

    def wrapper_utf8(k):
        def new(align=0):
            v = wrap_u.Utf8Validator()
            ul.nvx_utf8vld_set_impl(v._vld, k)
            return v
        return new

    utf8 = []
    for k in utf8_ids:
        tag = f"impl={k}:{UTF8_IMPL_NAMES.get(k, 'unknown')}"
        utf8.append(Impl(f"wrapper/{tag}", wrapper_utf8(k), "wrapper", k))
        utf8.append(Impl(f"lib/{tag}",
                         lambda align=0, k=k: LibUtf8Validator(uf, ul, k, align),
                         "lib", k, aligned=True))
    xor = [
        Impl("wrapper/XorMaskerSimple", lambda mask, align=0: wrap_x.XorMaskerSimple(mask),
             "wrapper", 1),
        Impl("wrapper/XorMaskerShifted1", lambda mask, align=0: wrap_x.XorMaskerShifted1(mask),
             "wrapper", 2),
    ]
    for k in xor_ids:
        xor.append(Impl(f"lib/impl={k}:{XOR_IMPL_NAMES.get(k, 'unknown')}",
                        lambda mask, align=0, k=k: LibXorMasker(xf, xl, mask, k, align),
                        "lib", k, aligned=True))
    import cffi

    origin = {
        "target": "autobahn NVX",
        "modules": {m.__name__: m.__file__ for m in (u, x, wrap_u, wrap_x)},
        "cffi": cffi.__version__,
        "utf8_impl_ids": utf8_ids,
        "utf8_default_impl": default_utf8,
        "xor_impl_ids": xor_ids,
        **_autobahn_dist_info(),
        **interpreter_info(),
    }
    return Target("autobahn-nvx", utf8, xor, wrap_x.create_xor_masker, origin,
                  extension_modules=("_nvx_utf8validator", "_nvx_xormasker"))


def _fallback_target() -> Target:
    """autobahn's pure-Python implementations (AUTOBAHN_USE_NVX=0), tested on purpose."""
    if "autobahn.websocket" in sys.modules and sys.modules["autobahn.websocket"].USES_NVX:
        raise TargetUnavailable(
            "autobahn.websocket was already imported with NVX enabled; the fallback target "
            "needs AUTOBAHN_USE_NVX=0 before autobahn is imported."
        )
    os.environ["AUTOBAHN_USE_NVX"] = "0"
    vmod = importlib.import_module("autobahn.websocket.utf8validator")
    xmod = importlib.import_module("autobahn.websocket.xormasker")
    utf8 = [Impl("fallback/Utf8Validator", lambda align=0: vmod.Utf8Validator())]
    xor = [
        Impl("fallback/XorMaskerSimple", lambda mask, align=0: xmod.XorMaskerSimple(mask)),
        Impl("fallback/XorMaskerShifted1", lambda mask, align=0: xmod.XorMaskerShifted1(mask)),
    ]
    return Target("autobahn-fallback", utf8, xor, xmod.create_xor_masker,
                  {"target": "autobahn pure-Python fallback", **_autobahn_dist_info(),
                   **interpreter_info()})


def load(spec: str | None = None) -> Target:
    """Load a target by spec: ``autobahn`` (default), ``fallback`` or ``module:function``."""
    spec = spec or DEFAULT_TARGET
    if spec == DEFAULT_TARGET:
        return _nvx_target()
    if spec == FALLBACK_TARGET:
        return _fallback_target()
    modname, _, func = spec.partition(":")
    if not func:
        raise TargetUnavailable(
            f"unknown target {spec!r}: use 'autobahn', 'fallback' or 'module:function'")
    target = getattr(importlib.import_module(modname), func)()
    if not isinstance(target, Target):
        raise TargetUnavailable(f"{spec} returned {type(target).__name__}, not a Target")
    target.origin.setdefault("target", spec)
    target.origin.update(interpreter_info())
    return target


def describe(target: Target) -> list[str]:
    """Lines for the pytest header and reports: where the code under test comes from."""
    o = target.origin
    lines = [f"nvx-ft target: {target.name} ({o.get('target')})"]
    if o.get("autobahn"):
        tags = ", ".join(o.get("wheel_tags") or []) or "?"
        lines.append(f"  autobahn {o['autobahn']} (wheel tag {tags}; from {o.get('installed_from')})"
                     f", cffi {o.get('cffi', '?')}")
    for mod, path in (o.get("modules") or {}).items():
        lines.append(f"  {mod}: {path}")
    lines.append(f"  utf8 impls: {', '.join(i.name for i in target.utf8)}")
    lines.append(f"  xor impls: {', '.join(i.name for i in target.xor)}")
    lines.append(f"  interpreter: Python {o.get('python')} {o.get('build')} build, "
                 f"GIL enabled now: {o.get('gil_enabled_now')}")
    return lines
