"""Top-level conftest: nvx-ft's own plugin is loaded through its pytest11 entry point
(so pytester's inner runs get it too); here only what nvx-ft's self-tests need."""

pytest_plugins = ["pytester"]
