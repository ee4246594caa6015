"""Top-level conftest: nvx-ft's own plugin is loaded through its pytest11 entry point
(so pytester's inner runs get it too). Here only pytester, for the inner pytest runs of
selftests/ and tests/test_target.py (``pytest_plugins`` may only be set at the top)."""

pytest_plugins = ["pytester"]
