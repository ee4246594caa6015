"""``nvx-ft info``: the target in this environment and the interpreters found."""

from __future__ import annotations

import json

from nvx_ft import interpreters, target


def add_arguments(parser) -> None:
    parser.add_argument("--target", default=None,
                        help="autobahn (default), fallback, or module:function")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    found = interpreters.find_all()
    try:
        t = target.load(args.target)
        origin, lines, err = t.origin, target.describe(t), None
    except target.TargetUnavailable as exc:
        origin, lines, err = None, [], str(exc)
    if args.json:
        print(json.dumps({"target": origin, "error": err,
                          "interpreters": {k: v.as_dict() if v else None
                                           for k, v in found.items()}}, indent=2))
    else:
        print("\n".join(lines) if lines else f"nvx-ft target: UNAVAILABLE: {err}")
        print("interpreters:")
        for label, interp in found.items():
            where = (f"{interp.executable} ({interp.source}, {interp.version})" if interp
                     else f"NOT FOUND - {interpreters.how_to_get(label)}")
            print(f"  {label:6} {where}")
    return 1 if err else 0
