"""The audit's own words in the console's: what the router writes in English into an audit row.

The router writes some audit texts itself, in English, for the CLI and the
CSV: a family made by a call (`owner=ivanova numbers=+79161234567`, reason
`first answered call`), an import (`2000 households at 2026-12-05T21:18:07+00:00`),
a lapse, a handover. A person reading the audit log or a timeline in the
console reads them here: each known form is matched, its catalog text
filled in with the same details, numbers and times shown by the one
formatter. What a person typed (a reason given in a form) matches none of
these and is shown as it was typed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from web.formats import Formats
from web.words import N_, Known, known_text

_NUMBER = re.compile(r"\+\d{8,15}")
_PAIRS = re.compile(r"\w+=\S*(?: \w+=\S*)*")
_PAIR = re.compile(r"(\w+)=(\S*)")

# `key=value` fields of an audit value, by key.
FIELDS = {
    "owner": N_("owner"),
    "numbers": N_("numbers"),
    "role": N_("role"),
    "agent": N_("agent"),
}
# Whole values and reasons the router writes, as patterns with named details, and their catalog text.
VALUES = [
    (re.compile(r"household (?P<household>\d+)"), N_("family № %(household)s")),
    (re.compile(r"booking (?P<booking>.+)"), N_("booking %(booking)s")),
    (re.compile(r"(?P<count>\d+) households at (?P<at>\S+)"), N_("%(count)s families, imported %(at)s")),
]
REASONS = [
    (re.compile(r"first answered call"), N_("first answered call")),
    (
        re.compile(r"answered a call of a household with no owner"),
        N_("answered a call of a family with no owner"),
    ),
    (re.compile(r"accepted suggestion"), N_("accepted suggestion")),
    (re.compile(r"lead (?P<lead>\d+)"), N_("lead № %(lead)s")),
    (
        re.compile(r"no answered contact for (?P<days>\d+) days \(last (?P<day>[\d-]+)\)"),
        N_("no answered contact for %(days)s days (the last on %(day)s)"),
    ),
    (
        re.compile(r"handover from (?P<leaving>\S+) to (?P<to>\S+): (?P<why>.*)"),
        N_("families of %(leaving)s handed over to %(to)s: %(why)s"),
    ),
    (
        re.compile(r"handover from (?P<leaving>\S+): (?P<why>.*)"),
        N_("families of %(leaving)s handed over: %(why)s"),
    ),
]


class AuditWords:
    def __init__(
        self, gettext: Callable[[str], str], formats: Formats, role_name: Callable[[str], str]
    ) -> None:
        self._gettext = gettext
        self._formats = formats
        self._role_name = role_name

    def value(self, text: str | None) -> str:
        """A subject, a before or an after: `owner=ivanova numbers=+79161234567` as `владелец: ivanova, …`."""
        if not text:
            return ""
        shares = _shares(text)
        if shares:
            return ", ".join(f"{login} {self._formats.share(percent)}" for login, percent in shares.items())
        if _PAIRS.fullmatch(text):
            return ", ".join(self._pair(key, value) for key, value in _PAIR.findall(text))
        return self._known(VALUES, text) or _NUMBER.sub(lambda m: self._formats.phone(m.group(0)), text)

    def reason(self, text: str | None) -> str:
        """A reason the router wrote, in the console's words; one a person typed, as typed."""
        if not text:
            return ""
        return self._known(REASONS, text) or text

    def _pair(self, key: str, value: str) -> str:
        if key == "role":
            value = self._role_name(value)
        elif value == "-":
            value = "—"
        else:
            value = _NUMBER.sub(lambda m: self._formats.phone(m.group(0)), value).replace(",", ", ")
        name = FIELDS.get(key)
        return f"{self._gettext(name) if name else key}: {value}"

    def _known(self, known: Known, text: str) -> str:
        return known_text(known, text, self._gettext, self._detail) or ""

    def _detail(self, name: str, value: str) -> str:
        if name == "at":
            return self._formats.time(dt.datetime.fromisoformat(value))
        if name == "day":
            return self._formats.date(dt.date.fromisoformat(value))
        return value


def _shares(text: str) -> dict[str, Decimal]:
    """An override's shares as the router stores them (`{"ivanova": "60"}`), or nothing."""
    if not text.startswith("{"):
        return {}
    try:
        found = json.loads(text)
        return {str(login): Decimal(str(percent)) for login, percent in found.items()}
    except (ValueError, AttributeError, InvalidOperation):
        return {}
