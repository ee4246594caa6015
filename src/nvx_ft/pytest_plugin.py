"""pytest plugin (entry point ``nvx_ft``): target, profiles, seeds, report header.

Every option below wins over its environment variable (``nvx_ft.settings``, resolved
once per session in ``pytest_configure``: :func:`settings_of`).

* ``--nvx-target``: ``autobahn`` (default), ``fallback`` or ``module:function``. A
  target that cannot be loaded FAILS every test that needs it.
* Hypothesis profiles ``dev`` (default), ``ci``, ``nightly``: ``--hypothesis-profile``
  or ``$NVX_FT_HYPOTHESIS_PROFILE``.
* ``--nvx-intensity`` (or ``$NVX_FT_INTENSITY``): ``default`` or ``nightly``, for stress.
* ``--nvx-seed``: the one seed every thread's randomness derives from (default random);
  printed in the header and in every failure's reproduce command.
* ``--nvx-inconclusive=fail|skip`` (or ``$NVX_FT_INCONCLUSIVE``): what a race check that
  did not reach its overlap does (``nvx_ft.overlap``): fails, or is skipped with the
  reason ``INCONCLUSIVE: ...``; never a pass. ``--nvx-overlap-budget=SECONDS``: how long
  it may try to reach it.
* ``--nvx-test-timeout=SECONDS`` (or ``$NVX_FT_TEST_TIMEOUT``; default 300, 1200 at
  nightly intensity, 0 off): every test is bounded - a hang fails it with every thread's
  stack (``nvx_ft.hang_bound``: pytest-timeout, plus a watchdog for code stuck in C).
* Tests asking for ``utf8_impl`` / ``xor_impl`` (or ``lib_utf8_impl`` /
  ``lib_xor_impl``, the aligned raw-lib ones) run once per implementation of the target.
"""

from __future__ import annotations

import random
import shlex
import sys

import pytest
from hypothesis import HealthCheck, Verbosity, settings

from nvx_ft import hang_bound, overlap
from nvx_ft import settings as settings_mod
from nvx_ft import target as target_mod
from nvx_ft.errors import UsageError

PROFILES = {
    # tests/ within 90 s on 2 cores
    "dev": dict(max_examples=40),
    "ci": dict(max_examples=150),
    "nightly": dict(max_examples=2000, verbosity=Verbosity.normal),
}
for _name, _kw in PROFILES.items():
    # No deadlines: speed is measured in benchmarks/, never asserted in tests.
    settings.register_profile(_name, deadline=None, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large], **_kw)

def _from_environment() -> settings_mod.Settings:
    try:
        return settings_mod.from_environment()
    except UsageError as exc:  # a bad NVX_FT_* value: pytest's one-line usage error
        raise pytest.UsageError(str(exc)) from None


#: what the environment says (command-line options are laid over it in pytest_configure)
_FROM_ENV = _from_environment()
settings.load_profile(_FROM_ENV.hypothesis_profile)

INTENSITIES = settings_mod.INTENSITIES
_IMPL_FIXTURES = {
    "utf8_impl": ("utf8", False),
    "xor_impl": ("xor", False),
    "lib_utf8_impl": ("utf8", True),
    "lib_xor_impl": ("xor", True),
}


def pytest_addoption(parser):
    group = parser.getgroup("nvx-ft")
    group.addoption("--nvx-target", default=None,
                    help="autobahn (default), fallback, or module:function returning a Target")
    group.addoption("--nvx-intensity", default=_FROM_ENV.intensity,
                    choices=INTENSITIES, help="stress intensity (default: default)")
    group.addoption("--nvx-seed", type=int, default=None,
                    help="seed for per-thread randomness (default: random)")
    group.addoption("--nvx-inconclusive", default=None,
                    choices=(*overlap.MODES, *overlap.ALIASES),
                    help="a race check that did not reach its overlap: fail it, or skip it "
                         "with the reason INCONCLUSIVE: ... (warn: the old name of skip; "
                         "default: $NVX_FT_INCONCLUSIVE, else fail under the gate and skip "
                         "otherwise; never a pass)")
    group.addoption("--nvx-overlap-budget", type=float, default=None, metavar="SECONDS",
                    help="seconds of further rounds a race check may take to reach the "
                         "overlap it needs (default: by --nvx-intensity)")
    hang_bound.add_option(group)


def pytest_configure(config):
    seed = config.getoption("--nvx-seed")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    config.option.nvx_seed = seed
    inconclusive = config.getoption("--nvx-inconclusive")
    config.stash[_SETTINGS_KEY] = _from_environment().with_options(
        intensity=config.getoption("--nvx-intensity"),
        test_timeout=config.getoption("--nvx-test-timeout"),
        inconclusive=overlap.ALIASES.get(inconclusive, inconclusive))
    config.stash[_TARGET_KEY] = _load(config.getoption("--nvx-target"))
    config.stash[_BOUND_KEY] = hang_bound.configured(
        settings_of(config), nightly_enabled(config), config.getoption("--nvx-test-timeout"))
    if config.stash[_BOUND_KEY] is not None:
        config.stash[_WATCHDOG_KEY] = hang_bound.Watchdog()


def pytest_unconfigure(config):
    watchdog = config.stash.get(_WATCHDOG_KEY, None)
    if watchdog is not None:
        watchdog.stop()


_TARGET_KEY = pytest.StashKey[object]()
_SETTINGS_KEY = pytest.StashKey[settings_mod.Settings]()


def settings_of(config) -> settings_mod.Settings:
    """This session's settings: its command line over the environment over defaults."""
    return config.stash[_SETTINGS_KEY]

_BOUND_KEY = pytest.StashKey[object]()
_WATCHDOG_KEY = pytest.StashKey[object]()


def _load(spec):
    try:
        return target_mod.load(spec)
    except target_mod.TargetUnavailable as exc:
        return exc


def get_target(config) -> target_mod.Target:
    """The target, or a test FAILURE explaining why there is none."""
    t = config.stash[_TARGET_KEY]
    if isinstance(t, Exception):
        pytest.fail(f"nvx-ft: target unavailable: {t}", pytrace=False)
    return t


def pytest_report_header(config):
    t = config.stash[_TARGET_KEY]
    lines = (target_mod.describe(t) if not isinstance(t, Exception)
             else [f"nvx-ft target: UNAVAILABLE - {t}"])
    lines.append(f"nvx-ft hypothesis profile: {settings.get_current_profile_name()}, "
                 f"intensity: {config.getoption('--nvx-intensity')}, "
                 f"seed: {config.option.nvx_seed}")
    bound = config.stash[_BOUND_KEY]
    if bound is None:
        lines.append("nvx-ft test bound: off here (0, or a contained run that bounds its tests)")
    else:
        how = ("pytest-timeout + watchdog" if config.pluginmanager.hasplugin("timeout")
               else "watchdog only: pytest-timeout not installed")
        lines.append(f"nvx-ft test bound: {bound:.0f}s per test unless marked ({how})")
    return lines


def nightly_enabled(config) -> bool:
    return (config.getoption("--nvx-intensity") == "nightly"
            or settings.get_current_profile_name() == "nightly")


@pytest.hookimpl(trylast=True)  # after the conftests' hooks: their timeout markers win
def pytest_collection_modifyitems(config, items):
    hang_bound.add_markers(config, items, config.stash[_BOUND_KEY])
    if nightly_enabled(config):
        return
    skip = pytest.mark.skip(reason="nightly tier: run with --nvx-intensity=nightly "
                                   "or --hypothesis-profile=nightly")
    for item in items:
        if "nightly" in item.keywords:
            item.add_marker(skip)


def pytest_generate_tests(metafunc):
    for fixture, (kind, lib_only) in _IMPL_FIXTURES.items():
        if fixture not in metafunc.fixturenames:
            continue
        t = metafunc.config.stash[_TARGET_KEY]
        if isinstance(t, Exception):
            metafunc.parametrize(fixture, [None], ids=["TARGET-UNAVAILABLE"], indirect=True,
                                 scope="session")
            continue
        impls = [i for i in getattr(t, kind) if i.aligned or not lib_only]
        # session scope: an Impl is an immutable factory, and Hypothesis rejects
        # function-scoped fixtures in @given tests
        metafunc.parametrize(fixture, impls, ids=[i.name for i in impls], indirect=True,
                             scope="session")


_TARGET_FIXTURES = {"nvx_target", *_IMPL_FIXTURES}


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """A test that needs the target FAILS (in its call phase, not as a setup error)."""
    if _TARGET_FIXTURES & set(pyfuncitem.fixturenames):
        get_target(pyfuncitem.config)


def _impl_fixture(name):
    @pytest.fixture(scope="session", name=name)
    def impl(request):
        return request.param  # None when the target is unavailable: see pytest_pyfunc_call

    return impl


utf8_impl, xor_impl, lib_utf8_impl, lib_xor_impl = map(_impl_fixture, _IMPL_FIXTURES)


@pytest.fixture(scope="session")
def nvx_target(pytestconfig) -> target_mod.Target | None:
    t = pytestconfig.stash[_TARGET_KEY]
    return None if isinstance(t, Exception) else t


@pytest.fixture(scope="session")
def nvx_seed(pytestconfig) -> int:
    return pytestconfig.option.nvx_seed


@pytest.fixture(scope="session")
def nvx_intensity(pytestconfig) -> str:
    return pytestconfig.getoption("--nvx-intensity")


def reproduce_command(config, nodeid: str) -> str:
    """The command that reruns one test with the same target, seed and profile."""
    args = [sys.executable, "-m", "pytest", nodeid,
            f"--nvx-seed={config.option.nvx_seed}",
            f"--hypothesis-profile={settings.get_current_profile_name()}",
            f"--nvx-intensity={config.getoption('--nvx-intensity')}"]
    if config.getoption("--nvx-target"):
        args.append(f"--nvx-target={config.getoption('--nvx-target')}")
    return " ".join(shlex.quote(a) for a in args)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The watchdog covers setup, call and teardown of every bounded test."""
    watchdog = item.config.stash.get(_WATCHDOG_KEY, None)
    bound = hang_bound.item_bound(item, item.config.stash[_BOUND_KEY]) if watchdog else None
    if bound:
        watchdog.arm(item.nodeid, bound, reproduce_command(item.config, item.nodeid))
    try:
        return (yield)
    finally:
        if bound:
            watchdog.disarm()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        report.sections.append(("nvx-ft reproduce", reproduce_command(item.config, item.nodeid)))
    return report
