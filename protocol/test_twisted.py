"""autobahn on Twisted: one echo round trip, server and client on a reactor thread.

In its own process (``nvx_ft.protocol.twisted_echo``): txaio chooses one framework per
process and a reactor runs once. Where Twisted cannot be imported the test is skipped,
loudly, naming the interpreter.
"""

import importlib.util
import json
import subprocess
import sys

import pytest

from nvx_ft.protocol import invariants, verify
from nvx_ft.protocol.twisted_echo import RESULT


def test_twisted_echo_round_trip(protocol_intensity, nvx_seed, reproduce):
    if importlib.util.find_spec("twisted") is None:
        pytest.skip(f"NOT RUN: Twisted is not installed for {sys.executable} "
                    f"(Python {sys.version.split()[0]}); install nvx-ft[protocol]")
    it = protocol_intensity
    cmd = [sys.executable, "-m", "nvx_ft.protocol.twisted_echo", "--seed", str(nvx_seed),
           "--messages", str(it.volume.messages), "--timeout", str(it.io_timeout)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=it.peer_bound)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"Twisted echo did not finish within {it.peer_bound} s: {' '.join(cmd)}\n"
                    f"{exc.stderr!r}", pytrace=False)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)), None)
    assert line, f"Twisted echo printed no result (exit {proc.returncode}): {' '.join(cmd)}\n" \
                 f"{proc.stderr[-3000:]}"
    res = json.loads(line.split(" ", 1)[1])
    res.update(conn=0, url="twisted")
    problems = verify.echo_problems([res], nvx_seed, it.volume, "autobahn/Twisted client")
    if res["error"]:
        problems.append(f"Twisted run: {res['error']}")
    if invariants.FREE_THREADED and res["gil_enabled_after"]:
        problems.append(f"the GIL was enabled in the Twisted process (at start: "
                        f"{res['gil_enabled']})")
    if problems:
        pytest.fail(verify.fail_message("autobahn on Twisted", problems, seed=nvx_seed,
                                        setup=f"{' '.join(cmd)}\n  reproduce: {reproduce}"),
                    pytrace=False)
