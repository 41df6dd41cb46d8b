"""Why a bookings CSV was refused, in the console's words.

`router.splits.bookings.import_bookings` refuses a file whole and says why
in English, for the CLI: `CSV: 2 bad row(s), nothing imported:` and a line
per bad row (`line 4: no household 999`). The console reads that text back
against the forms the router writes, and gives each line its catalog text
with the same details; a line of another form is shown as it came.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from web.words import N_, Known, known_text

_HEADER = re.compile(r"CSV: (?P<count>\d+) bad row\(s\), nothing imported:\n(?P<rows>.*)", re.S)
_ROW = re.compile(r"line (?P<line>\d+): (?P<why>.*)")
_MORE = re.compile(r"\.\.\. and (?P<count>\d+) more")
WHOLE = [
    (
        re.compile(r"CSV: missing column\(s\) (?P<columns>.*)"),
        N_("the file has no column %(columns)s; its first line must be booking,household,amount,closed_at"),
    ),
    (
        re.compile(r"CSV: not a readable CSV file \((?P<detail>.*)\)"),
        N_("the file cannot be read as CSV (%(detail)s)"),
    ),
]
ROWS = [
    (re.compile(r"no household (?P<household>\d+)"), N_("no family %(household)s")),
    (re.compile(r"booking (?P<booking>.+) appears twice"), N_("booking %(booking)s is in the file twice")),
    (
        re.compile(r"booking (?P<booking>.+) of source \S+ is already stored"),
        N_("booking %(booking)s is already stored"),
    ),
    (
        re.compile(r"closed_at is not an ISO 8601 time"),
        N_("closed_at is not a time; write it as 2026-12-05T14:30:00+03:00"),
    ),
    (
        re.compile(r"more cells than columns"),
        N_("more cells than columns (a comma inside an amount? write 1234.50)"),
    ),
    (re.compile(r"booking and household cannot be empty"), N_("booking and household cannot be empty")),
    (re.compile(r"amount (?P<text>.*) is not a number"), N_("amount %(text)s is not a number")),
    (re.compile(r"amount (?P<text>.*) must be zero or more"), N_("amount %(text)s cannot be negative")),
    (
        re.compile(r"amount (?P<text>.*) has more than two decimals"),
        N_("amount %(text)s has more than two digits of kopecks"),
    ),
]


class ImportWords:
    def __init__(self, gettext: Callable[[str], str]) -> None:
        self._gettext = gettext

    def text(self, refusal: str) -> str:
        """The whole refusal: a first line, then a line per bad row (newlines kept for the page)."""
        found = _HEADER.fullmatch(refusal)
        if found is None:
            return self._known(WHOLE, refusal)
        lines = [
            self._gettext(N_("bad rows: %(count)s; nothing is imported.")) % {"count": found.group("count")}
        ]
        lines += [self._row(row) for row in found.group("rows").splitlines()]
        return "\n".join(lines)

    def _row(self, row: str) -> str:
        more = _MORE.fullmatch(row)
        if more:
            return self._gettext(N_("… and %(count)s more")) % {"count": more.group("count")}
        found = _ROW.fullmatch(row)
        if found is None:
            return row
        why = self._known(ROWS, found.group("why"))
        return self._gettext(N_("line %(line)s: %(why)s")) % {"line": found.group("line"), "why": why}

    def _known(self, known: Known, text: str) -> str:
        return known_text(known, text, self._gettext) or text
