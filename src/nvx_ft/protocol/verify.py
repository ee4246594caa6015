"""Comparing what happened with the plan: per connection, per message index, in order.

Every problem line names the connection, the message index with its kind and size
(and fragment cuts), so a failure says exactly what broke; the caller adds the seed and
the reproduce command.
"""

from __future__ import annotations

from nvx_ft.protocol.traffic import Volume, expected_transcript, plan


def undecided(results) -> dict[int, str]:
    """Connections whose peer could not tell a silent server from a starved machine
    (``nvx_ft.protocol.patience``): conn -> its ``INCONCLUSIVE: ...`` message. No
    evidence either way: they are left out of every check, and the test is inconclusive."""
    out = {}
    for r in results:
        r = r if isinstance(r, dict) else vars(r)
        if r.get("inconclusive"):
            out[r["conn"]] = r["inconclusive"]
    return out


def echo_problems(results, seed: int, volume: Volume, side: str) -> list[str]:
    """Problems in a peer's per-connection echo results (dicts or ClientResult objects);
    :func:`undecided` connections are left out."""
    out = []
    for r in results:
        r = r if isinstance(r, dict) else vars(r)
        if r.get("inconclusive"):
            continue
        who = f"{side} connection {r['conn']} ({r['url']})"
        for m in r["mismatches"]:
            out.append(f"{who}: echo of {m['what']} differs: expected {m['expected']}, "
                       f"got {m['got']}")
        if r["error"]:
            out.append(f"{who}: {r['error']} (after {r['sent']} of {volume.messages} sent)")
        elif r["ok"] != volume.messages:
            out.append(f"{who}: {r['ok']} of {volume.messages} echoes exact")
        if r["close_code"] != 1000:
            why = f" ({r['close_reason']})" if r.get("close_reason") else ""
            out.append(f"{who}: closed with {r['close_code']}{why}, expected 1000")
    return out


def _first_difference(got: list[str], want: list[str]) -> int:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return i
    return min(len(got), len(want))


def transcript_problems(records: dict, seed: int, volume: Volume, conns, *,
                        side: str, prefix: str = "/c/") -> list[str]:
    """Problems in the receiving end's transcripts ``records[path] -> digests``."""
    out = []
    for c in conns:
        path = f"{prefix}{c}"
        if path not in records:
            out.append(f"{side}: connection {c} ({path}) never arrived")
            continue
        got = records[path]
        want = expected_transcript(seed, c, volume)
        if got != want:
            i = _first_difference(got, want)
            what = plan(seed, c, volume)[i].describe() if i < len(want) else "no message"
            out.append(f"{side}: connection {c} transcript differs from message {i} on "
                       f"({what}): received {len(got)} of {len(want)} messages; "
                       f"at {i}: got {got[i] if i < len(got) else 'nothing'}, "
                       f"expected {want[i] if i < len(want) else 'nothing'}")
    extra = sorted(set(p for p in records if p.startswith(prefix))
                   - {f"{prefix}{c}" for c in conns})
    if extra:
        out.append(f"{side}: unexpected connections {extra}")
    return out


def server_close_problems(recorder, prefix: str = "/c/", skip=()) -> list[str]:
    """Connections the autobahn server saw close other than cleanly with 1000, and why
    (connections numbered in ``skip``, e.g. :func:`undecided`, left out)."""
    out = []
    left_out = {f"{prefix}{c}" for c in skip}
    for path, rec in sorted(recorder.records.items()):
        if path in left_out:
            continue
        if path.startswith(prefix) and rec.closed and rec.closed[:2] != (True, 1000):
            out.append(f"autobahn server (thread {rec.thread}): {path} closed after "
                       f"{len(rec.messages)} messages: wasClean={rec.closed[0]}, "
                       f"code={rec.closed[1]}, reason={rec.closed[2]!r}")
    return out


def loop_problems(*runs) -> list[str]:
    """What the event loops of ``runs`` (server or client runs: ``loop_errors``,
    ``leftover_tasks``) left behind: exceptions that reached a loop's handler, tasks still
    pending when it stopped."""
    return ([f"loop exception handler: {e}" for r in runs for e in r.loop_errors]
            + [f"task left pending: {t}" for r in runs for t in r.leftover_tasks])


def fail_message(title: str, problems: list[str], *, seed: int, setup: str,
                 limit: int = 25) -> str:
    lines = [f"{title}: {len(problems)} problem(s); seed {seed}; {setup}"]
    lines += [f"  - {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  ... and {len(problems) - limit} more")
    return "\n".join(lines)
