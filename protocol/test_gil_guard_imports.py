"""The import GIL guard over the protocol's import graphs (free-threaded builds only).

Each module is imported in a fresh process of this interpreter (nvx-ft's GIL guard);
one whose import re-enables the GIL is a failure naming the extension module that did
it. On a GIL build there is no disabled GIL to keep: skipped, loudly.
"""

import importlib.util
import sys

import pytest

from nvx_ft.protocol import invariants

try:
    from nvx_ft import gil_guard as guard_mod
except ImportError:  # before the rename
    from nvx_ft import gil as guard_mod

PROTOCOL_IMPORTS = ("autobahn.asyncio.websocket", "autobahn.twisted.websocket", "txaio",
                    "twisted.internet.reactor", "zope.interface", "websockets",
                    "websockets.asyncio.server", "websockets.asyncio.client")


@pytest.mark.skipif(not invariants.FREE_THREADED,
                    reason=f"NOT APPLICABLE: Python {sys.version.split()[0]} is a GIL build; "
                           f"run the protocol suite with python3.14t for the import guard")
@pytest.mark.parametrize("module", PROTOCOL_IMPORTS)
def test_protocol_import_keeps_the_gil_disabled(module):
    top = module.split(".")[0]
    if importlib.util.find_spec(top) is None:
        pytest.skip(f"NOT RUN: {top} is not installed for {sys.executable}")
    (check,) = guard_mod.guard([module])
    assert not check.failed, f"importing {module} on {sys.executable}: {check.line()}"
    assert check.status == guard_mod.OK, check.line()
