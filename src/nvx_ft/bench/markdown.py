"""Small Markdown formatting shared by the bench reports: tables and number cells."""

from __future__ import annotations


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: header, delimiter row, one line per row."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def mbs(bytes_per_s: float) -> str:
    """MB/s (10^6 bytes), three significant digits, thousands separated from 100 up."""
    mb = bytes_per_s / 1e6
    return f"{mb:,.0f}" if mb >= 100 else f"{mb:.3g}"


def rate(per_s: float) -> str:
    """A rate with a G/M/k prefix, three significant digits."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_s >= scale:
            return f"{per_s / scale:.3g} {unit}"
    return f"{per_s:.3g}"
