"""Classic UTF-8 edge cases, our own table after the sections of Markus Kuhn's
"UTF-8 decoder capability and stress test". ``well_formed`` is the RFC 3629 verdict
for the whole sequence as a complete message.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    section: str
    name: str
    data: bytes
    well_formed: bool


def _c(section, name, data, ok):
    return Case(section, name, data, ok)


KUHN_CASES: tuple[Case, ...] = (
    # 1 - some correct UTF-8 text
    _c("1", "greek kosme", "κόσμε".encode(), True),
    # 2.1 - first possible sequence of a certain length
    _c("2.1", "U+0000", b"\x00", True),
    _c("2.1", "U+0080", b"\xc2\x80", True),
    _c("2.1", "U+0800", b"\xe0\xa0\x80", True),
    _c("2.1", "U+10000", b"\xf0\x90\x80\x80", True),
    _c("2.1", "5-byte first (U+200000)", b"\xf8\x88\x80\x80\x80", False),
    _c("2.1", "6-byte first (U+4000000)", b"\xfc\x84\x80\x80\x80\x80", False),
    # 2.2 - last possible sequence of a certain length
    _c("2.2", "U+007F", b"\x7f", True),
    _c("2.2", "U+07FF", b"\xdf\xbf", True),
    _c("2.2", "U+FFFF", b"\xef\xbf\xbf", True),
    _c("2.2", "U+1FFFFF (4-byte last)", b"\xf7\xbf\xbf\xbf", False),
    _c("2.2", "5-byte last", b"\xfb\xbf\xbf\xbf\xbf", False),
    _c("2.2", "6-byte last", b"\xfd\xbf\xbf\xbf\xbf\xbf", False),
    # 2.3 - other boundary conditions
    _c("2.3", "U+D7FF", b"\xed\x9f\xbf", True),
    _c("2.3", "U+E000", b"\xee\x80\x80", True),
    _c("2.3", "U+FFFD", b"\xef\xbf\xbd", True),
    _c("2.3", "U+10FFFF", b"\xf4\x8f\xbf\xbf", True),
    _c("2.3", "U+110000", b"\xf4\x90\x80\x80", False),
    # 3.1 - unexpected continuation bytes
    _c("3.1", "first continuation 0x80", b"\x80", False),
    _c("3.1", "last continuation 0xbf", b"\xbf", False),
    _c("3.1", "2 continuations", b"\x80\xbf", False),
    _c("3.1", "7 continuations", b"\x80\xbf\x80\xbf\x80\xbf\x80", False),
    _c("3.1", "all 64 continuations", bytes(range(0x80, 0xC0)), False),
    # 3.2 - lonely start characters
    _c("3.2", "lonely 2-byte starts", b" ".join(bytes([b]) for b in range(0xC0, 0xE0)), False),
    _c("3.2", "lonely 3-byte starts", b" ".join(bytes([b]) for b in range(0xE0, 0xF0)), False),
    _c("3.2", "lonely 4-byte starts", b" ".join(bytes([b]) for b in range(0xF0, 0xF8)), False),
    _c("3.2", "lonely 5-byte starts", b" ".join(bytes([b]) for b in range(0xF8, 0xFC)), False),
    _c("3.2", "lonely 6-byte starts", b"\xfc \xfd ", False),
    # 3.3 - sequences with last continuation byte missing
    _c("3.3", "2-byte missing last (U+0000)", b"\xc0", False),
    _c("3.3", "3-byte missing last", b"\xe0\x80", False),
    _c("3.3", "2-byte missing last (U+07FF)", b"\xdf", False),
    _c("3.3", "3-byte missing last (U+FFFF)", b"\xef\xbf", False),
    _c("3.3", "4-byte missing last (U+10FFFF)", b"\xf4\x8f\xbf", False),
    _c("3.3", "valid prefix missing last (U+0800)", b"\xe0\xa0", False),
    # 3.4 - concatenation of incomplete sequences
    _c("3.4", "concatenated incomplete", b"\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80"
       b"\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf",
       False),
    # 3.5 - impossible bytes
    _c("3.5", "fe", b"\xfe", False),
    _c("3.5", "ff", b"\xff", False),
    _c("3.5", "fe fe ff ff", b"\xfe\xfe\xff\xff", False),
    # 4.1 / 4.2 / 4.3 - overlong sequences
    _c("4.1", "overlong / 2 bytes", b"\xc0\xaf", False),
    _c("4.1", "overlong / 3 bytes", b"\xe0\x80\xaf", False),
    _c("4.1", "overlong / 4 bytes", b"\xf0\x80\x80\xaf", False),
    _c("4.2", "max overlong 2 bytes", b"\xc1\xbf", False),
    _c("4.2", "max overlong 3 bytes", b"\xe0\x9f\xbf", False),
    _c("4.2", "max overlong 4 bytes", b"\xf0\x8f\xbf\xbf", False),
    _c("4.3", "overlong NUL 2 bytes", b"\xc0\x80", False),
    _c("4.3", "overlong NUL 3 bytes", b"\xe0\x80\x80", False),
    _c("4.3", "overlong NUL 4 bytes", b"\xf0\x80\x80\x80", False),
    # 5.1 / 5.2 - UTF-16 surrogates (single and paired)
    _c("5.1", "U+D800", b"\xed\xa0\x80", False),
    _c("5.1", "U+DB7F", b"\xed\xad\xbf", False),
    _c("5.1", "U+DC00", b"\xed\xb0\x80", False),
    _c("5.1", "U+DFFF", b"\xed\xbf\xbf", False),
    _c("5.2", "U+D800 U+DC00", b"\xed\xa0\x80\xed\xb0\x80", False),
    _c("5.2", "U+DBFF U+DFFF", b"\xed\xaf\xbf\xed\xbf\xbf", False),
    # 5.3 - noncharacters are well-formed UTF-8
    _c("5.3", "U+FFFE", b"\xef\xbf\xbe", True),
    _c("5.3", "U+FDD0", b"\xef\xb7\x90", True),
    _c("5.3", "U+10FFFE", b"\xf4\x8f\xbf\xbe", True),
)
