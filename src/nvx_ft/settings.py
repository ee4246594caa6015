"""nvx-ft's settings: each choice has one home here, resolved once and passed as a value.

Order: the command line (a pytest or CLI option) over the environment over the default.
:func:`from_environment` reads the public variables (:data:`PUBLIC`, the README's table;
nothing else in nvx-ft reads an ``NVX_FT_*`` variable) into a :class:`Settings`; the
entry points lay their options over it (``pytest_plugin.pytest_configure``, the gate's
``--no-provision``) and hand the result on.

What a parent nvx-ft process tells its children travels in ONE variable,
``NVX_FT_CHILD`` (:class:`Child`, JSON): "you run under the gate", where a contained
suite writes its events, which tests it skips and its per-test bound, and a failed
provisioning attempt (so a run inside a run does not try again). The gate scrubs every
inherited ``NVX_FT_*`` and sets only this one, with ``gate: true``.

Environment layer, standard library only: the noxfile imports it (through
``interpreters``) before anything is installed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Mapping

from nvx_ft.errors import UsageError

PYTHON_PREFIX = "NVX_FT_PYTHON_"
REQUIRE_PYTHONS = "NVX_FT_REQUIRE_PYTHONS"
INCONCLUSIVE = "NVX_FT_INCONCLUSIVE"
PROVISION = "NVX_FT_PROVISION"
CACHE = "NVX_FT_CACHE"
INTENSITY = "NVX_FT_INTENSITY"
HYPOTHESIS_PROFILE = "NVX_FT_HYPOTHESIS_PROFILE"
TEST_TIMEOUT = "NVX_FT_TEST_TIMEOUT"
#: the one parent-to-child channel (not for users: :class:`Child`)
CHILD = "NVX_FT_CHILD"

#: The public variables, what each does (README "Settings" shows this table).
PUBLIC: dict[str, str] = {
    PYTHON_PREFIX + "<LABEL>": "the interpreter binary for a label: `NVX_FT_PYTHON_3_14T`, "
                               "`NVX_FT_PYTHON_3_14`, ..., `NVX_FT_PYTHON_TSAN` (a "
                               "ThreadSanitizer free-threaded CPython)",
    REQUIRE_PYTHONS: "comma-separated labels that must be found (nox: a missing one fails "
                     "the run instead of being skipped); the nightly sets it",
    INCONCLUSIVE: "`fail` or `skip`: what a race check short of its overlap need does "
                  "(`--nvx-inconclusive` wins; default `skip`, `fail` under the gate); "
                  "never a pass; the nightly sets `fail`",
    PROVISION: "`off` (or `0`): never `uv python install` a missing 3.14t (as the gate's "
               "`--no-provision`); a number: the bound in seconds (default 180)",
    CACHE: "where builds, sdists and venvs are kept (default `~/.cache/nvx-ft`)",
    INTENSITY: "`default` or `nightly` (`--nvx-intensity` wins): stress sizes, the "
               "nightly tier of tests and self-tests, longer bounds",
    HYPOTHESIS_PROFILE: "`dev` (default), `ci` or `nightly` (`--hypothesis-profile` wins)",
    TEST_TIMEOUT: "one test's bound in seconds (`--nvx-test-timeout` wins; default 300, "
                  "1200 at nightly intensity; 0 off)",
}

INTENSITIES = ("default", "nightly")
PROFILES = ("dev", "ci", "nightly")
INCONCLUSIVE_MODES = ("fail", "skip")
PROVISION_TIMEOUT = 180.0
_OFF = ("off", "0", "no", "false")


@dataclass(frozen=True)
class Child:
    """What a parent nvx-ft process tells its children (``$NVX_FT_CHILD``, JSON)."""

    gate: bool = False  # a child of ``nvx-ft gate``
    #: a contained suite run (``nvx_ft.suites``): events file, skip-list file, per-test bound
    suite: dict = field(default_factory=dict)
    #: label -> why ``uv python install`` failed earlier in this run
    provision_failed: dict = field(default_factory=dict)

    def encode(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, sort_keys=True)

    @classmethod
    def decode(cls, text: str | None) -> Child:
        if not text:
            return cls()
        try:
            data = json.loads(text)
            return cls(bool(data.get("gate")), dict(data.get("suite") or {}),
                       dict(data.get("provision_failed") or {}))
        except (ValueError, AttributeError, TypeError):
            raise UsageError(f"${CHILD}={text!r}: not what an nvx-ft parent writes "
                             "(a JSON object); unset it") from None

    def env(self) -> dict[str, str]:
        """``{NVX_FT_CHILD: ...}`` for a child's environment (``childenv.child_env(set=)``)."""
        return {CHILD: self.encode()}


@dataclass(frozen=True)
class Settings:
    intensity: str = "default"
    hypothesis_profile: str = "dev"
    test_timeout: float | None = None  # None: by intensity (hang_bound)
    inconclusive: str | None = None  # None: fail under the gate, else skip
    require_pythons: tuple[str, ...] = ()
    provision: bool = True
    provision_timeout: float = PROVISION_TIMEOUT
    cache: Path = field(default_factory=lambda: Path.home() / ".cache" / "nvx-ft")
    pythons: dict = field(default_factory=dict)  # label (3.14t, tsan) -> binary
    child: Child = field(default_factory=Child)

    def python(self, label: str) -> str | None:
        """The binary ``$NVX_FT_PYTHON_<LABEL>`` names for ``label``, if any."""
        return self.pythons.get(label.lower())

    def inconclusive_mode(self) -> str:
        return self.inconclusive or ("fail" if self.child.gate else "skip")

    def with_options(self, **given) -> Settings:
        """The command line over this: every option that was given (not None) wins."""
        return replace(self, **{k: v for k, v in given.items() if v is not None})


def python_variable(label: str) -> str:
    """``3.14t`` -> ``NVX_FT_PYTHON_3_14T``, ``tsan`` -> ``NVX_FT_PYTHON_TSAN``."""
    return PYTHON_PREFIX + label.replace(".", "_").upper()


def _choice(environ, name: str, choices: tuple[str, ...]) -> str | None:
    value = environ.get(name, "").strip()
    if value and value not in choices:
        raise UsageError(f"${name}={value!r}: one of {', '.join(choices)}")
    return value or None


def _seconds(environ, name: str) -> float | None:
    value = environ.get(name, "").strip()
    try:
        return float(value) if value else None
    except ValueError:
        raise UsageError(f"${name}={value!r}: not a number of seconds") from None


def from_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings the environment gives (defaults for the rest); bad values are
    :class:`UsageError` naming the variable."""
    env = os.environ if environ is None else environ
    provision_value = env.get(PROVISION, "").strip().lower()
    provision = provision_value not in _OFF
    timeout = _seconds(env, PROVISION) if provision and provision_value else None
    pythons = {k[len(PYTHON_PREFIX):].replace("_", ".").lower(): v for k, v in env.items()
               if k.startswith(PYTHON_PREFIX) and v}
    return Settings(
        intensity=_choice(env, INTENSITY, INTENSITIES) or "default",
        hypothesis_profile=_choice(env, HYPOTHESIS_PROFILE, PROFILES) or "dev",
        test_timeout=_seconds(env, TEST_TIMEOUT),
        inconclusive=_choice(env, INCONCLUSIVE, INCONCLUSIVE_MODES),
        require_pythons=tuple(x.strip() for x in env.get(REQUIRE_PYTHONS, "").split(",")
                              if x.strip()),
        provision=provision,
        provision_timeout=timeout if timeout is not None else PROVISION_TIMEOUT,
        cache=Path(env.get(CACHE) or Path.home() / ".cache" / "nvx-ft"),
        pythons=pythons,
        child=Child.decode(env.get(CHILD)),
    )


def under_gate() -> bool:
    """Is this process a child of ``nvx-ft gate`` (``$NVX_FT_CHILD``)?"""
    return from_environment().child.gate


def cache_root() -> Path:
    """Builds, sdists and venvs nvx-ft keeps between runs: ``$NVX_FT_CACHE`` or
    ``~/.cache/nvx-ft``."""
    return from_environment().cache


def remember_for_children(**child_fields) -> None:
    """Add to ``$NVX_FT_CHILD`` in our own environment, so every child started from now
    on (a nox session, the gate in ``nox -s gate``) knows it."""
    child = Child.decode(os.environ.get(CHILD))
    merged = {k: ({**getattr(child, k), **v} if isinstance(v, dict) else v)
              for k, v in child_fields.items()}
    os.environ[CHILD] = replace(child, **merged).encode()
